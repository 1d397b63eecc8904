"""Leaderboards generated from run directories (never edited by hand)."""

from __future__ import annotations

import csv
import html
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from colorbench import results
from colorbench.errors import ColorbenchError

FORMATS = ("markdown", "csv", "json", "latex", "html")
EXTENSIONS = {"markdown": "md", "csv": "csv", "json": "json", "latex": "tex", "html": "html"}


@dataclass
class Board:
    dataset: str
    metrics: dict[str, dict[str, Any]]  # id -> metadata (display_name, higher_is_better, kind)
    rows: list[dict[str, Any]] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)  # run name, command, device, version


def _num(text: Any) -> float | None:
    if text in (None, ""):
        return None
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def load_boards(run_dirs: list[Path]) -> list[Board]:
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
        with open(summary_path, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                ds = row["dataset"]
                board = boards.setdefault(ds, Board(ds, {}))
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
                entry["checkpoint"] = (manifest.get("checkpoints", {}).get(row["model"]) or {}).get("sha256", "")
                board.rows.append(entry)
    for board in boards.values():  # the same model from two runs: tell them apart
        names = [r["model"] for r in board.rows]
        for r in board.rows:
            if names.count(r["model"]) > 1:
                r["model"] = f"{r['model']} ({r['run']})"
    return list(boards.values())


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


def to_markdown(board: Board, sort_by: str | None = None) -> str:
    cols = _columns(board)
    heads = [_md(f"{board.metrics[m].get('display_name', m)} {'↑' if board.metrics[m].get('higher_is_better', True) else '↓'}") for m in cols]
    lines = [f"# {board.dataset}", "", "| model | " + " | ".join(heads) + " | n | failed |",
             "|---|" + "---:|" * (len(cols) + 2)]
    for r in sort_rows(board, sort_by):
        cells = []
        for m in cols:
            v = r.get(m)
            text = fmt(v)
            ci = r.get(f"{m}_ci95")
            if ci is not None and v is not None:
                text += f" ± {fmt(ci)}"
            cells.append(f"**{text}**" if v is not None and v == _best(board, m) else text)
        lines.append(f"| {_md(r['model'])} | " + " | ".join(cells) + f" | {int(r.get('n') or 0)} | {int(r.get('n_failed') or 0)} |")
    lines += ["", "Mean over images ± half-width of the 95% t interval; best value per column in bold.", ""]
    for s in board.sources:
        lines.append(f"- run `{s['run']}` on {s['device']}, colorbench {s['colorbench']}: `{s['command']}`")
    return "\n".join(lines) + "\n"


def to_csv(board: Board, sort_by: str | None = None) -> str:
    cols = _columns(board)
    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(["dataset", "model", *cols, *(f"{m}_ci95" for m in cols), "n", "n_failed", "device", "run"])
    for r in sort_rows(board, sort_by):
        w.writerow([board.dataset, r["model"], *(results.format_value(r.get(m)) for m in cols),
                    *(results.format_value(r.get(f"{m}_ci95")) for m in cols),
                    int(r.get("n") or 0), int(r.get("n_failed") or 0), r["device"], r["run"]])
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
    data = {"dataset": board.dataset, "metrics": board.metrics,
            "rows": sort_rows(board, sort_by), "sources": board.sources}
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
        cells = "".join(f"<td><b>{fmt(r.get(m))}</b></td>" if r.get(m) is not None and r.get(m) == _best(board, m) else f"<td>{fmt(r.get(m))}</td>" for m in cols)
        body.append(f"<tr><td>{e(r['model'])}</td>{cells}<td>{int(r.get('n') or 0)}</td></tr>")
    return (f"<!doctype html><meta charset='utf-8'><title>{e(board.dataset)}</title><h1>{e(board.dataset)}</h1>"
            f"<table><tr><th>model</th>{head}<th>n</th></tr>{''.join(body)}</table>\n")


RENDERERS = {"markdown": to_markdown, "csv": to_csv, "json": to_json, "latex": to_latex, "html": to_html}


def write_leaderboards(run_dirs: list[Path], out_dir: Path, fmt_name: str = "markdown",
                       sort_by: str | None = None) -> list[Path]:
    if fmt_name not in RENDERERS:
        raise ColorbenchError(f"--format {fmt_name}: choose one of {', '.join(FORMATS)}")
    written = []
    for board in load_boards(run_dirs):
        path = out_dir / f"{board.dataset}.{EXTENSIONS[fmt_name]}"
        results.atomic_write_text(path, RENDERERS[fmt_name](board, sort_by))
        written.append(path)
    return written


def write_run_leaderboards(run_dir: Path) -> list[Path]:
    return write_leaderboards([run_dir], run_dir / "leaderboard")
