"""Object-selective colour harmonization (seed 000 §III-D, Algorithm 1), for any segmenter.

For every segment s and each channel (a*, then b*): the mode M of the predicted values
inside s; every value with |v − M| > δ (δa = δb = 8) is replaced by M. Values are continuous
after upsampling, so the mode is taken over values rounded to integers (ties: the smallest
value); the comparison uses the unrounded values. Pixels labelled < 0 (no segment) are kept.
Segments are disjoint labels here; SAM's overlapping masks are flattened by the ``sam``
segmenter (larger masks first, smaller ones on top).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from colorbench.color import lab_to_rgb
from colorbench.color import quantize as to_uint8

_LO, _BINS = -128, 256  # integer histogram over [-128, 127]


def segment_modes(values: torch.Tensor, segments: torch.Tensor) -> torch.Tensor:
    """Mode of rounded ``values`` [N] per segment id in ``segments`` [N] (ids >= 0) -> [S]."""
    v = values.round().clamp(_LO, _LO + _BINS - 1).to(torch.int64) - _LO
    n_seg = int(segments.max()) + 1
    hist = torch.bincount(segments * _BINS + v, minlength=n_seg * _BINS).view(n_seg, _BINS)
    return (hist.argmax(dim=1) + _LO).to(values.dtype)  # argmax: first (smallest) on ties


def harmonize(ab: torch.Tensor, segments: torch.Tensor, delta_a: float = 8.0, delta_b: float = 8.0) -> torch.Tensor:
    """Algorithm 1 on one image: ``ab`` [2,H,W], ``segments`` int [H,W] -> harmonized [2,H,W]."""
    seg = torch.as_tensor(segments, device=ab.device).to(torch.int64).reshape(-1)
    inside = seg >= 0
    out = ab.clone()
    if not bool(inside.any()):
        return out
    flat = out.view(2, -1)
    s = seg[inside]
    for ch, delta in ((0, delta_a), (1, delta_b)):
        vals = flat[ch, inside]
        mode = segment_modes(vals, s)[s]
        flat[ch, inside] = torch.where((vals - mode).abs() > delta, mode, vals)
    return out


def gray_rgb(L: torch.Tensor) -> np.ndarray:
    """L* [1,H,W] -> the gray image as uint8 RGB [H,W,3] (what the segmenter sees)."""
    lab = torch.cat((L.float().cpu(), torch.zeros(2, *L.shape[-2:])), 0)
    return to_uint8(lab_to_rgb(lab)).permute(1, 2, 0).numpy()


class Harmonizer:
    """Callable (L [B,1,H,W], ab [B,2,H,W]) -> ab: segments each gray image, then Algorithm 1."""

    def __init__(self, segmenter: Any, delta_a: float = 8.0, delta_b: float = 8.0):
        self.segmenter, self.delta_a, self.delta_b = segmenter, float(delta_a), float(delta_b)

    def __call__(self, L: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        out = []
        for i in range(ab.shape[0]):
            labels = np.asarray(self.segmenter.segment(gray_rgb(L[i])))
            seg = torch.from_numpy(labels.astype(np.int64)).to(ab.device)
            out.append(harmonize(ab[i], seg, self.delta_a, self.delta_b))
        return torch.stack(out)
