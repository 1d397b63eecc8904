"""``colorbench train ccc``: CCC++ training (seed 000 §IV-B) on the one training loop: one
stage of Adam steps on the class-weighted loss (eq. 15-16) over the global batch.

Data-derived state: the class set (fit-classes on the training data, or a file), computed on
rank 0, broadcast and kept in every checkpoint under ``classes``; the network is ``model``.
Eq. 15's class counts are summed over ranks, so 2 processes x B/2 give the loss and the
gradients of 1 process x B (``batch_size`` is the global batch).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from colorbench.color.classes import ClassGrid
from colorbench.errors import ColorbenchError
from colorbench.training import ColorPairs, Stage, TrainContext, Trainer
from colorbench.training.loop import StepFn, Validate
from colorbench.training.validation import validate_colorizer
from colorbench_ccc.classes import ClassSet, fit_classes, target_ab
from colorbench_ccc.loss import compute_loss
from colorbench_ccc.model import CCCColorizer, CCCNet, build_net

FORMAT = "ccc/1"
VAL_METRICS = ("tar", "cnr", "cpsnr")  # eq. 21, eq. 19, CPSNR: registered per-image metrics


def make_classes(ctx: TrainContext, cfg: dict[str, Any]) -> ClassSet:
    """The class set from the config: ``fit`` (fit-classes on ``fit_images`` random training
    images drawn with the run's seed, through the training targets' own pipeline), ``all``
    (every grid class) or a JSON file written by ``python -m colorbench_ccc.classes``."""
    grid = ClassGrid(float(cfg["alpha"]), float(cfg["beta"]), int(cfg["delta"]))
    choice = str(cfg.get("class_set", "fit"))
    if choice == "all":
        return ClassSet.full(grid)
    if choice == "fit":
        images = cfg.get("fit_images")
        classes, hist = fit_classes(ctx.dataset, grid, int(cfg["input_size"]), int(cfg["target_size"]),
                                    cfg.get("class_min_count"), cfg.get("class_min_fraction"),
                                    None if images is None else int(images), ctx.seed)
        ctx.reporter.info(f"fit-classes: kept {classes.n} of {grid.n_classes} classes "
                          f"({int(hist.sum())} samples at {cfg['target_size']}x{cfg['target_size']})")
        return classes
    if not Path(choice).is_file():
        raise ColorbenchError(f"class_set={choice!r}: use fit, all or a JSON file of class ids")
    return ClassSet.load(choice)


def _val_terms(ctx: TrainContext) -> tuple[str, ...]:
    """The val_* log columns when validating; an unregistered metric fails now, not after training."""
    if ctx.val_dataset is None or int(ctx.config.get("val_images") or 0) <= 0:
        return ()
    from colorbench.plugin.manager import load

    return tuple(f"val_{(ctx.registries or load()).metrics.get(m).name}" for m in VAL_METRICS)


def setup(ctx: TrainContext) -> tuple[Trainer, StepFn, Validate | None]:
    """The trainer with the class set shared as ``classes`` (OUT/classes.json on rank 0)
    and the network registered as ``model``; the step; the validation (None without)."""
    val_terms = _val_terms(ctx)
    t = Trainer(ctx, FORMAT, terms=("loss",), val_terms=val_terms)
    cfg, size = t.config, int(t.config["input_size"])
    classes = ClassSet.from_state(t.shared("classes", lambda: make_classes(ctx, cfg).to_state()))
    if t.info.is_main:
        classes.save(ctx.out_dir / "classes.json")
    net = build_net({**cfg, "pretrained_encoder": bool(cfg.get("pretrained_encoder")) and not t.saved}, classes.n)
    cuda = t.device.type == "cuda"
    if cuda:
        net = net.to(memory_format=torch.channels_last)
    model = t.add_model("model", net, lambda p: torch.optim.Adam(p, lr=float(cfg["lr"]), betas=tuple(cfg["betas"])))
    target = int(cfg["target_size"])

    def step(t: Trainer, batch: dict[str, torch.Tensor]) -> dict[str, Any]:
        L = batch["L"].to(t.device, non_blocking=True)
        if cuda:
            L = L.contiguous(memory_format=torch.channels_last)
        ab = batch["ab"].to(t.device, non_blocking=True)
        y = classes.targets(target_ab(ab, target))  # 56x56 targets, as fit-classes sees them
        with t.autocast():
            logits = model(L)
        loss = compute_loss(str(cfg["loss"]), logits, y, float(cfg["p_percent"]), cfg.get("psi"),
                            reduce=t.all_reduce_sum)  # eq. 15 counts of the global batch
        t.optimize("model", loss)
        return {"loss": loss}

    def validate(t: Trainer, stage: Stage) -> dict[str, float]:  # TAR, CNR, CPSNR on val_images
        col = CCCColorizer(t.models["model"], classes, size, t.device)
        return validate_colorizer(t, col.colorize, ctx.val_dataset, size, int(cfg["val_images"]), VAL_METRICS)

    return t, step, validate if val_terms else None


def run_training(ctx: TrainContext) -> CCCNet:
    """Train and return the (unwrapped) network; rank 0 writes checkpoint.pt and the log."""
    t, step, validate = setup(ctx)
    cfg = t.config
    data = ColorPairs(ctx.dataset, int(cfg["input_size"]), train=True, flip=bool(cfg.get("flip", True)), seed=ctx.seed)
    steps = cfg.get("steps")
    if steps is None:  # whole epochs of the global batch
        steps = int(cfg.get("epochs") or 1) * max(1, len(data) // t.settings.batch_size)
    t.fit([Stage("train", int(steps), data, step)], validate=validate)
    return t.models["model"]  # type: ignore[return-value]
