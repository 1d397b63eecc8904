"""The cells every leaderboard format shares: selected columns, fixed-precision means with
intervals, best, not-separable and stand-in marks, per-metric counts and reported rows' values."""

from __future__ import annotations

from typing import Any

from colorbench.errors import ColorbenchError
from colorbench.reporting import significance
from colorbench.reporting.boards import Board, best_value, metric_columns, sort_rows
from colorbench.reporting.formatting import View, decimals_for, number, p_text

REPORTED_NOTE = ("reported in the paper: the figure printed in the source named, copied as published "
                 "(not measured here; never ranked, bolded or tested)")

STAND_IN_NOTE = ("shipped CPU weights standing in for paper-scale ones: the run had no checkpoint for this model, "
                 "so the row measures the tiny weights colorbench ships, not the paper's model "
                 "(measured, ranked and tested like the other rows)")


def sig_note(marker: str = "≈") -> str:
    return (f"{marker}: not significantly different from the best (paired bootstrap over the same images, "
            f"{significance.N_BOOT:,} resamples, two-sided p ≥ {significance.ALPHA})")


def has_stand_ins(board: Board) -> bool:
    """Whether a measured row of ``board`` ran on stand-in weights (its table gets the note)."""
    return any(r.get("stand_in") for r in board.rows)


def marked(r: dict[str, Any], name: str, mark: str = " ‡") -> str:
    """``name`` (the row's escaped model name) with ``mark`` when the row ran on stand-in weights."""
    return name + mark if r.get("stand_in") else name


def col_name(board: Board, mid: str) -> str:
    """The column's name in CSV and JSON: ``abs_<id>`` for a metric shown as |mean|."""
    return f"abs_{mid}" if board.metrics.get(mid, {}).get("leaderboard_abs") else mid


def columns(board: Board, view: View) -> list[str]:
    """The metric columns: every metric with a value (measured or reported), or the
    ``--metrics`` selection in its order (``abs_<id>`` accepted)."""
    have = metric_columns(board) + [m for e in board.reported for m in e["metrics"]
                                    if m in board.metrics and m not in metric_columns(board)]
    have = list(dict.fromkeys(have))
    if view.metrics is None:
        return have
    out = []
    for m in view.metrics:
        mid = m[4:] if m.startswith("abs_") and m[4:] in board.metrics else m
        if mid not in board.metrics:
            raise ColorbenchError(f"--metrics {m}: not a metric of the {board.dataset} leaderboard "
                                  f"({', '.join(col_name(board, c) for c in have)})")
        if mid in have:
            out.append(mid)
    return out


def decimals(board: Board, mid: str, view: View) -> int:
    vals = [r[mid] for r in board.rows if r.get(mid) is not None]
    return decimals_for(mid, vals, view)


def head(board: Board, mid: str) -> str:
    meta = board.metrics[mid]
    if "higher_is_better" not in meta:  # a reported metric no run here measured: direction unknown
        return str(meta.get("display_name", mid))
    return f"{meta.get('display_name', mid)} {'↑' if meta['higher_is_better'] else '↓'}"


def is_best(board: Board, r: dict[str, Any], mid: str) -> bool:
    v = r.get(mid)
    return v is not None and v == best_value(board, mid)


def not_separable(board: Board, r: dict[str, Any], mid: str) -> bool:
    p = board.pvalues.get(mid, {}).get(r["model"])
    return p is not None and p >= significance.ALPHA


def mean_text(board: Board, r: dict[str, Any], mid: str, view: View, pm: str = "±") -> str:
    """The mean with the half-width of its 95% t interval, at the column's precision."""
    d = decimals(board, mid, view)
    text = number(r.get(mid), d)
    ci = r.get(f"{mid}_ci95")
    if ci is not None and r.get(mid) is not None:
        text += f" {pm} {number(ci, d)}"
    return text


def reported_text(board: Board, entry: dict[str, Any], mid: str, view: View) -> str:
    value = entry["metrics"].get(mid)
    if value is not None and board.metrics.get(mid, {}).get("leaderboard_abs"):
        value = abs(value)
    return number(value, decimals(board, mid, view))


def counts(r: dict[str, Any], mid: str) -> tuple[int | None, int, int]:
    """(images with a value, of them +-inf, NaN) of one row's per-image metric."""
    n = r.get(f"{mid}_n")
    return (None if n is None else int(n)), int(r.get(f"{mid}_n_inf") or 0), int(r.get(f"{mid}_n_nan") or 0)


def counts_text(r: dict[str, Any], mid: str) -> str:
    n, inf, nan = counts(r, mid)
    if n is None:
        return "–"
    extra = [f"{inf} inf"] * bool(inf) + [f"{nan} NaN"] * bool(nan)
    return f"{n}" + (f" ({', '.join(extra)})" if extra else "")


def per_image_columns(board: Board, cols: list[str]) -> list[str]:
    return [m for m in cols if board.metrics[m].get("kind") != "distribution"]


def gray_text(r: dict[str, Any]) -> str:
    g = r.get("gray_gt")
    if g is None:
        return "–"
    return f"{int(g)} skipped" if r.get("gray_gt_skipped") else f"{int(g)}"


def ordered(board: Board, view: View) -> list[dict[str, Any]]:
    return sort_rows(board, view.sort_by)


def other_cell(r: dict[str, Any], col: str) -> str:
    """A non-metric column's text (n, failed, device, weights, run)."""
    if col == "n":
        return str(int(r.get("n") or 0))
    if col == "failed":
        return str(int(r.get("n_failed") or 0))
    return str(r.get(col) or "–")


def p_cell(board: Board, r: dict[str, Any], mid: str) -> str:
    """The row's p-value against the column's best ("best" for that row; "" untested)."""
    col = board.pvalues.get(mid, {})
    if r["model"] in col:
        return p_text(col[r["model"]])
    return "best" if mid in board.pvalues and is_best(board, r, mid) else ""
