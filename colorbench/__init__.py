"""colorbench: train, run, score and compare automatic image-colorization models.

Public API for plugin authors::

    from colorbench import hookimpl, ColorizerSpec, DatasetSpec, MetricSpec, SegmenterSpec
"""

from __future__ import annotations

from typing import Any

from colorbench.errors import ColorbenchError, ImageError, UnknownNameError
from colorbench.hookspecs import hookimpl
from colorbench.specs import (
    ColorizerSpec,
    DatasetSpec,
    MetricSpec,
    Option,
    Sample,
    SegmenterSpec,
    Weights,
)

__version__ = "0.1.0"

__all__ = [
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


def __getattr__(name: str) -> Any:  # torch-dependent names load on first use
    if name == "MetricBatch":
        from colorbench.batch import MetricBatch

        return MetricBatch
    raise AttributeError(f"module 'colorbench' has no attribute {name!r}")
