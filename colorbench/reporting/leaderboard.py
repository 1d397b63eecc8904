"""Leaderboards generated from run directories (never edited by hand): markdown, CSV,
JSON, LaTeX and HTML renderers, and the files a run or ``colorbench leaderboard`` writes."""

from __future__ import annotations

import csv
import html
import io
import json
import math
from pathlib import Path
from typing import Any

from colorbench import results
from colorbench.errors import ColorbenchError
from colorbench.reporting import significance
from colorbench.reporting.boards import (
    Board,
    best_value,
    fmt,
    fmt_like,
    load_boards,
    metric_columns,
    sort_rows,
)

__all__ = ["EXTENSIONS", "FORMATS", "RENDERERS", "Board", "best_value", "fmt", "fmt_like", "load_boards", "metric_columns", "sort_rows", "to_markdown", "write_leaderboards",
           "write_run_leaderboards"]

FORMATS = ("markdown", "csv", "json", "latex", "html")
EXTENSIONS = {"markdown": "md", "csv": "csv", "json": "json", "latex": "tex", "html": "html"}


def _md(text: str) -> str:
    """Escape the characters that would end a markdown table cell (e.g. the bars of |ΔCF|)."""
    return str(text).replace("|", "\\|")


def _p_text(p: float | None) -> str:
    if p is None:
        return "–"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _not_separable(board: Board, mid: str, model: str) -> bool:
    p = board.pvalues.get(mid, {}).get(model)
    return p is not None and p >= significance.ALPHA


def _cell(board: Board, r: dict[str, Any], mid: str) -> str:
    v = r.get(mid)
    text = fmt(v)
    ci = r.get(f"{mid}_ci95")
    if ci is not None and v is not None:
        text += f" ± {fmt_like(ci, v)}"
    if v is not None and v == best_value(board, mid):
        return f"**{text}**"
    return text + (" ≈" if _not_separable(board, mid, r["model"]) else "")


def _md_table(head: list[str], rows: list[list[str]], align: str) -> list[str]:
    """``align``: one letter per column, l(eft) or r(ight)."""
    assert len(align) == len(head)
    out = ["| " + " | ".join(_md(h) for h in head) + " |",
           "|" + "".join("---:|" if a == "r" else "---|" for a in align)]
    out += ["| " + " | ".join(rows_i) + " |" for rows_i in rows]
    return out


def breakdowns(board: Board) -> list[str]:
    """Markdown sections for what a model reports per image (extra columns, e.g. the
    router's chosen member) and for each colorizer whose spec declares ``variant_of`` a
    model on the same board (e.g. ccc-harmonized of ccc): its paired difference per metric."""
    cols = [m for m in metric_columns(board) if board.metrics[m].get("kind") != "distribution"]
    lead = cols[0] if cols else None
    lines: list[str] = []
    for r in board.rows:
        for col, by_id in r["_extras"].items():
            counts: dict[str, list[str]] = {}
            for image_id, value in by_id.items():
                counts.setdefault(value, []).append(image_id)
            head = [col, "images", "share"] + ([f"mean {board.metrics[lead].get('display_name', lead)}"] if lead else [])
            rows = []
            for value, ids in sorted(counts.items(), key=lambda kv: (-len(kv[1]), kv[0])):
                vals = [r["_values"].get(lead, {}).get(i) for i in ids] if lead else []
                finite = [v for v in vals if v is not None and math.isfinite(v)]
                rows.append([_md(value), str(len(ids)), f"{100 * len(ids) / len(by_id):.0f}%",
                             *([fmt(sum(finite) / len(finite)) if finite else "–"] if lead else [])])
            lines += ["", f"### {_md(r['model'])}: {_md(col)} per image", "", *_md_table(head, rows, "l" + "r" * (len(head) - 1))]
    by_name = {r["model"]: r for r in board.rows}
    for r in board.rows:
        base = r.get("_variant_of")
        if base is None or base not in by_name:
            continue
        b = by_name[base]
        rows = []
        for m in cols:
            if m not in r["_values"] or m not in b["_values"]:
                continue
            x, y = significance.aligned(r["_values"][m], b["_values"][m])
            if len(x) == 0:
                continue
            absolute = bool(board.metrics[m].get("leaderboard_abs"))
            mx, my = (abs(x.mean()), abs(y.mean())) if absolute else (x.mean(), y.mean())
            rows.append([_md(board.metrics[m].get("display_name", m)), fmt(float(my)), fmt(float(mx)),
                         f"{mx - my:+.4g}", _p_text(significance.paired_bootstrap(x, y, absolute=absolute))])
        if rows:
            lines += ["", f"### {_md(r['model'])} vs {_md(base)}", "",
                      f"Same images; difference = {_md(r['model'])} − {_md(base)}; p: paired bootstrap.", "",
                      *_md_table(["metric", base, r["model"], "difference", "p"], rows, "lrrrr")]
    return lines


