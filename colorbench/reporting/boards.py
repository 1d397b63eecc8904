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
from colorbench.reporting import protocols, significance
from colorbench.reporting import reported as reported_rows
from colorbench.reporting.formatting import magnitude_decimals, number


@dataclass
class Board:
    dataset: str
    metrics: dict[str, dict[str, Any]]  # id -> metadata (display_name, higher_is_better, kind)
    rows: list[dict[str, Any]] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)  # run name, command, device, version
    run_dirs: list[Path] = field(default_factory=list)  # the runs with rows for this dataset
    # metric -> model -> p-value of the paired bootstrap against the column's best model
    pvalues: dict[str, dict[str, float | None]] = field(default_factory=dict)
    protocol: dict[str, Any] | None = None  # the rows' shared fingerprint (None: unknown or mixed)
    heading: str = ""  # what sets this table's protocol apart from the dataset's others
    mixed: list[str] = field(default_factory=list)  # --allow-mixed: the fingerprint keys that differ
    reported: list[dict[str, Any]] = field(default_factory=list)  # figures printed in papers
    untested: dict[str, str] = field(default_factory=dict)  # model -> why it has no p-value
    primary_metric: str | None = None  # the suite's ``primary_metric`` (first suite run that names one)

    @property
    def note(self) -> str:
        """The one-line warning a table of this board carries ("" when none)."""
        if self.mixed:
            return (f"MIXED PROTOCOLS (--allow-mixed): the rows differ in {', '.join(self.mixed)}; "
                    "they are not comparable and only rows of one protocol and image set are tested")
        return protocols.UNKNOWN_NOTE if self.heading == protocols.UNKNOWN else ""


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
        pair = out.setdefault((r["dataset"], r["model"]), {"values": {}, "extras": {}, "ids": set()})
        pair["ids"].add(r["image_id"])
        if r.get("status") == "failed":  # partial rows: their failed cells are empty
            continue
        for c in metric_cols:
            v = _num(r.get(c))
            if v is not None:
                pair["values"].setdefault(c, {})[r["image_id"]] = v
        for c in extra_cols:
            if r.get(c) not in (None, ""):
                pair["extras"].setdefault(c, {})[r["image_id"]] = r[c]
    return out


def _suite_metrics(manifest: results.manifest.RunManifest) -> tuple[dict[str, dict[str, Any]], str | None]:
    """The run's metric metadata in its suite's ``metrics:`` order (the paper's column order;
    any others after) and the suite's ``primary_metric``; a run without a suite: as recorded."""
    suite = manifest.config.get("benchmark") or {}
    order = [m for m in (manifest.config.get("metrics") or []) if m in manifest.metrics] if suite else []
    metrics = {m: manifest.metrics[m] for m in [*order, *manifest.metrics]}
    return metrics, suite.get("primary_metric")


