"""``colorbench train gan``: L1 pretraining of the generator, then cGAN + λ·L1 (seed 002).

Two stages of the one loop over one global step numbering: steps 1..P are ``pretrain``
(G alone, λ·L1, ``pretrain_lr``), P+1..T ``adversarial`` (one D update, then one G update,
``lr``; G's Adam starts afresh there, as the paper builds a new model around the pretrained G). ``phase=pretrain`` runs 1..P, ``phase=both`` 1..T, ``phase=adversarial`` only the
adversarial steps (after the resumed checkpoint's step, or from scratch / ``init_generator``:
the paper's baseline). When the adversarial stage starts from the end of pretraining,
``checkpoint_pretrain.pt`` keeps the L1-only generator (the paper's §5.1 comparison).
"""

from __future__ import annotations

import torch
from torch import nn

from colorbench.models.checkpoints import load_checkpoint, save_checkpoint
from colorbench.training import ColorPairs, Stage, TrainContext, Trainer
from colorbench_gan.colorizer import load_imagenet_encoder, validation_l1
from colorbench_gan.model import (
    AB_SCALE,
    build_discriminator,
    build_generator,
    gan_loss,
    normalize_ab,
    normalize_L,
)
from colorbench_gan.phases import schedule

FORMAT = "colorbench-gan/2"  # /1: the trainer before the one loop (its checkpoints still run, not resume)
TERMS = ("loss_D_fake", "loss_D_real", "loss_D", "loss_G_GAN", "loss_G_L1", "loss_G", "l1_ab")


def _requires_grad(net: nn.Module, flag: bool) -> None:
    for p in net.parameters():
        p.requires_grad_(flag)


def discriminator_losses(D: nn.Module, x: torch.Tensor, fake: torch.Tensor, y: torch.Tensor,
                         mode: str = "bce") -> dict[str, torch.Tensor]:
    """pix2pix D objective on concat(L, ab): G's pairs towards 0 (fake), the photo's towards 1
    (real); ``loss_D`` is their mean. ``fake`` is detached: only D learns from it."""
    f = gan_loss(D(torch.cat([x, fake.detach()], 1)), False, mode)
    r = gan_loss(D(torch.cat([x, y], 1)), True, mode)
    return {"loss_D_fake": f, "loss_D_real": r, "loss_D": 0.5 * (f + r)}


def generator_losses(D: nn.Module | None, x: torch.Tensor, fake: torch.Tensor, y: torch.Tensor,
                     lam: float, mode: str = "bce") -> dict[str, torch.Tensor]:
    """G's objective: λ·mean|fake - y| (phase 1, ``D=None``), plus the cGAN term that asks D to
    call G's pairs real (phase 2): ``loss_G = loss_G_GAN + λ·L1``."""
    out = {"loss_G_L1": lam * (fake.float() - y).abs().mean()}
    out["loss_G"] = out["loss_G_L1"]
    if D is not None:
        out["loss_G_GAN"] = gan_loss(D(torch.cat([x, fake], 1)), True, mode)
        out["loss_G"] = out["loss_G_GAN"] + out["loss_G_L1"]
    return out


def train(ctx: TrainContext) -> Trainer:
    """Train G (and D in the adversarial stage) on ``ctx.dataset``; returns the trainer."""
    t = Trainer(ctx, FORMAT, TERMS, val_terms=("val_l1_ab",))
    cfg, cuda = t.config, t.device.type == "cuda"
    lam, mode, lr = float(cfg.get("lambda_l1", 100.0)), str(cfg.get("gan_mode", "bce")), float(cfg["lr"])
    betas = (float(cfg.get("beta1", 0.5)), float(cfg.get("beta2", 0.999)))

    def adam(params: list[nn.Parameter]) -> torch.optim.Optimizer:
        return torch.optim.Adam(params, lr=lr, betas=betas)

    G = build_generator(cfg)
    if "generator" not in t.saved:  # a fresh run: the starting weights asked for
        if cfg.get("pretrained_encoder") and cfg.get("generator") == "resnet18-unet":
            load_imagenet_encoder(G.encoder)  # type: ignore[arg-type]
        if cfg.get("init_generator"):
            G.load_state_dict(load_checkpoint(cfg["init_generator"])["generator"])
    Gp = t.add_model("generator", G.to(memory_format=torch.channels_last) if cuda else G, adam)
    pairs = ColorPairs(ctx.dataset, int(cfg["size"]), train=True, seed=ctx.seed)
    P, T = schedule(cfg, max(1, len(pairs) // t.settings.batch_size), t.step, t.saved.get("phase_boundary"))
    t.extra["phase_boundary"] = P  # saved in every checkpoint: a resumed run keeps its boundary

    def generator_lr(value: float) -> None:
        for group in t.optimizers["generator"].param_groups:
            group["lr"] = value

    def start_pretrain(t: Trainer) -> None:
        generator_lr(float(cfg.get("pretrain_lr") or lr))

    def start_adversarial(t: Trainer) -> None:
        if t.step == P:  # entering phase 2: a fresh Adam for G (a resumed phase 2 keeps its saved one)
            t.optimizers["generator"] = adam([p for p in t.models["generator"].parameters() if p.requires_grad])
        generator_lr(lr)
        D = build_discriminator(cfg)
        t.add_model("discriminator", D.to(memory_format=torch.channels_last) if cuda else D, adam, ddp=False)
        if t.step == P > 0 and t.info.is_main:  # checkpoint.pt is the end of pretraining
            save_checkpoint(load_checkpoint(ctx.checkpoint_path), ctx.out_dir / "checkpoint_pretrain.pt")

    def step(t: Trainer, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        x = normalize_L(batch["L"].to(t.device, non_blocking=True))
        y = normalize_ab(batch["ab"].to(t.device, non_blocking=True))
        with t.autocast():
            fake = Gp(x)
        out: dict[str, torch.Tensor] = {}
        D = t.models["discriminator"] if t.stage == "adversarial" else None
        if D is not None:  # D is called twice before one backward: the loop averages its gradients
            _requires_grad(D, True)
            with t.autocast():
                out.update(discriminator_losses(D, x, fake, y, mode))
            t.optimize("discriminator", out["loss_D"])
            _requires_grad(D, False)
        with t.autocast():  # the frozen D: only G's gradients flow (and DDP synchronises them)
            out.update(generator_losses(D, x, fake, y, lam, mode))
        t.optimize("generator", out["loss_G"])
        out["l1_ab"] = (fake.detach().float() - y).abs().mean() * AB_SCALE  # mean |Δa*|,|Δb*| in CIE units
        return out

    def validate(t: Trainer, stage: Stage) -> dict[str, float]:
        n = int(cfg.get("val_images") or 0)
        if ctx.val_dataset is None or n <= 0:
            return {}
        return {"val_l1_ab": validation_l1(t.models["generator"], ctx.val_dataset, int(cfg["size"]), n,
                                           t.device, t.info)}

    t.fit([Stage("pretrain", P, pairs, step, start=start_pretrain),
           Stage("adversarial", T - P, pairs, step, start=start_adversarial)], validate=validate)
    return t
