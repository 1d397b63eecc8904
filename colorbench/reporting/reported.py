"""Figures printed in papers ("reported rows"): read from a user's YAML file, a suite's
``reported:`` key or a run directory's ``reported.yaml``; validated with one-line errors.

Each entry: ``source`` (paper, table), ``dataset``, ``model``, ``metrics`` (metric id ->
published value in colorbench's units), optional ``label`` (default "<model> (reported)")
and ``note``. The leaderboard shows them marked, never ranks, bolds or tests them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from colorbench.errors import ColorbenchError

REPORTED_FILE = "reported.yaml"
ENTRY_KEYS = ("source", "dataset", "model", "label", "metrics", "note")
REQUIRED = ("source", "dataset", "model", "metrics")


def validate(data: Any, where: str) -> list[dict[str, Any]]:
    """The entries of ``data`` (a list, or a mapping with a ``reported`` list), checked."""
    if isinstance(data, dict):
        data = data.get("reported", [])
    if data is None:
        return []
    if not isinstance(data, list):
        raise ColorbenchError(f"{where}: reported: expected a list of entries (source, dataset, model, metrics)")
    out = []
    for i, entry in enumerate(data):
        at = f"{where}: reported[{i}]"
        if not isinstance(entry, dict):
            raise ColorbenchError(f"{at}: expected a mapping with {', '.join(REQUIRED)}")
        unknown = sorted(set(entry) - set(ENTRY_KEYS))
        if unknown:
            raise ColorbenchError(f"{at}: unknown key(s) {', '.join(unknown)}; use {', '.join(ENTRY_KEYS)}")
        missing = [k for k in REQUIRED if k not in entry]
        if missing:
            raise ColorbenchError(f"{at}: missing {', '.join(missing)}")
        metrics = entry["metrics"]
        if not isinstance(metrics, dict) or not metrics or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in metrics.values()):
            raise ColorbenchError(f"{at}: metrics: expected a mapping of metric id -> number")
        for key in ("source", "dataset", "model", "label", "note"):
            if key in entry and not isinstance(entry[key], str):
                raise ColorbenchError(f"{at}: {key}: expected text")
        out.append({"source": entry["source"], "dataset": entry["dataset"], "model": entry["model"],
                    "label": entry.get("label") or f"{entry['model']} (reported)",
                    "metrics": {str(k): float(v) for k, v in metrics.items()}, "note": entry.get("note", "")})
    return out


def read(path: Path) -> list[dict[str, Any]]:
    """The reported rows of a YAML file (a user's file or a suite file)."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ColorbenchError(f"--reported {path}: no such file") from None
    except (OSError, yaml.YAMLError) as exc:
        raise ColorbenchError(f"{path}: not readable YAML ({' '.join(str(exc).split())[:200]}); fix the file") from None
    return validate(data, str(path))


def of_run(run_dir: Path) -> list[dict[str, Any]]:
    """The rows a ``run --benchmark`` stored in ``run_dir/reported.yaml`` ([] without one)."""
    path = Path(run_dir) / REPORTED_FILE
    return read(path) if path.is_file() else []


def write(run_dir: Path, entries: list[dict[str, Any]]) -> None:
    """Write ``run_dir/reported.yaml`` (a suite's ``reported:`` list; nothing when empty)."""
    from colorbench.results import atomic_write_text

    if not entries:
        return
    atomic_write_text(Path(run_dir) / REPORTED_FILE, yaml.safe_dump({"reported": entries}, sort_keys=False,
                                                                     allow_unicode=True))
