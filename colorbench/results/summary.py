"""Dataset-level summaries from per-image rows: mean, 95% t interval, counts (per metric)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

SUMMARY_FIXED = ("dataset", "model", "n", "n_failed")


def t_halfwidth(values: Sequence[float], level: float = 0.95) -> float | None:
    """Half-width of the Student-t confidence interval of the mean (None for n < 2)."""
    n = len(values)
    if n < 2:
        return None
    from scipy.stats import t

    mean = sum(values) / n
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    return float(t.ppf(0.5 + level / 2, n - 1) * math.sqrt(var / n))


def summary_columns(metrics: Mapping[str, Mapping[str, Any]]) -> list[str]:
    cols = list(SUMMARY_FIXED)
    for mid, meta in metrics.items():
        if meta.get("kind") == "distribution":
            cols.append(mid)
            continue
        cols += [mid, f"{mid}_ci95", f"{mid}_n", f"{mid}_n_inf", f"{mid}_n_nan"]
    cols.append("images_per_s")
    return cols


def summarize(
    rows: Iterable[Mapping[str, str]],
    metrics: Mapping[str, Mapping[str, Any]],
    pairs: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """One dict per (dataset, model) in first-seen order.

    ``n``: images scored (status ok or partial); ``n_failed``: images that could not be
    decoded or colorized; ``<metric>_n``: images with a value of that metric (a failed cell
    has none; the mean is over the finite ones), ``<metric>_n_inf``/``_n_nan`` the
    non-finite ones among them. ``metrics``: id -> metadata (kind, range).
    ``pairs``: "dataset/model" -> its ``PairRecord`` (``images_per_s``, distribution values).
    """
    groups: dict[tuple[str, str], list[Mapping[str, str]]] = {}
    for r in rows:
        groups.setdefault((r["dataset"], r["model"]), []).append(r)
    out = []
    for (ds, model), group in groups.items():
        ok = [r for r in group if r.get("status") != "failed"]
        row: dict[str, Any] = {"dataset": ds, "model": model, "n": len(ok), "n_failed": len(group) - len(ok)}
        record = (pairs or {}).get(f"{ds}/{model}")
        for mid, meta in metrics.items():
            if meta.get("kind") == "distribution":
                row[mid] = record.values.get(mid) if record is not None else None
                continue
            vals = [float(r[mid]) for r in ok if r.get(mid, "") not in ("", None)]
            finite = [v for v in vals if math.isfinite(v)]
            row[mid] = sum(finite) / len(finite) if finite else None
            row[f"{mid}_ci95"] = t_halfwidth(finite)
            row[f"{mid}_n"] = len(vals)
            row[f"{mid}_n_inf"] = sum(1 for v in vals if math.isinf(v))
            row[f"{mid}_n_nan"] = sum(1 for v in vals if math.isnan(v))
        row["images_per_s"] = record.images_per_s if record is not None else None
        out.append(row)
    return out


def write_summary(path: Any, summary: list[dict[str, Any]], metrics: Mapping[str, Mapping[str, Any]]) -> None:
    """Write summary.csv atomically."""
    import csv
    import io

    from colorbench.results import atomic_write_text, format_value

    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, fieldnames=summary_columns(metrics), extrasaction="ignore")
    w.writeheader()
    for row in summary:
        w.writerow({k: format_value(v) for k, v in row.items()})
    atomic_write_text(path, buf.getvalue())
