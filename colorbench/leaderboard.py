"""Leaderboards generated from run directories (never edited by hand)."""

from __future__ import annotations

import csv
import html
import io
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from colorbench import results, significance
from colorbench.errors import ColorbenchError

FORMATS = ("markdown", "csv", "json", "latex", "html")
EXTENSIONS = {"markdown": "md", "csv": "csv", "json": "json", "latex": "tex", "html": "html"}


@dataclass
class Board:
    dataset: str
    metrics: dict[str, dict[str, Any]]  # id -> metadata (display_name, higher_is_better, kind)
    rows: list[dict[str, Any]] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)  # run name, command, device, version
    run_dirs: list[Path] = field(default_factory=list)  # the runs with rows for this dataset
    # metric -> model -> p-value of the paired bootstrap against the column's best model
    pvalues: dict[str, dict[str, float | None]] = field(default_factory=dict)


def _num(text: Any) -> float | None:
    if text in (None, ""):
        return None
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _weights_label(ck: Mapping[str, Any] | None) -> str:
    if not ck:
        return ""
    return f"{Path(str(ck.get('path', ''))).name} ({str(ck.get('sha256', ''))[:8]})"


def _per_image(rd: Path, metric_ids: set[str]) -> dict[tuple[str, str], dict[str, dict[str, Any]]]:
    """(dataset, model) -> {"values": {metric: {id: float}}, "extras": {column: {id: text}}}
    from the ok rows of a run's per_image.csv."""
    header, rows = results.read_rows(rd / "per_image.csv")
    metric_cols = [c for c in header if c in metric_ids]
    extra_cols = [c for c in header if c not in metric_ids and c not in results.FIXED_COLUMNS]
    out: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for r in rows:
        if r.get("status") != "ok":
            continue
        pair = out.setdefault((r["dataset"], r["model"]), {"values": {}, "extras": {}})
        for c in metric_cols:
            v = _num(r.get(c))
            if v is not None:
                pair["values"].setdefault(c, {})[r["image_id"]] = v
        for c in extra_cols:
            if r.get(c) not in (None, ""):
                pair["extras"].setdefault(c, {})[r["image_id"]] = r[c]
    return out


