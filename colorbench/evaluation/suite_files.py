"""Finding and reading benchmark-suite YAML files: search directories, ``include`` chains,
``${VAR}`` expansion and key validation (``suites`` builds the typed suite from them)."""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from colorbench.errors import ColorbenchError
from colorbench.evaluation.bounded_yaml import load_yaml

SUFFIXES = (".yaml", ".yml")
TOP_KEYS = ("name", "version", "description", "include", "protocol", "datasets", "models",
            "metrics", "primary_metric", "metric_options", "run", "notes", "requires_checkpoint", "reported")
PROTOCOL_KEYS = ("split", "limit", "size", "resize", "skip_gray_gt")
DATASET_KEYS = ("name", *PROTOCOL_KEYS, "options")
MODEL_KEYS = ("name", "options", "checkpoint")
RUN_KEYS = ("batch_size", "workers", "seed", "device", "save_images", "strict")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


# ------------------------------------------------------------------ finding suites
BUILTIN_DIR = Path(__file__).resolve().parents[1] / "benchmarks"  # package data: ships in the wheel


def search_dirs() -> list[Path]:
    """Where ``--benchmark NAME`` looks: $COLORBENCH_BENCHMARKS (os.pathsep-separated),
    ./benchmarks, then the suites installed with colorbench (``colorbench/benchmarks``)."""
    dirs = [Path(p) for p in os.environ.get("COLORBENCH_BENCHMARKS", "").split(os.pathsep) if p]
    dirs.append(Path.cwd() / "benchmarks")
    dirs.append(BUILTIN_DIR)
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
def expand_vars(text: str, where: str) -> str:
    def sub(m: re.Match[str]) -> str:
        var = m.group(1) or m.group(2)
        if var not in os.environ:
            raise ColorbenchError(f"{where}: ${{{var}}} is not set; export {var}=DIR "
                                  "(e.g. COLORBENCH_DATA=../shared/data) and rerun")
        return os.environ[var]

    return os.path.expanduser(_VAR.sub(sub, text))


def check_keys(data: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    for key in data:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f" Did you mean {close[0]}?" if close else ""
            raise ColorbenchError(f"{where}: unknown key {key!r}.{hint} Allowed: {', '.join(allowed)}")


def as_mapping(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ColorbenchError(f"{where}: expected a mapping of KEY: VALUE, got {type(value).__name__}")
    return dict(value)


def include_folders(name: str, including: Path) -> list[Path]:
    """Where an ``include`` is looked for: beside the including file, then (a bare file
    name) the search directories, so your suites can include the built-in
    ``_shipped_models.yaml`` or ``cpu-real.yaml``."""
    return [including.parent, *(search_dirs() if Path(name).name == name else [])]


def include_path(name: str, including: Path) -> Path | None:
    """The file an ``include`` names (``.yaml`` may be left off), or None."""
    for folder in include_folders(name, including):
        candidate = (folder / name).resolve()
        if not candidate.is_file() and candidate.suffix not in SUFFIXES:
            candidate = candidate.with_suffix(".yaml")
        if candidate.is_file():
            return candidate
    return None


def read_with_includes(path: Path, chain: tuple[Path, ...]) -> tuple[dict[str, Any], list[Path]]:
    """The file's mapping with its includes merged in, and every file read."""
    import yaml

    if path in chain:
        cycle = " -> ".join(p.name for p in (*chain, path))
        raise ColorbenchError(f"{path}: include cycle ({cycle})")
    try:
        data = load_yaml(path, "benchmark suite")
    except OSError as exc:
        raise ColorbenchError(f"{path}: cannot read benchmark suite ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" line {mark.line + 1}" if mark is not None else ""
        raise ColorbenchError(f"{path}:{at}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    data = as_mapping(data, str(path))
    check_keys(data, TOP_KEYS, str(path))
    for key in ("datasets", "models"):  # relative checkpoint paths: relative to this file
        if key == "models" and isinstance(data.get(key), list):
            for m in data[key]:
                if isinstance(m, dict) and isinstance(m.get("checkpoint"), str):
                    ck = expand_vars(m["checkpoint"], f"{path}: model {m.get('name')!r}")
                    m["checkpoint"] = str((path.parent / ck).resolve()) if not Path(ck).is_absolute() else ck
    includes = data.pop("include", None)
    if isinstance(includes, str):
        includes = [includes]
    if includes is not None and not (isinstance(includes, list) and all(isinstance(i, str) for i in includes)):
        raise ColorbenchError(f"{path}: include: expected a file name or a list of file names")
    merged: dict[str, Any] = {}
    files = [path]
    for inc in includes or []:
        name = expand_vars(inc, f"{path}: include")
        inc_path = include_path(name, path)
        if inc_path is None:
            where = ", ".join(str(d) for d in include_folders(name, path))
            raise ColorbenchError(f"{path}: include {inc!r}: no such file (looked in {where})")
        base, base_files = read_with_includes(inc_path, (*chain, path))
        base.pop("name", None)  # a variant never inherits the base's name
        merged = merge_suites(merged, base)
        files += base_files
    return merge_suites(merged, data), files


def merge_suites(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if key in ("protocol", "run", "metric_options") and isinstance(out.get(key), dict) and isinstance(value, dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def entries_of(value: Any, where: str, keys: tuple[str, ...]) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not value:
        raise ColorbenchError(f"{where}: expected a non-empty list")
    out = []
    for i, item in enumerate(value):
        if isinstance(item, str):
            item = {"name": item}
        item = as_mapping(item, f"{where}[{i}]")
        check_keys(item, keys, f"{where}[{i}]")
        if not isinstance(item.get("name"), str) or not item["name"]:
            raise ColorbenchError(f"{where}[{i}]: needs a name")
        out.append(item)
    return out


def primary_metric(data: Mapping[str, Any], metrics: list[str] | None, where: str) -> str | None:
    """The suite's ``primary_metric`` (the leaderboard's default ranking), one of its ``metrics``."""
    value = data.get("primary_metric")
    if value is None:
        return None
    if metrics is None:
        raise ColorbenchError(f"{where}: primary_metric: {value!r} needs the suite's metrics: list "
                              "(list the metrics, the primary one among them)")
    if value not in metrics:
        raise ColorbenchError(f"{where}: primary_metric: {value!r} is not one of the suite's metrics "
                              f"({', '.join(metrics)}); name one of them")
    return value


def protocol_settings(data: Mapping[str, Any], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in PROTOCOL_KEYS:
        if key not in data or data[key] is None:
            continue
        value = data[key]
        if key in ("limit", "size") and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise ColorbenchError(f"{where}: {key}: expected a positive integer, got {value!r}")
        if key == "skip_gray_gt" and not isinstance(value, bool):
            raise ColorbenchError(f"{where}: {key}: expected true or false, got {value!r}")
        if key in ("split", "resize") and not isinstance(value, str):
            raise ColorbenchError(f"{where}: {key}: expected text, got {value!r}")
        out[key] = value
    return out
