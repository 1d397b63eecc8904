"""``colorbench score``: metrics on existing outputs, no model run.

Predictions and ground truths are matched by relative path minus its one image extension
(ids that collide are an error). The results directory has the same per_image.csv / summary.csv / errors.log as a run (dataset
``score``, model = the name of the prediction folder): the files are read into loader Items
and go through the one batch scorer of ``run``, so the numbers are ``run``'s exactly.
"""

from __future__ import annotations

import traceback
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from colorbench import results
from colorbench.errors import ColorbenchError
from colorbench.evaluation.accumulator import reference_for
from colorbench.evaluation.batch_scorer import BatchScorer
from colorbench.evaluation.failures import ERRORS_LOG, one_line
from colorbench.evaluation.fingerprint import chroma_free, protocol_fingerprint
from colorbench.evaluation.images import list_image_files, load_rgb
from colorbench.evaluation.loader import Item, collate
from colorbench.evaluation.metricset import MetricSet
from colorbench.evaluation.protocol import RESIZE_MODES, resize, to_tensor
from colorbench.evaluation.sharding import Shard
from colorbench.evaluation.source import file_signature
from colorbench.evaluation.worker_metrics import WorkerMetrics, start_worker
from colorbench.plugin.specs import MetricSpec
from colorbench.reporting import Reporter
from colorbench.results.lock import run_dir_lock
from colorbench.results.manifest import PairRecord, RunManifest
from colorbench.results.manifest import read as read_manifest
from colorbench.results.provenance import environment, now
from colorbench.results.summary import summarize, write_summary

DATASET = "score"


@dataclass
class Match:
    """Files matched by relative path minus its image extension, and those without a partner."""

    pairs: list[tuple[str, Path, Path]]
    only_pred: list[str]
    only_gt: list[str]


def match_files(pred_dir: Path, gt_dir: Path) -> Match:
    for d, what in ((pred_dir, "--pred"), (gt_dir, "--gt")):
        if not d.is_dir():
            raise ColorbenchError(f"{what} {d}: not a directory")
    pred_ids, pred_files = list_image_files(pred_dir)
    gt_ids, gt_files = list_image_files(gt_dir)
    pred = dict(zip(pred_ids, pred_files, strict=True))
    gt = dict(zip(gt_ids, gt_files, strict=True))
    pairs = [(i, pred[i], gt[i]) for i in sorted(pred) if i in gt]
    return Match(pairs, sorted(set(pred) - set(gt)), sorted(set(gt) - set(pred)))


class PairDataset(torch.utils.data.Dataset[Item]):
    """Matched (id, prediction, ground truth) files as loader Items (``pred`` and ``rgb``);
    the ground truth goes through the run protocol's resize (``size``, ``mode``; ``none``
    keeps it as it is) and the prediction must then have its size. With ``metrics`` (in
    DataLoader workers), each Item also carries those metrics' values and failed cells."""

    def __init__(self, pairs: list[tuple[str, Path, Path]], resize_pred: bool, size: int = 256,
                 mode: str = "none", metrics: WorkerMetrics | None = None):
        self.pairs, self.resize_pred, self.size, self.mode = pairs, resize_pred, size, mode
        self.metrics = metrics

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, k: int) -> Item:
        image_id, pred_path, gt_path = self.pairs[k]
        try:
            pred, gt = load_rgb(pred_path), resize(load_rgb(gt_path), self.size, self.mode)
            if pred.shape != gt.shape:
                if not self.resize_pred:
                    protocol = "" if self.mode == "none" else f" (after --resize {self.mode} --size {self.size})"
                    raise ColorbenchError(
                        f"{pred_path}: size {pred.shape[1]}x{pred.shape[0]} differs from ground truth "
                        f"{gt.shape[1]}x{gt.shape[0]}{protocol}; pass --resize-pred to resize predictions")
                pred = np.array(Image.fromarray(pred).resize((gt.shape[1], gt.shape[0]), Image.Resampling.BICUBIC))
        except Exception as exc:
            return Item(image_id, error=one_line(exc), trace=traceback.format_exc())
        rgb = to_tensor(gt)
        item = Item(image_id, rgb=rgb, pred=to_tensor(pred), gray=chroma_free(rgb))
        if self.metrics is not None:
            assert item.pred is not None
            item.values, item.cell_failures = self.metrics.score(image_id, item.pred, rgb)
        return item


