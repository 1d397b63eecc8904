"""Per-model breakdowns of a leaderboard, as plain-text tables every renderer draws: counts
per value of a low-cardinality text column a model reports per image (e.g. the router's
member), the mean and 10/50/90 % quantiles of each numeric one, and the paired difference
of a ``variant_of`` model against its base."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from colorbench.reporting import significance, table
from colorbench.reporting.boards import Board, default_metric
from colorbench.reporting.formatting import View, decimals_for, number, p_text

MAX_BREAKDOWN_VALUES = 20  # a text column with more distinct values is not broken down
QUANTILES = (0.1, 0.5, 0.9)


@dataclass
class Section:
    """One breakdown table of unescaped cells: the first column free text (a value, model or
    metric name), the others numbers and p-values; ``align`` one letter (l/r) per column."""

    title: str
    head: list[str]
    rows: list[list[str]] = field(default_factory=list)
    align: str = ""
    note: str = ""


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _few_labels(values: list[str]) -> bool:
    """Whole numbers with few distinct values: labels such as a profile index, not measurements."""
    return len(set(values)) <= MAX_BREAKDOWN_VALUES and all(float(v).is_integer() for v in values)


def numeric(values: list[str]) -> bool:
    """Every value of the column is a number (a per-image measurement, summarised), unless
    they are a few whole numbers (an index: grouped like text)."""
    return bool(values) and all(_is_number(v) for v in values) and not _few_labels(values)


def categorical(values: list[str]) -> bool:
    """A low-cardinality column (the router's member, a profile index), grouped per value."""
    return len(set(values)) <= MAX_BREAKDOWN_VALUES and not numeric(values)


def _groups(board: Board, lead: str | None) -> list[Section]:
    """Per model and text column: images, share and the mean of ``lead`` per value."""
    out = []
    for r in board.rows:
        for col, by_id in r["_extras"].items():
            if not categorical(list(by_id.values())):
                continue
            counts: dict[str, list[str]] = {}
            for image_id, value in by_id.items():
                counts.setdefault(value, []).append(image_id)
            head = [col, "images", "share"] + ([f"mean {board.metrics[lead].get('display_name', lead)}"] if lead else [])
            rows = []
            for value, ids in sorted(counts.items(), key=lambda kv: (-len(kv[1]), kv[0])):
                vals = [r["_values"].get(lead, {}).get(i) for i in ids] if lead else []
                finite = [v for v in vals if v is not None and math.isfinite(v)]
                rows.append([value, str(len(ids)), f"{100 * len(ids) / len(by_id):.0f}%",
                             *([number(sum(finite) / len(finite), table.decimals(board, lead, View())) if finite else "–"]
                               if lead else [])])
            out.append(Section(f"{r['model']}: {col} per image", head, rows, "l" + "r" * (len(head) - 1)))
    return out


def _summaries(board: Board) -> list[Section]:
    """Per numeric extra column: one line per model with n, mean and the 10/50/90 % quantiles
    over its images with a finite value."""
    cols = list(dict.fromkeys(c for r in board.rows for c in r["_extras"]))
    out = []
    for col in cols:
        per_model = []
        for r in board.rows:
            texts = list(r["_extras"].get(col, {}).values())
            if numeric(texts):
                vals = np.array([float(t) for t in texts])
                per_model.append((r["model"], vals[np.isfinite(vals)], int((~np.isfinite(vals)).sum())))
        if not per_model:
            continue
        d = decimals_for(col, [float(v) for _, vals, _ in per_model for v in vals], View())
        rows = []
        for model, vals, odd in per_model:
            stats = [float(vals.mean()), *(float(q) for q in np.quantile(vals, QUANTILES))] if len(vals) else [None] * 4
            rows.append([model, f"{len(vals)}" + (f" ({odd} non-finite left out)" if odd else ""),
                         *(number(v, d) for v in stats)])
        head = ["model", "n", "mean", *(f"{100 * q:.0f} %" for q in QUANTILES)]
        out.append(Section(f"{col} per image: mean and quantiles", head, rows, "lrrrrr",
                           "Over each model's images with a finite value; quantiles interpolate linearly."))
    return out


def _variants(board: Board, cols: list[str]) -> list[Section]:
    """A ``variant_of`` model against its base on the same images and protocol."""
    by_name = {r["model"]: r for r in board.rows}
    out = []
    for r in board.rows:
        base = r.get("_variant_of")
        if base is None or base not in by_name:
            continue
        b = by_name[base]
        if r["_ids"] != b["_ids"] or r["_protocol"] != b["_protocol"]:
            continue
        rows = []
        for m in cols:
            if m not in r["_values"] or m not in b["_values"]:
                continue
            x, y = significance.aligned(r["_values"][m], b["_values"][m])
            if len(x) == 0:
                continue
            absolute = bool(board.metrics[m].get("leaderboard_abs"))
            mx, my = (abs(x.mean()), abs(y.mean())) if absolute else (x.mean(), y.mean())
            d = table.decimals(board, m, View())
            rows.append([board.metrics[m].get("display_name", m), number(float(my), d), number(float(mx), d),
                         f"{mx - my:+.{d}f}", p_text(significance.paired_bootstrap(x, y, absolute=absolute))])
        if rows:
            out.append(Section(f"{r['model']} vs {base}", ["metric", base, r["model"], "difference", "p"], rows, "lrrrr",
                               f"Same images; difference = {r['model']} − {base}; p: paired bootstrap."))
    return out


def sections(board: Board) -> list[Section]:
    """Every breakdown of a board: text columns grouped, numeric ones summarised, variants."""
    cols = table.per_image_columns(board, table.columns(board, View()))
    return [*_groups(board, default_metric(board, cols)), *_summaries(board), *_variants(board, cols)]

