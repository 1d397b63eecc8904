"""Per-image metrics of ``colorbench score`` computed in the DataLoader workers (CPU).

Each worker builds the worker-safe metrics (``MetricSpec.worker_safe``) once, with the run's
metric options, and scores every image right after decoding it; the loader Item carries the
values and the failed cells (as data). The main process merges them with the metrics it
still computes itself (the others, and every distribution accumulator), so the rows are the
ones the main-process path gives: same values, ``status``, ``failed_metrics`` and ``error``.
On a GPU, without workers, or where workers do not fork, every metric stays in the main
process on the whole batch.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch

from colorbench.evaluation.batch import MetricBatch
from colorbench.evaluation.failures import Failure
from colorbench.evaluation.metricset import MetricSet

if TYPE_CHECKING:
    from colorbench.evaluation.loader import Item

Scores = tuple[dict[str, list[float | None]], list[dict[str, Failure]]]


def _forks() -> bool:
    """Whether DataLoader workers start by fork (they then share the metric specs, whose
    factories need not be picklable)."""
    method = multiprocessing.get_start_method(allow_none=True) or multiprocessing.get_all_start_methods()[0]
    return method == "fork"


class WorkerMetrics:
    """The worker-safe per-image metrics of a MetricSet, built once per DataLoader worker
    (``start``) and applied to one image at a time (``score``)."""

    def __init__(self, metric_set: MetricSet):
        self.specs = [s for s in metric_set.per_image if s.worker_safe]
        self.options = {s.name: metric_set.options[s.name] for s in self.specs}
        self._set: MetricSet | None = None

    @classmethod
    def for_loader(cls, metric_set: MetricSet, device: torch.device, workers: int) -> WorkerMetrics | None:
        """The metrics the workers of a loader compute, or None where they cannot: a device
        other than the CPU, no workers, a start method other than fork, or no worker-safe
        metric selected."""
        if torch.device(device).type != "cpu" or workers <= 0 or not _forks():
            return None
        found = cls(metric_set)
        return found if found.specs else None

    @property
    def ids(self) -> list[str]:
        """The ids of the metrics computed in the workers."""
        return [s.name for s in self.specs]

    def start(self) -> None:
        """Build every metric function (once per worker, from its ``worker_init_fn``)."""
        self._set = MetricSet(self.specs, "cpu", self.options)
        self._set.build_per_image()

    def score(self, image_id: str, pred: torch.Tensor, gt: torch.Tensor) -> tuple[dict[str, float | None], dict[str, Failure]]:
        """One image's values (None in a failed cell) and failed cells; uint8 [3, H, W] each."""
        if self._set is None:
            self.start()
        assert self._set is not None
        values, failed = self._set.score(MetricBatch(pred[None], gt[None], ids=[image_id]))
        return {mid: vals[0] for mid, vals in values.items()}, failed[0]


def start_worker(_: int) -> None:
    """``worker_init_fn`` of a loader whose dataset has ``metrics``: one torch thread per
    worker, and the worker's metric functions built once."""
    torch.set_num_threads(1)
    info = torch.utils.data.get_worker_info()
    metrics = getattr(info.dataset, "metrics", None) if info is not None else None
    if metrics is not None:
        metrics.start()


def score_items(metric_set: MetricSet, batch: MetricBatch, items: Sequence[Item]) -> Scores:
    """``metric_set.score(batch)``, taking the values the workers computed from ``items``
    (every item must carry a metric for it to be taken) instead of computing them again;
    each image's failed cells in the metric set's order."""
    carried: list[dict[str, Any]] = [it.values for it in items if it.values is not None]
    done = set.intersection(*(set(v) for v in carried)) if carried and len(carried) == len(items) else set()
    values, failed = metric_set.score(batch, skip=done)
    if not done:
        return values, failed
    for mid in done:
        values[mid] = [it.values[mid] for it in items]  # type: ignore[index]
    order = metric_set.per_image_ids
    for k, it in enumerate(items):
        cells = {**failed[k], **{m: f for m, f in it.cell_failures.items() if m in done}}
        failed[k] = {m: cells[m] for m in order if m in cells}
    return values, failed
