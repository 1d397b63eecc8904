"""``colorbench train profile``: (1) descriptor + clustering pass, (2) profile predictor,
(3) one colorizer per profile (plus ``global`` when a profile falls back).

Steps are numbered 1..T over the whole schedule: the predictor's steps first, then each
colorizer's in ``Profiles.models`` order (see ``schedule``). checkpoint.pt always holds
everything finished so far (profiles, predictor, colorizers, their optimizers) and the
global step; ``--resume`` continues with the model in progress at exactly the batch it
stopped at: epoch e of a model visits its images in a permutation seeded by (seed, model
number, e) and the crop/flip of an image is seeded by (seed, e, index) (ColorPairs).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from colorbench.device import autocast
from colorbench.errors import ColorbenchError
from colorbench.models.checkpoints import load_checkpoint, save_checkpoint
from colorbench.plugin.specs import Dataset, Sample
from colorbench.training import ColorPairs, TrainContext, TrainLog, distributed
from colorbench_profile.colorizer import FORMAT
from colorbench_profile.evaluate import colorizer_val_l1, predictor_accuracy
from colorbench_profile.model import build_predictor, build_unet, normalize_L, rarity_loss
from colorbench_profile.profiles import Profiles, ab_marginals, cluster, descriptor, lab_pixels

COLUMNS = ("step", "stage", "model", "model_step", "epoch", "loss", "mse", "wmse", "l1_ab", "acc",
           "val_l1_ab", "val_acc", "lr", "images_per_s")


# ------------------------------------------------------------------ data
class Cached:
    """A dataset held in memory with every image resized to shorter side ``side`` (the
    ``cache_size`` setting: decoding full-size JPEGs every step dominates CPU training)."""

    def __init__(self, ids: list[str], images: list[np.ndarray | None]):
        self.ids, self.images = ids, images

    def load(self, index: int) -> Sample:
        image = self.images[index]
        if image is None:
            raise ColorbenchError(f"image {self.ids[index]} could not be read")
        return Sample(id=self.ids[index], image=image)


def _shrink(rgb: np.ndarray, side: int) -> np.ndarray:
    from PIL import Image

    h, w = rgb.shape[:2]
    if min(h, w) <= side:
        return rgb
    scale = side / min(h, w)
    size = (max(side, round(w * scale)), max(side, round(h * scale)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BICUBIC, reducing_gap=2.0))


class _Items(torch.utils.data.Dataset[dict[str, torch.Tensor]]):
    def __init__(self, pairs: ColorPairs, labels: list[int] | None):
        self.pairs, self.labels = pairs, labels

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        item = self.pairs[index]
        if self.labels is not None:
            item["label"] = torch.tensor(self.labels[index])
        return item


def fit_pass(ctx: TrainContext, cfg: dict[str, Any], cluster_too: bool) -> tuple[Dataset, Profiles | None]:
    """One pass over the training images: descriptors, a*b* marginals and mean Lab (for the
    clustering), and the in-memory cache. Returns (training dataset, profiles or None)."""
    ds, n = ctx.dataset, len(ctx.dataset.ids)
    side = int(cfg.get("cache_size") or 0)
    fit = int(cfg.get("fit_size", 32))
    images: list[np.ndarray | None] = []
    desc: list[np.ndarray | None] = []
    marg = np.zeros((n, 2, 64))
    means = np.zeros((n, 3))
    with ctx.reporter.progress("profile descriptors" if cluster_too else "caching images", n) as advance:
        for i in range(n):
            try:
                rgb = ds.load(i).image
            except Exception as exc:  # a broken image is left out, training goes on
                ctx.reporter.warn(f"image {ds.ids[i]}: {exc}; left out")
                images.append(None)
                desc.append(None)
                advance(1)
                continue
            if side:
                images.append(_shrink(rgb, side))
            if cluster_too:
                lab = lab_pixels(rgb, fit)
                desc.append(descriptor(lab, cfg))
                marg[i] = ab_marginals(lab)
                means[i] = lab.mean(0)
            advance(1)
    train_ds: Dataset = Cached(list(ds.ids), images) if side else ds
    if not cluster_too:
        return train_ds, None
    dim = next((len(d) for d in desc if d is not None), 1)
    arr = np.stack([d if d is not None else np.full(dim, np.nan) for d in desc])
    return train_ds, cluster(arr, marg, means, cfg, seed=ctx.seed)


# -------------------------------------------------------------- schedule
def _allocate(total: int, shares: list[int]) -> list[int]:
    """Split ``total`` proportionally to ``shares`` (largest remainder), at least 1 each."""
    s = sum(shares) or len(shares)
    raw = [total * (x or 1) / s for x in shares]
    out = [max(1, math.floor(r)) for r in raw]
    for i in sorted(range(len(raw)), key=lambda i: raw[i] - math.floor(raw[i]), reverse=True):
        if sum(out) >= total:
            break
        out[i] += 1
    return out


def schedule(cfg: dict[str, Any], profiles: Profiles) -> list[tuple[str, int]]:
    """[(model, steps)]: ``predictor`` first, then the colorizers.

    ``--steps S``: the predictor gets round(S·predictor_share) steps, the colorizers the
    rest in proportion to the training images each serves (a profile's own size; ``global``:
    the images of the profiles that fell back to it); every model gets at least one step.
    Without ``--steps``: predictor_epochs / colorizer_epochs passes over each model's images."""
    models = profiles.models
    steps = cfg.get("steps")
    if steps:
        steps = int(steps)
        p = max(1, round(steps * float(cfg.get("predictor_share", 0.15))))
        c = _allocate(max(steps - p, len(models)), [profiles.served(m) for m in models])
    else:
        bs = int(cfg["batch_size"])
        p = max(1, math.ceil(float(cfg["predictor_epochs"]) * len(profiles.members("global")) / bs))
        c = [max(1, math.ceil(float(cfg["colorizer_epochs"]) * len(profiles.members(m)) / bs)) for m in models]
    return [("predictor", p), *zip(models, c, strict=True)]


