"""The input every metric receives: uint8 predictions and ground truths, with shared caches."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from colorbench.color import rgb8_to_lab

GT_PREFIX = "gt_"  # cache keys of values that depend on the ground truth alone


@dataclass
class MetricBatch:
    """``pred`` and ``gt``: uint8 sRGB tensors [B, 3, H, W] on one device.

    Derived tensors (float RGB, Lab) are computed once per batch and shared by every metric
    that asks for them. ``gt_side``: a cache shared with the other models' batches of the same
    ground truths (``GroundTruths``); a key that starts with ``gt_`` names a value of the
    ground truth alone and is kept there, so it is computed once for all models.
    """

    pred: torch.Tensor
    gt: torch.Tensor
    ids: list[str] = field(default_factory=list)
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)
    gt_side: dict[str, Any] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.pred.shape != self.gt.shape:
            raise ValueError(f"pred {tuple(self.pred.shape)} and gt {tuple(self.gt.shape)} differ in shape")
        if self.pred.dtype != torch.uint8 or self.gt.dtype != torch.uint8:
            raise TypeError("MetricBatch expects uint8 tensors")

    def __len__(self) -> int:
        return int(self.pred.shape[0])

    def select(self, k: int) -> MetricBatch:
        """The batch of image ``k`` alone (no shared cache)."""
        return MetricBatch(self.pred[k : k + 1], self.gt[k : k + 1], ids=self.ids[k : k + 1])

    def cached(self, key: str, make: Any) -> Any:
        """``make()`` computed once per batch under ``key``; keys starting with ``gt_`` must
        depend on the ground truth alone (they are shared through ``gt_side``)."""
        store = self.gt_side if self.gt_side is not None and key.startswith(GT_PREFIX) else self._cache
        if key not in store:
            store[key] = make()
        return store[key]

    @property
    def pred_f64(self) -> torch.Tensor:
        """Prediction as float64 in [0, 255]."""
        return self.cached("pred_f64", lambda: self.pred.to(torch.float64))

    @property
    def gt_f64(self) -> torch.Tensor:
        return self.cached("gt_f64", lambda: self.gt.to(torch.float64))

    @property
    def pred_lab(self) -> torch.Tensor:
        """Lab of the prediction, float64 [B, 3, H, W] (same values as ``rgb_to_lab`` in float64)."""
        return self.cached("pred_lab", lambda: rgb8_to_lab(self.pred, torch.float64))

    @property
    def gt_lab(self) -> torch.Tensor:
        return self.cached("gt_lab", lambda: rgb8_to_lab(self.gt, torch.float64))

    @property
    def pred_lab32(self) -> torch.Tensor:
        """Lab of the prediction, float32 [B, 3, H, W] (within 1e-4 of ``pred_lab``; much
        faster). The built-in metrics use this one."""
        return self.cached("pred_lab32", lambda: rgb8_to_lab(self.pred, torch.float32))

    @property
    def gt_lab32(self) -> torch.Tensor:
        return self.cached("gt_lab32", lambda: rgb8_to_lab(self.gt, torch.float32))


class GroundTruths:
    """The ground-truth batches of one round of a multi-model pass, by their image ids: each
    group's uint8 tensor (stacked and moved to the device once) and its ``gt_side`` cache,
    shared by every model's MetricBatch of the same images; ``clear()`` after the round."""

    def __init__(self) -> None:
        self._groups: dict[tuple[str, ...], tuple[torch.Tensor, dict[str, Any]]] = {}

    def get(self, ids: list[str], make: Callable[[], torch.Tensor]) -> tuple[torch.Tensor, dict[str, Any]]:
        """The tensor of the group ``ids`` (``make()`` the first time) and its cache."""
        key = tuple(ids)
        if key not in self._groups:
            self._groups[key] = (make(), {})
        return self._groups[key]

    def clear(self) -> None:
        self._groups.clear()
