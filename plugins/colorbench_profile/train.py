"""``colorbench train profile`` on the one training loop: (1) descriptor + clustering pass
-> Profiles, (2) the profile predictor, (3) one colorizer per profile (plus ``global`` when
a profile falls back).

The profiles (k-means over the whole training set) and the schedule (steps per model) are
data-derived state: computed once on rank 0, broadcast, and read back from the checkpoint
on ``--resume``. The stages are ``predictor`` then one per colorizer in ``Profiles.models``
order, each with its own member images, batch, learning rate and model, built when its
stage starts; checkpoint.pt holds every model trained so far at its top level under its
name (``predictor``, ``colorizer/<model>``) with its optimizer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from colorbench.plugin.specs import Dataset
from colorbench.training import Stage, TrainContext, Trainer
from colorbench.training.loop import StepFn
from colorbench_profile.colorizer import COLORIZER, FORMAT
from colorbench_profile.data import MemberPairs, fit_pass
from colorbench_profile.evaluate import colorizer_val_l1, predictor_accuracy
from colorbench_profile.model import build_predictor, build_unet, normalize_L, rarity_loss, to_ab
from colorbench_profile.profiles import Profiles
from colorbench_profile.schedule import schedule, stage_batch

TERMS = ("loss", "mse", "wmse", "l1_ab", "acc")
VAL_TERMS = ("val_acc", "val_l1_ab")


def train(ctx: TrainContext) -> Trainer:
    """Cluster (or read back) the profiles, then train the predictor and every colorizer."""
    t = Trainer(ctx, FORMAT, terms=TERMS, val_terms=VAL_TERMS)
    cfg = t.config
    cached: dict[str, Dataset] = {}

    def fit() -> dict[str, Any]:  # rank 0: the one pass fills its cache and clusters
        cached["data"], fitted = fit_pass(ctx.dataset, cfg, t.reporter, ctx.seed, cluster_too=True)
        assert fitted is not None
        return fitted.to_state()

    profiles = Profiles.from_state(t.shared("profiles", fit))
    if "data" not in cached:  # the other ranks, or a resumed run: the cache alone
        cached["data"] = fit_pass(ctx.dataset, cfg, t.reporter, ctx.seed, cluster_too=False)[0]
    t.reporter.info("profiles: " + ", ".join(f"{k}: {s} images -> {r}" for k, (s, r) in
                                              enumerate(zip(profiles.sizes, profiles.routes, strict=True))))
    plan = [(str(m), int(n)) for m, n in t.shared("schedule", lambda: schedule(cfg, profiles))]
    if plan != schedule(cfg, profiles):
        t.reporter.warn("--resume keeps the first run's schedule (steps, epochs); these settings now change nothing")
    t.reporter.info("schedule: " + ", ".join(f"{m} {n} steps" for m, n in plan) + f" (done: {t.step})")
    t.fit(_stages(t, profiles, cached["data"], plan), validate=_validator(ctx, cfg, profiles))
    return t


def _stages(t: Trainer, profiles: Profiles, data: Dataset, plan: list[tuple[str, int]]) -> list[Stage]:
    """The predictor's stage (every image, labelled by its profile), then one per colorizer."""
    cfg, seed, flip = t.config, t.ctx.seed, bool(t.config.get("flip", True))
    augment = bool(cfg.get("augment", True))
    unit = t.info.world_size * t.settings.accumulate
    nets: dict[str, nn.Module] = {}  # the modules to call (DDP-wrapped under torchrun)
    everyone = profiles.members("global")
    labels = [profiles.assignment[i] for i in everyone]
    pairs = MemberPairs(data, everyone, int(cfg["predictor_size"]), labels, flip, seed, augment)
    stages = [Stage("predictor", plan[0][1], pairs, _predictor_step(nets), batch_size=stage_batch(
        t.settings.batch_size, len(everyone), unit), start=_starter(nets, "predictor", lambda: build_predictor(
            cfg, profiles.k), float(cfg["predictor_lr"])))]
    for model, steps in plan[1:]:
        members = profiles.members(model)
        pairs = MemberPairs(data, members, int(cfg["size"]), flip=flip, seed=seed, augment=augment)
        weights = torch.from_numpy(profiles.weights[model]).float()
        stages.append(Stage(model, steps, pairs, _colorizer_step(nets, model, weights, cfg),
                            start=_starter(nets, COLORIZER + model, lambda: build_unet(cfg), float(cfg["lr"])),
                            batch_size=stage_batch(t.settings.batch_size, len(members), unit)))
    return stages


def _starter(nets: dict[str, nn.Module], name: str, build: Callable[[], nn.Module],
             lr: float) -> Callable[[Trainer], None]:
    """The stage's start: build and register model ``name`` with Adam (the loop has seeded
    the RNG, so its initial weights are the same on every rank, resumed or not)."""
    def start(t: Trainer) -> None:
        nets[name] = t.add_model(name, build(), lambda params: torch.optim.Adam(params, lr=lr))
    return start


def _predictor_step(nets: dict[str, nn.Module]) -> StepFn:
    """Cross entropy of the predicted profile of the gray image."""
    def step(t: Trainer, b: dict[str, torch.Tensor]) -> dict[str, Any]:
        y = b["label"].to(t.device)
        with t.autocast():
            out = nets["predictor"](normalize_L(b["L"].to(t.device, non_blocking=True)))
        loss = F.cross_entropy(out.float(), y)
        t.optimize("predictor", loss)
        return {"loss": loss, "acc": (out.argmax(1) == y).float().mean()}
    return step


def _colorizer_step(nets: dict[str, nn.Module], model: str, weights: torch.Tensor, cfg: dict[str, Any]) -> StepFn:
    """The rarity-weighted loss of ``model`` with its profile's weights (paper §4.3)."""
    blend, norm = float(cfg.get("mse_blend", 0.65)), str(cfg.get("wmse_norm", "weighted_mean"))
    name = COLORIZER + model

    def step(t: Trainer, b: dict[str, torch.Tensor]) -> dict[str, Any]:
        ab = b["ab"].to(t.device, non_blocking=True)
        with t.autocast():
            out = nets[name](normalize_L(b["L"].to(t.device, non_blocking=True)))
        losses = rarity_loss(out, ab, weights.to(t.device), blend, norm)
        losses["l1_ab"] = (to_ab(out.float()) - ab).abs().mean()
        t.optimize(name, losses["loss"])
        return losses
    return step


def _validator(ctx: TrainContext, cfg: dict[str, Any],
               profiles: Profiles) -> Callable[[Trainer, Stage], dict[str, float]]:
    """Held-out checks on rank 0 (no collectives): the predictor's profile accuracy
    (``val_acc``), a colorizer's mean |Δa*b*| on held-out images of its profiles (``val_l1_ab``)."""
    n = int(cfg.get("val_images") or 0)

    def validate(t: Trainer, stage: Stage) -> dict[str, float]:
        if not t.info.is_main or ctx.val_dataset is None or n <= 0:
            return {}
        if stage.name == "predictor":
            acc = predictor_accuracy(t.models["predictor"], profiles, cfg, ctx.val_dataset, n, t.device)["accuracy"]
            t.reporter.info(f"predictor step {t.step}: held-out profile accuracy {acc:.3f}")
            return {"val_acc": acc}
        net = t.models[COLORIZER + stage.name]
        return {"val_l1_ab": colorizer_val_l1(net, profiles, stage.name, cfg, ctx.val_dataset, n, t.device)}
    return validate
