"""One batch through the protocol: colorize L*, rebuild RGB from the ground-truth L* and the
predicted a*b*, score every per-image metric, feed the distribution accumulators, save PNGs,
and return one row per image (an image that breaks its batch is isolated and recorded)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from colorbench.device import autocast
from colorbench.errors import ColorbenchError
from colorbench.evaluation.batch import MetricBatch
from colorbench.evaluation.images import save_png
from colorbench.evaluation.loader import Item, group_by_shape
from colorbench.evaluation.metricset import MetricSet, one_line
from colorbench.evaluation.protocol import rebuild
from colorbench.plugin.specs import ColorizerSpec
from colorbench.results.files import GT_DIR


class BatchScorer:
    """Scores batches of loader items for one run: ``metric_set`` on ``device``; with
    ``save_dir``, outputs go to ``save_dir/<dataset>/<model>/<id>.png`` and ground truths to
    ``save_dir/<dataset>/_ground_truth/``."""

    def __init__(self, metric_set: MetricSet, device: torch.device, save_dir: Path | None = None):
        self.metric_set, self.device, self.save_dir = metric_set, device, save_dir

    def predict(self, spec: ColorizerSpec, colorizer: Any, L: torch.Tensor,
                 ids: list[str]) -> tuple[torch.Tensor, dict[str, Any]]:
        info: dict[str, Any] = {}
        with torch.inference_mode(), autocast(self.device):
            if spec.provides_info:
                ab, info = colorizer.colorize_with_info(L, ids)
            else:
                ab = colorizer.colorize(L)
        if not isinstance(ab, torch.Tensor) or tuple(ab.shape) != (L.shape[0], 2, *L.shape[2:]):
            got = tuple(ab.shape) if isinstance(ab, torch.Tensor) else type(ab).__name__
            raise ColorbenchError(f"colorizer {spec.name!r} returned {got}; expected a*b* of shape {(L.shape[0], 2, *L.shape[2:])}")
        ab = ab.float()
        if not torch.isfinite(ab.sum()):  # one reduction instead of a bool mask per pixel
            raise ColorbenchError(f"colorizer {spec.name!r} returned NaN or infinite a*b* values")
        return ab, info

    def process(self, ds_name: str, spec: ColorizerSpec, colorizer: Any, items: list[Item],
                 accumulators: dict[str, Any]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        base = {"dataset": ds_name, "model": spec.name}
        for it in items:
            if it.error is not None:
                rows.append({**base, "image_id": it.id, "status": "failed", "error": it.error})
        good = [it for it in items if it.error is None]
        for group in group_by_shape(good):
            try:
                rows += self._score_group(base, spec, colorizer, group, accumulators)
            except Exception as exc:
                if len(group) == 1:
                    rows.append({**base, "image_id": group[0].id, "status": "failed", "error": one_line(exc)})
                    continue
                for it in group:  # isolate the image that broke the batch
                    try:
                        rows += self._score_group(base, spec, colorizer, [it], accumulators)
                    except Exception as exc1:
                        rows.append({**base, "image_id": it.id, "status": "failed", "error": one_line(exc1)})
        order = {it.id: k for k, it in enumerate(items)}
        return sorted(rows, key=lambda r: order[r["image_id"]])

    def _score_group(self, base: dict[str, str], spec: ColorizerSpec, colorizer: Any,
                     group: list[Item], accumulators: dict[str, Any]) -> list[dict[str, Any]]:
        dev = self.device
        L = torch.stack([it.L for it in group]).to(dev, non_blocking=True)  # type: ignore[misc]
        gt = torch.stack([it.rgb for it in group]).to(dev, non_blocking=True)  # type: ignore[misc]
        t0 = time.perf_counter()
        ab, info = self.predict(spec, colorizer, L, [it.id for it in group])
        pred = rebuild(L, ab)
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        seconds = (time.perf_counter() - t0) / len(group)
        batch = MetricBatch(pred=pred, gt=gt, ids=[it.id for it in group])
        values, errors = self.metric_set.score(batch)
        for acc in accumulators.values():
            acc.update(batch)
        if self.save_dir is not None:
            out_dir = self.save_dir / base["dataset"]
            pred_np = pred.permute(0, 2, 3, 1).cpu().numpy()
            gt_np = gt.permute(0, 2, 3, 1).cpu().numpy()
            for k, it in enumerate(group):
                save_png(pred_np[k], out_dir / spec.name / f"{it.id}.png")
                gt_path = out_dir / GT_DIR / f"{it.id}.png"
                if not gt_path.exists():
                    save_png(gt_np[k], gt_path)
        rows = []
        for k, it in enumerate(group):
            row = {**base, "image_id": it.id, "status": "failed" if errors else "ok",
                   "error": "; ".join(errors) or None, "seconds": seconds}
            row.update({mid: values[mid][k] for mid in self.metric_set.per_image_ids})
            for col in spec.extra_columns:
                vals = info.get(col)
                row[col] = vals[k] if vals is not None else None
            rows.append(row)
        return rows
