"""``colorbench train ccc``: CCC++ training (seed 000 §IV-B) on CPU or GPU, one process or
DDP under torchrun, through one code path.

Determinism: epoch ``e`` visits the training images in ``randperm(seed + e)`` order (sharded
over ranks like DistributedSampler), and the random crop/flip of image ``i`` in epoch ``e``
is seeded by (seed, e, i) whatever the DataLoader workers do, so ``--resume`` from step k
continues exactly where an uninterrupted run would be.
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from colorbench.color.classes import ClassGrid
from colorbench.errors import ColorbenchError
from colorbench.models.checkpoints import load_checkpoint, save_checkpoint
from colorbench.reporting import Reporter
from colorbench.training import ColorPairs, TrainContext, TrainLog, distributed
from colorbench_ccc.classes import ClassSet, fit_classes
from colorbench_ccc.loss import compute_loss
from colorbench_ccc.model import CCCColorizer, build_net
from colorbench_ccc.validate import validate

LOG_COLUMNS = ("step", "epoch", "loss", "lr", "images_per_s")
VAL_COLUMNS = ("step", "epoch", "n", "tar", "cnr", "cpsnr")


class _SeededItems(torch.utils.data.Dataset[dict[str, torch.Tensor]]):
    """Items ``indices[i]`` of ``pairs`` with augmentation seeded by (seed, epoch, index)."""

    def __init__(self, pairs: ColorPairs, indices: list[int], seed: int, epoch: int):
        self.pairs, self.indices, self.seed, self.epoch = pairs, indices, seed, epoch

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        index = self.indices[i]
        torch.manual_seed((self.seed * 1_000_003 + self.epoch) * 10_000_019 + index)
        return self.pairs[index]


def make_classes(ctx: TrainContext, cfg: dict[str, Any]) -> ClassSet:
    """The class set from the config: ``fit`` (fit-classes on the training data), ``all``
    (every grid class) or a JSON file written by ``python -m colorbench_ccc.classes``."""
    grid = ClassGrid(float(cfg["alpha"]), float(cfg["beta"]), int(cfg["delta"]))
    choice = str(cfg.get("class_set", "fit"))
    if choice == "all":
        return ClassSet.full(grid)
    if choice == "fit":
        classes, hist = fit_classes(ctx.dataset, grid, int(cfg["fit_size"]), cfg.get("class_min_count"),
                                    cfg.get("class_min_fraction"), cfg.get("fit_limit"))
        ctx.reporter.info(f"fit-classes: kept {classes.n} of {grid.n_classes} classes "
                          f"({int(hist.sum())} samples at {cfg['fit_size']}x{cfg['fit_size']})")
        return classes
    if not Path(choice).is_file():
        raise ColorbenchError(f"class_set={choice!r}: use fit, all or a JSON file of class ids")
    return ClassSet.load(choice)


def _plain(cfg: dict[str, Any]) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.items()}


def run_training(ctx: TrainContext) -> torch.nn.Module:
    """Train and return the (unwrapped) network; rank 0 writes checkpoint.pt and the logs."""
    cfg = dict(ctx.config)
    info = distributed.setup(ctx.device)
    device = info.device
    created_group = info.enabled
    try:
        return _train(ctx, cfg, info, device)
    finally:
        if created_group:
            distributed.teardown(info)


def _train(ctx: TrainContext, cfg: dict[str, Any], info: distributed.DistInfo, device: torch.device) -> torch.nn.Module:
    if not info.is_main:  # only rank 0 prints
        ctx = dataclasses.replace(ctx, reporter=Reporter(quiet=True))
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    if int(cfg.get("threads") or 0) > 0:  # e.g. 1 on a shared CPU: intra-op threads thrash
        torch.set_num_threads(int(cfg["threads"]))
    state = load_checkpoint(ctx.checkpoint_path) if ctx.resume else None
    classes = ClassSet.from_state(state["classes"]) if state else make_classes(ctx, cfg)
    if info.is_main:
        classes.save(ctx.out_dir / "classes.json")
    torch.manual_seed(ctx.seed)
    net = build_net(cfg if state is None else {**cfg, "pretrained_encoder": False}, classes.n).to(device)
    cuda = device.type == "cuda"
    if cuda:
        net = net.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(net.parameters(), lr=float(cfg["lr"]), betas=tuple(cfg["betas"]))
    scaler = torch.amp.GradScaler("cuda", enabled=cuda)
    step = 0
    if state:
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        step = int(state["step"])
    model = distributed.wrap(net, info)

    pairs = ColorPairs(ctx.dataset, int(cfg["input_size"]), train=True, flip=bool(cfg.get("flip", True)))
    n = len(pairs)
    bs = min(int(cfg["batch_size"]), max(1, math.ceil(n / info.world_size)))
    per_epoch = max(1, math.ceil(n / info.world_size) // bs)
    total = int(cfg["steps"]) if cfg.get("steps") is not None else int(cfg.get("epochs") or 1) * per_epoch
    every = int(cfg.get("checkpoint_every") or 0)
    val_every = int(cfg.get("val_every") or 0)
    log_every = max(1, int(cfg.get("log_every") or 10))
    target = int(cfg["target_size"])

    def save() -> None:
        if info.is_main:
            save_checkpoint({"model": net.state_dict(), "optimizer": opt.state_dict(), "step": step,
                             "classes": classes.to_state(), "config": _plain(cfg)}, ctx.checkpoint_path)

    def run_val(epoch: int) -> None:
        if info.is_main and ctx.val_dataset is not None and int(cfg.get("val_images") or 0) > 0:
            col = CCCColorizer(net, classes, int(cfg["input_size"]), device)
            row = validate(col, ctx.val_dataset, int(cfg["input_size"]), int(cfg["val_images"]))
            val_log.write(step=step, epoch=epoch, **row)
            ctx.reporter.info(f"val step {step}: TAR {row['tar']:.2f}  CNR {row['cnr']:.3f}  CPSNR {row['cpsnr']:.2f} dB")
            net.train()

    log = TrainLog(ctx.out_dir / "train_log.csv", LOG_COLUMNS, resume_step=step if state else None) if info.is_main else None
    val_log = TrainLog(ctx.out_dir / "val_log.csv", VAL_COLUMNS, resume_step=step if state else None) if info.is_main else None
    ctx.reporter.info(f"ccc: {total} steps, batch {bs} x {info.world_size} process(es), {classes.n} classes, device {device}")
    model.train()
    epoch, offset = divmod(step, per_epoch)
    t0, seen, running = time.perf_counter(), 0, []
    with ctx.reporter.progress("train ccc", total) if info.is_main else _null() as advance:
        advance(step)
        while step < total:
            order = torch.randperm(n, generator=torch.Generator().manual_seed(ctx.seed + epoch)).tolist()
            mine = distributed.shard(order, info)[offset * bs:]
            loader = torch.utils.data.DataLoader(
                _SeededItems(pairs, mine, ctx.seed, epoch), batch_size=bs, drop_last=True,
                num_workers=int(cfg.get("workers") or 0), pin_memory=cuda)
            for batch in loader:
                L = batch["L"].to(device, non_blocking=True)
                ab = batch["ab"].to(device, non_blocking=True)
                if cuda:
                    L = L.contiguous(memory_format=torch.channels_last)
                y = classes.targets(F.interpolate(ab, size=(target, target), mode="area"))
                with torch.autocast(device_type=device.type, enabled=cuda):
                    logits = model(L)
                loss = compute_loss(str(cfg["loss"]), logits, y, float(cfg["p_percent"]), cfg.get("psi"))
                opt.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
                step += 1
                seen += L.shape[0] * info.world_size
                running.append(float(loss.detach()))
                advance(1)
                if step % log_every == 0 or step == total:
                    mean_loss = distributed.mean_scalar(sum(running) / len(running), info)
                    running = []
                    if log is not None:
                        log.write(step=step, epoch=epoch, loss=mean_loss, lr=opt.param_groups[0]["lr"],
                                  images_per_s=seen / (time.perf_counter() - t0))
                if every and step % every == 0 and step < total:
                    save()
                if val_every and step % val_every == 0:
                    run_val(epoch)
                if step >= total:
                    break
            else:
                epoch, offset = epoch + 1, 0
                if not val_every:
                    run_val(epoch - 1)
                continue
            break
    distributed.sync_buffers(model, info)
    save()
    if not val_every or step % val_every:
        run_val(epoch)
    for f in (log, val_log):
        if f is not None:
            f.close()
    return net


class _null:
    def __enter__(self) -> Any:
        return lambda n: None

    def __exit__(self, *exc: object) -> None:
        return None


def train(ctx: TrainContext) -> None:
    """``ColorizerSpec.train`` entry point."""
    run_training(ctx)
