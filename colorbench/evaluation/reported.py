"""Figures reported in papers ("reported rows"): the shared YAML format of a benchmark
suite's ``reported:`` key and of ``colorbench leaderboard --reported FILE``::

    reported:
      - source: "Gain et al., CCC++, Table X"   # where the numbers are printed
        dataset: imagenet                        # colorbench dataset name of the row
        model: ccc                               # colorbench model (or a free label)
        label: "CCC++ (paper)"                   # optional; default "<model> (reported)"
        metrics: {cnr_union: 1.06, ccar_union: 86.67}   # metric id -> published value
        note: "..."                              # optional: protocol differences

A bare list (without the ``reported:`` key) is accepted too. Values are the papers' own,
in colorbench's units; they are shown beside measured rows, never mixed into statistics.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from colorbench.errors import ColorbenchError

REQUIRED = ("source", "dataset", "model", "metrics")
OPTIONAL = ("label", "note")
FIX = "write a list of mappings with source, dataset, model, metrics {id: number} (label, note optional)"


def parse_reported(doc: Any, path: str | Path) -> list[dict[str, Any]]:
    """Validated reported rows of ``doc`` (a mapping with a ``reported`` key, or a bare list)
    read from ``path``; each row gets ``label`` (default ``"<model> (reported)"``) and ``note``
    (default ``""``). Anything else raises one :class:`ColorbenchError` line naming the file."""
    rows = doc.get("reported") if isinstance(doc, dict) else doc
    if isinstance(doc, dict) and "reported" not in doc:
        raise ColorbenchError(f"{path}: no 'reported' key; {FIX}")
    if not isinstance(rows, list):
        raise ColorbenchError(f"{path}: reported: expected a list, got {type(rows).__name__}; {FIX}")
    return [_row(item, f"{path}: reported[{i}]") for i, item in enumerate(rows)]


def _row(item: Any, where: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise ColorbenchError(f"{where}: expected a mapping, got {type(item).__name__}; {FIX}")
    unknown = sorted(set(item) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise ColorbenchError(f"{where}: unknown key(s) {', '.join(map(str, unknown))}; {FIX}")
    missing = [k for k in REQUIRED if k not in item]
    if missing:
        raise ColorbenchError(f"{where}: missing {', '.join(missing)}; {FIX}")
    for key in ("source", "dataset", "model", *[k for k in OPTIONAL if k in item]):
        if not isinstance(item[key], str) or (key != "note" and not item[key].strip()):
            raise ColorbenchError(f"{where}: {key}: expected text, got {item[key]!r}")
    metrics = item["metrics"]
    if not isinstance(metrics, dict) or not metrics:
        raise ColorbenchError(f"{where}: metrics: expected a non-empty mapping of metric id -> number")
    for name, value in metrics.items():
        if not isinstance(name, str) or isinstance(value, bool) or not isinstance(value, int | float) \
                or not math.isfinite(value):
            raise ColorbenchError(f"{where}: metrics: {name!r}: expected a finite number, got {value!r}")
    return {"source": item["source"], "dataset": item["dataset"], "model": item["model"],
            "label": item.get("label") or f"{item['model']} (reported)", "note": item.get("note", ""),
            "metrics": {k: float(v) for k, v in metrics.items()}}
