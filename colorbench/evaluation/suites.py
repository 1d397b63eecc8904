"""Benchmark suites: versioned YAML files naming datasets (each with its own protocol),
models (with options and checkpoints) and metrics, run by ``colorbench run --benchmark``.

A suite file::

    name: cpu-real            # defaults to the file's stem
    version: 1                # bump when the suite's content changes
    description: one line for `colorbench list benchmarks`
    include: base.yaml        # optional (string or list): files this one refines
    protocol: {size: 256, resize: crop}       # defaults for every dataset
    datasets:
      - samples                               # a registered dataset or a directory
      - {name: "${COLORBENCH_DATA}/cbsd68", split: test, limit: 100, size: 128, options: {...}}
    models:
      - gray
      - {name: ccc-harmonized, options: {segmenter: slic}, checkpoint: path/or/dir}
    metrics: [cpsnr, ssim]                    # omitted: every available metric
    primary_metric: cpsnr                     # optional: the leaderboard's default ranking
    metric_options: {alpha: 6}                # --metric-set
    run: {batch_size: 16, seed: 0}            # engine settings
    notes: free text (e.g. the GPU command)
    requires_checkpoint: [ccc]                # models whose shipped weights only stand in
    reported: [...]                           # the papers' figures (colorbench.evaluation.reported)

``include`` merges top-level keys: the including file's keys replace the included ones
(mappings such as ``protocol`` and ``run`` are merged key by key; lists are replaced).
Relative paths (include, checkpoints) are relative to the file that names them (an include's
bare file name not found there comes from the search folders, e.g. the built-in fragments);
``${VAR}`` and ``~`` are expanded in dataset names and checkpoint paths.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from colorbench.errors import ColorbenchError
from colorbench.evaluation.reported import parse_reported
from colorbench.evaluation.suite_files import (
    DATASET_KEYS,
    MODEL_KEYS,
    PROTOCOL_KEYS,
    RUN_KEYS,
    as_mapping,
    available,
    check_keys,
    entries_of,
    expand_vars,
    locate,
    primary_metric,
    protocol_settings,
    read_with_includes,
    search_dirs,
)
from colorbench.results.names import check_name

__all__ = ["DatasetEntry", "ModelEntry", "Suite", "available", "load", "locate", "restrict", "run_settings",
           "search_dirs", "stand_in_weights"]

@dataclass
class DatasetEntry:
    name: str  # registry name or directory (``${VAR}`` expanded when the run starts)
    settings: dict[str, Any] = field(default_factory=dict)  # split, limit, size, resize
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class ModelEntry:
    name: str
    options: dict[str, Any] = field(default_factory=dict)
    checkpoint: str | None = None


@dataclass
class Suite:
    name: str
    version: str
    path: Path
    description: str = ""
    datasets: list[DatasetEntry] = field(default_factory=list)
    models: list[ModelEntry] = field(default_factory=list)
    metrics: list[str] | None = None
    primary_metric: str | None = None  # one of ``metrics``: the leaderboard ranks by it by default
    metric_options: dict[str, Any] = field(default_factory=dict)
    protocol: dict[str, Any] = field(default_factory=dict)
    run: dict[str, Any] = field(default_factory=dict)
    notes: str = ""
    requires_checkpoint: list[str] = field(default_factory=list)  # shipped weights only stand in
    reported: list[dict[str, Any]] = field(default_factory=list)  # the papers' figures
    files: list[str] = field(default_factory=list)  # the file and everything it includes
    digest: str = ""  # sha256 of the resolved definition

    def provenance(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "path": str(self.path),
                "files": self.files, "sha256": self.digest,
                **({"primary_metric": self.primary_metric} if self.primary_metric else {})}


def load(name_or_file: str) -> Suite:
    """Read, merge and validate a suite (names of models/datasets/metrics are checked
    against the registries when the run starts)."""
    path = locate(name_or_file)
    data, files = read_with_includes(path, ())
    where = str(path)
    protocol = as_mapping(data.get("protocol"), f"{where}: protocol")
    check_keys(protocol, PROTOCOL_KEYS, f"{where}: protocol")
    protocol = protocol_settings(protocol, f"{where}: protocol")
    datasets = []
    for i, d in enumerate(entries_of(data.get("datasets"), f"{where}: datasets", DATASET_KEYS)):
        at = f"{where}: datasets[{i}] ({d['name']})"
        datasets.append(DatasetEntry(d["name"], {**protocol, **protocol_settings(d, at)},
                                     as_mapping(d.get("options"), f"{at}: options")))
    models = []
    for i, m in enumerate(entries_of(data.get("models"), f"{where}: models", MODEL_KEYS)):
        at = f"{where}: models[{i}] ({m['name']})"
        ck = m.get("checkpoint")
        if ck is not None and not isinstance(ck, str):
            raise ColorbenchError(f"{at}: checkpoint: expected a path")
        models.append(ModelEntry(m["name"], as_mapping(m.get("options"), f"{at}: options"), ck))
    for kind, entries in (("datasets", [d.name for d in datasets]), ("models", [m.name for m in models])):
        dupes = sorted({n for n in entries if entries.count(n) > 1})
        if dupes:
            raise ColorbenchError(f"{where}: {kind} listed twice: {', '.join(dupes)}")
    metrics = data.get("metrics")
    if metrics is not None and not (isinstance(metrics, list) and all(isinstance(m, str) for m in metrics)):
        raise ColorbenchError(f"{where}: metrics: expected a list of metric ids")
    run = as_mapping(data.get("run"), f"{where}: run")
    check_keys(run, RUN_KEYS, f"{where}: run")
    needs = data.get("requires_checkpoint") or []
    if not (isinstance(needs, list) and all(isinstance(n, str) for n in needs)):
        raise ColorbenchError(f"{where}: requires_checkpoint: expected a list of model names")
    reported = parse_reported(data, where) if "reported" in data else []
    suite = Suite(
        name=check_name(str(data.get("name") or path.stem), f"{path}: suite name"),
        version=str(data.get("version", "0")), path=path,
        description=str(data.get("description", "")), datasets=datasets, models=models,
        metrics=list(metrics) if metrics is not None else None,
        primary_metric=primary_metric(data, metrics, where),
        metric_options=as_mapping(data.get("metric_options"), f"{where}: metric_options"),
        protocol=protocol, run=run, notes=str(data.get("notes", "")),
        requires_checkpoint=list(needs), reported=reported, files=[str(f) for f in files],
    )
    definition = {"datasets": [d.__dict__ for d in datasets], "models": [m.__dict__ for m in models],
                  "metrics": suite.metrics, "metric_options": suite.metric_options, "run": run,
                  "version": suite.version}
    suite.digest = hashlib.sha256(json.dumps(definition, sort_keys=True, default=str).encode()).hexdigest()
    return suite


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def restrict(suite: Suite, models: list[str] | None, datasets: list[str] | None,
             metrics: list[str] | None) -> Suite:
    """``run --benchmark X --models a,b`` runs the suite's entry for ``a`` (with its options
    and checkpoint) and adds ``b`` if the suite lacks it; ``--datasets``/``--metrics``
    pick a subset (a dataset outside the suite is an error)."""
    def pick(entries: list[Any], wanted: list[str] | None, kind: str, names: list[str]) -> list[Any]:
        if not wanted:
            return entries
        missing = [w for w in wanted if w not in names]
        if missing:
            raise ColorbenchError(f"--{kind} {','.join(missing)}: not in benchmark {suite.name!r} "
                                  f"({', '.join(names)}); write a suite that includes this one to add it")
        return [e for e, n in zip(entries, names, strict=True) if n in wanted]

    if models:  # models the suite lacks are added (e.g. your own model on a shipped suite)
        known = [m.name for m in suite.models]
        suite = Suite(**{**suite.__dict__})
        suite.models = [*suite.models, *(ModelEntry(m) for m in models if m not in known)]
    ds_names = [d.name for d in suite.datasets]
    labels = [Path(n).name if "/" in n else n for n in ds_names]
    wanted_ds = None if not datasets else [ds_names[labels.index(d)] if d in labels and d not in ds_names else d for d in datasets]
    out = Suite(**{**suite.__dict__})
    out.models = pick(suite.models, models, "models", [m.name for m in suite.models])
    out.datasets = pick(suite.datasets, wanted_ds, "datasets", ds_names)
    if metrics:
        out.metrics = list(metrics)
        out.primary_metric = out.primary_metric if out.primary_metric in out.metrics else None
    return out


def run_settings(suite: Suite) -> dict[str, Any]:
    """Keyword arguments for :class:`colorbench.evaluation.runner.RunConfig` from a suite (this is
    where ``${VAR}`` in dataset names must resolve)."""
    names = {d.name: expand_vars(d.name, f"{suite.path}: dataset {d.name!r}") for d in suite.datasets}
    options = [f"{d_opt_target(d)}.{k}={_text(v)}" for d in suite.datasets for k, v in d.options.items()]
    options += [f"{m.name}.{k}={_text(v)}" for m in suite.models for k, v in m.options.items()]
    metric_options = [f"{k}={_text(v)}" for k, v in suite.metric_options.items()]
    return {
        "models": [m.name for m in suite.models],
        "datasets": [names[d.name] for d in suite.datasets],
        "metrics": suite.metrics,
        "dataset_settings": {names[d.name]: dict(d.settings) for d in suite.datasets if d.settings},
        "checkpoints": [f"{m.name}={m.checkpoint}" for m in suite.models if m.checkpoint],
        "options": options,
        "metric_options": metric_options,
        "benchmark": suite.provenance(),
        "reported": suite.reported,
        **{k: v for k, v in suite.run.items() if k in RUN_KEYS},
    }


def stand_in_weights(suite: Suite, checkpoints: list[str]) -> list[str]:
    """Models of ``suite.requires_checkpoint`` that run without a checkpoint (neither in the
    suite nor in ``checkpoints``, ``NAME=PATH`` entries): their shipped CPU weights stand in
    for the paper-scale ones."""
    given = {c.split("=", 1)[0] for c in checkpoints if "=" in c}
    given |= {m.name for m in suite.models if m.checkpoint}
    running = {m.name for m in suite.models}
    return [n for n in suite.requires_checkpoint if n in running and n not in given]


def d_opt_target(d: DatasetEntry) -> str:
    """Dataset options target the dataset's registry name (directories: ``folder``)."""
    return d.name if "/" not in d.name and "$" not in d.name else "folder"
