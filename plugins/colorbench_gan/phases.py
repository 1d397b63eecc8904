"""The gan's two-phase schedule: how many L1 pretraining steps, then how many adversarial
ones, over one global step numbering (``phase=pretrain|adversarial|both``, ``--steps``,
``pretrain_steps``, ``pretrain_epochs`` / ``epochs``, and the boundary a resumed checkpoint
recorded)."""

from __future__ import annotations

import math
from typing import Any

from colorbench.training.schedule import two_phase


def schedule(cfg: dict[str, Any], steps_per_epoch: int, start: int, boundary: int | None) -> tuple[int, int]:
    """(P, T): the last pretraining step and the last step of this run, given the resumed
    ``start`` step and the checkpoint's phase ``boundary``."""
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
    return two_phase(str(cfg.get("phase", "both")), ("pretrain", "adversarial", "both"), p_cfg, a_cfg,
                     int(steps) if steps else None, start, boundary, "phase")