def _batches(n: int, per_rank: int, seed: int, start: int, info: distributed.DistInfo) -> Iterator[tuple[int, list[int]]]:
    """(epoch, positions) of the batches after ``start`` for a model with ``n`` images."""
    per_epoch = max(1, (math.ceil(n / info.world_size) if info.enabled else n) // per_rank)
    step = start
    while True:
        epoch, pos = divmod(step, per_epoch)
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch)).tolist()
        mine = distributed.shard(order, info)
        for b in range(pos, per_epoch):
            yield epoch, mine[b * per_rank:(b + 1) * per_rank]
        step = (epoch + 1) * per_epoch


# ----------------------------------------------------------------- train
def train(ctx: TrainContext) -> None:
    cfg, info = dict(ctx.config), distributed.setup(ctx.device)
    try:
        _train(ctx, cfg, info)
    finally:
        distributed.teardown(info)


def _train(ctx: TrainContext, cfg: dict[str, Any], info: distributed.DistInfo) -> None:
    if int(cfg.get("threads") or 0) > 0:  # 1 is much faster than 2 on a busy 2-core machine
        torch.set_num_threads(int(cfg["threads"]))
    if not info.is_main:
        from colorbench.reporting import Reporter

        ctx.reporter = Reporter(quiet=True)
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    state: dict[str, Any] = load_checkpoint(ctx.checkpoint_path, map_location="cpu") if ctx.resume else {}
    if state:
        if state.get("format") != FORMAT:
            raise ColorbenchError(f"--resume: {ctx.checkpoint_path} is not a profile training checkpoint")
        cfg.update({k: v for k, v in state["config"].items() if k in _FIXED})
    if state.get("profiles"):
        train_ds, _ = fit_pass(ctx, cfg, cluster_too=False) if cfg.get("cache_size") else (ctx.dataset, None)
        profiles = Profiles.from_state(state["profiles"])
    else:
        train_ds, fitted = fit_pass(ctx, cfg, cluster_too=True)
        assert fitted is not None
        profiles = fitted
        state = {"format": FORMAT, "step": 0, "config": _plain(cfg), "profiles": profiles.to_state(),
                 "colorizers": {}, "optimizers": {}}
        if info.is_main:
            save_checkpoint(state, ctx.checkpoint_path)
    ctx.reporter.info("profiles: " + ", ".join(f"{k}: {s} images -> {r}" for k, (s, r) in
                                                enumerate(zip(profiles.sizes, profiles.routes, strict=True))))
    plan = schedule(cfg, profiles)
    total = sum(n for _, n in plan)
    done = int(state["step"])
    stop = int(cfg.get("stop_at") or 0) or total
    ctx.reporter.info("schedule: " + ", ".join(f"{m} {n} steps" for m, n in plan) + f" (done: {done})")
    log = TrainLog(ctx.out_dir / "train_log.csv", COLUMNS, resume_step=done) if info.is_main else None
    offset = 0
    try:
        for index, (model, n_steps) in enumerate(plan):
            start = done - offset
            if start < n_steps and done < stop:
                done = _train_model(ctx, cfg, info, state, profiles, train_ds, index, model, n_steps,
                                    max(start, 0), offset, min(stop, offset + n_steps), log)
            offset += n_steps
            if done >= stop:
                break
    finally:
        if log is not None:
            log.close()


