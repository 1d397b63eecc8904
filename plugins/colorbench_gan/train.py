"""``colorbench train gan``: L1 pretraining of the generator, then cGAN + λ·L1 (seed 002).

Steps are numbered 1..T over the whole schedule; step s is a pretraining step when
s <= P (the phase boundary) and adversarial after it. ``phase=pretrain`` runs 1..P,
``phase=both`` 1..P+A, ``phase=adversarial`` only A adversarial steps (from the resumed
checkpoint's step, or from scratch / ``init_generator``: the paper's baseline). Batches
are a pure function of (seed, step), so ``--resume`` continues exactly where an
uninterrupted run would be.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DistributedSampler

from colorbench.device import autocast
from colorbench.errors import ColorbenchError
from colorbench.models.checkpoints import load_checkpoint, save_checkpoint
from colorbench.training import ColorPairs, TrainContext, TrainLog, distributed, epoch_batches
from colorbench_gan.colorizer import ARCH_KEYS, load_imagenet_encoder, validation_l1
from colorbench_gan.model import (
    AB_SCALE,
    build_discriminator,
    build_generator,
    normalize_ab,
    normalize_L,
)

COLUMNS = ("step", "epoch", "phase", "lr", "loss_D_fake", "loss_D_real", "loss_D", "loss_G_GAN",
           "loss_G_L1", "loss_G", "l1_ab", "val_l1_ab", "images_per_s")
FORMAT = "colorbench-gan/1"


def gan_loss(logits: torch.Tensor, real: bool, mode: str) -> torch.Tensor:
    """BCE-with-logits (the cGAN log-loss of pix2pix / the paper) or least squares (LSGAN)."""
    target = torch.full_like(logits, 1.0 if real else 0.0)
    if mode == "lsgan":
        return F.mse_loss(logits.float(), target.float())
    return F.binary_cross_entropy_with_logits(logits.float(), target.float())


def schedule(cfg: dict[str, Any], steps_per_epoch: int, start: int, boundary: int | None) -> tuple[int, int]:
    """(P, T): the last pretraining step and the last step of this run."""
    pe, ae = float(cfg.get("pretrain_epochs", 0)), float(cfg.get("epochs", 0))
    steps = cfg.get("steps")
    if steps:
        if cfg.get("pretrain_steps") is not None:
            p_cfg = int(cfg["pretrain_steps"])
        else:
            p_cfg = round(steps * pe / (pe + ae)) if pe + ae > 0 else 0
        p_cfg = min(p_cfg, int(steps))
        a_cfg = int(steps) - p_cfg
    else:
        p_cfg = int(cfg["pretrain_steps"]) if cfg.get("pretrain_steps") is not None else math.ceil(pe * steps_per_epoch)
        a_cfg = math.ceil(ae * steps_per_epoch)
    phase = cfg.get("phase", "both")
    if phase == "pretrain":
        return (int(steps) if steps else p_cfg), (int(steps) if steps else p_cfg)
    if phase == "adversarial":
        p = boundary if boundary is not None and start > boundary else start
        return p, p + (int(steps) if steps else a_cfg)
    if phase == "both":
        p = boundary if boundary is not None and start >= boundary else p_cfg
        return p, max(p, int(steps) if steps else p + a_cfg)
    raise ColorbenchError(f"--set phase={phase}: choose pretrain, adversarial or both")



def _requires_grad(net: nn.Module, flag: bool) -> None:
    for p in net.parameters():
        p.requires_grad_(flag)


def train(ctx: TrainContext) -> None:
    cfg, info = dict(ctx.config), distributed.setup(ctx.device)
    device, cuda = info.device, info.device.type == "cuda"
    try:
        _train(ctx, cfg, info, device, cuda)
    finally:
        distributed.teardown(info)


def _train(ctx: TrainContext, cfg: dict[str, Any], info: distributed.DistInfo,
           device: torch.device, cuda: bool) -> None:
    if int(cfg.get("threads") or 0) > 0:  # 1 is much faster than 2 on a busy 2-core machine
        torch.set_num_threads(int(cfg["threads"]))
    ckpt = load_checkpoint(ctx.checkpoint_path, map_location=device) if ctx.resume else None
    if ckpt is not None:
        if ckpt.get("format") != FORMAT or "discriminator" not in ckpt:
            raise ColorbenchError(f"--resume: {ctx.checkpoint_path} is not a gan training checkpoint")
        cfg.update({k: ckpt["config"][k] for k in ARCH_KEYS if k in ckpt["config"]})
    torch.manual_seed(ctx.seed)  # identical initial weights on every rank
    G, D = build_generator(cfg).to(device), build_discriminator(cfg).to(device)
    if ckpt is None and cfg.get("pretrained_encoder") and cfg.get("generator") == "resnet18-unet":
        load_imagenet_encoder(G.encoder)  # type: ignore[arg-type]
    if ckpt is None and cfg.get("init_generator"):
        G.load_state_dict(load_checkpoint(cfg["init_generator"], map_location=device)["generator"])
    if cuda:
        G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
    betas = (float(cfg.get("beta1", 0.5)), float(cfg.get("beta2", 0.999)))
    opt_G = torch.optim.Adam(G.parameters(), lr=float(cfg["lr"]), betas=betas)
    opt_D = torch.optim.Adam(D.parameters(), lr=float(cfg["lr"]), betas=betas)
    scaler = torch.amp.GradScaler(device.type, enabled=cuda)
    start, boundary = 0, None
    if ckpt is not None:
        G.load_state_dict(ckpt["generator"])
        D.load_state_dict(ckpt["discriminator"])
        opt_G.load_state_dict(ckpt["opt_G"])
        opt_D.load_state_dict(ckpt["opt_D"])
        if ckpt.get("scaler"):
            scaler.load_state_dict(ckpt["scaler"])
        start, boundary = int(ckpt["step"]), ckpt.get("phase_boundary")
    if ckpt is not None and info.is_main:
        torch.set_rng_state(ckpt["rng"]["torch"].cpu())  # dropout masks continue exactly
        if cuda and "cuda" in ckpt["rng"]:
            torch.cuda.set_rng_state(ckpt["rng"]["cuda"].cpu(), device)
    else:  # the dropout stream of this rank
        torch.manual_seed(ctx.seed * 1_000_003 + start * 101 + info.rank + 1)
    Gp, Dp = distributed.wrap(G, info), distributed.wrap(D, info)

    size, batch_size = int(cfg["size"]), int(cfg["batch_size"])
    per_rank = max(1, batch_size // info.world_size)
    pairs = ColorPairs(ctx.dataset, size, train=True, seed=ctx.seed)
    sampler = DistributedSampler(pairs, num_replicas=info.world_size, rank=info.rank, shuffle=True,
                                 seed=ctx.seed, drop_last=True)
    steps_per_epoch = len(sampler) // per_rank
    if steps_per_epoch == 0:
        raise ColorbenchError(f"training set has {len(pairs)} images, fewer than one batch of {batch_size}")
    P, T = schedule(cfg, steps_per_epoch, start, boundary)
    lam, mode = float(cfg.get("lambda_l1", 100.0)), str(cfg.get("gan_mode", "bce"))
    lr_pre, lr_adv = float(cfg.get("pretrain_lr") or cfg["lr"]), float(cfg["lr"])
    log_every, save_every = int(cfg.get("log_every", 10)), int(cfg.get("save_every", 500))
    log = TrainLog(ctx.out_dir / "train_log.csv", COLUMNS, resume_step=start) if info.is_main else None
    if start >= T:
        ctx.reporter.info(f"checkpoint is at step {start}; nothing to do for {T} steps")
        return
    batches = epoch_batches(pairs, sampler, per_rank, steps_per_epoch, start, int(cfg.get("workers", 0)), cuda)
    sums: dict[str, float] = {}
    n_sum, t0 = 0, time.perf_counter()
    G.train()
    D.train()
    with (ctx.reporter.progress("gan", T - start) if info.is_main else _null_progress()) as advance:
        for step in range(start + 1, T + 1):
            epoch, batch = next(batches)
            adversarial = step > P
            lr = lr_adv if adversarial else lr_pre
            for group in opt_G.param_groups:
                group["lr"] = lr
            x = normalize_L(batch["L"].to(device, non_blocking=True))
            y = normalize_ab(batch["ab"].to(device, non_blocking=True))
            with autocast(device):
                fake = Gp(x)
            losses: dict[str, torch.Tensor] = {}
            if adversarial:
                _requires_grad(D, True)
                opt_D.zero_grad(set_to_none=True)
                with autocast(device):
                    losses["loss_D_fake"] = gan_loss(Dp(torch.cat([x, fake.detach()], 1)), False, mode)
                    losses["loss_D_real"] = gan_loss(Dp(torch.cat([x, y], 1)), True, mode)
                losses["loss_D"] = 0.5 * (losses["loss_D_fake"] + losses["loss_D_real"])
                scaler.scale(losses["loss_D"]).backward()
                scaler.step(opt_D)
                _requires_grad(D, False)
            opt_G.zero_grad(set_to_none=True)
            l1 = (fake.float() - y).abs().mean()
            losses["loss_G_L1"] = lam * l1
            losses["loss_G"] = losses["loss_G_L1"]
            if adversarial:
                with autocast(device):  # the unwrapped D: only G's gradients are synchronised
                    losses["loss_G_GAN"] = gan_loss(D(torch.cat([x, fake], 1)), True, mode)
                losses["loss_G"] = losses["loss_G_GAN"] + losses["loss_G_L1"]
            scaler.scale(losses["loss_G"]).backward()
            scaler.step(opt_G)
            scaler.update()
            losses["l1_ab"] = l1.detach() * AB_SCALE  # mean |Δa*|,|Δb*| in CIE units
            for k, v in losses.items():
                sums[k] = sums.get(k, 0.0) + float(distributed.mean(v.detach(), info))
            n_sum += 1
            advance(1)
            save = step % save_every == 0 or step == T or (step == P and T > P)
            if not (save or step % log_every == 0):
                continue
            elapsed = time.perf_counter() - t0
            row: dict[str, Any] = {"step": step, "epoch": epoch, "phase": "adversarial" if adversarial else "pretrain",
                                   "lr": lr, "images_per_s": n_sum * per_rank * info.world_size / max(elapsed, 1e-9)}
            row.update({k: v / n_sum for k, v in sums.items()})
            if save and info.is_main:
                if ctx.val_dataset is not None and int(cfg.get("val_images", 0)) > 0:
                    row["val_l1_ab"] = validation_l1(G, ctx.val_dataset, size, int(cfg["val_images"]), device)
                state = {"format": FORMAT, "step": step, "phase_boundary": P, "config": _plain(cfg),
                         "generator": G.state_dict(), "discriminator": D.state_dict(),
                         "opt_G": opt_G.state_dict(), "opt_D": opt_D.state_dict(),
                         "scaler": scaler.state_dict(), "rng": _rng_state(device)}
                save_checkpoint(state, ctx.checkpoint_path)
                if step == P and T > P:  # the L1-only generator, for comparison (paper §5.1)
                    save_checkpoint(state, ctx.out_dir / "checkpoint_pretrain.pt")
            if log is not None:
                log.write(**row)
            if info.is_main and not all(math.isfinite(float(v)) for k, v in row.items() if k.startswith("loss")):
                ctx.reporter.warn(f"step {step}: non-finite loss {row}")
            sums, n_sum, t0 = {}, 0, time.perf_counter()
            distributed.barrier(info)
    if log is not None:
        log.close()


def _rng_state(device: torch.device) -> dict[str, torch.Tensor]:
    state = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _plain(cfg: dict[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in cfg.items()}


class _null_progress:
    def __enter__(self) -> Any:
        return lambda n: None

    def __exit__(self, *exc: object) -> None:
        return None
