"""Labelling (seed 001 §3.2, "Best Colorizer" dataset): run every pool member over the
labelling images (``label_split``, default the dataset's val split: images no member was
trained on, checked by ``overlap.check_members``) with the harness's own run engine, score each output with the label metric
(CPSNR by default) and label each image with the member that scored best.

The pool runs as an ordinary ``colorbench run`` into ``OUT/labels/``: batching, failed
rows and resume are the engine's, so a rerun (or ``train --resume``) recomputes nothing
that is already in ``OUT/labels/per_image.csv``.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from colorbench.errors import ColorbenchError

LABEL_RUN = "labels"
SCORES_FILE = "pool_scores.csv"


@dataclass
class PoolScores:
    """Per-image scores of every pool member (NaN where the member failed on the image)."""

    ids: list[str]
    pool: list[str]
    scores: np.ndarray  # [N, K] float64
    metric: str
    higher_is_better: bool = True
    split: str | None = None  # the labelling split
    audit: dict[str, Any] | None = None  # overlap.check_members' finding

    def best(self) -> np.ndarray:
        """Index of the best member per image (ties: the earlier pool member)."""
        return best_member(self.scores, self.higher_is_better)


def best_member(scores: np.ndarray, higher_is_better: bool = True) -> np.ndarray:
    """Argmax (argmin when lower is better) over members, ignoring NaN (failed) entries;
    +inf (a perfect output, e.g. CPSNR of an exact image) wins. Rows must have one value."""
    s = np.asarray(scores, dtype=np.float64)
    s = s if higher_is_better else -s
    s = np.where(np.isnan(s), -np.inf, s)
    return np.argmax(s, axis=1)


def parse_pairs(text: str | None, what: str) -> list[str]:
    """'a=1,b=2' -> ['a=1', 'b=2'] (each entry must contain '=')."""
    if not text:
        return []
    items = [t.strip() for t in str(text).split(",") if t.strip()]
    for t in items:
        if "=" not in t:
            raise ColorbenchError(f"router {what} {t!r}: expected NAME=VALUE entries separated by commas")
    return items


def label_split(ctx: Any, cfg: dict[str, Any]) -> str | None:
    """The split the labels come from (``label_split``; empty: the training split)."""
    return str(cfg.get("label_split") or "") or ctx.split


def label_dataset(ctx: Any, split: str | None) -> Any:
    """The labelling images: the training dataset itself, or its ``split`` built as the run engine builds it."""
    if split == ctx.split or ctx.registries is None or not ctx.dataset_name:
        return ctx.dataset
    from colorbench.evaluation.selection import resolve_datasets
    from colorbench.plugin.options import with_defaults

    (ds,) = resolve_datasets(ctx.registries, [ctx.dataset_name])
    return ds.build(split=split, data_root=ctx.data_root, options=with_defaults(ds.spec, {}))


def run_pool(ctx: Any, pool: list[str], cfg: dict[str, Any]) -> tuple[PoolScores, dict[str, Any]]:
    """Run the pool through ``colorbench.evaluation.runner.Runner`` on the labelling split, after
    checking no member was trained on it; return the score table and what each member ran
    with (checkpoint path + sha256, options, recorded training data)."""
    from colorbench.evaluation.runner import RunConfig, Runner
    from colorbench_router.overlap import check_members
    if not ctx.dataset_name:
        raise ColorbenchError("router: labelling runs the pool with the run engine, which needs the "
                              "dataset's name (TrainContext.dataset_name); use 'colorbench train router'")
    if ctx.registries is None:
        raise ColorbenchError("router: labelling builds the pool from the registries the training command "
                              "passes (TrainContext.registries); use 'colorbench train router'")
    regs = ctx.registries
    metric = str(cfg["label_metric"])
    higher = regs.metrics.get(metric).higher_is_better
    checkpoints = parse_pairs(cfg.get("member_checkpoints"), "member_checkpoints")
    sets = parse_pairs(cfg.get("member_set"), "member_set")
    for entry in sets:
        if "." not in entry.partition("=")[0]:
            raise ColorbenchError(f"router member_set {entry!r}: give MEMBER.KEY=VALUE")
    split = label_split(ctx, cfg)
    ids = [str(i) for i in label_dataset(ctx, split).ids]
    if cfg.get("label_limit") is not None:
        ids = ids[: int(cfg["label_limit"])]
    run_cfg = RunConfig(
        models=pool, datasets=[ctx.dataset_name], metrics=[metric], split=split,
        limit=cfg.get("label_limit"), size=int(cfg["label_size"]), resize="crop",
        device=str(ctx.device), batch_size=int(cfg["label_batch"]), workers=int(cfg["label_workers"]),
        checkpoints=checkpoints, options=sets, data_root=ctx.data_root, out=str(ctx.out_dir),
        name=LABEL_RUN, resume=True, seed=ctx.seed, strict=True,
    )
    runner = Runner(run_cfg, regs, ctx.reporter, sharded=False)  # rank 0 alone labels
    trained = {spec.name: member_training(spec, runner) for spec in runner.models}
    audit = check_members(trained, ctx.dataset_name, split, ids, _flag(cfg.get("allow_overlap")), ctx.reporter.warn)
    result = runner.run()
    for line in result.errors:
        ctx.reporter.warn(f"router labelling: {line}")
    members: dict[str, Any] = {}
    for spec in runner.models:
        resolved = runner.resolved[spec.name]
        members[spec.name] = {
            # None: the member's own default weights (located again at inference)
            "checkpoint": str(resolved.path.resolve()) if resolved.source == "argument" and resolved.path else None,
            "sha256": resolved.sha256,
            "options": dict(runner.options.get(spec.name, {})),
        }
    ds_name = runner.datasets[0].name
    pool = [s.name for s in runner.models]  # canonical names
    scores = read_scores(result.run_dir / "per_image.csv", ds_name, pool, ids, metric)
    return PoolScores(ids, pool, scores, metric, higher, split, audit), members


def member_training(spec: Any, runner: Any) -> dict[str, Any] | None:
    """What a pool member was trained on (``overlap.recorded_training`` of the checkpoint the
    run will load); None when unknown or its weights do not resolve (the run reports that)."""
    from colorbench.models.factory import resolve_checkpoint
    from colorbench.plugin.options import with_defaults
    from colorbench_router.overlap import recorded_training

    try:
        resolved = resolve_checkpoint(spec, runner.checkpoints.get(spec.name),
                                      with_defaults(spec, runner.options.get(spec.name, {})))
    except ColorbenchError:
        return None
    return recorded_training(spec, resolved.path)


def _flag(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def read_scores(path: Path, dataset: str, pool: list[str], ids: list[str], metric: str) -> np.ndarray:
    """[N, K] table from a run's per_image.csv (NaN: failed or missing)."""
    from colorbench import results

    col = {m: k for k, m in enumerate(pool)}
    row_of = {i: n for n, i in enumerate(ids)}
    out = np.full((len(ids), len(pool)), np.nan)
    _, rows = results.read_rows(path)
    for r in rows:
        if r.get("dataset") != dataset or r.get("model") not in col or r.get("status") != "ok":
            continue
        n = row_of.get(r.get("image_id", ""))
        if n is None:
            continue
        try:
            out[n, col[r["model"]]] = float(r[metric])
        except (KeyError, TypeError, ValueError):
            continue
    return out


def write_scores(path: Path, table: PoolScores, parts: dict[str, str] | None = None) -> Path:
    """OUT/pool_scores.csv: image_id, one column per member, best member, split part."""
    best = table.best()
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["image_id", *table.pool, "best", "part"])
        for n, i in enumerate(table.ids):
            vals = ["" if math.isnan(v) else f"{v:.6g}" for v in table.scores[n]]
            usable = not np.isnan(table.scores[n]).all()
            w.writerow([i, *vals, table.pool[best[n]] if usable else "", (parts or {}).get(i, "")])
    return path
