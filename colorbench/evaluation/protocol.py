"""The evaluation protocol (docs/protocol.md): resize, L* in, RGB rebuilt from ground-truth L*
and predicted a*b*, uint8 out."""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from PIL import Image

from colorbench.color import lab_to_rgb8
from colorbench.color import lightness as _lightness

ResizeMode = Literal["crop", "stretch", "none"]
RESIZE_MODES: tuple[str, ...] = ("crop", "stretch", "none")


def resize(rgb: np.ndarray, size: int, mode: str) -> np.ndarray:
    """Apply the protocol's resize to an RGB uint8 image.

    ``crop``: centre-crop to a square (the shorter side), then resize to ``size`` x ``size``;
    ``stretch``: resize to ``size`` x ``size`` ignoring the aspect ratio; ``none``: unchanged.
    Resizing is Pillow's bicubic filter (antialiased when shrinking).
    """
    if mode == "none":
        return rgb
    if mode not in RESIZE_MODES:
        raise ValueError(f"unknown resize mode {mode!r}; choose one of {', '.join(RESIZE_MODES)}")
    h, w = rgb.shape[:2]
    if mode == "crop" and h != w:
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        rgb = rgb[top : top + side, left : left + side]
    if rgb.shape[0] == size and rgb.shape[1] == size:
        return np.ascontiguousarray(rgb)
    return np.asarray(Image.fromarray(rgb).resize((size, size), Image.Resampling.BICUBIC))


def to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """RGB uint8 [H, W, 3] -> uint8 tensor [3, H, W]."""
    if not rgb.flags.writeable or not rgb.flags.c_contiguous:
        rgb = np.array(rgb, copy=True, order="C")
    return torch.from_numpy(rgb).permute(2, 0, 1).contiguous()


def lightness(rgb: torch.Tensor) -> torch.Tensor:
    """uint8 RGB [..., 3, H, W] -> L* float32 [..., 1, H, W] in [0, 100]."""
    return _lightness(rgb).to(torch.float32)


def rebuild(L: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """Ground-truth L* [B,1,H,W] + predicted a*b* [B,2,H,W] -> uint8 RGB [B,3,H,W]
    (``color.lab_to_rgb8``: image by image, so each image's pixels do not depend on its batch)."""
    return lab_to_rgb8(L, ab)
