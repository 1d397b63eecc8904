"""The mean-over-images table ``run`` and ``score`` print: fitted to the console's width.

Metrics are rows and models columns; when the models do not fit the width, they are split
over several tables (``models 1-4 of 9``, ...). Numbers are never cut: each model column is
at least as wide as its longest value, and only names and labels wrap.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from rich.console import Console
from rich.table import Table

from colorbench.reporting.boards import fmt

LABEL_MAX = 24  # a longer metric label wraps
NAME_MIN = 8  # a model column is at least this wide (its name wraps within)
CELL_EXTRA = 3  # one space of padding either side and one border per column


def _counts(r: dict, mid: str) -> str:
    """A metric's counts when they differ from the row's images: " (n 799, 1 inf, 2 NaN)"."""
    n, inf, nan = r.get(f"{mid}_n"), r.get(f"{mid}_n_inf") or 0, r.get(f"{mid}_n_nan") or 0
    extra = ([f"n {n}"] if n is not None and n != r["n"] else []) + ([f"{inf} inf"] if inf else []) \
        + ([f"{nan} NaN"] if nan else [])
    return f" ({', '.join(extra)})" if extra else ""


def _cells(rows: list[dict], metrics: dict[str, dict]) -> tuple[list[str], list[list[str]]]:
    """The row labels and, per model, its cell texts in the same order (a metric with fewer
    values than images, or with non-finite ones, shows its counts)."""
    labels: list[str] = []
    columns: list[list[str]] = [[] for _ in rows]
    for mid, meta in metrics.items():
        arrow = "↑" if meta.get("higher_is_better", True) else "↓"
        signed = bool(meta.get("leaderboard_abs"))  # signed per image, compared by magnitude
        labels.append(f"|{mid}| {arrow}" if signed else f"{mid} {arrow}")
        for col, r in zip(columns, rows, strict=True):
            value = r.get(mid)
            col.append(fmt(abs(value) if signed and value is not None else value) + _counts(r, mid))
    labels += ["n (failed)", "images/s"]
    for col, r in zip(columns, rows, strict=True):
        col += [f"{r['n']} ({r['n_failed']})", fmt(r.get("images_per_s"))]
    return labels, columns


def fit_columns(label_width: int, widths: Sequence[int], total: int) -> Iterator[list[int]]:
    """Split column indices into consecutive groups whose tables fit ``total`` characters
    (each group holds at least one column, however narrow the console)."""
    room = total - (label_width + CELL_EXTRA + 1)
    group: list[int] = []
    used = 0
    for i, width in enumerate(widths):
        need = width + CELL_EXTRA
        if group and used + need > room:
            yield group
            group, used = [], 0
        group.append(i)
        used += need
    if group:
        yield group


def print_summary(summary: list[dict], metrics: dict[str, dict], console: Console) -> None:
    """One table (or several, side by side models split) per dataset: metrics as rows with
    ↑/↓, models as columns, fitted to ``console.width``."""
    for dataset in dict.fromkeys(r["dataset"] for r in summary):
        rows = [r for r in summary if r["dataset"] == dataset]
        labels, columns = _cells(rows, metrics)
        label_width = min(LABEL_MAX, max(len(label) for label in labels))
        numbers = [max(len(c) for c in col) for col in columns]
        widths = [max(n, min(len(r["model"]), NAME_MIN)) for n, r in zip(numbers, rows, strict=True)]
        groups = list(fit_columns(label_width, widths, console.width))
        for group in groups:
            span = f"{group[0] + 1}-{group[-1] + 1}" if len(group) > 1 else f"{group[0] + 1}"
            part = f" (models {span} of {len(rows)})" if len(groups) > 1 else ""
            title = f"{dataset}: mean over images{part}"
            table = Table(title=title, title_justify="left", min_width=min(len(title), console.width))
            table.add_column("metric", overflow="fold", max_width=label_width)
            for i in group:
                table.add_column(rows[i]["model"], justify="right", overflow="fold", min_width=numbers[i])
            for j, label in enumerate(labels):
                style = "dim" if j >= len(labels) - 2 else None
                table.add_row(label, *(columns[i][j] for i in group), style=style)
            console.print(table)
