"""Compare the per_image.csv of two runs (e.g. CPU against CUDA) cell by cell.

Rows are matched on (dataset, model, image_id); every row of ``got`` must exist in ``ref``
(``ref`` may hold more, e.g. a full run against a ``--limit`` one). A numeric cell agrees
when ``|got - ref| <= rtol * scale``, where ``scale`` is the mean |value| of that metric over
the (dataset, model)'s reference rows, so one relative tolerance fits every metric whatever
its range (mse ~ 1e-3, TAR ~ 50); inf/NaN/empty must match exactly; other cells (the
router's ``member``) must be equal strings. An image with any disagreeing cell, or a status
other than ``ok`` on either side, is an outlier; the comparison passes when no row is
missing and outliers are at most ``max_outliers`` of the rows (rare decisions that flip on
float noise: a near-tie argmax of ccc's classes, the router's or profile's choice).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from colorbench.results.files import FIXED_COLUMNS, read_rows

Key = tuple[str, str, str]


@dataclass(frozen=True)
class Tolerance:
    """``rtol`` relative to each metric's mean |value|; ``max_outliers`` a fraction of rows."""

    rtol: float
    max_outliers: float


# fp32 without TF32 on CUDA against the CPU, or one device with other batches (another number
# of processes, another --limit): reductions run in another order (~1e-6 in a*b*), which moves
# a uint8 rounding or a near-tie argmax now and then.
STRICT = Tolerance(1e-3, 0.01)
# CUDA's defaults (cuDNN convolutions in TF32, 10-bit mantissa) against the CPU.
DEFAULT = Tolerance(1e-2, 0.02)


def _number(text: str) -> float | None:
    try:
        return float(text) if text != "" else math.nan
    except ValueError:
        return None


def _rows(path: Path) -> tuple[list[str], dict[Key, dict[str, str]]]:
    header, rows = read_rows(path)
    return header, {(r["dataset"], r["model"], r["image_id"]): r for r in rows}


def compare(ref_csv: Path, got_csv: Path, tol: Tolerance) -> dict[str, Any]:
    """Agreement of ``got`` with ``ref`` (see the module docstring); ``passed`` says it all."""
    ref_header, ref = _rows(ref_csv)
    got_header, got = _rows(got_csv)
    columns = [c for c in got_header if c in ref_header and c not in FIXED_COLUMNS]
    missing = sorted(k for k in got if k not in ref)
    keys = [k for k in got if k in ref]
    scale: dict[tuple[str, str, str], float] = {}
    sums: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for k in keys:
        for c in columns:
            v = _number(ref[k][c])
            if v is not None and math.isfinite(v):
                sums[(k[0], k[1], c)].append(abs(v))
    for group, values in sums.items():
        scale[group] = sum(values) / len(values)
    worst: dict[str, float] = {}
    outliers: list[str] = []
    cells = exact = 0
    for k in keys:
        bad = [] if ref[k]["status"] == got[k]["status"] == "ok" else ["status"]
        for c in columns:
            a, b = ref[k][c], got[k][c]
            cells += 1
            if a == b:
                exact += 1
                continue
            x, y = _number(a), _number(b)
            if x is None or y is None or not (math.isfinite(x) and math.isfinite(y)):
                bad.append(c)
                continue
            rel = abs(x - y) / max(scale.get((k[0], k[1], c), 0.0), 1e-12)
            worst[c] = max(worst.get(c, 0.0), rel)
            if rel > tol.rtol:
                bad.append(c)
        if bad:
            outliers.append(f"{'/'.join(k)}: {', '.join(bad)}")
    allowed = math.floor(tol.max_outliers * len(keys))
    passed = bool(keys) and not missing and len(outliers) <= allowed
    return {"passed": passed, "rows": len(keys), "missing_rows": len(missing), "cells": cells,
            "exact_fraction": exact / cells if cells else None, "outlier_rows": len(outliers),
            "allowed_outliers": allowed, "rtol": tol.rtol, "worst_relative": worst,
            "outliers": outliers[:20], "missing": ["/".join(k) for k in missing[:20]]}


def describe(result: dict[str, Any]) -> str:
    """One line for the check's table."""
    if not result["rows"]:
        return "no rows to compare"
    worst = max(result["worst_relative"].items(), key=lambda kv: kv[1], default=("-", 0.0))
    return (f"{result['rows']} rows, {100 * (result['exact_fraction'] or 0):.2f}% cells identical, "
            f"{result['outlier_rows']} outlier rows (allowed {result['allowed_outliers']}), "
            f"{result['missing_rows']} missing; worst {worst[0]} {worst[1]:.2e} (rtol {result['rtol']:g})")
