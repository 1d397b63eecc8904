"""Pure metric functions over uint8 RGB tensors [B, 3, H, W] (DESIGN.md §4)."""

from __future__ import annotations

import torch


def _check(pred: torch.Tensor, gt: torch.Tensor) -> None:
    if pred.shape != gt.shape:
        raise ValueError(f"pred {tuple(pred.shape)} and gt {tuple(gt.shape)} differ in shape")


def squared_error_255(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """Mean squared error per image on the 0..255 scale, all channels pooled; float64 [B].

    The sum of squared differences is an exact int64 per image; only the division rounds."""
    _check(pred, gt)
    B = pred.shape[0]
    out = torch.empty(B, dtype=torch.float64, device=pred.device)
    for k in range(B):
        diff = pred[k].to(torch.int32) - gt[k].to(torch.int32)
        out[k] = (diff * diff).sum(dtype=torch.int64).to(torch.float64) / diff.numel()
    return out


def mse(pred: torch.Tensor, gt: torch.Tensor, err: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared error over R, G, B in [0, 1] (``err``: precomputed ``squared_error_255``)."""
    return (squared_error_255(pred, gt) if err is None else err) / (255.0**2)


CPSNR_CAP_DB = 100.0  # the most CPSNR gives: identical images score this, never +inf
_MSE_FLOOR = 255.0**2 / 10.0 ** (CPSNR_CAP_DB / 10.0)


def cpsnr(pred: torch.Tensor, gt: torch.Tensor, err: torch.Tensor | None = None) -> torch.Tensor:
    """Colour PSNR: 10·log10(255² / MSE over the three channels pooled), capped at
    ``CPSNR_CAP_DB`` (the MSE is floored), so identical images give 100 dB, not +inf."""
    if err is None:
        err = squared_error_255(pred, gt)
    return 10.0 * torch.log10((255.0**2) / err.clamp_min(_MSE_FLOOR))