def to_markdown(board: Board, sort_by: str | None = None, contact_sheet: str | None = None) -> str:
    cols = metric_columns(board)
    heads = [f"{board.metrics[m].get('display_name', m)} {'↑' if board.metrics[m].get('higher_is_better', True) else '↓'}" for m in cols]
    lines = [f"# {board.dataset}", ""]
    if contact_sheet:
        lines += [f"![{board.dataset}: gray input, each model, ground truth]({contact_sheet})", ""]
    ordered = sort_rows(board, sort_by)
    rows = [[_md(r["model"]), *(_cell(board, r, m) for m in cols), str(int(r.get("n") or 0)),
             str(int(r.get("n_failed") or 0)), _md(r.get("device") or "–"), _md(r.get("weights") or "–")]
            for r in ordered]
    lines += _md_table(["model", *heads, "n", "failed", "device", "weights"], rows, "l" + "r" * (len(cols) + 2) + "ll")
    lines += ["", "Mean over images ± half-width of the 95% t interval (set-level metrics such as "
              "CNR∪ have no interval). **Bold**: best in the column; ≈: not significantly different "
              f"from the best (paired bootstrap over images, {significance.N_BOOT:,} resamples, two-sided "
              f"p ≥ {significance.ALPHA}). Weights: checkpoint file (sha256 prefix); – none.", ""]
    tested = [m for m in cols if board.pvalues.get(m)]
    if tested:
        lines += ["## Paired bootstrap p-values against the best model of each column", ""]
        prow = []
        for r in ordered:
            cells = []
            for m in tested:
                if r.get(m) is not None and r.get(m) == best_value(board, m):
                    cells.append("best")
                else:
                    cells.append(_p_text(board.pvalues[m].get(r["model"])))
            prow.append([_md(r["model"]), *cells])
        lines += _md_table(["model", *(board.metrics[m].get("display_name", m) for m in tested)], prow, "l" + "r" * len(tested))
        lines.append("")
    extra = breakdowns(board)
    if extra:
        lines += ["## Per-model breakdowns", *extra, ""]
    lines += ["## Runs", ""]
    for s in board.sources:
        lines.append(f"- run `{s['run']}` on {s['device']}, colorbench {s['colorbench']}: `{s['command']}`")
    return "\n".join(lines) + "\n"


def to_csv(board: Board, sort_by: str | None = None) -> str:
    cols = metric_columns(board)
    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    tested = [m for m in cols if board.pvalues.get(m)]
    w.writerow(["dataset", "model", *cols, *(f"{m}_ci95" for m in cols), *(f"{m}_p" for m in tested),
                "n", "n_failed", "device", "weights", "run"])
    for r in sort_rows(board, sort_by):
        w.writerow([board.dataset, r["model"], *(results.format_value(r.get(m)) for m in cols),
                    *(results.format_value(r.get(f"{m}_ci95")) for m in cols),
                    *(results.format_value(board.pvalues[m].get(r["model"])) for m in tested),
                    int(r.get("n") or 0), int(r.get("n_failed") or 0), r["device"], r.get("weights", ""), r["run"]])
    return buf.getvalue()


