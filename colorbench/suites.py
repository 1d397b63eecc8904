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
    metric_options: {alpha: 6}                # --metric-set
    run: {batch_size: 16, seed: 0}            # engine settings
    notes: free text (e.g. the GPU command)

``include`` merges top-level keys: the including file's keys replace the included ones
(mappings such as ``protocol`` and ``run`` are merged key by key; lists are replaced).
Relative paths (include, checkpoints) are relative to the file that names them;
``${VAR}`` and ``~`` are expanded in dataset names and checkpoint paths.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from colorbench.errors import ColorbenchError

SUFFIXES = (".yaml", ".yml")
TOP_KEYS = ("name", "version", "description", "include", "protocol", "datasets", "models",
            "metrics", "metric_options", "run", "notes")
PROTOCOL_KEYS = ("split", "limit", "size", "resize")
DATASET_KEYS = ("name", *PROTOCOL_KEYS, "options")
MODEL_KEYS = ("name", "options", "checkpoint")
RUN_KEYS = ("batch_size", "workers", "seed", "device", "save_images", "strict")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


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
    metric_options: dict[str, Any] = field(default_factory=dict)
    protocol: dict[str, Any] = field(default_factory=dict)
    run: dict[str, Any] = field(default_factory=dict)
    notes: str = ""
    files: list[str] = field(default_factory=list)  # the file and everything it includes
    digest: str = ""  # sha256 of the resolved definition

    def provenance(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "path": str(self.path),
                "files": self.files, "sha256": self.digest}


# ------------------------------------------------------------------ finding suites
def search_dirs() -> list[Path]:
    """Where ``--benchmark NAME`` looks: $COLORBENCH_BENCHMARKS (os.pathsep-separated),
    ./benchmarks, then the benchmarks/ folder of the colorbench source tree."""
    dirs = [Path(p) for p in os.environ.get("COLORBENCH_BENCHMARKS", "").split(os.pathsep) if p]
    dirs.append(Path.cwd() / "benchmarks")
    dirs.append(Path(__file__).resolve().parents[1] / "benchmarks")
    out: list[Path] = []
    for d in dirs:
        if d.is_dir() and d.resolve() not in out:
            out.append(d.resolve())
    return out


def available() -> dict[str, Path]:
    """Suite name (file stem) → file, first directory wins."""
    found: dict[str, Path] = {}
    for d in search_dirs():
        for f in sorted(d.iterdir()):
            if f.suffix in SUFFIXES and not f.name.startswith(("_", ".")):
                found.setdefault(f.stem, f)
    return found


def locate(name_or_file: str) -> Path:
    path = Path(name_or_file).expanduser()
    if path.is_file():
        return path.resolve()
    if path.suffix in SUFFIXES or "/" in name_or_file:
        raise ColorbenchError(f"--benchmark {name_or_file}: no such file")
    suites = available()
    if name_or_file in suites:
        return suites[name_or_file]
    close = difflib.get_close_matches(name_or_file, list(suites), n=2)
    hint = f" Did you mean {' or '.join(close)}?" if close else ""
    where = ", ".join(str(d) for d in search_dirs()) or "no benchmarks/ folder found"
    raise ColorbenchError(f"--benchmark {name_or_file}: no such suite.{hint} Known: "
                          f"{', '.join(suites) or 'none'} (looked in {where}; or give a YAML file)")


# ------------------------------------------------------------------ loading
def _expand(text: str, where: str) -> str:
    def sub(m: re.Match[str]) -> str:
        var = m.group(1) or m.group(2)
        if var not in os.environ:
            raise ColorbenchError(f"{where}: ${{{var}}} is not set; export {var}=DIR "
                                  "(e.g. COLORBENCH_DATA=../shared/data) and rerun")
        return os.environ[var]

    return os.path.expanduser(_VAR.sub(sub, text))