_FIXED = ("unet_widths", "predictor_widths", "predictor_size", "predictor_hidden", "predictor_dropout", "size",
          "profiles", "descriptor", "dcd_colors", "hist_bins", "fit_size", "min_profile_images", "cache_size",
          "steps", "epochs", "predictor_epochs", "colorizer_epochs", "predictor_share", "batch_size")


def _train_model(ctx: TrainContext, cfg: dict[str, Any], info: distributed.DistInfo, state: dict[str, Any],
                 profiles: Profiles, train_ds: Dataset, index: int, model: str, n_steps: int, start: int,
                 offset: int, until: int, log: TrainLog | None) -> int:
    """Train one model from its step ``start`` to global step ``until``; returns the global step."""
    device, cuda = info.device, info.device.type == "cuda"
    is_pred = model == "predictor"
    torch.manual_seed(ctx.seed * 1_000_003 + index)  # the same initial weights on every rank
    net: nn.Module = build_predictor(cfg, profiles.k) if is_pred else build_unet(cfg)
    net = net.to(device)
    lr = float(cfg["predictor_lr"] if is_pred else cfg["lr"])
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    saved = state["predictor"] if is_pred and "predictor" in state else state["colorizers"].get(model)
    if start > 0 and saved is not None:
        net.load_state_dict(saved)
        if model in state["optimizers"]:
            opt.load_state_dict(state["optimizers"][model])
    scaler = torch.amp.GradScaler(device.type, enabled=cuda)
    wrapped = distributed.wrap(net, info)
    members = profiles.members("global" if is_pred else model)
    labels = [profiles.assignment[i] for i in members] if is_pred else None
    size = int(cfg["predictor_size"] if is_pred else cfg["size"])
    pairs = ColorPairs(_Subset(train_ds, members), size, train=True, flip=bool(cfg.get("flip", True)), seed=ctx.seed)
    items = _Items(pairs, labels)
    per_rank = max(1, min(int(cfg["batch_size"]) // info.world_size, len(members)))
    weights = None if is_pred else torch.from_numpy(profiles.weights[model]).float().to(device)
    blend, norm = float(cfg.get("mse_blend", 0.65)), str(cfg.get("wmse_norm", "weighted_mean"))
    log_every, save_every = int(cfg.get("log_every", 10)), max(1, int(cfg.get("save_every", 200)))
    val_n = int(cfg.get("val_images", 0))

    def step_fn(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        x = normalize_L(batch["L"].to(device, non_blocking=True))
        if cuda:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast(device):
            out = wrapped(x)
        if is_pred:
            y = batch["label"].to(device)
            loss = F.cross_entropy(out.float(), y)
            return {"loss": loss, "acc": (out.argmax(1) == y).float().mean()}
        ab = batch["ab"].to(device, non_blocking=True)
        losses = rarity_loss(out, ab, weights, blend, norm)  # type: ignore[arg-type]
        losses["l1_ab"] = (out.float() * 110.0 - ab).abs().mean()
        return losses

    def save(step: int) -> None:
        if not info.is_main:
            return
        if is_pred:
            state["predictor"] = net.state_dict()
        else:
            state["colorizers"][model] = net.state_dict()
        state["optimizers"][model] = opt.state_dict()
        state["step"] = offset + step
        save_checkpoint(state, ctx.checkpoint_path)

    def validate() -> dict[str, float]:
        if not info.is_main or ctx.val_dataset is None or val_n <= 0:
            return {}
        net.eval()
        try:
            if is_pred:
                return {"val_acc": predictor_accuracy(net, profiles, cfg, ctx.val_dataset, val_n, device)["accuracy"]}
            return {"val_l1_ab": colorizer_val_l1(net, profiles, model, cfg, ctx.val_dataset, val_n, device)}
        finally:
            net.train()

    net.train()
    batches = _batches(len(members), per_rank, ctx.seed * 101 + index, start, info)
    sums: dict[str, float] = {}
    n_sum, t0 = 0, time.perf_counter()
    last = min(n_steps, until - offset)
    with (ctx.reporter.progress(f"train {model}", last - start) if info.is_main else _null()) as advance:
        for step in range(start + 1, last + 1):
            epoch, chunk = next(batches)
            pairs.set_epoch(epoch)
            batch = torch.utils.data.default_collate([items[i] for i in chunk]) if not int(cfg.get("workers") or 0) \
                else next(iter(torch.utils.data.DataLoader(items, batch_size=len(chunk), sampler=chunk,
                                                           num_workers=int(cfg["workers"]))))
            losses = step_fn(batch)
            opt.zero_grad(set_to_none=True)
            scaler.scale(losses["loss"]).backward()
            scaler.step(opt)
            scaler.update()
            for k, v in losses.items():
                sums[k] = sums.get(k, 0.0) + float(distributed.mean(v.detach(), info))
            n_sum += 1
            advance(1)
            end = step == n_steps
            do_save = end or step == last or (offset + step) % save_every == 0
            if not (do_save or step % log_every == 0):
                continue
            row: dict[str, Any] = {"step": offset + step, "stage": "predictor" if is_pred else "colorizer",
                                   "model": model, "model_step": step, "epoch": epoch, "lr": lr,
                                   "images_per_s": n_sum * per_rank * info.world_size / max(time.perf_counter() - t0, 1e-9)}
            row.update({k: v / n_sum for k, v in sums.items()})
            if do_save:
                distributed.sync_buffers(net, info)
                if end or (offset + step) % save_every == 0:
                    row.update(validate())
                save(step)
            if log is not None:
                log.write(**row)
            if info.is_main and not all(math.isfinite(float(v)) for k, v in row.items() if k in sums):
                ctx.reporter.warn(f"step {offset + step}: non-finite loss {row}")
            if info.is_main and row.get("val_acc") is not None:
                ctx.reporter.info(f"predictor step {step}: held-out profile accuracy {row['val_acc']:.3f}")
            sums, n_sum, t0 = {}, 0, time.perf_counter()
            distributed.barrier(info)
    return offset + last


class _Subset:
    def __init__(self, dataset: Dataset, indices: list[int]):
        self.dataset, self.indices = dataset, indices
        self.ids = [dataset.ids[i] for i in indices]

    def load(self, index: int) -> Sample:
        return self.dataset.load(self.indices[index])


def _plain(cfg: dict[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if not isinstance(v, (int, float, str, bool, list, type(None))) else v) for k, v in cfg.items()}


class _null:
    def __enter__(self) -> Callable[[int], None]:
        return lambda n: None

    def __exit__(self, *exc: object) -> None:
        return None
