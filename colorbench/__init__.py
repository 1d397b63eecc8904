"""colorbench: train, run, score and compare automatic image-colorization models.

Public API for plugin authors::

    from colorbench import hookimpl, ColorizerSpec, DatasetSpec, MetricSpec, SegmenterSpec
"""

from __future__ import annotations

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

__all__ = [
    "Accumulator",
    "ColorbenchError",
    "ColorizerSpec",
    "DatasetSpec",
    "ImageError",
    "MetricBatch",
    "MetricSpec",
    "Option",
    "Sample",
    "SegmenterSpec",
    "UnknownNameError",
    "Weights",
    "__version__",
    "hookimpl",
]


_compat.install()


def __getattr__(name: str) -> Any:  # torch-dependent names load on first use
    if name == "MetricBatch":
        from colorbench.evaluation.batch import MetricBatch

        return MetricBatch
    if name == "Accumulator":
        from colorbench.evaluation.accumulator import Accumulator

        return Accumulator
    raise AttributeError(f"module 'colorbench' has no attribute {name!r}")
