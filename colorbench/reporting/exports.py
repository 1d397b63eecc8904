"""CSV, JSON, LaTeX and HTML leaderboards: each one document over any number of boards
(one CSV header with a dataset column, one JSON object, LaTeX tables that pdflatex
compiles with booktabs, one HTML page)."""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

from colorbench import results
from colorbench.reporting import breakdowns, table
from colorbench.reporting.boards import Board
from colorbench.reporting.formatting import View, htm, tex


def _rows(board: Board, view: View) -> list[dict[str, Any]]:
    """Flat records of a board's rows (measured, ranked; then reported) for CSV and JSON."""
    cols = table.columns(board, view)
    out = []
    for r in table.ordered(board, view):
        rec: dict[str, Any] = {"dataset": board.dataset, "protocol": r.get("protocol", board.heading),
                               "mixed_protocols": bool(board.mixed), "model": r["model"], "reported": False,
                               "stand_in": bool(r.get("stand_in")), "source": "measured"}
        for m in cols:
            c = table.col_name(board, m)
            rec[c], rec[f"{c}_ci95"] = r.get(m), r.get(f"{m}_ci95")
            if board.metrics[m].get("kind") != "distribution":
                n, inf, nan = table.counts(r, m)
                rec[f"{c}_n"], rec[f"{c}_n_inf"], rec[f"{c}_n_nan"] = n, inf, nan
                rec[f"{c}_p"] = table.p_cell(board, r, m)
        rec.update({"n": int(r.get("n") or 0), "n_failed": int(r.get("n_failed") or 0), "gray_gt": r.get("gray_gt"),
                    "gray_gt_skipped": r.get("gray_gt_skipped", False), "device": r.get("device", ""),
                    "weights": r.get("weights", ""), "run": r.get("run", ""), "note": ""})
        out.append(rec)
    for e in board.reported:
        rec = {"dataset": board.dataset, "protocol": board.heading, "mixed_protocols": bool(board.mixed),
               "model": e["label"], "reported": True, "stand_in": False, "source": e["source"]}
        for m in cols:
            v = e["metrics"].get(m)
            rec[table.col_name(board, m)] = abs(v) if v is not None and board.metrics[m].get("leaderboard_abs") else v
        rec["note"] = e.get("note", "")
        out.append(rec)
    return out


def to_csv(boards: list[Board], view: View) -> str:
    """One header (the union of the boards' columns), one line per row of every board."""
    recs = [rec for b in boards for rec in _rows(b, view)]
    fields = list(dict.fromkeys(k for rec in recs for k in rec))
    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, fieldnames=fields, restval="")
    w.writeheader()
    for rec in recs:
        w.writerow({k: results.format_value(v) if isinstance(v, float) else ("" if v is None else v)
                    for k, v in rec.items()})
    return buf.getvalue()


