"""The one batch scorer of ``run`` and ``score``: per batch of loader items, colorize L* and
rebuild RGB from the ground-truth L* and the predicted a*b* (``run``; ``score`` reads the
prediction from disk), score every per-image metric, save PNGs, feed the distribution
accumulators and return one row per image; ``score_pair`` runs one pair through
``dataset_pass`` (rows flushed per batch, failures logged, the distribution values computed).

An image that breaks its batch is isolated and recorded; a metric that fails marks only its
own cells (``status`` ``partial``, ``failed_metrics`` and ``error`` name them)."""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from colorbench.device import autocast
from colorbench.errors import ColorbenchError, ResultWriteError
from colorbench.evaluation.accumulator import Reference
from colorbench.evaluation.batch import GroundTruths, MetricBatch
from colorbench.evaluation.dataset_pass import PairPass, run_pass
from colorbench.evaluation.failures import ErrorLog, Failure
from colorbench.evaluation.images import save_png
from colorbench.evaluation.loader import Item, group_by_shape
from colorbench.evaluation.metricset import MetricSet, PairState
from colorbench.evaluation.protocol import rebuild
from colorbench.evaluation.watchdog import BatchTimeout, call_with_timeout
from colorbench.evaluation.worker_metrics import score_items
from colorbench.plugin.specs import ColorizerSpec
from colorbench.reporting.console import Reporter
from colorbench.results.files import GT_DIR, PerImageWriter
from colorbench.results.manifest import PairRecord

if TYPE_CHECKING:
    from colorbench.evaluation.sharding import Shard

Rows = list[dict[str, Any]]


def _failed_row(base: Mapping[str, str], f: Failure) -> dict[str, Any]:
    return {**base, "image_id": f.image_id, "status": "failed", "error": f.message}


