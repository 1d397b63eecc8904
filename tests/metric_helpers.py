"""Helpers for the metric tests: the built-in weight-free metric specs and batch scoring."""

from __future__ import annotations

import numpy as np
import torch

from colorbench.evaluation.batch import MetricBatch
from colorbench.evaluation.metricset import MetricSet
from colorbench.plugin.specs import MetricSpec

WEIGHT_FREE = ("mse", "cpsnr", "ssim", "uiqi", "colorfulness", "delta_colorfulness", "colorfulness_hs",
               "delta_colorfulness_hs", "deltae2000", "cnr", "ccar", "tar")


def builtin_specs(names: tuple[str, ...] = WEIGHT_FREE) -> list[MetricSpec]:
    """Specs straight from the plugins' hook functions (no entry-point discovery)."""
    from colorbench_metrics_classes.plugin import register_metrics as classes
    from colorbench_metrics_color.plugin import register_metrics as color
    from colorbench_metrics_pixel.plugin import register_metrics as pixel

    found: dict[str, MetricSpec] = {}
    for hook in (pixel, color, classes):
        hook(lambda spec: found.setdefault(spec.name, spec))
    return [found[n] for n in names]


def to_tensor(images: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()


def score(preds: list[np.ndarray], gts: list[np.ndarray], names: tuple[str, ...] = WEIGHT_FREE,
          batch_size: int | None = None, options: dict | None = None) -> dict[str, list[float]]:
    """Per-image values through MetricSet, in batches of ``batch_size`` (default: all)."""
    mset = MetricSet(builtin_specs(names), options=options)
    out: dict[str, list[float]] = {n: [] for n in names}
    step = batch_size or len(preds)
    for k in range(0, len(preds), step):
        values, failed = mset.score(MetricBatch(to_tensor(preds[k:k + step]), to_tensor(gts[k:k + step])))
        assert not any(failed), failed
        for n in names:
            out[n] += values[n]
    return out
