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
from colorbench.evaluation.bounded_yaml import load_yaml
from colorbench.evaluation.reported import parse_reported

REPORTED_FILE = "reported.yaml"


def validate(data: Any, where: str) -> list[dict[str, Any]]:
    """The entries of ``data`` (a list, or a mapping with a ``reported`` list), checked by
    the suites' own parser; ``None`` (an empty file) has none."""
    return [] if data is None else parse_reported(data, where)


def read(path: Path) -> list[dict[str, Any]]:
    """The reported rows of a YAML file (a user's file or a suite file)."""
    try:
        data = load_yaml(Path(path), "reported-rows file")
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