def _clean(v: Any) -> Any:
    """Strict JSON: non-finite numbers become null."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    return v


def to_json(boards: list[Board], view: View) -> str:
    """``{"leaderboards": [...]}``: per board its dataset, protocol, notes, metrics, rows
    (counts, p-values as text) and runs."""
    out = []
    for b in boards:
        cols = table.columns(b, view)
        out.append({"dataset": b.dataset, "heading": b.heading, "protocol": b.protocol, "mixed_protocols": b.mixed,
                    "note": b.note, "metrics": {table.col_name(b, m): b.metrics[m] for m in cols},
                    "rows": _rows(b, view), "untested": b.untested, "sources": b.sources})
    return json.dumps(_clean({"leaderboards": out}), indent=2, allow_nan=False) + "\n"


def _latex_one(board: Board, view: View) -> list[str]:
    cols, others = table.columns(board, view), [c for c in view.columns_for("latex")]
    head = ["Model", *(tex(table.head(board, m)) for m in cols), *(("$n$" if c == "n" else tex(c)) for c in others)]
    lines = [r"\begin{table}[t]", r"\centering", r"\begin{tabular}{l" + "r" * len(cols) + "l" * len(others) + "}",
             r"\toprule", " & ".join(head) + r" \\", r"\midrule"]
    marked = False
    for r in table.ordered(board, view):
        cells = []
        for m in cols:
            text = tex(table.mean_text(board, r, m, view, pm="±"))
            if table.is_best(board, r, m):
                text = r"\textbf{" + text + "}"
            elif table.not_separable(board, r, m):
                text, marked = text + r"$^{\dagger}$", True
            cells.append(text)
        others_cells = [tex(table.other_cell(r, c)) for c in others]
        lines.append(" & ".join([table.marked(r, tex(r["model"]), r"$^{\ddagger}$"), *cells, *others_cells]) + r" \\")
    if board.reported:
        lines.append(r"\midrule")
        for e in board.reported:
            cells = [tex(table.reported_text(board, e, m, view)) for m in cols]
            lines.append(" & ".join([tex(e["label"]) + r"$^{\ast}$", *cells, *("--" for _ in others)]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    notes = [tex("Mean over images ± half-width of the 95% t interval; bold: best in the column.")]
    if marked:
        notes.append(r"$^{\dagger}$" + tex(table.sig_note(marker="")[1:].strip()) + ".")
    if table.has_stand_ins(board):
        notes.append(r"$^{\ddagger}$" + tex(table.STAND_IN_NOTE) + ".")
    if board.reported:
        notes.append(r"$^{\ast}$" + tex(table.REPORTED_NOTE) + ": " + tex("; ".join(
            f"{e['label']}: {e['source']}" + (f" ({e['note']})" if e.get("note") else "") for e in board.reported)) + ".")
    if board.note:
        notes.append(r"\textbf{" + tex(board.note) + ".}")
    odd = [f"{board.metrics[m].get('display_name', m)} {table.counts_text(r, m)}"
           for r in board.rows for m in table.per_image_columns(board, cols)
           if table.counts(r, m)[0] is not None and (table.counts(r, m)[0] != int(r.get("n") or 0) or any(table.counts(r, m)[1:]))]
    notes.append(tex("Per-metric n: " + ("; ".join(odd) if odd else "every metric has a finite value on all n images")) + ".")
    caption = view.caption or f"{board.dataset}" + (f" ({board.heading})" if board.heading else "") + ": colorbench leaderboard"
    label = view.label or "tab:" + "".join(ch if ch.isalnum() else "-" for ch in board.dataset)
    lines += [r"\par\smallskip", r"\parbox{\linewidth}{\footnotesize " + " ".join(notes) + "}",
              r"\caption{" + tex(caption) + "}", r"\label{" + label.replace("}", "").replace("\\", "") + "}",
              r"\end{table}"]
    return lines


def to_latex(boards: list[Board], view: View) -> str:
    """LaTeX tables (``\\usepackage{booktabs}``) with math-mode symbols, ± intervals, bold
    best, a footnote for the marker, caption and label; one per board."""
    out = ["% generated by colorbench leaderboard; needs \\usepackage{booktabs}"]
    for k, b in enumerate(boards):
        lines = _latex_one(b, view)
        if len(boards) > 1 and view.label:  # several tables: distinct labels
            lines = [ln.replace(r"\label{" + view.label + "}", r"\label{" + f"{view.label}-{k + 1}" + "}") for ln in lines]
        out += lines
    return "\n".join(out) + "\n"


def _html_one(board: Board, view: View) -> str:
    cols, others = table.columns(board, view), view.columns_for("html")
    head = "".join(f"<th>{htm(table.head(board, m))}</th>" for m in cols) + "".join(f"<th>{htm(c)}</th>" for c in others)
    body = []
    for r in table.ordered(board, view):
        cells = ""
        for m in cols:
            text = htm(table.mean_text(board, r, m, view))
            cells += (f"<td><b>{text}</b></td>" if table.is_best(board, r, m)
                      else f"<td>{text}{' ≈' if table.not_separable(board, r, m) else ''}</td>")
        body.append(f"<tr><td>{table.marked(r, htm(r['model']))}</td>{cells}" + "".join(f"<td>{htm(table.other_cell(r, c))}</td>" for c in others)
                    + (f"<td>{htm(r.get('protocol', ''))}</td>" if board.mixed else "") + "</tr>")
    for e in board.reported:
        body.append(f"<tr class='reported'><td>{htm(e['label'])} †</td>"
                    + "".join(f"<td>{htm(table.reported_text(board, e, m, view))}</td>" for m in cols)
                    + "".join("<td>–</td>" for _ in others) + "</tr>")
    per_image = table.per_image_columns(board, cols)
    counts = "".join(f"<tr><td>{htm(r['model'])}</td>" + "".join(f"<td>{htm(table.counts_text(r, m))}</td>" for m in per_image)
                     + f"<td>{htm(table.gray_text(r))}</td></tr>" for r in table.ordered(board, view))
    title = board.dataset + (f" — {board.heading}" if board.heading else "")
    return (f"<h1>{htm(title)}</h1>" + (f"<p><strong>{htm(board.note)}.</strong></p>" if board.note else "")
            + f"<table><tr><th>model</th>{head}{'<th>protocol</th>' if board.mixed else ''}</tr>{''.join(body)}</table>"
            + f"<p>Mean ± half-width of the 95% t interval; bold: best; {htm(table.sig_note())}."
            + (f" ‡: {htm(table.STAND_IN_NOTE)}." if table.has_stand_ins(board) else "")
            + (f" †: {htm(table.REPORTED_NOTE)}." if board.reported else "") + "</p>"
            + "<h2>Counts per metric</h2><table><tr><th>model</th>"
            + "".join(f"<th>{htm(board.metrics[m].get('display_name', m))}</th>" for m in per_image)
            + f"<th>gray GT</th></tr>{counts}</table>\n")


def _html_breakdowns(board: Board) -> str:
    """The board's per-model breakdowns (:mod:`colorbench.reporting.breakdowns`) as tables."""
    out = []
    for s in breakdowns.sections(board):
        out.append(f"<h3>{htm(s.title)}</h3>" + (f"<p>{htm(s.note)}</p>" if s.note else "")
                   + "<table><tr>" + "".join(f"<th>{htm(h)}</th>" for h in s.head) + "</tr>"
                   + "".join("<tr>" + "".join(f"<td>{htm(c)}</td>" for c in row) + "</tr>" for row in s.rows)
                   + "</table>")
    return ("<h2>Per-model breakdowns</h2>" + "".join(out) + "\n") if out else ""


def to_html(boards: list[Board], view: View) -> str:
    """One HTML page with a table (a counts table and the breakdowns) per board."""
    title = ", ".join(dict.fromkeys(b.dataset for b in boards))
    return (f"<!doctype html><meta charset='utf-8'><title>{htm(title)}</title>"
            + "".join(_html_one(b, view) + _html_breakdowns(b) for b in boards))
