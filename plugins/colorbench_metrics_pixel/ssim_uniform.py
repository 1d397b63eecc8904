"""scikit-image's default SSIM over uint8 RGB tensors [B, 3, H, W] (``ssim_skimage``).

``structural_similarity(gt, pred, channel_axis=-1, data_range=255)`` with its defaults:
7x7 uniform window, sample covariance (N/(N-1), N = 49), K1 = 0.01, K2 = 0.03, the map
cropped by (win-1)//2 on every border (so skimage's 'reflect' padding is never seen: the
valid 7x7 box means are exactly what it averages), mean per channel, then over channels.
The window sums are exact (``structural.window_stats``: integers in float32), and the SSIM
map is formed from them in float64 with the 1/n factors cancelled, image by image and
channel by channel so the working set stays in cache; agrees with skimage's float64
filters to ~1e-15.
"""

from __future__ import annotations

import torch

from colorbench_metrics_pixel.structural import window_stats

SKIMAGE_WIN = 7
K1, K2 = 0.01, 0.03


def skimage_window(height: int, width: int) -> int:
    """7, or the largest odd window that fits an image thinner than 7 (skimage would raise;
    passing that ``win_size`` to skimage gives the same value). Below 3 there is no sample
    covariance (N - 1 = 0): ValueError."""
    side = min(height, width)
    win = SKIMAGE_WIN if side >= SKIMAGE_WIN else side - (1 - side % 2)
    if win < 3:
        raise ValueError(f"ssim_skimage: image {height}x{width} is thinner than the 3x3 minimum window")
    return win


def _ssim_one(x: torch.Tensor, y: torch.Tensor, win: int, data_range: float) -> float:
    """Mean SSIM of one image: x, y uint8 [C, H, W] (channel means averaged).

    With window sums sx, sy, s(x²+y²), sxy over n = win² pixels, P = sx·sy, Q = sx² + sy²:
    (2μxμy + C1)/(μx² + μy² + C1) = (2P + C1n²)/(Q + C1n²) and, with the sample covariance
    n/(n-1), (2σxy + C2)/(σx² + σy² + C2) = (2(n·sxy − P) + C2') / (n·s(x²+y²) − Q + C2'),
    C2' = C2·n(n-1); P, Q and the n· products are exact integers in float64."""
    n = float(win * win)
    c1 = (K1 * data_range) ** 2 * n * n
    c2 = (K2 * data_range) ** 2 * n * (n - 1.0)
    total = 0.0
    for c in range(x.shape[0]):
        sx, sy, sss, sxy = window_stats(x[c], y[c], win, win)
        p = sx * sy
        q = sx.mul_(sx).add_(sy.mul_(sy))
        num = (p * 2.0 + c1).mul_(sxy.mul_(n).sub_(p).mul_(2.0).add_(c2))
        den = (q + c1).mul_(sss.mul_(n).sub_(q).add_(c2))
        total += float(num.div_(den).mean())
    return total / x.shape[0]


def ssim_skimage(pred: torch.Tensor, gt: torch.Tensor, data_range: float = 255.0) -> torch.Tensor:
    """scikit-image-default SSIM per image (see the module note), float64 [B]."""
    if pred.shape != gt.shape or pred.dim() != 4:
        raise ValueError(f"expected two [B, C, H, W] tensors of one shape, got {tuple(pred.shape)} and {tuple(gt.shape)}")
    win = skimage_window(pred.shape[2], pred.shape[3])
    return torch.tensor([_ssim_one(pred[k], gt[k], win, data_range) for k in range(pred.shape[0])],
                        dtype=torch.float64, device=pred.device)
