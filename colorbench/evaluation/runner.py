"""The run engine: every (dataset, model) pair through the protocol, one pass over each dataset
for all its pairs (``dataset_pass``), rows written per batch."""

from __future__ import annotations

import os
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

import torch

from colorbench import results
from colorbench.device import resolve_device, resolve_precision
from colorbench.distributed import DistInfo
from colorbench.errors import ColorbenchError
from colorbench.evaluation.accumulator import reference_for
from colorbench.evaluation.batch_scorer import BatchScorer
from colorbench.evaluation.config import (
    SAVE_THUMB,
    Protocol,
    RunConfig,
    RunResult,
    protocol_for,
    save_mode,
    validate,
)
from colorbench.evaluation.dataset_pass import PairPass, PlannedPair, pass_label, run_pass
from colorbench.evaluation.device_decode import check_decode_device, device_loader
from colorbench.evaluation.failures import ERRORS_LOG, Failure
from colorbench.evaluation.fingerprint import run_protocol
from colorbench.evaluation.loader import make_loader
from colorbench.evaluation.metricset import MetricSet
from colorbench.evaluation.resume import plan_pair
from colorbench.evaluation.run_record import capabilities, new_manifest, seed_everything
from colorbench.evaluation.selection import (
    resolve_datasets,
    resolve_metrics,
    resolve_models,
    skipped_models_note,
    unavailable_note,
)
from colorbench.evaluation.sharding import Shard
from colorbench.evaluation.source import image_sources, resolved_root
from colorbench.models.factory import ResolvedCheckpoint, create_colorizer, resolve_checkpoint
from colorbench.plugin.manager import Registries, check_strict
from colorbench.plugin.options import parse_checkpoints, resolve_options, with_defaults
from colorbench.plugin.specs import ColorizerSpec, Dataset
from colorbench.reporting.console import Reporter
from colorbench.results.lock import run_dir_lock
from colorbench.results.manifest import PairRecord, RunManifest
from colorbench.results.manifest import read as read_manifest
from colorbench.results.names import check_dataset
from colorbench.results.provenance import now
from colorbench.results.summary import summarize, write_summary

__all__ = ["RunConfig", "RunResult", "Runner", "capabilities"]


