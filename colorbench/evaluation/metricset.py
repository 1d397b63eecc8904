"""The metrics of one run, built once and applied batch by batch (run and score share it)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from colorbench.evaluation.batch import MetricBatch
from colorbench.plugin.options import with_defaults
from colorbench.plugin.specs import MetricSpec


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


class MetricSet:
    """Per-image metric functions built once; distribution accumulators built per pair."""

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

    @property
    def per_image_ids(self) -> list[str]:
        return [s.name for s in self.per_image]

    @property
    def distribution_ids(self) -> list[str]:
        return [s.name for s in self.distribution]

    def metadata(self) -> dict[str, dict[str, Any]]:
        return {m.name: {"display_name": m.display_name, "higher_is_better": m.higher_is_better,
                         "range": list(m.range), "kind": m.kind, "plugin": m.plugin,
                         "citation": m.citation, "description": m.description,
                         "leaderboard_abs": m.leaderboard_abs} for m in self.specs}

    def _fn(self, spec: MetricSpec) -> Any:
        if spec.name not in self._fns:
            self._fns[spec.name] = spec.build(device=self.device, **self.options[spec.name])
        return self._fns[spec.name]

    def _spec(self, mid: str) -> MetricSpec:
        return next(s for s in self.specs if s.name == mid)

    def accumulators(self) -> dict[str, Any]:
        return {s.name: s.build(device=self.device, **self.options[s.name]) for s in self.distribution}

    def finish(self, accumulators: Mapping[str, Any], entry: dict[str, Any], warn: Any) -> list[str]:
        """Store each accumulator's ``compute()`` in ``entry`` (and, for specs that declare
        ``provides_info``, its ``info()``
        dict as ``<id>_info``, e.g. the feature extractor used); ``info()["warnings"]`` lines
        go to ``warn``. Returns one error line per metric that failed."""
        errors = []
        for mid, acc in accumulators.items():
            try:
                entry[mid] = float(acc.compute())
            except Exception as exc:
                errors.append(f"metric {mid} failed: {one_line(exc)}")
                continue
            info = acc.info() if self._spec(mid).provides_info else None
            if info:
                entry[f"{mid}_info"] = info
                for line in info.get("warnings", []):
                    warn(f"metric {mid}: {line}")
        return errors

    def score(self, batch: MetricBatch) -> tuple[dict[str, list[float | None]], list[str]]:
        """Per-image values of every per-image metric, and one error line per failed metric."""
        values: dict[str, list[float | None]] = {}
        errors: list[str] = []
        n = len(batch)
        for spec in self.per_image:
            try:
                out = self._fn(spec)(batch)
                values[spec.name] = torch.as_tensor(out).detach().double().cpu().reshape(n).tolist()
            except Exception as exc:
                errors.append(f"metric {spec.name}: {one_line(exc)}")
                values[spec.name] = [None] * n
        return values, errors
