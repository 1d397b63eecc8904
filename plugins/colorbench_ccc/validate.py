"""Validation pass during training: TAR (eq. 21), CNR (eq. 19) and CPSNR on held-out images,
computed as the run engine does (centre crop, rebuild RGB from the true L*, uint8)."""

from __future__ import annotations

from typing import Any

import torch

from colorbench.color import rgb_to_lab
from colorbench.color.classes import ClassGrid, count_distinct
from colorbench.evaluation.protocol import rebuild
from colorbench.plugin.specs import Dataset
from colorbench.training import ColorPairs


@torch.inference_mode()
def validate(colorizer: Any, dataset: Dataset, size: int, n_images: int, batch_size: int = 8) -> dict[str, float]:
    """Mean TAR (%), CNR and CPSNR (dB) over the first ``n_images`` images at ``size``."""
    pairs = ColorPairs(dataset, size, train=False)
    n = min(n_images, len(pairs))
    grid = ClassGrid()  # the metrics' default grid: α=6, β=108, Δ=36
    tar, cnr, cpsnr = [], [], []
    for start in range(0, n, batch_size):
        items = [pairs[i] for i in range(start, min(n, start + batch_size))]
        L = torch.stack([it["L"] for it in items])
        gt = rebuild(L, torch.stack([it["ab"] for it in items]))
        pred = rebuild(L, colorizer.colorize(L).cpu())
        cg, cp = grid.classes_of_lab(rgb_to_lab(gt)), grid.classes_of_lab(rgb_to_lab(pred))
        tar += (100.0 * (cg == cp).float().mean(dim=(1, 2))).tolist()
        cnr += (count_distinct(cp, grid.n_classes) / count_distinct(cg, grid.n_classes)).tolist()
        mse = (pred.double() - gt.double()).pow(2).mean(dim=(1, 2, 3))
        cpsnr += [10.0 * torch.log10(255.0**2 / m).item() for m in mse if m > 0]
    mean = lambda v: float(sum(v) / len(v)) if v else float("nan")  # noqa: E731
    return {"n": n, "tar": mean(tar), "cnr": mean(cnr), "cpsnr": mean(cpsnr)}
