"""scikit-image's default SSIM over uint8 RGB tensors [B, 3, H, W] (``ssim_skimage``).

``structural_similarity(gt, pred, channel_axis=-1, data_range=255)`` with its defaults:
7x7 uniform window, sample covariance (N/(N-1), N = 49), K1 = 0.01, K2 = 0.03, the map
cropped by (win-1)//2 on every border (so skimage's 'reflect' padding is never seen: the
valid 7x7 box means are exactly what it averages), mean per channel, then over channels.
Float64 throughout (as skimage), a few images at a time so the working set stays bounded.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

SKIMAGE_WIN = 7
K1, K2 = 0.01, 0.03
_CHUNK = 4  # images filtered together


def skimage_window(height: int, width: int) -> int:
    """7, or the largest odd window that fits an image thinner than 7 (skimage would raise;
    passing that ``win_size`` to skimage gives the same value). Below 3 there is no sample
    covariance (N - 1 = 0): ValueError."""
    side = min(height, width)
    win = SKIMAGE_WIN if side >= SKIMAGE_WIN else side - (1 - side % 2)
    if win < 3:
        raise ValueError(f"ssim_skimage: image {height}x{width} is thinner than the 3x3 minimum window")
    return win


def _ssim_chunk(x: torch.Tensor, y: torch.Tensor, win: int, data_range: float) -> torch.Tensor:
    """Mean SSIM per image of x, y float64 [b, C, H, W] -> [b] (channel means averaged)."""
    c = x.shape[1]
    maps = torch.cat((x, y, x * x, y * y, x * y), 1)  # [b, 5C, H, W]
    ux, uy, uxx, uyy, uxy = F.avg_pool2d(maps, win, stride=1).split(c, 1)
    n = win * win
    cov_norm = n / (n - 1.0)
    vx, vy, vxy = cov_norm * (uxx - ux * ux), cov_norm * (uyy - uy * uy), cov_norm * (uxy - ux * uy)
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return s.flatten(2).mean(2).mean(1)


def ssim_skimage(pred: torch.Tensor, gt: torch.Tensor, data_range: float = 255.0) -> torch.Tensor:
    """scikit-image-default SSIM per image (see the module note), float64 [B]."""
    if pred.shape != gt.shape or pred.dim() != 4:
        raise ValueError(f"expected two [B, C, H, W] tensors of one shape, got {tuple(pred.shape)} and {tuple(gt.shape)}")
    win = skimage_window(pred.shape[2], pred.shape[3])
    out = [_ssim_chunk(p.to(torch.float64), g.to(torch.float64), win, data_range)
           for p, g in zip(pred.split(_CHUNK), gt.split(_CHUNK), strict=True)]
    return torch.cat(out)
