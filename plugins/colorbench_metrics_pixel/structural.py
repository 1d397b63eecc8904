"""Windowed structural metrics over uint8 RGB tensors [B, 3, H, W]: SSIM and UIQI (DESIGN §4).

Both are computed per channel and averaged over R, G, B, in float64.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

SSIM_SIGMA = 1.5
SSIM_TRUNCATE = 3.5  # skimage: 11-tap Gaussian for sigma 1.5 (Wang et al. 2004)
SSIM_K1, SSIM_K2 = 0.01, 0.03
UIQI_WINDOW = 8


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
    return _correlate_valid(_correlate_valid(x, w, -2), w, -1)


def ssim_window(height: int, width: int, sigma: float = SSIM_SIGMA) -> int:
    """skimage's window (11 for σ=1.5); shrunk to the largest odd size that fits small images."""
    win = 2 * int(SSIM_TRUNCATE * sigma + 0.5) + 1
    side = min(height, width)
    return win if side >= win else side - (1 - side % 2)


def ssim(pred: torch.Tensor, gt: torch.Tensor, data_range: float = 255.0, sigma: float = SSIM_SIGMA) -> torch.Tensor:
    """Mean SSIM per image, float64 [B].

    Equals ``skimage.metrics.structural_similarity(gt, pred, channel_axis=-1, data_range=255,
    gaussian_weights=True, sigma=1.5, use_sample_covariance=False)``: Gaussian-weighted local
    statistics (scipy 'reflect' borders), then the mean over the map with ``(win-1)//2``
    pixels cropped from every border, per channel, averaged over channels. Images smaller than
    the 11x11 window use the largest odd window that fits (skimage would raise; passing that
    ``win_size`` to skimage gives the same value).
    """
    _check(pred, gt)
    B, C, H, W = pred.shape
    x = pred.to(torch.float64).reshape(B * C, 1, H, W)
    y = gt.to(torch.float64).reshape(B * C, 1, H, W)
    taps = gaussian_taps(sigma, device=x.device)
    pad = (ssim_window(H, W, sigma) - 1) // 2
    stats = _gaussian_filter(torch.cat((x, y, x * x, y * y, x * y), 0), taps, pad)
    ux, uy, uxx, uyy, uxy = stats.chunk(5, 0)
    vx, vy, vxy = uxx - ux * ux, uyy - uy * uy, uxy - ux * uy
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return s.reshape(B, C, -1).mean(-1).mean(-1)


def _box_sums(v: torch.Tensor, kh: int, kw: int) -> torch.Tensor:
    """Sums over every kh x kw window (valid positions, stride 1) of int64 [N, H, W], exact."""
    c = F.pad(v.cumsum(-1).cumsum(-2), (1, 0, 1, 0))
    return c[:, kh:, kw:] - c[:, :-kh, kw:] - c[:, kh:, :-kw] + c[:, :-kh, :-kw]


def uiqi(pred: torch.Tensor, gt: torch.Tensor, window: int = UIQI_WINDOW) -> torch.Tensor:
    """Universal quality index (Wang & Bovik 2002) per image, float64 [B].

    8x8 windows at every valid position (stride 1); per window
    Q = 4σxy·μx·μy / ((σx²+σy²)(μx²+μy²)), Q = 2μxμy/(μx²+μy²) where σx²+σy² = 0 and
    μx²+μy² ≠ 0, Q = 1 where both are 0; mean over windows, then over channels. Window
    statistics come from exact integer box sums, so the zero tests are exact. Images smaller
    than 8 on a side use a window of that side.
    """
    _check(pred, gt)
    B, C, H, W = pred.shape
    kh, kw = min(window, H), min(window, W)
    n = float(kh * kw)
    x = pred.to(torch.int64).reshape(B * C, H, W)
    y = gt.to(torch.int64).reshape(B * C, H, W)
    sx, sy, sxx, syy, sxy = (_box_sums(v, kh, kw).to(torch.float64) for v in (x, y, x * x, y * y, x * y))
    # n² times the window variances/covariance and the squared means (exact integers)
    var_sum = (n * sxx - sx * sx) + (n * syy - sy * sy)
    cov = n * sxy - sx * sy
    mean_sq = sx * sx + sy * sy
    mean_prod = sx * sy
    both = var_sum * mean_sq
    q = torch.where(both != 0, 4 * cov * mean_prod / torch.where(both != 0, both, 1.0),
                    torch.where(mean_sq != 0, 2 * mean_prod / torch.where(mean_sq != 0, mean_sq, 1.0), 1.0))
    return q.reshape(B, C, -1).mean(-1).mean(-1)