def to_json(board: Board, sort_by: str | None = None) -> str:
    """Strict JSON: non-finite numbers (e.g. an unbounded metric range) become null."""
    def clean(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        return v
    rows = [{k: v for k, v in r.items() if not k.startswith("_")} for r in sort_rows(board, sort_by)]
    data = {"dataset": board.dataset, "metrics": board.metrics, "rows": rows,
            "pvalues_vs_best": board.pvalues, "sources": board.sources}
    return json.dumps(clean(data), indent=2, allow_nan=False) + "\n"


def to_latex(board: Board, sort_by: str | None = None) -> str:
    cols = metric_columns(board)
    esc = lambda s: str(s).replace("_", r"\_").replace("%", r"\%").replace("&", r"\&")  # noqa: E731
    arrows = {True: r"$\uparrow$", False: r"$\downarrow$"}
    lines = [r"\begin{tabular}{l" + "r" * (len(cols) + 1) + "}", r"\toprule",
             "Model & " + " & ".join(f"{esc(board.metrics[m].get('display_name', m))} {arrows[bool(board.metrics[m].get('higher_is_better', True))]}" for m in cols) + r" & $n$ \\",
             r"\midrule"]
    for r in sort_rows(board, sort_by):
        cells = ["\\textbf{" + fmt(r.get(m)) + "}" if r.get(m) is not None and r.get(m) == best_value(board, m) else fmt(r.get(m)) for m in cols]
        lines.append(f"{esc(r['model'])} & " + " & ".join(cells).replace("∞", r"$\infty$").replace("–", "--") + f" & {int(r.get('n') or 0)} \\\\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    return f"% {board.dataset}: generated by colorbench leaderboard\n" + "\n".join(lines) + "\n"


def to_html(board: Board, sort_by: str | None = None) -> str:
    cols = metric_columns(board)
    e = html.escape
    head = "".join(f"<th>{e(board.metrics[m].get('display_name', m))} {'↑' if board.metrics[m].get('higher_is_better', True) else '↓'}</th>" for m in cols)
    body = []
    for r in sort_rows(board, sort_by):
        cells = "".join(f"<td>{e(_cell(board, r, m)).replace('**', '')}</td>" if r.get(m) != best_value(board, m) or r.get(m) is None
                        else f"<td><b>{e(_cell(board, r, m).strip('*'))}</b></td>" for m in cols)
        body.append(f"<tr><td>{e(r['model'])}</td>{cells}<td>{int(r.get('n') or 0)}</td>"
                    f"<td>{e(r.get('device') or '')}</td><td>{e(r.get('weights') or '')}</td></tr>")
    return (f"<!doctype html><meta charset='utf-8'><title>{e(board.dataset)}</title><h1>{e(board.dataset)}</h1>"
            f"<table><tr><th>model</th>{head}<th>n</th><th>device</th><th>weights</th></tr>{''.join(body)}</table>"
            "<p>Mean ± half-width of the 95% t interval; bold: best; ≈: not significantly different from the best "
            "(paired bootstrap, p ≥ 0.05).</p>\n")


RENDERERS = {"markdown": to_markdown, "csv": to_csv, "json": to_json, "latex": to_latex, "html": to_html}


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
    """An index page: one line per dataset with its size and the best model per metric."""
    lines = ["# Leaderboards", "", "| dataset | models | images | best per metric |", "|---|---:|---:|---|"]
    for board in sorted(boards, key=lambda b: b.dataset):
        bests = []
        for m in metric_columns(board):
            best = best_value(board, m)
            top = [r["model"] for r in board.rows if r.get(m) is not None and r.get(m) == best]
            if top:
                bests.append(f"{board.metrics[m].get('display_name', m)}: {', '.join(top)}")
        n = max((int(r.get("n") or 0) for r in board.rows), default=0)
        lines.append(f"| [{_md(board.dataset)}]({board.dataset}.md) | {len(board.rows)} | {n} | "
                     f"{_md('; '.join(bests))} |")
    return "\n".join(lines) + "\n"


def write_leaderboards(run_dirs: list[Path], out_dir: Path, fmt_name: str = "markdown",
                       sort_by: str | None = None, contact_sheets: bool = True) -> list[Path]:
    """One file per dataset; markdown also gets ``index.md`` and, where the runs saved
    their images, a PNG contact sheet per dataset that the page embeds."""
    if fmt_name not in RENDERERS:
        raise ColorbenchError(f"--format {fmt_name}: choose one of {', '.join(FORMATS)}")
    written = []
    boards = load_boards(run_dirs)
    for board in boards:
        path = out_dir / f"{board.dataset}.{EXTENSIONS[fmt_name]}"
        if fmt_name == "markdown":
            sheet = _contact_sheet(board, out_dir) if contact_sheets else None
            text = to_markdown(board, sort_by, contact_sheet=sheet)
        else:
            text = RENDERERS[fmt_name](board, sort_by)
        results.atomic_write_text(path, text)
        written.append(path)
    if fmt_name == "markdown" and boards:
        index = out_dir / "index.md"
        results.atomic_write_text(index, to_index(boards))
        written.append(index)
    return written


def write_run_leaderboards(run_dir: Path) -> list[Path]:
    return write_leaderboards([run_dir], run_dir / "leaderboard")
