"""Colorizing one photo at full resolution (``colorbench colorize``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from colorbench.color import join_lab, lab_to_rgb, quantize
from colorbench.errors import ColorbenchError
from colorbench.evaluation.protocol import lightness, resize, to_tensor


def colorize_rgb(colorizer: Any, rgb: np.ndarray, size: int = 256, device: Any = "cpu",
                 image_id: str = "", with_info: bool = False) -> np.ndarray:
    """The photo's own L* at full resolution + a*b* predicted at ``size`` x ``size`` and
    upsampled bilinearly (``size=0``: predict at native size). Returns RGB uint8.
    ``with_info``: the colorizer declares ``provides_info``, so ``image_id`` reaches its
    ``colorize_with_info(L, ids)``."""
    L_full = lightness(to_tensor(rgb)).unsqueeze(0).to(device)
    L_in = L_full if size == 0 else lightness(to_tensor(resize(rgb, size, "stretch"))).unsqueeze(0).to(device)
    if with_info:
        ab = colorizer.colorize_with_info(L_in, [image_id])[0].float()
    else:
        ab = colorizer.colorize(L_in).float()
    if not isinstance(ab, torch.Tensor) or ab.dim() != 4 or tuple(ab.shape[:2]) != (1, 2):
        got = tuple(ab.shape) if isinstance(ab, torch.Tensor) else type(ab).__name__
        raise ColorbenchError(f"{image_id}: the colorizer returned {got}; expected a*b* of shape (1, 2, H, W)")
    if not torch.isfinite(ab).all():
        raise ColorbenchError(f"{image_id}: the colorizer returned NaN or infinite a*b* values; no image written")
    if ab.shape[-2:] != L_full.shape[-2:]:
        ab = F.interpolate(ab, size=L_full.shape[-2:], mode="bilinear", align_corners=False)
    out = quantize(lab_to_rgb(join_lab(L_full, ab)))
    return out[0].permute(1, 2, 0).cpu().numpy()