class Runner:
    """Orchestrates a run: per dataset, every model's pair planned (resume: fingerprints,
    changed images), then one pass over the images that some pair needs through the batch
    scorer, and the manifest; ``run()`` returns the RunResult."""

    def __init__(self, config: RunConfig, regs: Registries, reporter: Reporter | None = None,
                 sharded: bool = True):
        """``sharded``: under torchrun, split the work over the job's ranks (every rank builds
        a Runner); False runs in this process alone, also inside a torchrun job (e.g. rank 0
        labelling a trainer's data)."""
        validate(config)
        if config.strict:  # a plugin skipped for an error or an entry refused: exit 2
            check_strict(regs)
        self.cfg, self.regs = config, regs
        # named once: a timestamped name must not move between calls
        self._dir = Path(config.out) / (config.name or datetime.now().strftime("%Y%m%d-%H%M%S"))
        # under torchrun: join the ranks (each takes its LOCAL_RANK's GPU); only rank 0 talks
        device = resolve_device(config.device)
        self.shard = Shard.join(self._dir, device) if sharded else Shard(self._dir, DistInfo(device=device))
        self.device = self.shard.device
        self.report = (reporter or Reporter()) if self.shard.is_main else Reporter(muted=True)
        self.precision = resolve_precision(config.precision, self.device)
        check_decode_device(config.decode_device, self.device)
        self.errors: list[str] = []
        self.metrics, unavailable = resolve_metrics(regs, config.metrics, strict=config.strict)
        for line in unavailable_note(unavailable, requested=bool(config.metrics)):
            self.report.warn(line)
        self.unavailable = unavailable
        self.models = resolve_models(regs, config.models, config.checkpoints)
        for line in skipped_models_note(regs, config.models, config.checkpoints):
            self.report.warn(line)
        self.datasets = resolve_datasets(regs, config.datasets)
        specs = [*self.models, *{id(d.spec): d.spec for d in self.datasets}.values()]
        self.options = resolve_options(config.options, specs)
        self.checkpoints = parse_checkpoints(config.checkpoints, [m.name for m in self.models])
        self.metric_options = resolve_options(config.metric_options, self.metrics, "--metric-set", "metric")
        self.metric_set = MetricSet(self.metrics, self.device, self.metric_options)
        self.scorer = BatchScorer(self.metric_set, self.device, self.shard.error_log(),
                                  self._run_dir() / "outputs" if save_mode(config.save_images) else None,
                                  self.precision, config.batch_timeout,
                                  SAVE_THUMB if save_mode(config.save_images) == "thumbs" else None)
        self.manifest = RunManifest()
        self.per_image_ids = self.metric_set.per_image_ids
        self.dist_ids = self.metric_set.distribution_ids
        self._colorizers: dict[str, Any] = {}
        self.resolved: dict[str, ResolvedCheckpoint] = {}  # model -> its checkpoint, once resolved
        self._selected: set[tuple[str, str, str]] = set()  # keys this invocation covers
        self._pairs_run: list[str] = []

    def _run_dir(self) -> Path:
        return self._dir

    def _colorizer(self, spec: ColorizerSpec, checkpoint: ResolvedCheckpoint) -> Any:
        if spec.name not in self._colorizers:
            self._colorizers[spec.name] = create_colorizer(
                self.regs, spec.name, checkpoint, self.device, self.options.get(spec.name, {}))
        return self._colorizers[spec.name]

    def run(self) -> RunResult:
        """Run every (dataset, model) pair. On the CPU with decoding workers, the main
        process uses the cores the workers leave free (oversubscribed cores cost more than
        they give); the previous torch thread count is restored afterwards."""
        threads = torch.get_num_threads()
        if self.device.type == "cpu" and self.cfg.workers > 0:
            torch.set_num_threads(max(1, (os.cpu_count() or 1) - self.cfg.workers))
        try:
            with ExitStack() as held:
                self.shard.guard(run_dir_lock(self._run_dir(), "run"), held)
                return self._run()
        finally:
            torch.set_num_threads(threads)

    def _open_rows(self, per_image_path: Path, columns: list[str]) -> results.PerImageWriter:
        """Rank 0: per_image.csv (emptied without resume), with the shard rows of a killed
        earlier run folded in, whatever its number of processes."""
        if not self.cfg.resume:
            for stale in ("per_image.csv", "summary.csv", ERRORS_LOG):
                (self._run_dir() / stale).unlink(missing_ok=True)
            self.shard.clear()
        writer = results.PerImageWriter(per_image_path, columns)
        self.shard.fold(writer)
        return writer

    def _save(self) -> None:
        if self.shard.is_main:
            self.manifest.write(self._run_dir())

    def _run(self) -> RunResult:
        cfg = self.cfg
        run_dir = self._run_dir()
        run_dir.mkdir(parents=True, exist_ok=True)
        per_image_path = run_dir / "per_image.csv"
        previous = read_manifest(run_dir) if cfg.resume else None
        extra_cols = [c for m in self.models for c in m.extra_columns]
        opened: list[results.PerImageWriter] = []  # rank 0's writer; the ranks share its columns

        def open_rows() -> list[str]:
            opened.append(self._open_rows(per_image_path, [*self.per_image_ids, *extra_cols]))
            return opened[0].columns

        columns = self.shard.on_main(open_rows)
        writer = opened[0] if opened else None
        metric_meta = self.metric_set.metadata()
        manifest = new_manifest(self, run_dir.name, previous)
        self.manifest = manifest
        self._save()
        order: dict[tuple[str, str, str], tuple[int, int]] = {}  # key -> (pair, image) position
        pair_no = 0
        for entry, ds in zip(cfg.datasets, self.datasets, strict=True):
            proto = protocol_for(cfg, entry)
            dataset = self._build_dataset(ds, proto)
            if dataset is None:
                continue
            ids = [str(i) for i in dataset.ids]
            try:  # ids and names become paths under outputs/: none may leave the run directory
                check_dataset(ds.name, ids)
            except ColorbenchError as exc:
                self._fail(str(exc))
                continue
            n = len(ids) if proto.limit is None else min(proto.limit, len(ids))
            fingerprint = {**ds.fingerprint, "options": self.options.get(ds.spec.name, {}),
                           "root": resolved_root(ds.root(cfg.data_root))}
            planned = []
            for spec in self.models:
                order.update({(ds.name, spec.name, i): (pair_no, k) for k, i in enumerate(ids[:n])})
                pair_no += 1
                planned.append(self._plan_pair(ds.name, fingerprint, proto, dataset, ids[:n], spec, writer))
            self._save()
            self._run_dataset(ds.name, proto, dataset, [p for p in planned if p is not None], writer, columns)
            self._save()
        self.shard.barrier()  # every rank's rows and error log are on disk
        if not self.shard.is_main:
            return RunResult(run_dir, [], self.errors, [])
        assert writer is not None
        self.shard.fold(writer)
        writer.order(order.get)
        writer.close()
        manifest.finished = now()
        _, rows = results.read_rows(per_image_path)
        rows = [r for r in rows if (r["dataset"], r["model"], r["image_id"]) in self._selected]
        summary = summarize(rows, metric_meta, {k: manifest.pairs[k] for k in self._pairs_run if k in manifest.pairs})
        for s in summary:  # a model that failed on every image is a failed pair, not a 0
            if s["n"] == 0 and s["n_failed"]:
                self._fail(f"{s['dataset']}/{s['model']}: failed on every image ({s['n_failed']}); "
                           f"reasons in per_image.csv, tracebacks in {run_dir / ERRORS_LOG}")
        write_summary(run_dir / "summary.csv", summary, metric_meta)
        manifest.write(run_dir)
        from colorbench.reporting.leaderboard import write_run_leaderboards
        boards = write_run_leaderboards(run_dir, cfg.reported)
        return RunResult(run_dir, summary, self.errors, boards,
                         failed_images=sum(r.get("status") == "failed" for r in rows),
                         failed_cells=sum(len([m for m in r.get("failed_metrics", "").split(",") if m]) for r in rows))

    def _fail(self, message: str) -> None:
        self.errors.append(message)
        self.report.error(message)

    def _build_dataset(self, ds: Any, proto: Protocol) -> Dataset | None:
        opts = with_defaults(ds.spec, self.options.get(ds.spec.name, {}))
        try:
            return ds.build(split=proto.split, data_root=self.cfg.data_root, options=opts)
        except ColorbenchError as exc:
            self._fail(str(exc))
        except (Exception, SystemExit) as exc:  # a plugin's sys.exit() is its failure
            self._fail(f"dataset {ds.name!r} failed to load: {type(exc).__name__}: {exc}")
        return None

    def _plan_pair(self, ds_name: str, ds_fingerprint: dict[str, Any], proto: Protocol, dataset: Dataset,
                   ids: list[str], spec: ColorizerSpec, writer: results.PerImageWriter | None) -> PlannedPair | None:
        """Resolve the pair's checkpoint, plan what is left (resume), build its colorizer;
        None when there is nothing to do or the pair failed."""
        cfg, shard = self.cfg, self.shard
        key = f"{ds_name}/{spec.name}"
        try:
            checkpoint = resolve_checkpoint(spec, self.checkpoints.get(spec.name),
                                            with_defaults(spec, self.options.get(spec.name, {})))
            self.resolved[spec.name] = checkpoint
        except ColorbenchError as exc:
            self._fail(f"{key}: {exc}")
            return None
        if checkpoint.sha256:
            self.manifest.checkpoints[spec.name] = checkpoint.record()
        fingerprint = {
            "dataset": ds_fingerprint, "split": proto.split, "size": proto.size, "resize": proto.resize,
            "seed": cfg.seed, "model": spec.name, "options": self.options.get(spec.name, {}),
            "checkpoint": checkpoint.sha256, "metrics": self.per_image_ids + self.dist_ids,
            "metric_options": self.metric_options, "device": self.device.type, "precision": self.precision,
            **({"decode_device": "cuda"} if cfg.decode_device == "cuda" else {}),  # other pixels than Pillow's
            "skip_gray_gt": proto.skip_gray_gt, "metric_versions": {m: v.get("version", "1") for m, v in self.manifest.metrics.items()},
        }
        self._selected.update((ds_name, spec.name, i) for i in ids)
        self._pairs_run.append(key)
        sources = image_sources(dataset, ids)
        plan = shard.on_main(lambda: plan_pair(self.manifest, writer, (ds_name, spec.name), fingerprint, ids,
                                               sources, self.dist_ids, self.report, self._run_dir()))
        if shard.is_main:  # what the leaderboard compares
            self.manifest.pairs[key].protocol = run_protocol(ds_name, ids, self.manifest.metrics, ds_fingerprint, proto)
        if plan is None:
            return None
        failure = None
        try:
            colorizer = self._colorizer(spec, checkpoint)
        except (Exception, SystemExit) as exc:  # a plugin's sys.exit() is its failure
            failure = Failure.of("(model)", exc)
        error = shard.all_ok(failure and f"colorizer {spec.name!r} could not be built: {failure.message}")
        if error is not None:  # a model that fails on one rank fails the pair on every rank
            self._fail(f"{key}: {error}")
            self.scorer.errors.add(key, [failure or Failure("(model)", error)], count=False)
            return None
        indices, done = plan
        reference = reference_for({"dataset": ds_fingerprint, "split": proto.split, "size": proto.size,
                                   "resize": proto.resize}, [ids[k] for k in indices], sources)
        return PlannedPair(spec, colorizer, shard.part(indices), done, sources, reference,
                           self.manifest.pairs[key] if shard.is_main else PairRecord())

    def _run_dataset(self, ds_name: str, proto: Protocol, dataset: Dataset, planned: list[PlannedPair],
                     writer: results.PerImageWriter | None, columns: list[str]) -> None:
        """One pass over ``dataset`` for every planned pair: each image that this rank's part of
        some pair needs is decoded, resized and converted once and offered to all of them."""
        if not planned:
            return
        cfg, shard, needed = self.cfg, self.shard, sorted({k for p in planned for k in p.mine})
        seed_everything(cfg.seed)
        build = device_loader(self.device) if cfg.decode_device == "cuda" else make_loader  # --decode-device
        loader = build(dataset, needed, size=proto.size, mode=proto.resize, batch_size=cfg.batch_size,
                       workers=cfg.workers, pin_memory=self.device.type == "cuda")
        self.scorer.skip_gray_gt = proto.skip_gray_gt  # chroma-free ground truths: counted, maybe left out
        with ExitStack() as files:
            passes = [PairPass(self.scorer, {"dataset": ds_name, "model": p.spec.name}, p.record,
                               files.enter_context(shard.writer(writer, columns, ds_name, p.spec.name)),
                               spec=p.spec, colorizer=p.colorizer, skip=set(p.done), sources=p.sources,
                               reference=p.reference, wanted=p.mine, batch_size=cfg.batch_size) for p in planned]
            wait = run_pass(passes, loader, self.report, pass_label(passes) + shard.label, len(needed), needed)
            failed = [(pair, pair.finish(self.report, wait, shard)) for pair in passes]
        shard.barrier()  # the ranks' shard files are closed: rank 0 folds them in
        for pair, failures in failed:
            if writer is not None:
                shard.fold(writer, (ds_name, pair.base["model"]))
            for f in failures:
                self._fail(f"{pair.key}: metric {f.metric} failed: {f.message}")
