"""The one training loop: every trainer is a list of ``Stage``s run by a ``Trainer``.

The loop owns the lifecycle: torchrun set-up, seeding, the sharded sampling scheme and one
persistent DataLoader per stage, precision (fp32 / bf16 / fp16 with a GradScaler),
gradient accumulation, optional SyncBatchNorm, data parallelism, checkpoint and exact
resume (models, optimizers, schedulers, scaler, every RNG of every rank; the sampler
position follows from the step), rank-0-only writes, validation on every rank, progress
and train_log.csv. A plugin supplies its models (``add_model``), its step function(s), its
schedule (the stages) and its data-derived state (``shared``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from colorbench import distributed
from colorbench.device import autocast, resolve_precision
from colorbench.errors import ColorbenchError
from colorbench.models.checkpoints import load_checkpoint, save_checkpoint
from colorbench.reporting import Reporter
from colorbench.training.context import TrainContext, TrainLog
from colorbench.training.provenance import training_data
from colorbench.training.sampling import (
    ShardedBatches,
    make_loader,
    micro_batches,
    mix,
    per_rank_batch,
)
from colorbench.training.settings import LoopSettings
from colorbench.training.state import LOOP_FORMAT, plain_config, restore_rng, rng_state

StepFn = Callable[["Trainer", dict[str, Any]], Mapping[str, Any]]
Validate = Callable[["Trainer", "Stage"], Mapping[str, float]]


@dataclass
class Stage:
    """``steps`` optimizer steps of ``step(trainer, batch) -> {term: value}`` over ``data``
    (a map-style dataset of dicts of tensors). ``start(trainer)`` builds the stage's models
    (seeded: the same weights on every rank, resumed or not); ``batch_size`` overrides the
    global batch; ``stream`` separates the sampling of stages that share ``data``."""

    name: str
    steps: int
    data: Any
    step: StepFn
    start: Callable[[Trainer], None] | None = None
    batch_size: int | None = None
    stream: int = 0


class Trainer:
    """Runs ``stages`` for a plugin whose checkpoints have ``format`` (checked on resume)
    and whose step functions return the loss ``terms`` logged in train_log.csv."""

    def __init__(self, ctx: TrainContext, format: str, terms: Sequence[str], val_terms: Sequence[str] = ()):
        self.ctx, self.format, self.config = ctx, format, dict(ctx.config)
        self.settings = LoopSettings.from_config(self.config)
        if self.settings.threads > 0:  # e.g. 1 on a shared CPU, where intra-op threads thrash
            torch.set_num_threads(self.settings.threads)
        self.info = distributed.setup(ctx.device, self.settings.dist_timeout)
        self.device = self.info.device
        self.precision = resolve_precision(self.settings.precision, self.device)
        self.config["precision"] = self.precision
        self.reporter = ctx.reporter if self.info.is_main else Reporter(quiet=True)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.precision == "fp16")
        self.models: dict[str, nn.Module] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.schedulers: dict[str, Any] = {}
        # what the run learns from (a plugin training on other images replaces it)
        self.extra: dict[str, Any] = {"training_data": training_data(ctx.dataset_name, ctx.split, ctx.dataset.ids)}
        self._wrapped: dict[str, nn.Module] = {}
        self._manual_sync: set[str] = set()  # models whose gradients the loop averages
        self._last_micro, self._stepped = True, set()
        self.step, self.stage = 0, ""
        self.saved: dict[str, Any] = {}
        if ctx.resume and ctx.checkpoint_path.is_file():
            self.saved = load_checkpoint(ctx.checkpoint_path, map_location="cpu")
            if self.saved.get("format") != format:
                raise ColorbenchError(f"--resume: {ctx.checkpoint_path} is not a {format} training checkpoint")
            self.step = int(self.saved.get("step", 0))
            if self.saved.get("scaler") and self.scaler.is_enabled():
                self.scaler.load_state_dict(self.saved["scaler"])
        self.log = TrainLog(ctx.out_dir / "train_log.csv", ("step", "stage", "epoch", "lr", *terms, *val_terms,
                                                            "images_per_s"),
                            resume_step=self.step if self.saved else None) if self.info.is_main else None
        torch.manual_seed(mix(ctx.seed, 0))  # models built before fit: identical on every rank

    # ------------------------------------------------------------------ set-up
    def shared(self, key: str, compute: Callable[[], Any]) -> Any:
        """Data-derived state computed once on rank 0 and broadcast (or read back from the
        checkpoint on resume); saved under ``key`` in every checkpoint."""
        value = self.saved[key] if key in self.saved else distributed.compute_once(compute, self.info)
        self.extra[key] = value
        return value

    def add_model(self, name: str, module: nn.Module,
                  optimizer: Callable[[list[nn.Parameter]], torch.optim.Optimizer] | None = None,
                  scheduler: Callable[[torch.optim.Optimizer], Any] | None = None, ddp: bool = True) -> nn.Module:
        """Register ``module`` (restored from the checkpoint on resume) with its optimizer and
        scheduler; returns the module to call in the step (DistributedDataParallel under
        torchrun; with ``ddp=False``, e.g. a network called twice before one backward, the
        loop averages its gradients itself)."""
        if self.settings.sync_bn and self.info.enabled:
            if self.device.type != "cuda":
                raise ColorbenchError("--set sync_bn=true needs CUDA devices (SyncBatchNorm has no CPU kernel)")
            module = nn.SyncBatchNorm.convert_sync_batchnorm(module)
        module = module.to(self.device)
        if name in self.saved:
            try:
                module.load_state_dict(self.saved[name])
            except RuntimeError as exc:
                first = str(exc).strip().splitlines()[0]
                raise ColorbenchError(f"--resume: model {name!r} in {self.ctx.checkpoint_path} does not fit "
                                      f"({first}); train into another --out") from None
        self.models[name] = module
        if optimizer is not None:
            opt = optimizer([p for p in module.parameters() if p.requires_grad])
            if name in self.saved.get("optimizers", {}):
                opt.load_state_dict(self.saved["optimizers"][name])
            self.optimizers[name] = opt
            if scheduler is not None:
                self.schedulers[name] = scheduler(opt)
                if name in self.saved.get("schedulers", {}):
                    self.schedulers[name].load_state_dict(self.saved["schedulers"][name])
        trainable = optimizer is not None and any(p.requires_grad for p in module.parameters())
        if trainable and self.info.enabled and not ddp:
            self._manual_sync.add(name)
        self._wrapped[name] = distributed.wrap(module, self.info) if trainable and ddp else module
        return self._wrapped[name]

    # ------------------------------------------------------------- step helpers
    def autocast(self) -> AbstractContextManager[None]:
        """The run's precision for the forward pass (a no-op for fp32)."""
        return autocast(self.device, self.precision)

    def optimize(self, name: str, loss: torch.Tensor) -> None:
        """Backward of ``loss`` (scaled for fp16, divided over accumulation steps); on the
        last micro-batch of the step, average gradients and step ``name``'s optimizer."""
        self.scaler.scale(loss / self.settings.accumulate).backward()
        if not self._last_micro:
            return
        opt = self.optimizers[name]
        if name in self._manual_sync:
            distributed.average_gradients([p for g in opt.param_groups for p in g["params"]], self.info)
        self.scaler.step(opt)
        opt.zero_grad(set_to_none=True)
        self._stepped.add(name)

    def all_reduce_sum(self, value: torch.Tensor) -> torch.Tensor:
        """Sum over ranks (in place), e.g. class counts that define a loss over the global batch."""
        return distributed.all_reduce_sum(value, self.info)

    def lr(self) -> float:
        opt = next((o for n, o in self.optimizers.items() if n in self._stepped), next(iter(self.optimizers.values()), None))
        return float(opt.param_groups[0]["lr"]) if opt is not None else float("nan")

    # ------------------------------------------------------------------- loop
    def fit(self, stages: Sequence[Stage], validate: Validate | None = None) -> None:
        """Run the stages from the resumed step to the end (each stage ends with a checkpoint)."""
        try:
            offset = 0
            for index, stage in enumerate(stages):
                end = offset + stage.steps
                if self.step < end:
                    self._run_stage(index, stage, offset, validate)
                offset = end
                if self.settings.stop_at and self.step >= self.settings.stop_at:
                    self.reporter.info(f"stopped at step {self.step} (stop_at); --resume continues")
                    break
            if self.saved and int(self.saved.get("step", 0)) >= offset:
                self.reporter.info(f"the checkpoint is at step {self.step}; nothing to do for {offset} steps")
        finally:
            if self.log is not None:
                self.log.close()
            distributed.teardown(self.info)

    def _run_stage(self, index: int, stage: Stage, offset: int, validate: Validate | None) -> None:
        self.stage = stage.name
        local = self.step - offset
        torch.manual_seed(mix(self.ctx.seed, 1, index))  # stage models: identical on every rank
        if stage.start is not None:
            stage.start(self)
        torch.manual_seed(mix(self.ctx.seed, 2, index, self.info.rank))  # this rank's dropout stream
        if local > 0 and self.saved.get("rng"):  # resumed inside this stage
            restore_rng(self.saved["rng"], self.info.rank, self.info.world_size, self.reporter.warn)
        s = self.settings
        batch = stage.batch_size or s.batch_size
        per_rank_batch(batch, self.info.world_size, len(stage.data), s.accumulate)
        batches = ShardedBatches(len(stage.data), batch, self.info.rank, self.info.world_size,
                                 mix(self.ctx.seed, 3, index, stage.stream), start=local)
        loader = make_loader(stage.data, batches, s.workers, self.device.type == "cuda", s.prefetch)
        self._train_mode(True)
        self.reporter.info(f"{stage.name}: steps {local + 1}..{stage.steps} of {stage.steps}, global batch "
                           f"{batch} = {self.info.world_size} process(es) x {batch // self.info.world_size}, "
                           f"{self.precision}, device {self.device}")
        sums: dict[str, float] = {}
        count, t0 = 0, time.perf_counter()
        with self.reporter.progress(stage.name, stage.steps - local) as advance:
            for local_step, item in zip(range(local + 1, stage.steps + 1), iter(loader), strict=False):
                terms = self._one_step(stage, item)
                for k, v in terms.items():
                    sums[k] = sums.get(k, 0.0) + v
                count += 1
                self.step = offset + local_step
                last = local_step == stage.steps or self.step == s.stop_at
                advance(1)
                if not (last or self.step % s.log_every == 0 or self._due(s.save_every) or self._due(s.val_every)):
                    continue
                row = self._mean_terms(sums, count)
                row.update(images_per_s=count * batch / max(time.perf_counter() - t0, 1e-9),
                           step=self.step, stage=stage.name, epoch=batches.epoch_of(local_step), lr=self.lr())
                if validate is not None and (last or self._due(s.val_every)):
                    self._train_mode(False)
                    with torch.no_grad():
                        row.update(validate(self, stage))
                    self._train_mode(True)
                if last or self._due(s.save_every):
                    self.save()
                if self.log is not None:
                    self.log.write(**row)
                advance(0, " ".join(f"{k} {row[k]:.4g}" for k in sorted(row)
                                 if k not in _FIXED and isinstance(row[k], float))
                        + f" | {row['images_per_s']:.1f} img/s")
                bad = [k for k in sums if not math.isfinite(row[k])]
                if bad:
                    self.reporter.warn(f"step {self.step}: non-finite {', '.join(bad)}")
                sums, count, t0 = {}, 0, time.perf_counter()
                if self.step == s.stop_at:
                    break
        del loader  # stops the stage's worker processes

    def _train_mode(self, on: bool) -> None:
        for model in self.models.values():
            if not on:  # every rank validates with rank 0's BatchNorm statistics
                distributed.sync_buffers(model, self.info)
            model.train(on)

    def _due(self, every: int) -> bool:
        return every > 0 and self.step % every == 0

    def _one_step(self, stage: Stage, batch: dict[str, Any]) -> dict[str, float]:
        parts = micro_batches(batch, self.settings.accumulate)
        totals: dict[str, float] = {}
        self._stepped = set()
        for i, part in enumerate(parts):
            self._last_micro = i == len(parts) - 1
            for k, v in stage.step(self, part).items():
                totals[k] = totals.get(k, 0.0) + float(v.detach() if isinstance(v, torch.Tensor) else v) / len(parts)
        skipped = False
        if self.scaler.is_enabled():  # fp16: a step with inf/NaN gradients is skipped, scale lowered
            scale = self.scaler.get_scale()
            self.scaler.update()
            skipped = self.scaler.get_scale() < scale
        for name in () if skipped else self._stepped:
            if name in self.schedulers:
                self.schedulers[name].step()
        return totals

    def _mean_terms(self, sums: Mapping[str, float], count: int) -> dict[str, Any]:
        keys = sorted(sums)
        vec = torch.tensor([sums[k] / max(count, 1) for k in keys], dtype=torch.float64)
        if self.info.enabled:
            vec = distributed.all_reduce_sum(vec.to(self.device), self.info).cpu() / self.info.world_size
        return dict(zip(keys, vec.tolist(), strict=True))

    # ------------------------------------------------------------- checkpoint
    def save(self) -> None:
        """Every rank's RNG gathered, then rank 0 writes checkpoint.pt atomically."""
        for model in self.models.values():
            distributed.sync_buffers(model, self.info)
        rngs = distributed.gather_objects(rng_state(), self.info)
        if self.info.is_main:
            state: dict[str, Any] = {
                "format": self.format, "loop": LOOP_FORMAT, "step": self.step, "stage": self.stage,
                "config": plain_config(self.config), "precision": self.precision,
                "world_size": self.info.world_size, **self.extra,
                "optimizers": {**self.saved.get("optimizers", {}), **{k: o.state_dict() for k, o in self.optimizers.items()}},
                "schedulers": {**self.saved.get("schedulers", {}), **{k: s.state_dict() for k, s in self.schedulers.items()}},
                "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else None, "rng": rngs}
            # models of stages skipped on resume stay in the checkpoint as they were
            names = [*dict.fromkeys([*self.saved.get("models", []), *self.models])]
            state.update({n: self.saved[n] for n in names if n not in self.models})
            state.update({n: m.state_dict() for n, m in self.models.items()}, models=names)
            save_checkpoint(state, self.ctx.checkpoint_path)
        distributed.barrier(self.info)


_FIXED = frozenset({"step", "stage", "epoch", "lr", "images_per_s"})

