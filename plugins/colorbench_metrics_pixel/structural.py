"""Windowed structural metrics over uint8 RGB tensors [B, 3, H, W]: SSIM and UIQI (DESIGN §4).

Both are computed per channel and averaged over R, G, B, one image at a time (the working
set stays in cache, and an image's value does not depend on the batch it came in). SSIM
filters in float32 on data centred on its channel means (so E[x²] − E[x]² keeps its precision; < 1e-5 from
float64, tested); UIQI's window sums are exact float32 integers, combined in float64.
"""

from __future__ import annotations

import torch

SSIM_SIGMA = 1.5
SSIM_TRUNCATE = 3.5  # skimage: 11-tap Gaussian for sigma 1.5 (Wang et al. 2004)
SSIM_K1, SSIM_K2 = 0.01, 0.03
UIQI_WINDOW = 8
_CHUNK = 2  # maps filtered together (256x256 float32 maps: ~0.5 MB per operand)


def _check(pred: torch.Tensor, gt: torch.Tensor) -> None:
    if pred.shape != gt.shape or pred.dim() != 4:
        raise ValueError(f"expected two [B, C, H, W] tensors of one shape, got {tuple(pred.shape)} and {tuple(gt.shape)}")


def gaussian_taps(sigma: float = SSIM_SIGMA, truncate: float = SSIM_TRUNCATE,
                  dtype: torch.dtype = torch.float64, device: torch.device | str = "cpu") -> torch.Tensor:
    """scipy.ndimage's 1-D Gaussian: radius int(truncate·σ + 0.5), normalised to sum 1."""
    r = int(truncate * sigma + 0.5)
    x = torch.arange(-r, r + 1, dtype=torch.float64)
    w = torch.exp(-0.5 * (x / sigma) ** 2)
    return (w / w.sum()).to(dtype=dtype, device=device)


def _reflect_index(n: int, r: int, device: torch.device) -> torch.Tensor:
    """Indices of scipy.ndimage mode='reflect' padding (d c b a | a b c d | d c b a) by r,
    periodic when r exceeds n."""
    i = torch.arange(-r, n + r, device=device) % (2 * n)
    return torch.where(i >= n, 2 * n - 1 - i, i)


def _correlate_valid(x: torch.Tensor, taps: list[float], dim: int) -> torch.Tensor:
    """Valid 1-D correlation along ``dim`` by shifted multiply-adds (faster than a
    1-channel float64 conv2d on CPU, same values up to rounding)."""
    n = x.shape[dim] - len(taps) + 1
    out = x.narrow(dim, 0, n) * taps[0]
    for k in range(1, len(taps)):
        out.add_(x.narrow(dim, k, n), alpha=taps[k])
    return out


def _gaussian_filter(x: torch.Tensor, taps: torch.Tensor, crop: int) -> torch.Tensor:
    """Separable Gaussian of [..., H, W] with scipy 'reflect' borders, ``crop`` pixels then
    removed from every border. Only the padding the kept pixels see is built, so with the
    full 11x11 window no border value is ever used (exactly as skimage's crop)."""
    r = (taps.numel() - 1) // 2
    H, W = x.shape[-2:]
    pad = r - crop
    if pad > 0:
        x = x.index_select(-2, _reflect_index(H, pad, x.device)).index_select(-1, _reflect_index(W, pad, x.device))
    elif pad < 0:
        x = x[..., -pad:H + pad, -pad:W + pad]
    w = taps.tolist()
    if x.dim() < 3 or x.shape[0] <= _CHUNK:
        return _correlate_valid(_correlate_valid(x, w, -2), w, -1)
    # a few maps at a time: the working set then stays in cache (2-3x faster on CPU)
    return torch.cat([_correlate_valid(_correlate_valid(c, w, -2), w, -1) for c in x.split(_CHUNK)])


