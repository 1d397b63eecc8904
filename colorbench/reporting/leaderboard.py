"""Leaderboards generated from run directories (never edited by hand): markdown, CSV,
JSON, LaTeX and HTML renderers, and the files a run or ``colorbench leaderboard`` writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from colorbench import results
from colorbench.errors import ColorbenchError
from colorbench.reporting import breakdowns as board_breakdowns
from colorbench.reporting import exports, table
from colorbench.reporting import reported as reported_rows
from colorbench.reporting.boards import Board, load_boards
from colorbench.reporting.formatting import View, md

__all__ = ["EXTENSIONS", "FORMATS", "RENDERERS", "Board", "View", "load_boards", "render", "to_markdown",
           "write_leaderboards", "write_run_leaderboards"]

FORMATS = ("markdown", "csv", "json", "latex", "html")
EXTENSIONS = {"markdown": "md", "csv": "csv", "json": "json", "latex": "tex", "html": "html"}


def _md_table(head: list[str], rows: list[list[str]], align: str) -> list[str]:
    """``align``: one letter per column, l(eft) or r(ight)."""
    assert len(align) == len(head)
    out = ["| " + " | ".join(md(h) for h in head) + " |",
           "|" + "".join("---:|" if a == "r" else "---|" for a in align)]
    out += ["| " + " | ".join(rows_i) + " |" for rows_i in rows]
    return out


def breakdowns(board: Board) -> list[str]:
    """Markdown sections of the board's breakdowns (:mod:`colorbench.reporting.breakdowns`)."""
    lines: list[str] = []
    for s in board_breakdowns.sections(board):
        lines += ["", f"### {md(s.title)}", "", *([md(s.note), ""] if s.note else []),
                  *_md_table(s.head, [[md(row[0]), *row[1:]] for row in s.rows], s.align)]
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
