"""Leaderboards generated from run directories (never edited by hand): markdown, CSV,
JSON, LaTeX and HTML renderers, and the files a run or ``colorbench leaderboard`` writes."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from colorbench import results
from colorbench.errors import ColorbenchError
from colorbench.reporting import exports, significance, table
from colorbench.reporting import reported as reported_rows
from colorbench.reporting.boards import Board, load_boards
from colorbench.reporting.formatting import View, md, number, p_text

__all__ = ["EXTENSIONS", "FORMATS", "RENDERERS", "Board", "View", "load_boards", "render", "to_markdown",
           "write_leaderboards", "write_run_leaderboards"]

FORMATS = ("markdown", "csv", "json", "latex", "html")
EXTENSIONS = {"markdown": "md", "csv": "csv", "json": "json", "latex": "tex", "html": "html"}
MAX_BREAKDOWN_VALUES = 20  # an extra column with more distinct values is not broken down


def _md_table(head: list[str], rows: list[list[str]], align: str) -> list[str]:
    """``align``: one letter per column, l(eft) or r(ight)."""
    assert len(align) == len(head)
    out = ["| " + " | ".join(md(h) for h in head) + " |",
           "|" + "".join("---:|" if a == "r" else "---|" for a in align)]
    out += ["| " + " | ".join(rows_i) + " |" for rows_i in rows]
    return out


def _categorical(values: list[str]) -> bool:
    """A low-cardinality text column (e.g. the router's member), not numbers per image."""
    def numeric(v: str) -> bool:
        try:
            float(v)
        except ValueError:
            return False
        return True
    return len(set(values)) <= MAX_BREAKDOWN_VALUES and not all(numeric(v) for v in values)


def breakdowns(board: Board) -> list[str]:
    """Markdown sections for what a model reports per image in low-cardinality text
    columns (e.g. the router's chosen member) and for each colorizer whose spec declares
    ``variant_of`` a model on the same board (e.g. ccc-harmonized of ccc): its paired
    difference per metric (only over the same images and protocol)."""
    cols = table.per_image_columns(board, table.columns(board, View()))
    lead = "cpsnr" if "cpsnr" in cols else cols[0] if cols else None
    lines: list[str] = []
    for r in board.rows:
        for col, by_id in r["_extras"].items():
            if not _categorical(list(by_id.values())):
                continue
            counts: dict[str, list[str]] = {}
            for image_id, value in by_id.items():
                counts.setdefault(value, []).append(image_id)
            head = [col, "images", "share"] + ([f"mean {board.metrics[lead].get('display_name', lead)}"] if lead else [])
            rows = []
            for value, ids in sorted(counts.items(), key=lambda kv: (-len(kv[1]), kv[0])):
                vals = [r["_values"].get(lead, {}).get(i) for i in ids] if lead else []
                finite = [v for v in vals if v is not None and math.isfinite(v)]
                rows.append([md(value), str(len(ids)), f"{100 * len(ids) / len(by_id):.0f}%",
                             *([number(sum(finite) / len(finite), table.decimals(board, lead, View())) if finite else "–"]
                               if lead else [])])
            lines += ["", f"### {md(r['model'])}: {md(col)} per image", "", *_md_table(head, rows, "l" + "r" * (len(head) - 1))]
    by_name = {r["model"]: r for r in board.rows}
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
            rows.append([md(board.metrics[m].get("display_name", m)), number(float(my), d), number(float(mx), d),
                         f"{mx - my:+.{d}f}", p_text(significance.paired_bootstrap(x, y, absolute=absolute))])
        if rows:
            lines += ["", f"### {md(r['model'])} vs {md(base)}", "",
                      f"Same images; difference = {md(r['model'])} − {md(base)}; p: paired bootstrap.", "",
                      *_md_table(["metric", base, r["model"], "difference", "p"], rows, "lrrrr")]
    return lines


def _md_cell(board: Board, r: dict[str, Any], mid: str, view: View) -> str:
    text = table.mean_text(board, r, mid, view)
    if table.is_best(board, r, mid):
        return f"**{text}**"
    return text + (" ≈" if table.not_separable(board, r, mid) else "")


def to_markdown(board: Board, view: View | None = None, contact_sheet: str | None = None) -> str:
    """The markdown page of one board: table, notes, counts, p-values, breakdowns, runs."""
    view = view or View()
    cols, others = table.columns(board, view), view.columns_for("markdown")
    title = f"# {md(board.dataset)}" + (f" — {md(board.heading)}" if board.heading else "")
    lines = [title, ""]
    if board.note:
        lines += [f"**{md(board.note)}.**", ""]
    if contact_sheet:
        lines += [f"![{md(board.dataset)}: gray input, each model, ground truth]({contact_sheet})", ""]
    ordered = table.ordered(board, view)
    mixed = ["protocol"] if board.mixed else []
    reported = ["reported"] if board.reported else []
    rows = [[table.marked(r, md(r["model"])), *(_md_cell(board, r, m, view) for m in cols), *(md(table.other_cell(r, c)) for c in others),
             *([md(r["protocol"])] if mixed else []), *(["–"] if reported else [])] for r in ordered]
    rows += [[md(e["label"]), *(table.reported_text(board, e, m, view) for m in cols), *("–" for _ in others),
              *(["–"] if mixed else []), md(e["source"]) + " †"] for e in board.reported]
    lines += _md_table(["model", *(table.head(board, m) for m in cols), *others, *mixed, *reported], rows,
                       "l" + "r" * len(cols) + "".join("r" if c in ("n", "failed") else "l" for c in others)
                       + "l" * (len(mixed) + len(reported)))
    lines += ["", "Mean over images ± half-width of the 95% t interval (set-level metrics such as "
              "CNR∪ have no interval). **Bold**: best in the column; " + table.sig_note() + ". "
              "Weights: checkpoint file (sha256 prefix); – none.", ""]
    if table.has_stand_ins(board):
        lines += ["‡ " + table.STAND_IN_NOTE + ".", ""]
    if board.reported:
        lines += ["† " + table.REPORTED_NOTE + ".", ""]
        lines += [f"- {md(e['label'])}: {md(e['note'])}" for e in board.reported if e.get("note")]
        lines += [""] if any(e.get("note") for e in board.reported) else []
    per_image = table.per_image_columns(board, cols)
    if per_image and ordered:
        lines += ["## Counts per metric", "",
                  "Images with a value of each metric; inf/NaN: of them non-finite (left out of the mean). "
                  "Gray GT: chroma-free ground truths found (skipped with --skip-gray-gt).", ""]
        crow = [[md(r["model"]), *(table.counts_text(r, m) for m in per_image), table.gray_text(r)] for r in ordered]
        lines += _md_table(["model", *(board.metrics[m].get("display_name", m) for m in per_image), "gray GT"],
                           crow, "l" + "r" * (len(per_image) + 1))
        lines.append("")
    tested = [m for m in cols if board.pvalues.get(m)]
    if tested:
        lines += ["## Paired bootstrap p-values against the best model of each column", ""]
        prow = [[md(r["model"]), *(table.p_cell(board, r, m) or "–" for m in tested)] for r in ordered]
        lines += _md_table(["model", *(board.metrics[m].get("display_name", m) for m in tested)], prow, "l" + "r" * len(tested))
        lines.append("")
    if board.untested:
        lines += [f"No p-value for {md(m)}: {md(why)}." for m, why in board.untested.items()] + [""]
    extra = breakdowns(board)
    if extra:
        lines += ["## Per-model breakdowns", *extra, ""]
    lines += ["## Runs", ""]
    for s in board.sources:
        lines.append(f"- run `{s['run']}` on {s['device']}, colorbench {s['colorbench']}: `{s['command']}`")
    return "\n".join(lines) + "\n"


def _markdown_all(boards: list[Board], view: View) -> str:
    return "\n".join(to_markdown(b, view) for b in boards)


RENDERERS = {"markdown": _markdown_all, "csv": exports.to_csv, "json": exports.to_json, "latex": exports.to_latex,
             "html": exports.to_html}


def render(boards: list[Board], fmt_name: str, view: View | None = None) -> str:
    """One document of ``fmt_name`` over ``boards`` (one CSV header, one JSON object)."""
    if fmt_name not in RENDERERS:
        raise ColorbenchError(f"--format {fmt_name}: choose one of {', '.join(FORMATS)}")
    return RENDERERS[fmt_name](boards, view or View())


def _contact_sheet(board: Board, out_dir: Path) -> str | None:
    """Write ``<dataset>.png`` beside the markdown from the first run that saved images."""
    saved = [rd for rd in board.run_dirs if (rd / "outputs" / board.dataset).is_dir()]
    if not saved:
        return None
    from colorbench.reporting.contact_sheet import write_contact_sheet

    for rd in saved:
        path = write_contact_sheet(rd, board.dataset, out_dir / f"{board.dataset}.png")  # the report's images
        if path is not None:
            return path.name
    return None


def to_index(boards: list[Board]) -> str:
    """An index page: one line per table with its size and the best model per metric."""
    lines = ["# Leaderboards", "", "| dataset | models | images | best per metric |", "|---|---:|---:|---|"]
    for board in sorted(boards, key=lambda b: b.dataset):
        bests = []
        for m in table.columns(board, View()):
            top = [table.marked(r, r["model"]) for r in board.rows if table.is_best(board, r, m)]
            if top:
                bests.append(f"{board.metrics[m].get('display_name', m)}: {', '.join(top)}")
        n = max((int(r.get("n") or 0) for r in board.rows), default=0)
        name = board.dataset + (f" ({board.heading})" if board.heading else "")
        lines.append(f"| [{md(name)}]({board.dataset}.md) | {len(board.rows)} | {n} | {md('; '.join(bests))} |")
    if any(table.has_stand_ins(b) for b in boards):
        lines += ["", "‡ " + table.STAND_IN_NOTE + "."]
    return "\n".join(lines) + "\n"


def write_leaderboards(run_dirs: list[Path], out_dir: Path, fmt_name: str = "markdown", view: View | None = None,
                       contact_sheets: bool = True, allow_mixed: bool = False,
                       reported: list[dict[str, Any]] | None = None) -> list[Path]:
    """One file per dataset (holding a table per protocol); markdown also gets ``index.md``
    and, where the runs saved their images, a PNG contact sheet per dataset."""
    if fmt_name not in RENDERERS:
        raise ColorbenchError(f"--format {fmt_name}: choose one of {', '.join(FORMATS)}")
    view = view or View()
    written = []
    boards = load_boards(run_dirs, allow_mixed=allow_mixed, reported=reported)
    for dataset in dict.fromkeys(b.dataset for b in boards):
        mine = [b for b in boards if b.dataset == dataset]
        path = out_dir / f"{dataset}.{EXTENSIONS[fmt_name]}"
        if fmt_name == "markdown":
            sheet = _contact_sheet(mine[0], out_dir) if contact_sheets and mine[0].run_dirs else None
            text = "\n".join(to_markdown(b, view, contact_sheet=sheet if k == 0 else None) for k, b in enumerate(mine))
        else:
            text = render(mine, fmt_name, view)
        results.atomic_write_text(path, text)
        written.append(path)
    if fmt_name == "markdown" and boards:
        index = out_dir / "index.md"
        results.atomic_write_text(index, to_index(boards))
        written.append(index)
    return written


def write_run_leaderboards(run_dir: Path, reported: list[dict[str, Any]] | None = None) -> list[Path]:
    """The run's own leaderboard pages (``run_dir/leaderboard/``), after writing the suite's
    ``reported`` rows to ``run_dir/reported.yaml`` (when there are any)."""
    reported_rows.write(run_dir, reported or [])
    return write_leaderboards([run_dir], run_dir / "leaderboard")
