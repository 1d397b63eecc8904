"""Every hook a colorbench plugin can implement.

Hooks are *callback style*: each receives a ``register`` function and calls it once per
thing it adds. All hooks are called for every plugin (no first-result-wins). A plugin is a
module listed under the ``colorbench`` entry-point group::

    [project.entry-points.colorbench]
    sepia = "colorbench_sepia"

See docs/plugins.md for a complete, tested example.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from colorbench.plugin.specs import ColorizerSpec, DatasetSpec, MetricSpec, SegmenterSpec

PROJECT = "colorbench"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_colorizers(register: Callable[[ColorizerSpec], None]) -> None:
    """Register colorizers: call ``register(ColorizerSpec(...))`` once per colorizer.

    The spec's ``factory(**kwargs)`` builds the colorizer only when a run needs it; it is
    called with ``device``, ``checkpoint`` (path or None) and the declared options.
    """


@hookspec
def register_datasets(register: Callable[[DatasetSpec], None]) -> None:
    """Register datasets: call ``register(DatasetSpec(...))`` once per dataset.

    The spec's ``factory(split=, root=, **options)`` returns an object with ``ids``
    (a sequence of unique string ids in a fixed order) and ``load(i) -> Sample``.
    """


@hookspec
def register_metrics(register: Callable[[MetricSpec], None]) -> None:
    """Register metrics: call ``register(MetricSpec(...))`` once per metric.

    A per-image metric maps a :class:`colorbench.MetricBatch` of uint8 predictions and
    ground truths to one value per image; a distribution metric's factory returns an
    accumulator (a ``colorbench.Accumulator``: reset / update(batch) / merge / compute() ->
    float), built once per run and reset per (dataset, model) pair.
    """


@hookspec
def register_segmenters(register: Callable[[SegmenterSpec], None]) -> None:
    """Register segmenters (used e.g. by colour harmonization).

    The spec's ``factory(device=, **options)`` returns an object whose
    ``segment(rgb_uint8_hw3) -> int array [H, W]`` labels each pixel with a segment id.
    """
