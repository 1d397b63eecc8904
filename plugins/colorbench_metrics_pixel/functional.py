"""Pure metric functions over uint8 RGB tensors [B, 3, H, W] (DESIGN.md §4)."""

from __future__ import annotations

import torch


def _check(pred: torch.Tensor, gt: torch.Tensor) -> None:
    if pred.shape != gt.shape:
        raise ValueError(f"pred {tuple(pred.shape)} and gt {tuple(gt.shape)} differ in shape")


def squared_error_255(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """Mean squared error per image on the 0..255 scale, all channels pooled; float64 [B]."""
    _check(pred, gt)
    diff = pred.to(torch.float64) - gt.to(torch.float64)
    return diff.pow(2).flatten(1).mean(1)


def mse(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """Mean squared error over R, G, B in [0, 1]."""
    return squared_error_255(pred, gt) / (255.0**2)


def cpsnr(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """Colour PSNR: 10·log10(255² / MSE over the three channels pooled); +inf when identical."""
    err = squared_error_255(pred, gt)
    return 10.0 * torch.log10((255.0**2) / err)  # err == 0 -> +inf
