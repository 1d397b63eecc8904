"""Validation during training through the registered metrics, on every rank.

Held-out images are prepared as the run protocol does (centre crop at the model's size,
L* in, RGB rebuilt from the true L* and the predicted a*b*, uint8) and scored by the
per-image metrics of the registry (``cpsnr`` by default). Each rank scores its share of
the images and the sums are all-reduced, so no rank waits idle on a collective.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import torch

from colorbench import distributed
from colorbench.training.context import ColorPairs

if TYPE_CHECKING:
    from colorbench.training.loop import Trainer

Colorize = Callable[[torch.Tensor], torch.Tensor]  # L* [B,1,S,S] in [0,100] -> a*b* [B,2,S,S]


def _metric_fns(trainer: Trainer, names: Sequence[str]) -> dict[str, Any]:
    from colorbench.evaluation.metricset import MetricSet

    regs = trainer.ctx.registries
    if regs is None:
        from colorbench.plugin.manager import load

        regs = load()
    specs = [regs.metrics.get(n) for n in names]
    metric_set = MetricSet(specs, device="cpu")
    return {s.name: metric_set._fn(s) for s in specs}


@torch.no_grad()
def validate_colorizer(trainer: Trainer, colorize: Colorize, dataset: Any, size: int, n_images: int,
                       metrics: Sequence[str] = ("cpsnr",), batch_size: int = 8) -> dict[str, float]:
    """``val_<metric>``: the mean of each registered per-image metric over the first
    ``n_images`` images of ``dataset`` at ``size`` (NaN values left out of the mean)."""
    from colorbench.evaluation.batch import MetricBatch
    from colorbench.evaluation.protocol import rebuild

    info = trainer.info
    pairs = ColorPairs(dataset, size, train=False)
    n = min(n_images, len(pairs))
    fns = _metric_fns(trainer, metrics)
    sums = torch.zeros(2 * len(fns), dtype=torch.float64)
    mine = list(range(info.rank, n, info.world_size))
    for start in range(0, len(mine), batch_size):
        items = [pairs[i] for i in mine[start:start + batch_size]]
        L = torch.stack([it["L"] for it in items])
        gt = rebuild(L, torch.stack([it["ab"] for it in items]))
        with trainer.autocast():
            ab = colorize(L.to(trainer.device))
        batch = MetricBatch(pred=rebuild(L, ab.float().cpu()), gt=gt)
        for k, fn in enumerate(fns.values()):
            values = torch.as_tensor(fn(batch), dtype=torch.float64).reshape(-1)
            ok = torch.isfinite(values)
            sums[2 * k] += values[ok].sum()
            sums[2 * k + 1] += ok.sum()
    sums = distributed.all_reduce_sum(sums.to(trainer.device), info).cpu()
    return {f"val_{name}": float(sums[2 * k] / sums[2 * k + 1]) if sums[2 * k + 1] else float("nan")
            for k, name in enumerate(fns)}
