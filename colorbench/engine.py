"""The run engine: every (dataset, model) pair through the protocol, rows written per batch."""

from __future__ import annotations

import hashlib
import json
import os
import random
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from colorbench import results
from colorbench.batch import MetricBatch
from colorbench.checkpoints import resolve_checkpoint, sha256
from colorbench.device import autocast, device_name, resolve_device
from colorbench.errors import ColorbenchError, WeightsUnavailableError
from colorbench.images import save_png
from colorbench.loader import Item, group_by_shape, make_loader
from colorbench.metricset import MetricSet, one_line
from colorbench.options import parse_checkpoints, resolve_options, with_defaults
from colorbench.plugins import Registries
from colorbench.protocol import RESIZE_MODES, rebuild
from colorbench.provenance import environment, now
from colorbench.reporting import Reporter
from colorbench.selection import resolve_datasets, resolve_metrics, resolve_models, unavailable_note
from colorbench.specs import ColorizerSpec, Dataset
from colorbench.summary import summarize, write_summary

GT_DIR = "_ground_truth"


@dataclass
class RunConfig:
    models: list[str] | None = None  # None: every colorizer whose weights are available
    datasets: list[str] = field(default_factory=lambda: ["samples"])
    metrics: list[str] | None = None  # None: every available metric
    split: str | None = None  # None: each dataset's default split
    limit: int | None = None
    size: int = 256
    resize: str = "crop"
    device: str = "auto"
    batch_size: int = 16
    workers: int = field(default_factory=lambda: min(2, os.cpu_count() or 1))
    checkpoints: list[str] = field(default_factory=list)  # MODEL=PATH
    options: list[str] = field(default_factory=list)  # --set KEY=VALUE
    metric_options: list[str] = field(default_factory=list)  # --metric-set KEY=VALUE
    data_root: str | None = None
    out: str = "runs"
    name: str | None = None
    resume: bool = True
    save_images: bool = False
    seed: int = 0
    strict: bool = False
    # per-dataset protocol overrides, keyed by the entry in ``datasets``: any of split,
    # limit, size, resize (benchmark suites give each dataset its own protocol)
    dataset_settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    benchmark: dict[str, Any] | None = None  # the suite this run comes from (provenance)


PROTOCOL_KEYS = ("split", "limit", "size", "resize")


@dataclass(frozen=True)
class Protocol:
    """The protocol one dataset runs under: the run's settings plus its overrides."""

    split: str | None
    limit: int | None
    size: int
    resize: str


@dataclass
class RunResult:
    run_dir: Path
    summary: list[dict[str, Any]]
    errors: list[str]
    leaderboards: list[Path]


def _protocol(cfg: RunConfig, entry: str) -> Protocol:
    o = cfg.dataset_settings.get(entry, {})
    limit = o.get("limit", cfg.limit)
    return Protocol(split=o.get("split", cfg.split), limit=None if limit is None else int(limit),
                    size=int(o.get("size", cfg.size)), resize=str(o.get("resize", cfg.resize)))


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


