"""The profile trainer's schedule: how many steps each model gets, and its batch."""

from __future__ import annotations

import math
from typing import Any

from colorbench_profile.profiles import Profiles


def allocate(total: int, shares: list[int]) -> list[int]:
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
    """[(model, steps)]: ``predictor`` first, then the colorizers in ``profiles.models`` order.

    ``--steps S``: the predictor gets round(S·predictor_share) steps, the colorizers the
    rest in proportion to the training images each serves (a profile's own size; ``global``:
    the images of the profiles that fell back to it); every model gets at least one step.
    Without ``--steps``: predictor_epochs / colorizer_epochs passes over each model's images."""
    models = profiles.models
    steps = cfg.get("steps")
    if steps:
        steps = int(steps)
        p = max(1, round(steps * float(cfg.get("predictor_share", 0.15))))
        c = allocate(max(steps - p, len(models)), [profiles.served(m) for m in models])
    else:
        bs = int(cfg["batch_size"])
        p = max(1, math.ceil(float(cfg["predictor_epochs"]) * len(profiles.members("global")) / bs))
        c = [max(1, math.ceil(float(cfg["colorizer_epochs"]) * len(profiles.members(m)) / bs)) for m in models]
    return [("predictor", p), *zip(models, c, strict=True)]


def stage_batch(batch_size: int, n_images: int, unit: int) -> int:
    """The global batch of a model trained on ``n_images``: ``batch_size``, or for a smaller
    profile its image count rounded down to a multiple of ``unit`` (processes x accumulation)."""
    if n_images >= batch_size:
        return batch_size
    return max(unit, n_images // unit * unit)
