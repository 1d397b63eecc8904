"""CNR, CCAR, TAR (seed 000 eq. 19-21; TAR in both readings) per image and the set-level
union variants of CNR and CCAR.

Class ids come from ``colorbench.color.classes`` (eq. 9, optional class subset). Distinct
classes are counted with one bincount per batch (O(pixels)), never eq. 19-20's pairwise loop.
"""

from __future__ import annotations

from typing import Any

import torch

from colorbench.color.classes import ClassMapper, count_distinct, presence
from colorbench.evaluation.accumulator import Accumulator


def batch_classes(batch: Any, mapper: ClassMapper) -> tuple[torch.Tensor, torch.Tensor]:
    """Class ids [B, H, W] of prediction and ground truth, cached on the batch per mapping."""
    pred = batch.cached(f"pred_{mapper.key}", lambda: mapper.of_rgb8(batch.pred, batch.pred_lab32))
    gt = batch.cached(f"gt_{mapper.key}", lambda: mapper.of_rgb8(batch.gt, batch.gt_lab32))
    return pred, gt


def cnr(pred_ids: torch.Tensor, gt_ids: torch.Tensor, id_space: int) -> torch.Tensor:
    """Eq. 19: distinct classes in the prediction / distinct classes in the ground truth."""
    return count_distinct(pred_ids, id_space).double() / count_distinct(gt_ids, id_space).double()


def ccar(pred_ids: torch.Tensor, id_space: int, n_classes: int) -> torch.Tensor:
    """Eq. 20: 100 · distinct classes in the prediction / N_class."""
    return 100.0 * count_distinct(pred_ids, id_space).double() / n_classes


def tar(pred_ids: torch.Tensor, gt_ids: torch.Tensor) -> torch.Tensor:
    """Eq. 21 per image, colour-class reading: 100 · fraction of pixels whose predicted class
    equals the true class."""
    return 100.0 * (pred_ids == gt_ids).flatten(1).double().mean(1)


def tar_pixel(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """Eq. 21 per image, pixel-value reading: 100 · fraction of pixels whose uint8 RGB
    [B, 3, H, W] equals the ground truth's in all three channels."""
    return 100.0 * (pred == gt).all(1).flatten(1).double().mean(1)


class UnionAccumulator(Accumulator):
    """Distinct classes over a whole (dataset, model) set: ``cnr_union`` or ``ccar_union``
    (reset / update / merge / compute; ``merge`` ORs the class-presence sets)."""

    pred: torch.Tensor
    gt: torch.Tensor
    n: int

    def __init__(self, kind: str, mapper: ClassMapper):
        super().__init__()
        if kind not in ("cnr", "ccar"):
            raise ValueError(f"unknown union metric {kind!r}")
        self.kind, self.mapper = kind, mapper
        self.add_state("pred", torch.zeros(mapper.id_space, dtype=torch.bool), "or")
        self.add_state("gt", torch.zeros(mapper.id_space, dtype=torch.bool), "or")
        self.add_state("n", 0, "sum")

    def update(self, batch: Any) -> None:
        pred, gt = batch_classes(batch, self.mapper)
        self.pred |= presence(pred, self.mapper.id_space).cpu()
        self.gt |= presence(gt, self.mapper.id_space).cpu()
        self.n += len(batch)

    def compute(self) -> float:
        if self.n == 0:
            raise ValueError("no images were scored")
        k = int(self.pred.sum())
        if self.kind == "cnr":
            return k / int(self.gt.sum())
        return 100.0 * k / self.mapper.n_classes

    def info(self) -> dict[str, Any]:
        g = self.mapper.grid
        return {"images": self.n, "pred_classes": int(self.pred.sum()), "gt_classes": int(self.gt.sum()),
                "alpha": g.alpha, "beta": g.beta, "delta": g.delta, "n_class": self.mapper.n_classes}