class Runner:
    def __init__(self, config: RunConfig, regs: Registries, reporter: Reporter | None = None):
        if config.resize not in RESIZE_MODES:
            raise ColorbenchError(f"--resize {config.resize!r}: choose one of {', '.join(RESIZE_MODES)}")
        if config.size < 8 and config.resize != "none":
            raise ColorbenchError(f"--size {config.size}: must be at least 8 pixels")
        if config.batch_size < 1:
            raise ColorbenchError("--batch-size must be at least 1")
        for entry, settings in config.dataset_settings.items():
            unknown = sorted(set(settings) - set(PROTOCOL_KEYS))
            if unknown:
                raise ColorbenchError(f"dataset {entry!r}: unknown protocol setting(s) {', '.join(unknown)}; "
                                      f"use {', '.join(PROTOCOL_KEYS)}")
            proto = _protocol(config, entry)
            if proto.resize not in RESIZE_MODES:
                raise ColorbenchError(f"dataset {entry!r}: resize {proto.resize!r}: choose one of {', '.join(RESIZE_MODES)}")
            if proto.size < 8 and proto.resize != "none":
                raise ColorbenchError(f"dataset {entry!r}: size {proto.size}: must be at least 8 pixels")
        self.cfg, self.regs = config, regs
        self.report = reporter or Reporter()
        self.device = resolve_device(config.device)
        self.errors: list[str] = []
        self.metrics, unavailable = resolve_metrics(regs, config.metrics, strict=config.strict)
        for line in unavailable_note(unavailable, requested=bool(config.metrics)):
            self.report.warn(line)
        self.unavailable = unavailable
        self.models = resolve_models(regs, config.models, config.checkpoints)
        self.datasets = resolve_datasets(regs, config.datasets)
        specs = [*self.models, *{id(d.spec): d.spec for d in self.datasets}.values()]
        self.options = resolve_options(config.options, specs)
        self.checkpoints = parse_checkpoints(config.checkpoints, [m.name for m in self.models])
        self.metric_options = resolve_options(config.metric_options, self.metrics, "--metric-set", "metric")
        self.metric_set = MetricSet(self.metrics, self.device, self.metric_options)
        self.per_image_ids = self.metric_set.per_image_ids
        self.dist_ids = self.metric_set.distribution_ids
        self._colorizers: dict[str, Any] = {}
        self._selected: set[tuple[str, str, str]] = set()  # keys this invocation covers
        self._pairs_run: list[str] = []

    # ----------------------------------------------------------------- set-up
    def _run_dir(self) -> Path:
        name = self.cfg.name or datetime.now().strftime("%Y%m%d-%H%M%S")
        return Path(self.cfg.out) / name

    def _checkpoint_for(self, spec: ColorizerSpec) -> tuple[Path | None, str | None]:
        if spec.name in self.checkpoints:
            path = resolve_checkpoint(self.checkpoints[spec.name])
            return path, sha256(path)
        if spec.needs_weights:
            if spec.weights is None or spec.weights.locate() is None:
                where = f"; expected {spec.weights.file}" if spec.weights else ""
                raise WeightsUnavailableError(
                    f"colorizer {spec.name!r} needs weights and none are shipped or cached{where}; "
                    f"train them with 'colorbench train {spec.name}' or pass --checkpoint {spec.name}=PATH"
                )
            path = spec.weights.locate()
            assert path is not None
            return path, sha256(path)
        return None, None

    def _colorizer(self, spec: ColorizerSpec, checkpoint: Path | None) -> Any:
        if spec.name not in self._colorizers:
            opts = with_defaults(spec, self.options.get(spec.name, {}))
            model = spec.factory(device=self.device, checkpoint=checkpoint, **opts)
            if not callable(getattr(model, "colorize", None)):
                raise ColorbenchError(f"colorizer {spec.name!r}: factory returned {type(model).__name__}, which has no colorize(L) method")
            self._colorizers[spec.name] = model
        return self._colorizers[spec.name]

    # -------------------------------------------------------------------- run
    def run(self) -> RunResult:
        """Run every (dataset, model) pair. On the CPU with decoding workers, the main
        process uses the cores the workers leave free (oversubscribed cores cost more than
        they give); the previous torch thread count is restored afterwards."""
        threads = torch.get_num_threads()
        if self.device.type == "cpu" and self.cfg.workers > 0:
            torch.set_num_threads(max(1, (os.cpu_count() or 1) - self.cfg.workers))
        try:
            return self._run()
        finally:
            torch.set_num_threads(threads)

    def _run(self) -> RunResult:
        cfg = self.cfg
        run_dir = self._run_dir()
        run_dir.mkdir(parents=True, exist_ok=True)
        per_image_path = run_dir / "per_image.csv"
        previous = results.read_json(run_dir / "run.json") if cfg.resume else {}
        if not cfg.resume:
            for stale in ("per_image.csv", "summary.csv"):
                (run_dir / stale).unlink(missing_ok=True)
        extra_cols = [c for m in self.models for c in m.extra_columns]
        writer = results.PerImageWriter(per_image_path, [*self.per_image_ids, *extra_cols])
        metric_meta = self.metric_set.metadata()
        pairs: dict[str, Any] = dict(previous.get("pairs", {}))
        manifest: dict[str, Any] = {
            "name": run_dir.name,
            "config": {k: v for k, v in asdict(cfg).items()},
            "resolved": {
                "models": [m.name for m in self.models],
                "datasets": [d.name for d in self.datasets],
                "metrics": [m.name for m in self.metrics],
                "options": self.options,
                "metric_options": self.metric_options,
            },
            "metrics": metric_meta,
            "unavailable_metrics": self.unavailable,
            "environment": environment(),
            "device": str(self.device),
            "device_name": device_name(self.device),
            "plugins": {p.name: {"version": p.version, "error": p.error} for p in self.regs.plugins},
            "checkpoints": {},
            "pairs": pairs,
            "errors": self.errors,
            "started": now(),
            "finished": None,
        }
        results.write_json(run_dir / "run.json", manifest)
        for entry, ds in zip(cfg.datasets, self.datasets, strict=True):
            proto = _protocol(cfg, entry)
            dataset = self._build_dataset(ds, proto)
            if dataset is None:
                continue
            ids = [str(i) for i in dataset.ids]
            if len(set(ids)) != len(ids):
                self._fail(f"dataset {ds.name!r}: image ids are not unique; rows could not be keyed")
                continue
            n = len(ids) if proto.limit is None else min(proto.limit, len(ids))
            for spec in self.models:
                fingerprint = {**ds.fingerprint, "options": self.options.get(ds.spec.name, {})}
                self._run_pair(ds.name, fingerprint, proto, dataset, n, spec, writer, pairs, manifest, run_dir)
                results.write_json(run_dir / "run.json", manifest)
        writer.close()
        manifest["finished"] = now()
        _, rows = results.read_rows(per_image_path)
        rows = [r for r in rows if (r["dataset"], r["model"], r["image_id"]) in self._selected]
        summary = summarize(rows, metric_meta, {k: pairs[k] for k in self._pairs_run if k in pairs})
        write_summary(run_dir / "summary.csv", summary, metric_meta)
        results.write_json(run_dir / "run.json", manifest)
        from colorbench.leaderboard import write_run_leaderboards

        boards = write_run_leaderboards(run_dir)
        return RunResult(run_dir, summary, self.errors, boards)

    def _fail(self, message: str) -> None:
        self.errors.append(message)
        self.report.error(message)

    def _build_dataset(self, ds: Any, proto: Protocol) -> Dataset | None:
        opts = with_defaults(ds.spec, self.options.get(ds.spec.name, {}))
        try:
            return ds.build(split=proto.split, data_root=self.cfg.data_root, options=opts)
        except ColorbenchError as exc:
            self._fail(str(exc))
        except Exception as exc:
            self._fail(f"dataset {ds.name!r} failed to load: {type(exc).__name__}: {exc}")
        return None

    # ------------------------------------------------------------ one pair
    def _run_pair(self, ds_name: str, ds_fingerprint: Any, proto: Protocol, dataset: Dataset, n: int,
                  spec: ColorizerSpec, writer: results.PerImageWriter, pairs: dict[str, Any],
                  manifest: dict[str, Any], run_dir: Path) -> None:
        cfg = self.cfg
        key = f"{ds_name}/{spec.name}"
        try:
            checkpoint, digest = self._checkpoint_for(spec)
        except ColorbenchError as exc:
            self._fail(f"{key}: {exc}")
            return
        if digest:
            manifest["checkpoints"][spec.name] = {"path": str(checkpoint), "sha256": digest}
        fingerprint = _digest({
            "dataset": ds_fingerprint, "split": proto.split, "size": proto.size, "resize": proto.resize,
            "seed": cfg.seed, "model": spec.name, "options": self.options.get(spec.name, {}),
            "checkpoint": digest, "metrics": self.per_image_ids + self.dist_ids,
            "metric_options": self.metric_options,
        })
        old = pairs.get(key, {})
        if old.get("config") != fingerprint:  # rows of another (or unrecorded) config
            dropped = writer.drop(ds_name, spec.name)
            if dropped:
                self.report.warn(f"{key}: configuration or checkpoint changed; recomputing {dropped} earlier rows")
            pairs.pop(key, None)
            old = {}
        ids = [str(dataset.ids[i]) for i in range(n)]
        self._selected.update((ds_name, spec.name, i) for i in ids)
        self._pairs_run.append(key)
        done = writer.done(ds_name, spec.name)
        todo = [i for i in range(n) if ids[i] not in done]
        need_dist = bool(self.dist_ids) and (todo or any(old.get(m) is None for m in self.dist_ids))
        indices = list(range(n)) if need_dist else todo
        entry = pairs.setdefault(key, {})
        entry.update({"config": fingerprint})
        # record the config before writing any row: a run killed in this pair must leave
        # rows that a rerun can tell apart from another config's rows
        results.write_json(run_dir / "run.json", manifest)
        if not indices:
            self.report.info(f"{key}: all {n} images already scored; skipped (resume)")
            return
        try:
            colorizer = self._colorizer(spec, checkpoint)
        except Exception as exc:
            self._fail(f"{key}: colorizer {spec.name!r} could not be built: {one_line(exc)}")
            return
        _seed_everything(cfg.seed)
        accumulators = self.metric_set.accumulators() if need_dist else {}
        loader = make_loader(dataset, indices, size=proto.size, mode=proto.resize,
                             batch_size=cfg.batch_size, workers=cfg.workers,
                             pin_memory=self.device.type == "cuda")
        t0, processed = time.perf_counter(), 0
        with self.report.progress(key, len(indices)) as advance:
            for items in loader:
                rows = self._process(ds_name, spec, colorizer, items, accumulators, run_dir)
                writer.append([r for r in rows if r["image_id"] not in done])
                processed += len(items)
                advance(len(items))
        elapsed = time.perf_counter() - t0
        entry["images_per_s"] = processed / elapsed if elapsed > 0 else None
        for line in MetricSet.finish(accumulators, entry, self.report.warn):
            self._fail(f"{key}: {line}")

    def _predict(self, spec: ColorizerSpec, colorizer: Any, L: torch.Tensor,
                 ids: list[str]) -> tuple[torch.Tensor, dict[str, Any]]:
        info: dict[str, Any] = {}
        with torch.inference_mode(), autocast(self.device):
            if hasattr(colorizer, "colorize_with_info"):
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

    def _process(self, ds_name: str, spec: ColorizerSpec, colorizer: Any, items: list[Item],
                 accumulators: dict[str, Any], run_dir: Path) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        base = {"dataset": ds_name, "model": spec.name}
        for it in items:
            if it.error is not None:
                rows.append({**base, "image_id": it.id, "status": "failed", "error": it.error})
        good = [it for it in items if it.error is None]
        for group in group_by_shape(good):
            try:
                rows += self._score_group(base, spec, colorizer, group, accumulators, run_dir)
            except Exception as exc:
                if len(group) == 1:
                    rows.append({**base, "image_id": group[0].id, "status": "failed", "error": one_line(exc)})
                    continue
                for it in group:  # isolate the image that broke the batch
                    try:
                        rows += self._score_group(base, spec, colorizer, [it], accumulators, run_dir)
                    except Exception as exc1:
                        rows.append({**base, "image_id": it.id, "status": "failed", "error": one_line(exc1)})
        order = {it.id: k for k, it in enumerate(items)}
        return sorted(rows, key=lambda r: order[r["image_id"]])

    def _score_group(self, base: dict[str, str], spec: ColorizerSpec, colorizer: Any,
                     group: list[Item], accumulators: dict[str, Any], run_dir: Path) -> list[dict[str, Any]]:
        dev = self.device
        L = torch.stack([it.L for it in group]).to(dev, non_blocking=True)  # type: ignore[misc]
        gt = torch.stack([it.rgb for it in group]).to(dev, non_blocking=True)  # type: ignore[misc]
        t0 = time.perf_counter()
        ab, info = self._predict(spec, colorizer, L, [it.id for it in group])
        pred = rebuild(L, ab)
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        seconds = (time.perf_counter() - t0) / len(group)
        batch = MetricBatch(pred=pred, gt=gt, ids=[it.id for it in group])
        values, errors = self.metric_set.score(batch)
        for acc in accumulators.values():
            acc.update(batch)
        if self.cfg.save_images:
            out_dir = run_dir / "outputs" / base["dataset"]
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
            row.update({mid: values[mid][k] for mid in self.per_image_ids})
            for col in spec.extra_columns:
                vals = info.get(col)
                row[col] = vals[k] if vals is not None else None
            rows.append(row)
        return rows