def load_boards(run_dirs: list[Path]) -> list[Board]:
    """One board per dataset over the runs' summaries; each row carries its per-image
    values (``_values``/``_extras``, for significance tests and breakdowns)."""
    boards: dict[str, Board] = {}
    for rd in run_dirs:
        manifest = results.read_json(rd / "run.json")
        summary_path = rd / "summary.csv"
        if not manifest or not summary_path.is_file():
            raise ColorbenchError(f"{rd}: not a finished colorbench run directory (needs run.json and summary.csv)")
        env = manifest.get("environment", {})
        source = {"run": manifest.get("name", rd.name), "command": env.get("command", ""),
                  "device": manifest.get("device_name", manifest.get("device", "")),
                  "colorbench": env.get("colorbench", ""), "finished": manifest.get("finished")}
        per_image = _per_image(rd, set(manifest.get("metrics", {})))
        with open(summary_path, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                ds = row["dataset"]
                board = boards.setdefault(ds, Board(ds, {}))
                if rd not in board.run_dirs:
                    board.run_dirs.append(rd)
                for mid, meta in manifest.get("metrics", {}).items():
                    if meta.get("leaderboard_abs"):
                        meta = {**meta, "display_name": f"|{meta.get('display_name', mid)}|"}
                    board.metrics.setdefault(mid, meta)
                if source not in board.sources:
                    board.sources.append(source)
                entry = {k: _num(v) if k not in ("dataset", "model") else v for k, v in row.items()}
                for mid, meta in board.metrics.items():  # signed differences: show |mean|
                    if meta.get("leaderboard_abs") and entry.get(mid) is not None:
                        entry[mid] = abs(entry[mid])
                entry["device"] = source["device"]
                entry["run"] = source["run"]
                ck = manifest.get("checkpoints", {}).get(row["model"])
                entry["checkpoint"] = (ck or {}).get("sha256", "")
                entry["weights"] = _weights_label(ck)
                pair = per_image.get((ds, row["model"]), {"values": {}, "extras": {}})
                entry["_values"], entry["_extras"] = pair["values"], pair["extras"]
                board.rows.append(entry)
    for board in boards.values():  # the same model from two runs: tell them apart
        names = [r["model"] for r in board.rows]
        for r in board.rows:
            if names.count(r["model"]) > 1:
                r["model"] = f"{r['model']} ({r['run']})"
        board.pvalues = _significance(board)
    return list(boards.values())


def _significance(board: Board) -> dict[str, dict[str, float | None]]:
    """Per per-image metric: the paired-bootstrap p-value of each model against the
    column's best model (None when they share fewer than 2 images)."""
    out: dict[str, dict[str, float | None]] = {}
    for mid, meta in board.metrics.items():
        if meta.get("kind") == "distribution":
            continue
        best = _best(board, mid)
        top = next((r for r in board.rows if r.get(mid) is not None and r.get(mid) == best), None)
        if top is None or mid not in top["_values"]:
            continue
        col: dict[str, float | None] = {}
        for r in board.rows:
            if r is top or mid not in r["_values"]:
                continue
            a, b = significance.aligned(top["_values"][mid], r["_values"][mid])
            col[r["model"]] = significance.paired_bootstrap(a, b, absolute=bool(meta.get("leaderboard_abs")))
        out[mid] = col
    return out


def _columns(board: Board) -> list[str]:
    return [m for m in board.metrics if any(r.get(m) is not None for r in board.rows)]


def _best(board: Board, mid: str) -> float | None:
    vals = [r[mid] for r in board.rows if r.get(mid) is not None and math.isfinite(r[mid])]
    if not vals:
        return None
    return max(vals) if board.metrics[mid].get("higher_is_better", True) else min(vals)


def fmt(value: float | None) -> str:
    if value is None:
        return "–"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    mag = abs(value)
    if mag >= 100:
        return f"{value:.1f}"
    if mag >= 1:
        return f"{value:.2f}"
    return f"{value:.4f}"


def fmt_like(value: float, like: float) -> str:
    """``value`` with the decimals :func:`fmt` gives ``like`` (a mean's interval)."""
    if not math.isfinite(value) or not math.isfinite(like):
        return fmt(value)
    mag = abs(like)
    return f"{value:.1f}" if mag >= 100 else f"{value:.2f}" if mag >= 1 else f"{value:.4f}"


def sort_rows(board: Board, sort_by: str | None) -> list[dict[str, Any]]:
    cols = _columns(board)
    key = sort_by or (cols[0] if cols else None)
    if key is None:
        return list(board.rows)
    if key not in board.metrics:
        raise ColorbenchError(f"--sort-by {key}: not a metric of this leaderboard ({', '.join(cols)})")
    hib = board.metrics[key].get("higher_is_better", True)
    return sorted(board.rows, key=lambda r: (r.get(key) is None, -(r.get(key) or 0) if hib else (r.get(key) or 0)))


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
    if v is not None and v == _best(board, mid):
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
    router's chosen member) and for variants named ``<model>-<suffix>`` of a model on the
    same board (e.g. ccc-harmonized vs ccc): the variant's paired difference per metric."""
    cols = [m for m in _columns(board) if board.metrics[m].get("kind") != "distribution"]
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
        base = next((b for b in by_name if b != r["model"] and r["model"].startswith(f"{b}-")), None)
        if base is None:
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
    cols = _columns(board)
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
                if r.get(m) is not None and r.get(m) == _best(board, m):
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
    cols = _columns(board)
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
    cols = _columns(board)
    esc = lambda s: str(s).replace("_", r"\_").replace("%", r"\%").replace("&", r"\&")  # noqa: E731
    arrows = {True: r"$\uparrow$", False: r"$\downarrow$"}
    lines = [r"\begin{tabular}{l" + "r" * (len(cols) + 1) + "}", r"\toprule",
             "Model & " + " & ".join(f"{esc(board.metrics[m].get('display_name', m))} {arrows[bool(board.metrics[m].get('higher_is_better', True))]}" for m in cols) + r" & $n$ \\",
             r"\midrule"]
    for r in sort_rows(board, sort_by):
        cells = ["\\textbf{" + fmt(r.get(m)) + "}" if r.get(m) is not None and r.get(m) == _best(board, m) else fmt(r.get(m)) for m in cols]
        lines.append(f"{esc(r['model'])} & " + " & ".join(cells).replace("∞", r"$\infty$").replace("–", "--") + f" & {int(r.get('n') or 0)} \\\\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    return f"% {board.dataset}: generated by colorbench leaderboard\n" + "\n".join(lines) + "\n"


def to_html(board: Board, sort_by: str | None = None) -> str:
    cols = _columns(board)
    e = html.escape
    head = "".join(f"<th>{e(board.metrics[m].get('display_name', m))} {'↑' if board.metrics[m].get('higher_is_better', True) else '↓'}</th>" for m in cols)
    body = []
    for r in sort_rows(board, sort_by):
        cells = "".join(f"<td>{e(_cell(board, r, m)).replace('**', '')}</td>" if r.get(m) != _best(board, m) or r.get(m) is None
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
    from colorbench.report import write_contact_sheet

    for rd in saved:
        path = write_contact_sheet(rd, board.dataset, out_dir / f"{board.dataset}.png", n_images=5, thumb=80)
        if path is not None:
            return path.name
    return None


def to_index(boards: list[Board]) -> str:
    """An index page: one line per dataset with its size and the best model per metric."""
    lines = ["# Leaderboards", "", "| dataset | models | images | best per metric |", "|---|---:|---:|---|"]
    for board in sorted(boards, key=lambda b: b.dataset):
        bests = []
        for m in _columns(board):
            best = _best(board, m)
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
