"""Run directories written directly (run.json, per_image.csv, summary.csv) so leaderboard
tests can hold exact per-image values, protocols and reported rows."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from colorbench.evaluation.fingerprint import protocol_fingerprint
from colorbench.results import FIXED_COLUMNS, format_value
from colorbench.results.manifest import PairRecord, RunManifest
from colorbench.results.summary import summarize, write_summary

META = {
    "cpsnr": {"display_name": "CPSNR", "higher_is_better": True, "range": [0.0, 100.0], "kind": "per_image",
              "version": "2"},
    "mse": {"display_name": "MSE", "higher_is_better": False, "range": [0.0, 1.0], "kind": "per_image", "version": "1"},
    "delta_colorfulness": {"display_name": "ΔCF", "higher_is_better": False, "range": [-200.0, 200.0],
                           "kind": "per_image", "leaderboard_abs": True, "version": "1"},
}


def fake_run(run_dir: Path, dataset: str, values: dict[str, dict[str, dict[str, float]]], *,
             protocol: dict[str, Any] | None = None, metrics: dict[str, dict[str, Any]] | None = None,
             extra: dict[str, dict[str, str]] | None = None, gray: list[str] | None = None,
             fingerprint: bool = True, stand_ins: list[str] | None = None) -> Path:
    """``values``: model -> image id -> metric -> value. ``protocol``: settings of the
    fingerprint (size, resize, ...); ``fingerprint=False`` writes an old run.json without one.
    ``extra``: model -> image id -> text of an extra column ``member``. ``stand_ins``: models
    recorded as run on stand-in weights (``config.benchmark.stand_in_weights``)."""
    used = {m for per in values.values() for v in per.values() for m in v}
    meta = {m: META[m] for m in META if m in used} if metrics is None else metrics
    run_dir.mkdir(parents=True, exist_ok=True)
    cols = [*FIXED_COLUMNS, *meta, *(["member"] if extra else [])]
    rows = []
    for model, per in values.items():
        for image_id, vals in per.items():
            row = {"dataset": dataset, "model": model, "image_id": image_id, "status": "ok",
                   **{m: "nan" if v != v else format_value(v) for m, v in vals.items()}}  # NaN as another tool writes it
            if extra and model in extra:
                row["member"] = extra[model][image_id]
            rows.append(row)
    with open(run_dir / "per_image.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=cols, restval="")
        w.writeheader()
        w.writerows(rows)
    pairs = {}
    for model, per in values.items():
        rec = PairRecord()
        if fingerprint:
            rec.protocol = protocol_fingerprint(dataset, list(per), meta, **(protocol or {"size": 256, "resize": "crop"}))
            rec.gray_gt = {"count": len(gray or []), "skipped": False, "ids": sorted(gray or [])}
        pairs[f"{dataset}/{model}"] = rec
    str_rows = [{k: str(v) for k, v in r.items()} for r in rows]
    write_summary(run_dir / "summary.csv", summarize(str_rows, meta, pairs), meta)
    config = {"benchmark": {"name": "suite", "stand_in_weights": stand_ins}} if stand_ins else {}
    RunManifest(kind="run", name=run_dir.name, config=config, metrics=meta, pairs=pairs, device="cpu",
                finished="2026-01-01T00:00:00").write(run_dir)
    return run_dir


def ids(n: int) -> list[str]:
    return [f"img{i:03d}" for i in range(n)]


def ramp(n: int, base: float, step: float = 0.5, metric: str = "cpsnr") -> dict[str, dict[str, float]]:
    """n images with ``metric`` = base + step·i."""
    return {i: {metric: base + step * k} for k, i in enumerate(ids(n))}