def load_boards(run_dirs: list[Path], allow_mixed: bool = False,
                reported: list[dict[str, Any]] | None = None) -> list[Board]:
    """Boards over the runs' summaries: one per dataset and protocol fingerprint (with
    ``allow_mixed``, one per dataset, marked), plus the ``reported`` rows (and each run's
    reported.yaml) of their dataset. Each row carries its per-image values
    (``_values``/``_extras``, for significance tests, counts and breakdowns)."""
    boards: dict[str, Board] = {}
    reported = list(reported or [])
    for rd in run_dirs:
        manifest = results.manifest.read(rd)
        summary_path = rd / "summary.csv"
        if manifest is None or not summary_path.is_file():
            raise ColorbenchError(f"{rd}: not a finished colorbench run directory (needs run.json and summary.csv)")
        env = manifest.environment
        suite_metrics, primary = _suite_metrics(manifest)
        source = {"run": manifest.name or rd.name, "command": env.get("command", ""),
                  "device": manifest.device_name or manifest.device,
                  "colorbench": env.get("colorbench", ""), "finished": manifest.finished}
        per_image = _per_image(rd, set(manifest.metrics))
        stand_ins = set((manifest.config.get("benchmark") or {}).get("stand_in_weights") or [])
        reported += [e for e in reported_rows.of_run(rd) if e not in reported]
        with open(summary_path, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                ds = row["dataset"]
                board = boards.setdefault(ds, Board(ds, {}))
                board.primary_metric = board.primary_metric or primary
                if rd not in board.run_dirs:
                    board.run_dirs.append(rd)
                for mid, meta in suite_metrics.items():
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
                entry["stand_in"] = row["model"] in stand_ins  # shipped weights for paper-scale ones
                entry["_variant_of"] = manifest.colorizers.get(row["model"], {}).get("variant_of")
                pair = per_image.get((ds, row["model"]), {"values": {}, "extras": {}, "ids": set()})
                entry["_values"], entry["_extras"] = pair["values"], pair["extras"]
                record = manifest.pairs.get(f"{ds}/{row['model']}")
                entry["_protocol"] = record.protocol if record is not None else {}
                entry["_ids"] = frozenset(pair["ids"])
                entry["_run_dir"] = rd
                entry["gray_gt"] = (record.gray_gt.get("count") if record is not None else None)
                entry["gray_gt_skipped"] = bool(record is not None and record.gray_gt.get("skipped"))
                _count(entry, board.metrics)
                board.rows.append(entry)
    out = [part for board in boards.values() for part in _split(board, allow_mixed)]
    for entry in reported:
        mine = [b for b in out if b.dataset == entry["dataset"]]
        if not mine:  # a table of reported rows only: the metrics' metadata from the other boards
            known = {m: meta for b in out for m, meta in b.metrics.items()}
            out.append(Board(entry["dataset"], {}))
            mine = out[-1:]
        for board in mine:
            board.reported.append(entry)
            if not board.rows:
                board.metrics.update({m: known.get(m, {"display_name": m}) for m in entry["metrics"]
                                      if m not in board.metrics})
    for board in out:  # the same model from two runs: tell them apart
        names = [r["model"] for r in board.rows]
        for r in board.rows:
            if names.count(r["model"]) > 1:
                r["model"] = f"{r['model']} ({r['run']})"
        board.pvalues = _significance(board)
    return out


def _count(entry: dict[str, Any], metrics: dict[str, dict[str, Any]]) -> None:
    """Per per-image metric: images with a value (``<m>_n``) and its +-inf and NaN ones."""
    for mid, by_id in entry["_values"].items():
        vals = list(by_id.values())
        entry[f"{mid}_n"] = len(vals)
        entry[f"{mid}_n_inf"] = sum(1 for v in vals if math.isinf(v))
        entry[f"{mid}_n_nan"] = sum(1 for v in vals if math.isnan(v))


def _split(board: Board, allow_mixed: bool) -> list[Board]:
    """One board per protocol fingerprint, headed by what differs; or, with
    ``allow_mixed``, the one board marked with the keys that differ."""
    groups = protocols.group(board.rows)
    if len(groups) == 1:
        board.protocol = groups[0][0]["_protocol"] or None
        board.heading = "" if board.protocol else protocols.UNKNOWN
        return [board]
    keys = protocols.differing([g[0]["_protocol"] for g in groups])
    if allow_mixed:
        board.mixed = keys or ["an unknown protocol"]
        for r in board.rows:
            r["protocol"] = protocols.describe(r["_protocol"], keys)
        return [board]
    out = []
    for rows in groups:
        part = Board(board.dataset, board.metrics, rows, protocol=rows[0]["_protocol"] or None,
                     heading=protocols.describe(rows[0]["_protocol"], keys), primary_metric=board.primary_metric)
        part.run_dirs = list(dict.fromkeys(r["_run_dir"] for r in rows))
        runs = {r["run"] for r in rows}
        part.sources = [s for s in board.sources if s["run"] in runs]
        out.append(part)
    return out


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
            if r["_ids"] != top["_ids"] or protocols.key(r["_protocol"]) != protocols.key(top["_protocol"]):
                board.untested[r["model"]] = (f"not the image set or protocol of {top['model']} "
                                              "(paired tests pair identical image sets only)")
                col[r["model"]] = None
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
    """``value`` at the decimals its own magnitude calls for (console tables)."""
    if value is None or not math.isfinite(value):
        return number(value, 0)
    return number(value, magnitude_decimals(abs(value)))


def fmt_like(value: float, like: float) -> str:
    """``value`` with the decimals :func:`fmt` gives ``like`` (a mean's interval)."""
    if not math.isfinite(value) or not math.isfinite(like):
        return fmt(value)
    mag = abs(like)
    return f"{value:.1f}" if mag >= 100 else f"{value:.2f}" if mag >= 1 else f"{value:.4f}"


def default_metric(board: Board, cols: list[str]) -> str | None:
    """The metric a board leads with among ``cols``: the suite's ``primary_metric``, else
    cpsnr (papers lead with PSNR), else the first column; None without columns."""
    for key in (board.primary_metric, "cpsnr"):
        if key in cols:
            return key
    return cols[0] if cols else None


def sort_rows(board: Board, sort_by: str | None) -> list[dict[str, Any]]:
    """The measured rows ranked by ``sort_by`` (default: :func:`default_metric`)."""
    cols = metric_columns(board)
    key = sort_by or default_metric(board, cols)
    if key is None:
        return list(board.rows)
    if key not in board.metrics:
        raise ColorbenchError(f"--sort-by {key}: not a metric of this leaderboard ({', '.join(cols)})")
    hib = board.metrics[key].get("higher_is_better", True)
    return sorted(board.rows, key=lambda r: (r.get(key) is None, -(r.get(key) or 0) if hib else (r.get(key) or 0)))