def _check_keys(data: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    for key in data:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f" Did you mean {close[0]}?" if close else ""
            raise ColorbenchError(f"{where}: unknown key {key!r}.{hint} Allowed: {', '.join(allowed)}")


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ColorbenchError(f"{where}: expected a mapping of KEY: VALUE, got {type(value).__name__}")
    return dict(value)


def _read(path: Path, chain: tuple[Path, ...]) -> tuple[dict[str, Any], list[Path]]:
    """The file's mapping with its includes merged in, and every file read."""
    import yaml

    if path in chain:
        cycle = " -> ".join(p.name for p in (*chain, path))
        raise ColorbenchError(f"{path}: include cycle ({cycle})")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ColorbenchError(f"{path}: cannot read benchmark suite ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" line {mark.line + 1}" if mark is not None else ""
        raise ColorbenchError(f"{path}:{at}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    data = _mapping(data, str(path))
    _check_keys(data, TOP_KEYS, str(path))
    for key in ("datasets", "models"):  # relative checkpoint paths: relative to this file
        if key == "models" and isinstance(data.get(key), list):
            for m in data[key]:
                if isinstance(m, dict) and isinstance(m.get("checkpoint"), str):
                    ck = _expand(m["checkpoint"], f"{path}: model {m.get('name')!r}")
                    m["checkpoint"] = str((path.parent / ck).resolve()) if not Path(ck).is_absolute() else ck
    includes = data.pop("include", None)
    if isinstance(includes, str):
        includes = [includes]
    if includes is not None and not (isinstance(includes, list) and all(isinstance(i, str) for i in includes)):
        raise ColorbenchError(f"{path}: include: expected a file name or a list of file names")
    merged: dict[str, Any] = {}
    files = [path]
    for inc in includes or []:
        inc_path = (path.parent / _expand(inc, f"{path}: include")).resolve()
        if not inc_path.is_file() and inc_path.suffix not in SUFFIXES:
            inc_path = inc_path.with_suffix(".yaml")
        if not inc_path.is_file():
            raise ColorbenchError(f"{path}: include {inc!r}: no such file ({inc_path})")
        base, base_files = _read(inc_path, (*chain, path))
        base.pop("name", None)  # a variant never inherits the base's name
        merged = _merge(merged, base)
        files += base_files
    return _merge(merged, data), files


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if key in ("protocol", "run", "metric_options") and isinstance(out.get(key), dict) and isinstance(value, dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def _entries(value: Any, where: str, keys: tuple[str, ...]) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not value:
        raise ColorbenchError(f"{where}: expected a non-empty list")
    out = []
    for i, item in enumerate(value):
        if isinstance(item, str):
            item = {"name": item}
        item = _mapping(item, f"{where}[{i}]")
        _check_keys(item, keys, f"{where}[{i}]")
        if not isinstance(item.get("name"), str) or not item["name"]:
            raise ColorbenchError(f"{where}[{i}]: needs a name")
        out.append(item)
    return out


def _protocol_settings(data: Mapping[str, Any], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in PROTOCOL_KEYS:
        if key not in data or data[key] is None:
            continue
        value = data[key]
        if key in ("limit", "size") and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise ColorbenchError(f"{where}: {key}: expected a positive integer, got {value!r}")
        if key in ("split", "resize") and not isinstance(value, str):
            raise ColorbenchError(f"{where}: {key}: expected text, got {value!r}")
        out[key] = value
    return out


def load(name_or_file: str) -> Suite:
    """Read, merge and validate a suite (names of models/datasets/metrics are checked
    against the registries when the run starts)."""
    path = locate(name_or_file)
    data, files = _read(path, ())
    where = str(path)
    protocol = _mapping(data.get("protocol"), f"{where}: protocol")
    _check_keys(protocol, PROTOCOL_KEYS, f"{where}: protocol")
    protocol = _protocol_settings(protocol, f"{where}: protocol")
    datasets = []
    for i, d in enumerate(_entries(data.get("datasets"), f"{where}: datasets", DATASET_KEYS)):
        at = f"{where}: datasets[{i}] ({d['name']})"
        datasets.append(DatasetEntry(d["name"], {**protocol, **_protocol_settings(d, at)},
                                     _mapping(d.get("options"), f"{at}: options")))
    models = []
    for i, m in enumerate(_entries(data.get("models"), f"{where}: models", MODEL_KEYS)):
        at = f"{where}: models[{i}] ({m['name']})"
        ck = m.get("checkpoint")
        if ck is not None and not isinstance(ck, str):
            raise ColorbenchError(f"{at}: checkpoint: expected a path")
        models.append(ModelEntry(m["name"], _mapping(m.get("options"), f"{at}: options"), ck))
    for kind, entries in (("datasets", [d.name for d in datasets]), ("models", [m.name for m in models])):
        dupes = sorted({n for n in entries if entries.count(n) > 1})
        if dupes:
            raise ColorbenchError(f"{where}: {kind} listed twice: {', '.join(dupes)}")
    metrics = data.get("metrics")
    if metrics is not None and not (isinstance(metrics, list) and all(isinstance(m, str) for m in metrics)):
        raise ColorbenchError(f"{where}: metrics: expected a list of metric ids")
    run = _mapping(data.get("run"), f"{where}: run")
    _check_keys(run, RUN_KEYS, f"{where}: run")
    suite = Suite(
        name=str(data.get("name") or path.stem), version=str(data.get("version", "0")), path=path,
        description=str(data.get("description", "")), datasets=datasets, models=models,
        metrics=list(metrics) if metrics is not None else None,
        metric_options=_mapping(data.get("metric_options"), f"{where}: metric_options"),
        protocol=protocol, run=run, notes=str(data.get("notes", "")),
        files=[str(f) for f in files],
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
    return out


def run_settings(suite: Suite) -> dict[str, Any]:
    """Keyword arguments for :class:`colorbench.engine.RunConfig` from a suite (this is
    where ``${VAR}`` in dataset names must resolve)."""
    names = {d.name: _expand(d.name, f"{suite.path}: dataset {d.name!r}") for d in suite.datasets}
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
        **{k: v for k, v in suite.run.items() if k in RUN_KEYS},
    }


def d_opt_target(d: DatasetEntry) -> str:
    """Dataset options target the dataset's registry name (directories: ``folder``)."""
    return d.name if "/" not in d.name and "$" not in d.name else "folder"
