"""The metrics of one run, built once and applied batch by batch (run and score share it).

Failures are per metric: a per-image metric that raises, returns other than one value per
image, or returns NaN fails only its own cells; a distribution metric whose factory,
``update`` or ``compute`` raises fails only that metric (for the pair, or for the run when
it cannot be built). The other metrics of the image count.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from colorbench.evaluation.accumulator import Accumulator, Reference
from colorbench.evaluation.batch import MetricBatch
from colorbench.evaluation.failures import Failure, one_line
from colorbench.plugin.options import with_defaults
from colorbench.plugin.specs import MetricSpec

__all__ = ["MetricSet", "PairState", "one_line"]
SET = "(set)"  # Failure.image_id of a distribution metric's failure


class ShapeError(ValueError):
    """A per-image metric returned other than one value per image."""


@dataclass
class PairState:
    """One (dataset, model) pair's distribution accumulators by metric id and the
    distribution metrics that failed in it (``MetricSet.start_pair`` makes one)."""

    accumulators: dict[str, Any] = field(default_factory=dict)
    pair_failures: dict[str, Failure] = field(default_factory=dict)


class MetricSet:
    """Per-image metric functions and distribution accumulators, each built once per run;
    the accumulators' state is per pair (``PairState``)."""

    def __init__(self, specs: Sequence[MetricSpec], device: Any = "cpu",
                 options: Mapping[str, Mapping[str, Any]] | None = None):
        """``options``: metric id -> options given on the command line (``--metric-set``);
        each metric is built with its declared defaults overridden by these."""
        self.specs = list(specs)
        self.device = device
        self.options = {s.name: with_defaults(s, dict((options or {}).get(s.name, {}))) for s in self.specs}
        self.per_image = [s for s in self.specs if s.kind == "per_image"]
        self.distribution = [s for s in self.specs if s.kind == "distribution"]
        self._fns: dict[str, Any] = {}
        self._protos: dict[str, Any] | None = None  # accumulators, built on the first pair
        self._broken: dict[str, Failure] = {}  # accumulators that could not be built
        self.current = PairState()  # the pair that ``feed``/``finish`` use by default

    @property
    def per_image_ids(self) -> list[str]:
        return [s.name for s in self.per_image]

    @property
    def distribution_ids(self) -> list[str]:
        return [s.name for s in self.distribution]

    @property
    def accumulators(self) -> dict[str, Any]:
        """The ``current`` pair's built distribution accumulators by metric id."""
        return self.current.accumulators

    @property
    def pair_failures(self) -> dict[str, Failure]:
        """The distribution metrics failed in the ``current`` pair."""
        return self.current.pair_failures

    def metadata(self) -> dict[str, dict[str, Any]]:
        return {m.name: {"display_name": m.display_name, "higher_is_better": m.higher_is_better,
                         "range": list(m.range), "kind": m.kind, "plugin": m.plugin,
                         "citation": m.citation, "description": m.description,
                         "leaderboard_abs": m.leaderboard_abs, "version": m.version} for m in self.specs}

    def _fn(self, spec: MetricSpec) -> Any:
        if spec.name not in self._fns:
            self._fns[spec.name] = spec.build(device=self.device, **self.options[spec.name])
        return self._fns[spec.name]

    # ------------------------------------------------------------ per image
    def build_per_image(self) -> None:
        """Build every per-image metric function now (a factory that raises is left to fail,
        and be reported, cell by cell in ``score``)."""
        for spec in self.per_image:
            try:
                self._fn(spec)
            except (Exception, SystemExit):  # a plugin's sys.exit() is its failure
                continue

    def _values(self, spec: MetricSpec, batch: MetricBatch) -> list[float]:
        out = torch.as_tensor(self._fn(spec)(batch)).detach().double().cpu()
        if out.numel() != len(batch):
            raise ShapeError(f"returned shape {tuple(out.shape)}; expected one value per image ({len(batch)})")
        return out.reshape(len(batch)).tolist()

    def score(self, batch: MetricBatch, skip: Collection[str] = ()
              ) -> tuple[dict[str, list[float | None]], list[dict[str, Failure]]]:
        """Per-image values of every per-image metric not in ``skip`` (None in a failed cell),
        and per image the failed cells (metric id -> Failure). A metric that raises on a batch
        is retried image by image, so one bad image fails only its own cell."""
        n = len(batch)
        values: dict[str, list[float | None]] = {}
        failed: list[dict[str, Failure]] = [{} for _ in range(n)]
        ids = batch.ids or [str(k) for k in range(n)]
        for spec in (s for s in self.per_image if s.name not in skip):
            vals: list[float | None] = [None] * n
            retry = False
            try:
                vals = list(self._values(spec, batch))
            except ShapeError as exc:  # the metric's contract, not one image: every cell
                for k in range(n):
                    failed[k][spec.name] = Failure.of(ids[k], exc, spec.name)
            except (Exception, SystemExit) as exc:  # a plugin's sys.exit() is its failure
                if n == 1:
                    failed[0][spec.name] = Failure.of(ids[0], exc, spec.name)
                retry = n > 1  # outside the handler: each image's traceback is its own
            if retry:
                vals = self._one_by_one(spec, batch, failed, ids)
            for k, v in enumerate(vals):
                if v is not None and math.isnan(v):
                    vals[k] = None
                    failed[k][spec.name] = Failure(ids[k], "returned NaN", spec.name)
            values[spec.name] = vals
        return values, failed

    def _one_by_one(self, spec: MetricSpec, batch: MetricBatch, failed: list[dict[str, Failure]],
                    ids: list[str]) -> list[float | None]:
        out: list[float | None] = []
        for k in range(len(batch)):
            try:
                out += self._values(spec, batch.select(k))
            except (Exception, SystemExit) as exc:  # a plugin's sys.exit() is its failure
                out.append(None)
                failed[k][spec.name] = Failure.of(ids[k], exc, spec.name)
        return out

    # --------------------------------------------------------- distribution
    def start_pair(self, reference: Reference | None = None) -> PairState:
        """A fresh ``PairState`` for a new (dataset, model) pair, also made ``current``: each
        accumulator is built once per run and every pair gets a shallow copy of it, reset
        (its own state, the same network), so several pairs can be fed side by side; an
        accumulator that is not an ``Accumulator`` is built anew for every pair after the
        first. Each is given the pair's ``reference`` (``Accumulator.set_reference``)."""
        first = self._protos is None
        if self._protos is None:
            self._protos = {}
            for spec in self.distribution:
                self._build(spec)
        state = PairState()
        for spec in self.distribution:
            acc = self._protos.get(spec.name)
            if isinstance(acc, Accumulator):
                acc = copy.copy(acc)
                acc.reset()
            elif not first and spec.name not in self._broken:
                self._build(spec)
                acc = self._protos.get(spec.name)
            if acc is not None:
                state.accumulators[spec.name] = acc
        state.pair_failures = dict(self._broken)
        for mid, acc in state.accumulators.items():
            if isinstance(acc, Accumulator):
                try:
                    acc.set_reference(reference)
                except (Exception, SystemExit) as exc:  # a plugin's sys.exit() is its failure
                    state.pair_failures[mid] = Failure.of(SET, exc, mid)
        self.current = state
        return state

    def _build(self, spec: MetricSpec) -> None:
        assert self._protos is not None
        try:
            self._protos[spec.name] = spec.build(device=self.device, **self.options[spec.name])
        except (Exception, SystemExit) as exc:  # a plugin's sys.exit() is its failure
            self._broken[spec.name] = Failure.of(SET, exc, spec.name)
            self._protos.pop(spec.name, None)

    def feed(self, batch: MetricBatch, state: PairState | None = None) -> None:
        """``update`` every accumulator of the pair (``state``, default ``current``) that
        has not failed yet."""
        state = state or self.current
        for mid, acc in state.accumulators.items():
            if mid in state.pair_failures:
                continue
            try:
                acc.update(batch)
            except (Exception, SystemExit) as exc:  # a plugin's sys.exit() is its failure
                state.pair_failures[mid] = Failure.of(SET, exc, mid)

    def finish(self, record: Any, warn: Any, state: PairState | None = None) -> list[Failure]:
        """Store each accumulator's ``compute()`` of the pair (``state``, default
        ``current``) in ``record.values`` (and, for specs that declare ``provides_info``, its
        ``info()`` in ``record.info``); ``info()["warnings"]`` lines go to ``warn``. Returns
        one Failure per distribution metric that failed."""
        state = state or self.current
        failures = state.pair_failures
        for spec in self.distribution:
            mid = spec.name
            record.values.pop(mid, None)
            record.info.pop(mid, None)
            acc = state.accumulators.get(mid)
            if mid in failures or acc is None:
                continue
            try:
                record.values[mid] = float(acc.compute())
            except (Exception, SystemExit) as exc:  # a plugin's sys.exit() is its failure
                failures[mid] = Failure.of(SET, exc, mid)
                continue
            info = acc.info() if spec.provides_info else None
            if info:
                record.info[mid] = info
                for line in info.get("warnings", []):
                    warn(f"metric {mid}: {line}")
        return [failures[s.name] for s in self.distribution if s.name in failures]