def ssim_window(height: int, width: int, sigma: float = SSIM_SIGMA) -> int:
    """skimage's window (11 for σ=1.5); shrunk to the largest odd size that fits small images."""
    win = 2 * int(SSIM_TRUNCATE * sigma + 0.5) + 1
    side = min(height, width)
    return win if side >= win else side - (1 - side % 2)


def _ssim_one(x: torch.Tensor, y: torch.Tensor, taps: torch.Tensor, pad: int, data_range: float) -> torch.Tensor:
    """Mean SSIM of one image per channel: x, y uint8 [C, H, W] -> float64 [C]."""
    # centre each channel on its rounded mean (exact in float32; the variances below are
    # shift-invariant) so that E[x²] − E[x]² loses almost no float32 precision
    mx = x.flatten(1).sum(1, dtype=torch.int64).div(x[0].numel(), rounding_mode="floor").view(-1, 1, 1)
    my = y.flatten(1).sum(1, dtype=torch.int64).div(y[0].numel(), rounding_mode="floor").view(-1, 1, 1)
    xc = (x.to(torch.int32) - mx.to(torch.int32)).to(torch.float32)
    yc = (y.to(torch.int32) - my.to(torch.int32)).to(torch.float32)
    # the SSIM map needs only x, y, E[x² + y²] and E[xy]: 4 filtered maps, not 5
    stats = _gaussian_filter(torch.cat((xc, yc, xc * xc + yc * yc, xc * yc)), taps, pad)
    ux, uy, uss, uxy = stats.chunk(4, 0)
    v_sum = uss - (ux * ux + uy * uy)
    v_xy = uxy - ux * uy
    ux, uy = ux + mx.to(torch.float32), uy + my.to(torch.float32)
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    # written so that x == y gives numerator == denominator bit for bit (SSIM = 1 exactly);
    # the clamp removes float32 rounding beyond the mathematical range [-1, 1]
    s = ((2 * ux * uy + c1) * (2 * v_xy + c2)) / ((ux * ux + uy * uy + c1) * (v_sum + c2))
    s = s.clamp_(-1.0, 1.0)
    return s.flatten(1).sum(1, dtype=torch.float64) / s[0].numel()


def ssim(pred: torch.Tensor, gt: torch.Tensor, data_range: float = 255.0, sigma: float = SSIM_SIGMA) -> torch.Tensor:
    """Mean SSIM per image, float64 [B].

    Equals ``skimage.metrics.structural_similarity(gt, pred, channel_axis=-1, data_range=255,
    gaussian_weights=True, sigma=1.5, use_sample_covariance=False)``: Gaussian-weighted local
    statistics (scipy 'reflect' borders), then the mean over the map with ``(win-1)//2``
    pixels cropped from every border, per channel, averaged over channels. Images smaller than
    the 11x11 window use the largest odd window that fits (skimage would raise; passing that
    ``win_size`` to skimage gives the same value). Filtering is float32 (see the module note).
    """
    _check(pred, gt)
    B, _, H, W = pred.shape
    taps = gaussian_taps(sigma, dtype=torch.float32, device=pred.device)
    pad = (ssim_window(H, W, sigma) - 1) // 2
    out = torch.empty(B, dtype=torch.float64, device=pred.device)
    for k in range(B):
        out[k] = _ssim_one(pred[k], gt[k], taps, pad, data_range).mean()
    return out


def _window_sums(v: torch.Tensor, k: int, dim: int) -> torch.Tensor:
    """Sums of every k consecutive values along ``dim`` (valid positions). Doubling
    (1, 2, 4, ... then the remaining bits): log2(k) + popcount(k) adds instead of k."""
    n = v.shape[dim]
    out: torch.Tensor | None = None
    start = 0
    block, size = v, 1
    while True:
        if k & size:  # append a block of `size` starting at offset `start`
            part = block.narrow(dim, start, n - k + 1)
            out = part.clone() if out is None else out.add_(part)
            start += size
        if size * 2 > k:
            break
        block = block.narrow(dim, 0, block.shape[dim] - size) + block.narrow(dim, size, block.shape[dim] - size)
        size *= 2
    assert out is not None
    return out


