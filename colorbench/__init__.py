"""colorbench: train, run, score and compare automatic image-colorization models.

Python API (docs/api.md; loaded on first use, so ``import colorbench`` stays light)::

    colorbench.score(pred, gt, metrics=["cpsnr"])      # folders or tensors -> Scores
    colorbench.evaluate(models=["gray"], datasets=["samples"])  # `colorbench run` -> RunResult
    colorbench.metric("cpsnr")(pred, gt)               # per-image values, tensor [B]
    colorbench.create_model("gray").colorize(L)        # the colorizer factory

Public API for plugin authors::

    from colorbench import hookimpl, ColorizerSpec, DatasetSpec, MetricSpec, SegmenterSpec
"""

from __future__ import annotations

import importlib
from typing import Any

from colorbench import _compat
from colorbench.errors import ColorbenchError, ImageError, UnknownNameError
from colorbench.plugin.hookspecs import hookimpl
from colorbench.plugin.specs import (
    ColorizerSpec,
    DatasetSpec,
    MetricSpec,
    Option,
    Sample,
    SegmenterSpec,
    Weights,
)
from colorbench.version import __version__

# torch-dependent names, loaded on first use: name -> module
_LAZY = {
    "MetricBatch": "colorbench.evaluation.batch",
    "Accumulator": "colorbench.evaluation.accumulator",
    **{name: "colorbench.api" for name in ("Metric", "Scores", "create_model", "evaluate", "list_datasets",
                                           "list_metrics", "list_models", "metric", "registries", "score")},
}

__all__ = [
    "Accumulator",
    "ColorbenchError",
    "ColorizerSpec",
    "DatasetSpec",
    "ImageError",
    "Metric",
    "MetricBatch",
    "MetricSpec",
    "Option",
    "Sample",
    "Scores",
    "SegmenterSpec",
    "UnknownNameError",
    "Weights",
    "__version__",
    "create_model",
    "evaluate",
    "hookimpl",
    "list_datasets",
    "list_metrics",
    "list_models",
    "metric",
    "registries",
    "score",
]


_compat.install()


def __getattr__(name: str) -> Any:  # torch-dependent names load on first use
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'colorbench' has no attribute {name!r}")
