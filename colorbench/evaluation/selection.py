"""Turning command-line names into registered specs (models, datasets, metrics)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from colorbench.errors import ColorbenchError, WeightsUnavailableError
from colorbench.plugin.manager import Registries
from colorbench.plugin.specs import ColorizerSpec, Dataset, DatasetSpec, MetricSpec

DATA_ENV = "COLORBENCH_DATA"
FOLDER = "folder"


def split_names(text: str | None) -> list[str] | None:
    """'a,b' -> ['a', 'b']; None or '' -> None."""
    if not text:
        return None
    return [n.strip() for n in text.split(",") if n.strip()]


def unavailable_note(lines: list[str], requested: bool) -> list[str]:
    """What to print about metrics that cannot run: every line when the user asked for them
    by name; one short line when they were only part of the default selection."""
    if requested or not lines:
        return lines
    names = [line.split()[1] for line in lines]  # "metric NAME unavailable: ..."
    return [f"skipped {len(names)} metric(s) whose pretrained weights are not here: {', '.join(names)} "
            f"(ask for one with --metrics to see where its weights go; details in run.json)"]


def resolve_metrics(regs: Registries, names: list[str] | None, strict: bool = False) -> tuple[list[MetricSpec], list[str]]:
    """Specs to compute and one line per metric that cannot run here (missing weights)."""
    specs = [regs.metrics.get(n) for n in names] if names else list(regs.metrics)
    out: list[MetricSpec] = []
    unavailable: list[str] = []
    seen: set[str] = set()
    for spec in specs:
        if spec.name in seen:
            continue
        seen.add(spec.name)
        try:
            if spec.check_available is not None:
                spec.check_available()
        except WeightsUnavailableError as exc:
            if strict:
                raise
            unavailable.append(f"metric {spec.name} unavailable: {exc}")
            continue
        out.append(spec)
    return out, unavailable


def resolve_models(regs: Registries, names: list[str] | None, checkpoints: list[str]) -> list[ColorizerSpec]:
    if names:
        out: list[ColorizerSpec] = []
        for n in names:
            spec = regs.colorizers.get(n)
            if spec not in out:
                out.append(spec)
        return out
    skipped = {s.name for s in _without_weights(regs, checkpoints)}
    return [s for s in regs.colorizers if s.name not in skipped]


def _without_weights(regs: Registries, checkpoints: list[str]) -> list[ColorizerSpec]:
    """Colorizers a default selection leaves out: weights needed, none here, none given."""
    given = {c.partition("=")[0].strip() for c in checkpoints}
    return [s for s in regs.colorizers if not (s.weights_available() or s.name in given)]


def skipped_models_note(regs: Registries, names: list[str] | None, checkpoints: list[str]) -> list[str]:
    """One line naming the colorizers a run without ``--models`` skips for missing weights,
    each with its file, where to get it and the cache folder; none when --models is given."""
    if names:
        return []
    parts = []
    for spec in _without_weights(regs, checkpoints):
        weights = spec.declared_weights()
        own = f"--checkpoint {spec.name}=PATH"
        parts.append(f"{spec.name} ({weights.file}: absent; {weights.fetch_hint()}; or pass {own})" if weights
                     else f"{spec.name} (declares no weights; pass {own})")
    return [f"skipped colorizers without weights: {'; '.join(parts)}"] if parts else []


@dataclass
class ResolvedDataset:
    name: str
    spec: DatasetSpec
    folder: Path | None = None  # set when the user named a directory

    def root(self, data_root: str | None) -> Path | None:
        if self.folder is not None:
            return self.folder
        if not self.spec.needs_root:
            return None
        base = data_root or os.environ.get(DATA_ENV)
        if not base:
            return None
        parent = Path(base).expanduser()
        if not (parent / self.name).exists():
            for alias in self.spec.root_names:
                if (parent / alias).is_dir():
                    return parent / alias
        return parent / self.name

    @property
    def fingerprint(self) -> dict[str, Any]:
        return {"name": self.name, "spec": self.spec.name, "folder": str(self.folder) if self.folder else None}

    def build(self, split: str | None, data_root: str | None, options: dict[str, Any]) -> Dataset:
        split = split or self.spec.default_split
        if split is not None and split not in self.spec.splits:  # before the factory runs
            raise ColorbenchError(f"dataset {self.name!r} has no split {split!r}: choose one of "
                                  f"{', '.join(self.spec.splits) or 'none declared'} (--split)")
        root = self.root(data_root)
        if self.spec.needs_root and root is None and self.folder is None:
            raise ColorbenchError(
                f"dataset {self.name!r} reads files from disk: pass --data-root DIR (with DIR/{self.name}/) "
                f"or set {DATA_ENV}; see 'colorbench list datasets --verbose'"
            )
        return self.spec.factory(split=split, root=root, **options)


def resolve_datasets(regs: Registries, names: list[str]) -> list[ResolvedDataset]:
    out: list[ResolvedDataset] = []
    for n in names:
        path = Path(n).expanduser()
        if n not in regs.datasets and path.is_dir():
            label = path.resolve().name
            if any(d.name == label for d in out):
                raise ColorbenchError(f"--datasets: two entries are named {label!r}; rename one directory")
            out.append(ResolvedDataset(label, regs.datasets.get(FOLDER), folder=path.resolve()))
            continue
        if n not in regs.datasets and ("/" in n or n.startswith(".")):
            raise ColorbenchError(f"--datasets {n}: no such directory and no dataset of that name")
        spec = regs.datasets.get(n)
        out.append(ResolvedDataset(spec.name, spec))
    return out