class BatchScorer:
    """Scores batches for one run or score: ``metric_set`` on ``device`` under ``precision``
    (autocast of the colorizer; fp32 by default); failures go to ``errors``; with
    ``save_dir``, outputs go to ``save_dir/<dataset>/<model>/<id>.png`` and ground truths to
    ``save_dir/<dataset>/_ground_truth/`` (with ``save_longest``, as thumbnails of that longer side)."""

    def __init__(self, metric_set: MetricSet, device: torch.device, errors: ErrorLog,
                 save_dir: Path | None = None, precision: str = "fp32", batch_timeout: float | None = None,
                 save_longest: int | None = None):
        """``batch_timeout``: seconds a colorizer call may take (``--batch-timeout``)."""
        self.metric_set, self.device, self.errors = metric_set, device, errors
        self.save_dir, self.precision, self.batch_timeout = save_dir, precision, batch_timeout
        self.save_longest = save_longest
        self.skip_gray_gt = False  # leave out chroma-free ground truths (set per pair)

    def _call(self, spec: ColorizerSpec, colorizer: Any, L: torch.Tensor, ids: list[str]) -> Any:
        def call() -> Any:
            with torch.inference_mode(), autocast(self.device, self.precision):  # thread-local modes
                return colorizer.colorize_with_info(L, ids) if spec.provides_info else (colorizer.colorize(L), {})

        if self.batch_timeout is None:
            return call()
        return call_with_timeout(call, self.batch_timeout, f"colorizer {spec.name!r}")

    def predict(self, spec: ColorizerSpec, colorizer: Any, L: torch.Tensor,
                ids: list[str]) -> tuple[torch.Tensor, dict[str, Any]]:
        ab, info = self._call(spec, colorizer, L, ids)
        if not isinstance(ab, torch.Tensor) or tuple(ab.shape) != (L.shape[0], 2, *L.shape[2:]):
            got = tuple(ab.shape) if isinstance(ab, torch.Tensor) else type(ab).__name__
            raise ColorbenchError(f"colorizer {spec.name!r} returned {got}; expected a*b* of shape {(L.shape[0], 2, *L.shape[2:])}")
        ab = ab.float()
        if not torch.isfinite(ab.sum()):  # one reduction instead of a bool mask per pixel
            raise ColorbenchError(f"colorizer {spec.name!r} returned NaN or infinite a*b* values")
        return ab, info

    # ---------------------------------------------------------------- one pair
    def score_pair(self, base: Mapping[str, str], record: PairRecord, batches: Iterable[list[Item]],
                   writer: PerImageWriter, reporter: Reporter, total: int, *,
                   spec: ColorizerSpec | None = None, colorizer: Any = None,
                   skip: Collection[str] = (), sources: Mapping[str, str] | None = None,
                   shard: Shard | None = None, reference: Reference | None = None) -> list[Failure]:
        """Every batch of one (dataset, model) pair (a ``PairPass`` alone in its pass): rows of
        images not in ``skip`` written (with their ``sources``), failures logged and shown,
        ``record`` given images/s and the distribution values (``reference``: the pair's
        ground-truth side, the same on every rank, for the accumulators). Returns the
        distribution metrics that failed. Under torchrun (``shard``) the batches are this
        rank's block: rank 0 merges the other ranks' accumulators and counts before
        computing; the other ranks return [] then."""
        pair = PairPass(self, base, record, writer, spec=spec, colorizer=colorizer, skip=skip,
                        sources=sources, reference=reference)
        wait = run_pass([pair], batches, reporter, pair.key + (shard.label if shard else ""), total)
        return pair.finish(reporter, wait, shard)

    # -------------------------------------------------------------- one batch
    def process(self, base: Mapping[str, str], items: list[Item], spec: ColorizerSpec | None = None,
                colorizer: Any = None, state: PairState | None = None,
                shared: GroundTruths | None = None) -> tuple[Rows, list[Failure]]:
        """Rows (in item order) and failures of one batch; ``spec``/``colorizer`` None: the
        items carry their predictions (``score``). ``state``: the pair's accumulators
        (default the metric set's ``current``); ``shared``: ground truths shared with the
        other models of a pass."""
        rows: Rows = []
        failures = [Failure(it.id, it.error, trace=it.trace) for it in items if it.error is not None]
        rows += [_failed_row(base, f) for f in failures]
        good = [it for it in items if it.error is None]
        for group in group_by_shape(good):
            try:
                done = self._score_group(base, group, spec, colorizer, state, shared)
            except ResultWriteError:  # the run directory, not the image: stop the run
                raise
            except BatchTimeout as exc:  # retrying image by image would wait once per image
                fails = [Failure.of(it.id, exc) for it in group]
                rows += [_failed_row(base, f) for f in fails]
                failures += fails
                continue
            except (Exception, SystemExit) as exc:  # a plugin's sys.exit() fails its image only
                if len(group) == 1:
                    failure = Failure.of(group[0].id, exc)
                    rows.append(_failed_row(base, failure))
                    failures.append(failure)
                    continue
                done = None  # isolate the image that broke the batch (outside this handler,
                # so that each image's traceback is its own, not chained to this one)
            if done is None:
                done = ([], [])
                for it in group:
                    more = self.process(base, [it], spec, colorizer, state, shared)
                    done[0].extend(more[0])
                    done[1].extend(more[1])
            rows += done[0]
            failures += done[1]
        order = {it.id: k for k, it in enumerate(items)}
        return sorted(rows, key=lambda r: order[r["image_id"]]), failures

    def _score_group(self, base: Mapping[str, str], group: list[Item], spec: ColorizerSpec | None,
                     colorizer: Any, state: PairState | None,
                     shared: GroundTruths | None) -> tuple[Rows, list[Failure]]:
        dev, ids = self.device, [it.id for it in group]

        def stack_gt() -> torch.Tensor:
            return torch.stack([it.rgb for it in group]).to(dev, non_blocking=True)  # type: ignore[misc]

        gt, gt_side = shared.get(ids, stack_gt) if shared is not None else (stack_gt(), None)
        seconds, info = None, {}
        if spec is None:
            pred = torch.stack([it.pred for it in group]).to(dev, non_blocking=True)  # type: ignore[misc]
        else:
            L = torch.stack([it.L for it in group]).to(dev, non_blocking=True)  # type: ignore[misc]
            t0 = time.perf_counter()
            ab, info = self.predict(spec, colorizer, L, ids)
            pred = rebuild(L, ab)
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            seconds = (time.perf_counter() - t0) / len(group)
        batch = MetricBatch(pred=pred, gt=gt, ids=ids, gt_side=gt_side)
        values, failed = score_items(self.metric_set, batch, group)  # with what the workers computed
        if self.save_dir is not None and spec is not None:
            self._save(base["dataset"], spec.name, ids, pred, gt)
        rows, failures = [], []
        for k, image_id in enumerate(ids):
            cells = failed[k]
            row = {**base, "image_id": image_id, "status": "partial" if cells else "ok",
                   "error": "; ".join(f"metric {m}: {f.message}" for m, f in cells.items()) or None,
                   "failed_metrics": ",".join(cells) or None, "seconds": seconds,
                   **{mid: values[mid][k] for mid in self.metric_set.per_image_ids}}
            for col in spec.extra_columns if spec is not None else ():
                vals = info.get(col)
                row[col] = vals[k] if vals is not None else None
            rows.append(row)
            failures += cells.values()
        self.metric_set.feed(batch, state)  # last: nothing after it can fail the group (no double feed)
        return rows, failures

    def _save(self, dataset: str, model: str, ids: list[str], pred: torch.Tensor, gt: torch.Tensor) -> None:
        assert self.save_dir is not None
        out_dir = self.save_dir / dataset
        pred_np = pred.permute(0, 2, 3, 1).cpu().numpy()
        gt_np = gt.permute(0, 2, 3, 1).cpu().numpy()
        for k, image_id in enumerate(ids):
            path = out_dir / model / f"{image_id}.png"
            try:
                save_png(pred_np[k], path, self.save_longest)
                path = out_dir / GT_DIR / f"{image_id}.png"
                if not path.exists():
                    save_png(gt_np[k], path, self.save_longest)
            except OSError as exc:
                raise ResultWriteError.of(path, exc) from None
