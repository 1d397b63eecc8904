"""``colorbench score``: metrics on existing outputs, no model run.

Predictions and ground truths are matched by relative path without extension. The
results directory has the same per_image.csv / summary.csv as a run (dataset ``score``,
model = the name of the prediction folder).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from colorbench import results
from colorbench.errors import ColorbenchError
from colorbench.evaluation.batch import MetricBatch
from colorbench.evaluation.images import list_image_files, load_rgb
from colorbench.evaluation.metricset import MetricSet, one_line
from colorbench.plugin.specs import MetricSpec
from colorbench.reporting import Reporter
from colorbench.results.lock import run_dir_lock
from colorbench.results.provenance import environment, now
from colorbench.results.summary import summarize, write_summary

DATASET = "score"


@dataclass
class Match:
    pairs: list[tuple[str, Path, Path]]
    only_pred: list[str]
    only_gt: list[str]


def match_files(pred_dir: Path, gt_dir: Path) -> Match:
    for d, what in ((pred_dir, "--pred"), (gt_dir, "--gt")):
        if not d.is_dir():
            raise ColorbenchError(f"{what} {d}: not a directory")
    pred_ids, pred_files = list_image_files(pred_dir)
    gt_ids, gt_files = list_image_files(gt_dir)
    # match on the path without extension even where one side kept its extension
    strip = lambda i: i.rsplit(".", 1)[0] if "." in i.rsplit("/", 1)[-1] else i  # noqa: E731
    pred = {strip(i): f for i, f in zip(pred_ids, pred_files, strict=True)}
    gt = {strip(i): f for i, f in zip(gt_ids, gt_files, strict=True)}
    pairs = [(i, pred[i], gt[i]) for i in sorted(pred) if i in gt]
    return Match(pairs, sorted(set(pred) - set(gt)), sorted(set(gt) - set(pred)))


@dataclass
class PairItem:
    id: str
    pred: torch.Tensor | None = None
    gt: torch.Tensor | None = None
    error: str | None = None


class PairDataset(torch.utils.data.Dataset[PairItem]):
    def __init__(self, pairs: list[tuple[str, Path, Path]], resize_pred: bool):
        self.pairs, self.resize_pred = pairs, resize_pred

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, k: int) -> PairItem:
        image_id, pred_path, gt_path = self.pairs[k]
        try:
            pred, gt = load_rgb(pred_path), load_rgb(gt_path)
            if pred.shape != gt.shape:
                if not self.resize_pred:
                    raise ColorbenchError(
                        f"{pred_path}: size {pred.shape[1]}x{pred.shape[0]} differs from ground truth "
                        f"{gt.shape[1]}x{gt.shape[0]}; pass --resize-pred to resize predictions")
                pred = np.array(Image.fromarray(pred).resize((gt.shape[1], gt.shape[0]), Image.Resampling.BICUBIC))
        except Exception as exc:
            return PairItem(image_id, error=one_line(exc))
        to_t = lambda a: torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1).contiguous()  # noqa: E731
        return PairItem(image_id, to_t(pred), to_t(gt))


def score_dirs(pred_dir: Path, gt_dir: Path, metrics: list[MetricSpec], out_dir: Path, *,
               resize_pred: bool = False, batch_size: int = 16, workers: int = 0,
               device: torch.device | None = None, reporter: Reporter | None = None,
               unavailable: list[str] | None = None,
               metric_options: dict[str, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    reporter = reporter or Reporter()
    device = device or torch.device("cpu")
    found = match_files(pred_dir, gt_dir)
    if not found.pairs:
        raise ColorbenchError(f"no prediction in {pred_dir} has a ground truth of the same relative path in {gt_dir}")
    for what, ids in (("predictions without ground truth", found.only_pred), ("ground truths without prediction", found.only_gt)):
        if ids:
            shown = ", ".join(ids[:10]) + (f" … (+{len(ids) - 10} more)" if len(ids) > 10 else "")
            reporter.warn(f"{len(ids)} {what}, not scored: {shown}")
    refuse_foreign_results(out_dir)
    with run_dir_lock(out_dir, "score"):
        return _score(found, pred_dir, gt_dir, metrics, out_dir, resize_pred=resize_pred, batch_size=batch_size,
                      workers=workers, device=device, reporter=reporter, unavailable=unavailable,
                      metric_options=metric_options)


def refuse_foreign_results(out_dir: Path) -> None:
    """``score --out`` writes only into an empty directory or an earlier score's: never over
    a run's or a training's results (one line saying what is there)."""
    manifest = results.read_json(out_dir / "run.json")
    holds = ("a colorbench run" if (manifest and manifest.get("kind") != "score")
             or (not manifest and (out_dir / "per_image.csv").exists()) else
             "a training run" if (out_dir / "checkpoint.pt").exists() or (out_dir / "config.json").exists() else None)
    if holds:
        raise ColorbenchError(f"score --out {out_dir}: the directory holds the results of {holds}; "
                              "score into a new directory (its files are left as they are)")


def _score(found: Match, pred_dir: Path, gt_dir: Path, metrics: list[MetricSpec], out_dir: Path, *,
           resize_pred: bool, batch_size: int, workers: int, device: torch.device, reporter: Reporter,
           unavailable: list[str] | None, metric_options: dict[str, dict[str, Any]] | None) -> list[dict[str, Any]]:
    model = pred_dir.resolve().name
    mset = MetricSet(metrics, device, metric_options)
    (out_dir / "per_image.csv").unlink(missing_ok=True)
    writer = results.PerImageWriter(out_dir / "per_image.csv", mset.per_image_ids)
    accumulators = mset.accumulators()
    loader = torch.utils.data.DataLoader(PairDataset(found.pairs, resize_pred), batch_size=batch_size,
                                         num_workers=workers, collate_fn=lambda x: x)
    t0 = time.perf_counter()
    base = {"dataset": DATASET, "model": model}
    with reporter.progress(f"score {model}", len(found.pairs)) as advance:
        for items in loader:
            rows = [{**base, "image_id": it.id, "status": "failed", "error": it.error} for it in items if it.error]
            groups: dict[tuple[int, ...], list[PairItem]] = {}
            for it in items:
                if it.error is None:
                    groups.setdefault(tuple(it.gt.shape), []).append(it)  # type: ignore[union-attr]
            for group in groups.values():
                batch = MetricBatch(torch.stack([g.pred for g in group]).to(device),  # type: ignore[misc]
                                    torch.stack([g.gt for g in group]).to(device),  # type: ignore[misc]
                                    ids=[g.id for g in group])
                values, errors = mset.score(batch)
                for acc in accumulators.values():
                    acc.update(batch)
                for k, g in enumerate(group):
                    rows.append({**base, "image_id": g.id, "status": "failed" if errors else "ok",
                                 "error": "; ".join(errors) or None,
                                 **{m: values[m][k] for m in mset.per_image_ids}})
            order = {it.id: k for k, it in enumerate(items)}
            writer.append(sorted(rows, key=lambda r: order[r["image_id"]]))
            advance(len(items))
    writer.close()
    elapsed = time.perf_counter() - t0
    pair_extra = {"images_per_s": len(found.pairs) / elapsed if elapsed > 0 else None}
    for line in mset.finish(accumulators, pair_extra, reporter.warn):
        reporter.error(line)
    meta = mset.metadata()
    _, rows = results.read_rows(out_dir / "per_image.csv")
    summary = summarize(rows, meta, {f"{DATASET}/{model}": pair_extra})
    write_summary(out_dir / "summary.csv", summary, meta)
    results.write_json(out_dir / "run.json", {
        "name": out_dir.name, "kind": "score", "pred": str(pred_dir), "gt": str(gt_dir),
        "resize_pred": resize_pred, "metrics": meta, "metric_options": metric_options or {}, "unavailable_metrics": unavailable or [],
        "unmatched": {"pred": found.only_pred, "gt": found.only_gt},
        "environment": environment(), "device": str(device), "finished": now(),
        "pairs": {f"{DATASET}/{model}": pair_extra},
    })
    return summary
