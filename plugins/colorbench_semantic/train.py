"""``colorbench train semantic``: the GridNet segmenter, then the two-stream colorizer, as two
stages of the one training loop (``colorbench.training.Trainer``).

The two networks are trained separately (seed 004): the segmenter on (gray, map) with
cross-entropy, the colorizer on (gray, ground-truth map) -> a*b* with the Huber loss
(delta 1) on a*b* scaled to [-1, 1]. Steps are numbered over both stages
(``colorbench_semantic.stages``: ``stage=segmenter|colorizer|both``, ``seg_steps``,
``seg_share``, ``seg_epochs``). ``labels=dataset`` uses the dataset's semantic maps
(``shapes``, ``coco``, ``ade20k``); ``labels=pseudo`` derives them from the gray image
(``colorbench_semantic.pseudo``) with k-means centres fitted once, on rank 0, before
training. The centres (``pseudo``) and the class list (``classes``) are shared state: in
every checkpoint, read back on ``--resume``, identical on every rank.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from colorbench.errors import ColorbenchError
from colorbench.training import Stage, TrainContext, Trainer
from colorbench_semantic.colorizer import ARCH_KEYS
from colorbench_semantic.data import SemanticPairs, check_has_maps, class_list, fit_labeler
from colorbench_semantic.model import (
    AB_SCALE,
    build_colorizer,
    build_segmenter,
    normalize_ab,
    normalize_L,
    normalize_labels,
)
from colorbench_semantic.pseudo import PseudoLabeler
from colorbench_semantic.stages import huber, schedule, validate

FORMAT = "colorbench-semantic/2"
TERMS = ("loss_seg", "pixel_acc", "loss_color", "l1_ab")
VAL_TERMS = ("val_pixel_acc", "val_l1_ab")


def train(ctx: TrainContext) -> Trainer:
    """Train both networks into ``ctx.out_dir`` (see the module docstring); the finished Trainer."""
    t = Trainer(ctx, FORMAT, terms=TERMS, val_terms=VAL_TERMS)
    cfg = t.config
    cfg.update({k: v for k, v in t.saved.get("config", {}).items() if k in ARCH_KEYS})  # the trained networks'
    labels = str(cfg.get("labels", "dataset"))
    if labels not in ("dataset", "pseudo"):
        raise ColorbenchError(f"--set labels={labels}: choose dataset or pseudo")

    def fit() -> dict[str, Any] | None:
        if labels != "pseudo":
            return None
        t.reporter.info("fitting the pseudo-label k-means on gray superpixel descriptors")
        return fit_labeler(cfg, ctx.dataset, ctx.seed).state()

    pseudo = t.shared("pseudo", fit)
    labeler = PseudoLabeler.from_state(pseudo) if pseudo is not None else None
    classes = t.shared("classes", lambda: class_list(cfg, ctx.dataset, pseudo))
    cfg["n_classes"] = n_classes = len(classes)

    betas = (float(cfg.get("beta1", 0.9)), float(cfg.get("beta2", 0.999)))

    def adam(params: list[torch.nn.Parameter]) -> torch.optim.Optimizer:
        return torch.optim.Adam(params, lr=float(cfg["lr"]), betas=betas)

    seg = t.add_model("segmenter", build_segmenter(cfg), adam)
    col = t.add_model("colorizer", build_colorizer(cfg), adam)
    size, scale = int(cfg["size"]), int(cfg["scale"])
    pairs = SemanticPairs(ctx.dataset, size, scale, seed=ctx.seed, labeler=labeler, vflip=bool(cfg.get("vflip", True)))
    boundary, last = schedule(cfg, max(1, len(pairs) // t.settings.batch_size), t.step, t.saved.get("boundary"))
    t.extra["boundary"] = boundary  # saved with every checkpoint: where a resumed run's colorizer starts
    delta = float(cfg.get("huber_delta", 1.0))

    def inputs(t: Trainer, b: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        return normalize_L(b["L"].to(t.device, non_blocking=True)), b["semantic"].to(t.device, non_blocking=True)

    def seg_step(t: Trainer, b: dict[str, torch.Tensor]) -> dict[str, Any]:
        x, sem = inputs(t, b)
        with t.autocast():
            logits = seg(x)
        loss = F.cross_entropy(logits.float(), sem)
        t.optimize("segmenter", loss)
        return {"loss_seg": loss, "pixel_acc": (logits.detach().argmax(1) == sem).float().mean()}

    def col_step(t: Trainer, b: dict[str, torch.Tensor]) -> dict[str, Any]:
        x, sem = inputs(t, b)
        y = normalize_ab(b["ab"].to(t.device, non_blocking=True))
        with t.autocast():
            out = col(x, normalize_labels(sem, n_classes))
        loss = huber(out, y, delta)
        t.optimize("colorizer", loss)
        return {"loss_color": loss, "l1_ab": (out.detach().float() - y).abs().mean() * AB_SCALE}

    val = None
    if ctx.val_dataset is not None and int(cfg.get("val_images") or 0) > 0:
        if labeler is None:
            check_has_maps(ctx.val_dataset, "the validation dataset")
        val = SemanticPairs(ctx.val_dataset, size, scale, train=False, labeler=labeler)
    n_val = int(cfg.get("val_images") or 0)
    t.fit([Stage("segmenter", boundary, pairs, seg_step), Stage("colorizer", last - boundary, pairs, col_step)],
          validate=None if val is None else lambda t, stage: validate(t, stage.name, val, n_val, n_classes))
    return t
