"""Leaderboard data: one ``Board`` per dataset gathered from run directories, with the
paired-bootstrap p-values, best values and number formatting the renderers share."""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from colorbench import results
from colorbench.errors import ColorbenchError
from colorbench.reporting import significance


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
    from the scored (ok and partial) rows of a run's per_image.csv."""
    header, rows = results.read_rows(rd / "per_image.csv")
    metric_cols = [c for c in header if c in metric_ids]
    extra_cols = [c for c in header if c not in metric_ids and c not in results.FIXED_COLUMNS]
    out: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for r in rows:
        if r.get("status") == "failed":  # partial rows: their failed cells are empty
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
        manifest = results.manifest.read(rd)
        summary_path = rd / "summary.csv"
        if manifest is None or not summary_path.is_file():
            raise ColorbenchError(f"{rd}: not a finished colorbench run directory (needs run.json and summary.csv)")
        env = manifest.environment
        source = {"run": manifest.name or rd.name, "command": env.get("command", ""),
                  "device": manifest.device_name or manifest.device,
                  "colorbench": env.get("colorbench", ""), "finished": manifest.finished}
        per_image = _per_image(rd, set(manifest.metrics))
        with open(summary_path, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                ds = row["dataset"]
                board = boards.setdefault(ds, Board(ds, {}))
                if rd not in board.run_dirs:
                    board.run_dirs.append(rd)
                for mid, meta in manifest.metrics.items():
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
                ck = manifest.checkpoints.get(row["model"])
                entry["checkpoint"] = (ck or {}).get("sha256", "")
                entry["weights"] = _weights_label(ck)
                entry["_variant_of"] = manifest.colorizers.get(row["model"], {}).get("variant_of")
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
        best = best_value(board, mid)
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


def metric_columns(board: Board) -> list[str]:
    return [m for m in board.metrics if any(r.get(m) is not None for r in board.rows)]


def best_value(board: Board, mid: str) -> float | None:
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
    cols = metric_columns(board)
    key = sort_by or (cols[0] if cols else None)
    if key is None:
        return list(board.rows)
    if key not in board.metrics:
        raise ColorbenchError(f"--sort-by {key}: not a metric of this leaderboard ({', '.join(cols)})")
    hib = board.metrics[key].get("higher_is_better", True)
    return sorted(board.rows, key=lambda r: (r.get(key) is None, -(r.get(key) or 0) if hib else (r.get(key) or 0)))
