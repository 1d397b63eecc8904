"""``colorbench train semantic``: the GridNet segmenter, then the two-stream colorizer.

The two networks are trained separately (seed 004): the segmenter on (gray, map) with
cross-entropy, the colorizer on (gray, ground-truth map) -> a*b* with the Huber loss
(delta 1) on a*b* scaled to [-1, 1]. Steps are numbered 1..T over the whole schedule; step
s is a segmenter step when s <= P (the stage boundary) and a colorizer step after it.
``stage=segmenter`` runs 1..P, ``stage=both`` 1..T, ``stage=colorizer`` only colorizer steps
(after the resumed checkpoint's step, or from scratch). Batches are a pure function of
(seed, step), so ``--resume`` continues exactly where an uninterrupted run would be.

``labels=dataset`` uses the dataset's semantic maps (``shapes``, ``coco``, ``ade20k``);
``labels=pseudo`` derives them from the gray image (``colorbench_semantic.pseudo``), with
k-means centres fitted once before training and stored in the checkpoint.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DistributedSampler

from colorbench.color import rgb_to_lab
from colorbench.device import autocast
from colorbench.errors import ColorbenchError
from colorbench.evaluation.protocol import resize
from colorbench.models.checkpoints import load_checkpoint, save_checkpoint
from colorbench.plugin.specs import Dataset
from colorbench.training import TrainContext, TrainLog, distributed, epoch_batches, load_sample
from colorbench_semantic.model import (
    AB_SCALE,
    build_colorizer,
    build_segmenter,
    normalize_ab,
    normalize_L,
    normalize_labels,
)
from colorbench_semantic.pseudo import PseudoLabeler

FORMAT = "colorbench-semantic/1"
ARCH_KEYS = ("n_classes", "width", "seg_width", "instance_norm", "labels", "size")
COLUMNS = ("step", "epoch", "stage", "lr", "loss_seg", "pixel_acc", "loss_color", "l1_ab",
           "val_pixel_acc", "val_l1_ab", "images_per_s")


class SemanticPairs(torch.utils.data.Dataset[dict[str, torch.Tensor]]):
    """(L [1,S,S], ab [2,S,S], semantic [S,S] long): the image (and map, nearest) stretched
    to ``scale`` x ``scale``, a random ``size`` crop and random h/v flips (the paper's
    augmentation) when ``train``; the centre crop otherwise. ``labeler`` replaces the map
    with pseudo-labels of the crop's L*. Augmentation of item i in epoch e is drawn from
    ``default_rng([seed, e, i])``."""

    def __init__(self, dataset: Dataset, size: int, scale: int, train: bool = True, seed: int = 0,
                 labeler: PseudoLabeler | None = None, vflip: bool = True):
        self.dataset, self.size, self.scale, self.train = dataset, size, max(scale, size), train
        self.seed, self.epoch, self.labeler, self.vflip = seed, 0, labeler, vflip

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.dataset.ids)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        from PIL import Image

        sample = load_sample(self.dataset, index)
        if sample.semantic is None and self.labeler is None:
            raise ColorbenchError(f"image {sample.id!r} has no semantic map; train on a dataset with maps "
                                  "(shapes, coco, ade20k) or use --set labels=pseudo")
        rng = np.random.default_rng([self.seed, self.epoch, index])
        s, c = self.scale, self.size
        image = resize(sample.image, s, "stretch")
        sem = None
        if self.labeler is None:
            sem = np.array(Image.fromarray(np.ascontiguousarray(sample.semantic).astype(np.int32))
                           .resize((s, s), Image.Resampling.NEAREST))
        top, left = (int(rng.integers(0, s - c + 1)), int(rng.integers(0, s - c + 1))) if self.train \
            else ((s - c) // 2, (s - c) // 2)
        image = image[top:top + c, left:left + c]
        sem = sem[top:top + c, left:left + c] if sem is not None else None
        if self.train and rng.random() < 0.5:
            image, sem = image[:, ::-1], (sem[:, ::-1] if sem is not None else None)
        if self.train and self.vflip and rng.random() < 0.5:
            image, sem = image[::-1], (sem[::-1] if sem is not None else None)
        lab = rgb_to_lab(torch.from_numpy(np.array(image, order="C")).permute(2, 0, 1)).float()
        if self.labeler is not None:
            sem = self.labeler(lab[0].numpy())
        return {"L": lab[:1], "ab": lab[1:], "semantic": torch.from_numpy(np.ascontiguousarray(sem)).long()}


def dataset_classes(dataset: Dataset) -> list[str] | None:
    classes = getattr(dataset, "classes", None)
    if classes is None and hasattr(dataset, "dataset"):  # a split/subset wrapper
        return dataset_classes(dataset.dataset)
    if isinstance(classes, dict):
        top = max(int(k) for k in classes) if classes else -1
        return [str(classes.get(k, f"class {k}")) for k in range(top + 1)]
    return [str(c) for c in classes] if classes is not None else None


def check_has_maps(dataset: Dataset, name: str = "the training dataset") -> None:
    for i in range(min(len(dataset.ids), 4)):
        try:
            sample = dataset.load(i)
        except Exception:
            continue
        if sample.semantic is None:
            raise ColorbenchError(f"{name} has no semantic maps (image {sample.id!r}): train semantic on "
                                  "shapes, coco or ade20k, or derive maps from the gray image with "
                                  "--set labels=pseudo")
        return


def fit_labeler(cfg: dict[str, Any], dataset: Dataset, seed: int) -> PseudoLabeler:
    pairs = SemanticPairs(dataset, int(cfg["size"]), int(cfg["scale"]), train=False, seed=seed,
                          labeler=PseudoLabeler(np.zeros((1, 6)), np.zeros(6), np.ones(6)))
    n = min(int(cfg.get("pseudo_fit_images", 256)), len(pairs))
    idx = np.random.default_rng(seed).permutation(len(pairs))[:n]
    images = [pairs[int(i)]["L"][0].numpy() for i in idx]
    return PseudoLabeler.fit(images, int(cfg.get("pseudo_classes", 8)), seed=seed,
                             area=int(cfg.get("pseudo_area", 64)))


def schedule(cfg: dict[str, Any], steps_per_epoch: int, start: int, boundary: int | None) -> tuple[int, int]:
    """(P, T): the last segmenter step and the last step of this run."""
    steps = cfg.get("steps")
    if steps:
        p_cfg = int(cfg["seg_steps"]) if cfg.get("seg_steps") is not None else round(int(steps) * float(cfg.get("seg_share", 0.5)))
        p_cfg = min(p_cfg, int(steps))
        c_cfg = int(steps) - p_cfg
    else:
        p_cfg = math.ceil(float(cfg.get("seg_epochs", 0)) * steps_per_epoch)
        c_cfg = math.ceil(float(cfg.get("epochs", 0)) * steps_per_epoch)
    stage = cfg.get("stage", "both")
    if stage == "segmenter":
        n = int(steps) if steps else p_cfg
        return n, n
    if stage == "colorizer":
        p = boundary if boundary is not None and start > boundary else start
        return p, p + (int(steps) if steps else c_cfg)
    if stage == "both":
        p = boundary if boundary is not None and start >= boundary else p_cfg
        return p, max(p, int(steps) if steps else p + c_cfg)
    raise ColorbenchError(f"--set stage={stage}: choose segmenter, colorizer or both")


def huber(pred: torch.Tensor, target: torch.Tensor, delta: float = 1.0) -> torch.Tensor:
    """Eq. 1 of the paper, mean over pixels and both channels."""
    return F.huber_loss(pred.float(), target.float(), delta=delta)



@torch.no_grad()
def validate(seg: torch.nn.Module, col: torch.nn.Module, pairs: SemanticPairs, n: int, n_classes: int,
             device: torch.device) -> tuple[float, float]:
    """(pixel accuracy of the segmenter, mean |Δa*b*| of the colorizer given the true map)."""
    seg_mode, col_mode = seg.training, col.training
    seg.eval()
    col.eval()
    acc, l1, count = 0.0, 0.0, 0
    for i in range(min(n, len(pairs))):
        item = pairs[i]
        x = normalize_L(item["L"][None].to(device))
        sem = item["semantic"][None].to(device)
        acc += float((seg(x).argmax(1) == sem).float().mean())
        out = col(x, normalize_labels(sem, n_classes))
        l1 += float((out - normalize_ab(item["ab"][None].to(device))).abs().mean()) * AB_SCALE
        count += 1
    seg.train(seg_mode)
    col.train(col_mode)
    return acc / max(count, 1), l1 / max(count, 1)


def train(ctx: TrainContext) -> None:
    cfg, info = dict(ctx.config), distributed.setup(ctx.device)
    try:
        _train(ctx, cfg, info, info.device, info.device.type == "cuda")
    finally:
        distributed.teardown(info)


def _train(ctx: TrainContext, cfg: dict[str, Any], info: distributed.DistInfo, device: torch.device,
           cuda: bool) -> None:
    if int(cfg.get("threads") or 0) > 0:
        torch.set_num_threads(int(cfg["threads"]))
    ckpt = load_checkpoint(ctx.checkpoint_path, map_location=device) if ctx.resume else None
    if ckpt is not None:
        if ckpt.get("format") != FORMAT or "opt_seg" not in ckpt:
            raise ColorbenchError(f"--resume: {ctx.checkpoint_path} is not a semantic training checkpoint")
        cfg.update({k: ckpt["config"][k] for k in ARCH_KEYS if k in ckpt["config"]})
    labels = str(cfg.get("labels", "dataset"))
    if labels not in ("dataset", "pseudo"):
        raise ColorbenchError(f"--set labels={labels}: choose dataset or pseudo")
    labeler: PseudoLabeler | None = None
    if labels == "pseudo":
        if ckpt is not None:
            labeler = PseudoLabeler.from_state(ckpt["pseudo"])
        else:
            ctx.reporter.info("fitting the pseudo-label k-means on gray superpixel descriptors")
            labeler = fit_labeler(cfg, ctx.dataset, ctx.seed)
        classes = [f"pseudo {k}" for k in range(labeler.n_classes)]
    else:
        check_has_maps(ctx.dataset)
        classes = ckpt["classes"] if ckpt is not None else dataset_classes(ctx.dataset)
        if classes is None:
            raise ColorbenchError("the training dataset has semantic maps but no class list "
                                  "(a 'classes' attribute); set --set n_classes=N")
    if cfg.get("n_classes") is None:
        cfg["n_classes"] = len(classes)
    n_classes = int(cfg["n_classes"])
    classes = (list(classes) + [f"class {k}" for k in range(len(classes), n_classes)])[:n_classes]

    torch.manual_seed(ctx.seed)
    seg, col = build_segmenter(cfg).to(device), build_colorizer(cfg).to(device)
    betas = (float(cfg.get("beta1", 0.9)), float(cfg.get("beta2", 0.999)))
    opt_seg = torch.optim.Adam(seg.parameters(), lr=float(cfg["lr"]), betas=betas)
    opt_col = torch.optim.Adam(col.parameters(), lr=float(cfg["lr"]), betas=betas)
    scaler = torch.amp.GradScaler(device.type, enabled=cuda)
    start, boundary = 0, None
    if ckpt is not None:
        seg.load_state_dict(ckpt["segmenter"])
        col.load_state_dict(ckpt["colorizer"])
        opt_seg.load_state_dict(ckpt["opt_seg"])
        opt_col.load_state_dict(ckpt["opt_col"])
        if ckpt.get("scaler"):
            scaler.load_state_dict(ckpt["scaler"])
        start, boundary = int(ckpt["step"]), ckpt.get("boundary")
    segp, colp = distributed.wrap(seg, info), distributed.wrap(col, info)

    size, batch_size = int(cfg["size"]), int(cfg["batch_size"])
    per_rank = max(1, batch_size // info.world_size)
    pairs = SemanticPairs(ctx.dataset, size, int(cfg["scale"]), train=True, seed=ctx.seed, labeler=labeler,
                          vflip=bool(cfg.get("vflip", True)))
    sampler = DistributedSampler(pairs, num_replicas=info.world_size, rank=info.rank, shuffle=True,
                                 seed=ctx.seed, drop_last=True)
    steps_per_epoch = len(sampler) // per_rank
    if steps_per_epoch == 0:
        raise ColorbenchError(f"training set has {len(pairs)} images, fewer than one batch of {batch_size}")
    P, T = schedule(cfg, steps_per_epoch, start, boundary)
    val_pairs = None
    if ctx.val_dataset is not None and int(cfg.get("val_images", 0)) > 0:
        if labeler is None:
            check_has_maps(ctx.val_dataset, "the validation dataset")
        val_pairs = SemanticPairs(ctx.val_dataset, size, int(cfg["scale"]), train=False, labeler=labeler)
    log_every, save_every = int(cfg.get("log_every", 10)), int(cfg.get("save_every", 500))
    log = TrainLog(ctx.out_dir / "train_log.csv", COLUMNS, resume_step=start) if info.is_main else None
    if start >= T:
        ctx.reporter.info(f"checkpoint is at step {start}; nothing to do for {T} steps")
        return
    batches = epoch_batches(pairs, sampler, per_rank, steps_per_epoch, start, int(cfg.get("workers", 0)), cuda)
    sums: dict[str, float] = {}
    n_sum, t0 = 0, time.perf_counter()
    seg.train()
    col.train()
    with (ctx.reporter.progress("semantic", T - start) if info.is_main else _null_progress()) as advance:
        for step in range(start + 1, T + 1):
            epoch, batch = next(batches)
            stage = "segmenter" if step <= P else "colorizer"
            x = normalize_L(batch["L"].to(device, non_blocking=True))
            sem = batch["semantic"].to(device, non_blocking=True)
            losses: dict[str, torch.Tensor] = {}
            if stage == "segmenter":
                opt_seg.zero_grad(set_to_none=True)
                with autocast(device):
                    logits = segp(x)
                loss = F.cross_entropy(logits.float(), sem)
                scaler.scale(loss).backward()
                scaler.step(opt_seg)
                losses["loss_seg"] = loss.detach()
                losses["pixel_acc"] = (logits.detach().argmax(1) == sem).float().mean()
            else:
                y = normalize_ab(batch["ab"].to(device, non_blocking=True))
                opt_col.zero_grad(set_to_none=True)
                with autocast(device):
                    out = colp(x, normalize_labels(sem, n_classes))
                loss = huber(out, y, float(cfg.get("huber_delta", 1.0)))
                scaler.scale(loss).backward()
                scaler.step(opt_col)
                losses["loss_color"] = loss.detach()
                losses["l1_ab"] = (out.detach().float() - y).abs().mean() * AB_SCALE
            scaler.update()
            for k, v in losses.items():
                sums[k] = sums.get(k, 0.0) + float(distributed.mean(v, info))
            n_sum += 1
            advance(1)
            save = step % save_every == 0 or step == T or (step == P and T > P)
            if not (save or step % log_every == 0):
                continue
            elapsed = time.perf_counter() - t0
            row: dict[str, Any] = {"step": step, "epoch": epoch, "stage": stage, "lr": float(cfg["lr"]),
                                   "images_per_s": n_sum * per_rank * info.world_size / max(elapsed, 1e-9)}
            row.update({k: v / n_sum for k, v in sums.items()})
            if save and info.is_main:
                if val_pairs is not None:
                    row["val_pixel_acc"], row["val_l1_ab"] = validate(seg, col, val_pairs, int(cfg["val_images"]),
                                                                      n_classes, device)
                state = {"format": FORMAT, "step": step, "boundary": P, "config": _plain(cfg),
                         "classes": classes, "pseudo": labeler.state() if labeler is not None else None,
                         "segmenter": seg.state_dict(), "colorizer": col.state_dict(),
                         "opt_seg": opt_seg.state_dict(), "opt_col": opt_col.state_dict(),
                         "scaler": scaler.state_dict()}
                save_checkpoint(state, ctx.checkpoint_path)
            if log is not None:
                log.write(**row)
            if info.is_main and not all(math.isfinite(float(v)) for k, v in row.items() if k.startswith("loss")):
                ctx.reporter.warn(f"step {step}: non-finite loss {row}")
            sums, n_sum, t0 = {}, 0, time.perf_counter()
            distributed.barrier(info)
    if log is not None:
        log.close()


def _plain(cfg: dict[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in cfg.items()}


class _null_progress:
    def __enter__(self) -> Any:
        return lambda n: None

    def __exit__(self, *exc: object) -> None:
        return None