def score_dirs(pred_dir: Path, gt_dir: Path, metrics: list[MetricSpec], out_dir: Path, *,
               resize_pred: bool = False, size: int = 256, mode: str = "none", batch_size: int = 16, workers: int = 0,
               device: torch.device | None = None, reporter: Reporter | None = None,
               unavailable: list[str] | None = None,
               metric_options: dict[str, dict[str, Any]] | None = None, dataset: str | None = None,
               skip_gray_gt: bool = False) -> list[dict[str, Any]]:
    """Score the predictions in ``pred_dir`` against the ground truths of the same relative
    path in ``gt_dir`` into ``out_dir`` (per_image.csv, summary.csv, run.json); ground truths
    go through the run protocol (``mode`` crop/stretch at ``size``, or none). ``dataset``:
    the rows' dataset name (default ``score``); ``skip_gray_gt``: leave out chroma-free
    ground truths. Returns the summary rows (rank 0; [] on the other ranks of a torchrun job)."""
    if mode not in RESIZE_MODES:
        raise ColorbenchError(f"--resize {mode!r}: choose one of {', '.join(RESIZE_MODES)}")
    if mode != "none" and size < 8:
        raise ColorbenchError(f"--size {size}: must be at least 8 pixels")
    shard = Shard.join(out_dir, device or torch.device("cpu"))  # under torchrun: this rank's part
    device = shard.device
    reporter = (reporter or Reporter()) if shard.is_main else Reporter(muted=True)
    found = match_files(pred_dir, gt_dir)
    if not found.pairs:
        raise ColorbenchError(f"no prediction in {pred_dir} has a ground truth of the same relative path in {gt_dir}")
    for what, ids in (("predictions without ground truth", found.only_pred), ("ground truths without prediction", found.only_gt)):
        if ids:
            shown = ", ".join(ids[:10]) + (f" … (+{len(ids) - 10} more)" if len(ids) > 10 else "")
            reporter.warn(f"{len(ids)} {what}, not scored: {shown}")
    refuse_foreign_results(out_dir)
    with ExitStack() as held:
        shard.guard(run_dir_lock(out_dir, "score"), held)
        return _score(found, pred_dir, gt_dir, metrics, out_dir, resize_pred=resize_pred, size=size, mode=mode,
                      batch_size=batch_size,
                      workers=workers, reporter=reporter, unavailable=unavailable,
                      metric_options=metric_options, shard=shard, dataset=dataset or DATASET,
                      skip_gray_gt=skip_gray_gt)


def refuse_foreign_results(out_dir: Path) -> None:
    """``score --out`` writes only into an empty directory or an earlier score's: never over
    a run's or a training's results (one line saying what is there)."""
    manifest = read_manifest(out_dir)
    holds = ("a colorbench run" if (manifest and manifest.kind != "score")
             or (not manifest and (out_dir / "per_image.csv").exists()) else
             "a training run" if (out_dir / "checkpoint.pt").exists() or (out_dir / "config.json").exists() else None)
    if holds:
        raise ColorbenchError(f"score --out {out_dir}: the directory holds the results of {holds}; "
                              "score into a new directory (its files are left as they are)")


def _score(found: Match, pred_dir: Path, gt_dir: Path, metrics: list[MetricSpec], out_dir: Path, *,
           resize_pred: bool, size: int, mode: str, batch_size: int, workers: int, reporter: Reporter,
           unavailable: list[str] | None, metric_options: dict[str, dict[str, Any]] | None,
           shard: Shard, dataset: str, skip_gray_gt: bool) -> list[dict[str, Any]]:
    """Score every matched pair (this rank's block of them under torchrun); rank 0 writes the
    results and returns the summary, the other ranks return []."""
    model = pred_dir.resolve().name
    key = f"{dataset}/{model}"
    device = shard.device
    mset = MetricSet(metrics, device, metric_options)
    opened: list[results.PerImageWriter] = []

    def fresh() -> list[str]:
        for stale in ("per_image.csv", ERRORS_LOG):
            (out_dir / stale).unlink(missing_ok=True)
        shard.clear()
        opened.append(results.PerImageWriter(out_dir / "per_image.csv", mset.per_image_ids))
        return opened[0].columns

    columns = shard.on_main(fresh)
    writer = opened[0] if opened else None
    scorer = BatchScorer(mset, device, shard.error_log())
    scorer.skip_gray_gt = skip_gray_gt
    mine = shard.part(found.pairs)
    in_workers = WorkerMetrics.for_loader(mset, device, workers)  # CPU: per-image metrics beside decoding
    loader = torch.utils.data.DataLoader(PairDataset(mine, resize_pred, size, mode, in_workers),
                                         batch_size=batch_size, num_workers=workers, collate_fn=collate,
                                         worker_init_fn=start_worker if in_workers else None)
    record = PairRecord(protocol=protocol_fingerprint(
        dataset, [i for i, _, _ in found.pairs], mset.metadata(), gt=str(gt_dir.resolve()),
        size=None if mode == "none" else size, resize=mode, skip_gray_gt=skip_gray_gt))
    reference = reference_for({"score_gt": str(gt_dir.resolve()), "size": size, "resize": mode},
                              [i for i, _, _ in found.pairs],
                              {i: file_signature(g) for i, _, g in found.pairs})
    try:
        with shard.writer(writer, columns, dataset, model) as rows_out:
            failed = scorer.score_pair({"dataset": dataset, "model": model}, record, loader, rows_out, reporter,
                                       len(mine), shard=shard, reference=reference)
        shard.barrier()  # every rank's rows and error log are on disk
        if writer is None:
            return []
        shard.fold(writer)
        position = {(dataset, model, image_id): (0, k) for k, (image_id, _, _) in enumerate(found.pairs)}
        writer.order(position.get)
    finally:
        if writer is not None:
            writer.close()
    errors = [f"{key}: metric {f.metric} failed: {f.message}" for f in failed]
    for line in errors:
        reporter.error(line)
    meta = mset.metadata()
    _, rows = results.read_rows(out_dir / "per_image.csv")
    summary = summarize(rows, meta, {key: record})
    write_summary(out_dir / "summary.csv", summary, meta)
    RunManifest(
        kind="score", name=out_dir.name, metrics=meta, metric_options=metric_options or {},
        unavailable_metrics=unavailable or [], environment={**environment(), "world_size": shard.info.world_size},
        device=str(device),
        errors=errors, finished=now(), pairs={key: record},
        score={"pred": str(pred_dir), "gt": str(gt_dir), "resize_pred": resize_pred,
               "protocol": {"size": None if mode == "none" else size, "resize": mode},
               "unmatched": {"pred": found.only_pred, "gt": found.only_gt}},
    ).write(out_dir)
    return summary