def window_stats(x: torch.Tensor, y: torch.Tensor, kh: int, kw: int) -> tuple[torch.Tensor, ...]:
    """Sums over every kh x kw window (valid positions) of x, y, x² + y² and xy for one
    uint8 channel pair [H, W], as four float64 maps. Exact: with 8-bit data and windows of up
    to 129 pixels every sum is an integer below 2^24, so the float32 adds never round."""
    if kh * kw > 129:
        raise ValueError(f"window {kh}x{kw} is larger than the 129 pixels whose sums are exact")
    xf, yf = x.to(torch.float32), y.to(torch.float32)
    maps = torch.stack((xf, yf, xf * xf + yf * yf, xf * yf))
    return _window_sums(_window_sums(maps, kh, -2), kw, -1).to(torch.float64).unbind(0)


def _uiqi_one(x: torch.Tensor, y: torch.Tensor, kh: int, kw: int) -> torch.Tensor:
    """Mean UIQI of one image per channel: x, y uint8 [C, H, W] -> float64 [C].

    Window sums of x, y, x² + y², xy are integers below 2^24 for 8-bit data and windows up to
    8x8 (64 · 2 · 255² < 2^24), so float32 sums are exact; n² times the window variances and
    means are then exact integers in float64 (< 2^30), so the zero tests are exact, and only
    the final products and quotient are rounded (float64)."""
    n = float(kh * kw)
    q = torch.empty(x.shape[0], x.shape[1] - kh + 1, x.shape[2] - kw + 1, dtype=torch.float64, device=x.device)
    for c in range(x.shape[0]):  # channel by channel: the working set stays in cache
        sx, sy, sss, sxy = window_stats(x[c], y[c], kh, kw)
        # n² times the window means/variances: exact integers (< 2^30) in float64
        mean_prod = sx * sy  # n²·μxμy
        mean_sq = sx.mul_(sx).add_(sy.mul_(sy))  # n²·(μx² + μy²)
        var_sum = sss.mul_(n).sub_(mean_sq)  # n²·(σx² + σy²)
        cov = sxy.mul_(n).sub_(mean_prod)  # n²·σxy
        torch.div(cov.mul_(mean_prod).mul_(4.0), var_sum * mean_sq, out=q[c])
        if float(var_sum.min()) == 0.0:  # constant windows (var_sum >= 0): rare, bool masks only then
            flat = var_sum == 0  # also where μx² + μy² = 0 (all-zero windows)
            ms, mp = mean_sq[flat], mean_prod[flat]
            q[c][flat] = torch.where(ms != 0, 2.0 * mp / torch.where(ms != 0, ms, 1.0), 1.0)
    return q.flatten(1).mean(1)


def uiqi(pred: torch.Tensor, gt: torch.Tensor, window: int = UIQI_WINDOW) -> torch.Tensor:
    """Universal quality index (Wang & Bovik 2002) per image, float64 [B].

    8x8 windows at every valid position (stride 1); per window
    Q = 4σxy·μx·μy / ((σx²+σy²)(μx²+μy²)), Q = 2μxμy/(μx²+μy²) where σx²+σy² = 0 and
    μx²+μy² ≠ 0, Q = 1 where both are 0; mean over windows, then over channels. Window
    statistics come from exact integer window sums, so the zero tests are exact. Images
    smaller than 8 on a side use a window of that side.
    """
    _check(pred, gt)
    B, _, H, W = pred.shape
    kh, kw = min(window, H), min(window, W)
    if kh * kw > 64:
        raise ValueError(f"uiqi: window {kh}x{kw} is larger than 8x8 (exact sums need <= 64 pixels)")
    out = torch.empty(B, dtype=torch.float64, device=pred.device)
    for k in range(B):
        out[k] = _uiqi_one(pred[k], gt[k], kh, kw).mean()
    return out
