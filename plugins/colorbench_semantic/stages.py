"""The arithmetic of ``semantic``'s two stages, its colour loss and its validation.

Steps are numbered 1..T over the whole schedule; step s trains the segmenter when s <= P
(the boundary) and the colorizer after it. ``stage=segmenter`` runs 1..P, ``stage=both``
1..T, ``stage=colorizer`` only colorizer steps (after the resumed checkpoint's step, or
from scratch).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from colorbench.training.schedule import two_phase
from colorbench_semantic.model import AB_SCALE, normalize_ab, normalize_L, normalize_labels

if TYPE_CHECKING:
    from colorbench.training import Trainer

STAGES = ("segmenter", "colorizer", "both")


def schedule(cfg: dict[str, Any], steps_per_epoch: int, start: int, boundary: int | None) -> tuple[int, int]:
    """(P, T): the last segmenter step and the last step, for a run resumed at ``start``
    from a checkpoint whose boundary was ``boundary`` (None: a fresh run)."""
    steps = cfg.get("steps")
    if steps:
        p_cfg = int(cfg["seg_steps"]) if cfg.get("seg_steps") is not None else round(int(steps) * float(cfg.get("seg_share", 0.5)))
        p_cfg = min(p_cfg, int(steps))
        c_cfg = int(steps) - p_cfg
    else:
        p_cfg = math.ceil(float(cfg.get("seg_epochs", 0)) * steps_per_epoch)
        c_cfg = math.ceil(float(cfg.get("epochs", 0)) * steps_per_epoch)
    return two_phase(str(cfg.get("stage", "both")), STAGES, p_cfg, c_cfg, int(steps) if steps else None,
                     start, boundary, "stage")


def huber(pred: torch.Tensor, target: torch.Tensor, delta: float = 1.0) -> torch.Tensor:
    """Eq. 1 of the paper, mean over pixels and both channels."""
    return F.huber_loss(pred.float(), target.float(), delta=delta)


def validate(t: Trainer, stage: str, pairs: Any, n_images: int, n_classes: int,
             batch_size: int = 8) -> dict[str, float]:
    """``val_pixel_acc`` of the segmenter (in its stage) or ``val_l1_ab``, the mean |Δa*b*| of
    the colorizer given the true map (in its stage), over the first ``n_images`` of ``pairs``;
    each rank scores its share and the sums are all-reduced."""
    info, seg, col = t.info, t.models["segmenter"], t.models["colorizer"]
    mine = list(range(info.rank, min(n_images, len(pairs)), info.world_size))
    sums = torch.zeros(2, dtype=torch.float64, device=t.device)
    for lo in range(0, len(mine), batch_size):
        items = [pairs[i] for i in mine[lo:lo + batch_size]]
        x = normalize_L(torch.stack([it["L"] for it in items]).to(t.device))
        sem = torch.stack([it["semantic"] for it in items]).to(t.device)
        with t.autocast():
            if stage == "segmenter":
                per_image = (seg(x).argmax(1) == sem).float().mean((1, 2))
            else:
                ab = normalize_ab(torch.stack([it["ab"] for it in items]).to(t.device))
                per_image = (col(x, normalize_labels(sem, n_classes)).float() - ab).abs().mean((1, 2, 3)) * AB_SCALE
        sums += torch.stack([per_image.double().sum(), torch.tensor(len(items), dtype=torch.float64,
                                                                     device=t.device)])
    sums = t.all_reduce_sum(sums)
    value = float(sums[0] / sums[1]) if sums[1] else float("nan")
    return {"val_pixel_acc" if stage == "segmenter" else "val_l1_ab": value}
