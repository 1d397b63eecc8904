"""Synthetic data and a tiny trainer call for the profile tests (also imported by the
2-process torchrun script): two colour families a gray image can tell apart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from colorbench_profile.plugin import CONFIGS
from colorbench_profile.train import train

from colorbench.plugin.specs import Sample
from colorbench.reporting import Reporter
from colorbench.training import TrainContext, Trainer

# family 0: reds with horizontal stripes; family 1: blues with vertical stripes. The colour
# family (hence the profile) can be told from the gray image by the stripes' direction.
HUES = {0: (210, 40, 30), 1: (30, 60, 210)}


class Stripes:
    def __init__(self, n: int, seed: int = 0, size: int = 32):
        rng = np.random.default_rng(seed)
        self.ids, self.images, self.family = [], [], []
        for i in range(n):
            f = i % 2
            yy, xx = np.mgrid[0:size, 0:size]
            period = int(rng.integers(3, 6))
            stripes = ((yy if f == 0 else xx) // period) % 2
            shade = np.where(stripes, 1.0, rng.uniform(0.35, 0.6))[..., None]
            base = np.clip(np.array(HUES[f]) + rng.integers(-25, 26, 3), 0, 255)
            self.images.append(np.clip(base * shade, 0, 255).astype(np.uint8))
            self.ids.append(f"s{seed}-{i:03d}")
            self.family.append(f)

    def load(self, index: int) -> Sample:
        return Sample(id=self.ids[index], image=self.images[index])


SMALL = {"size": 32, "batch_size": 8, "unet_widths": [6, 12, 24], "predictor_widths": [4, 8],
         "predictor_size": 32, "predictor_hidden": 16, "profiles": 2, "fit_size": 16, "dcd_colors": 2,
         "min_profile_images": 4, "cache_size": 0, "workers": 0, "log_every": 1, "save_every": 1000,
         "val_every": 1000, "val_images": 8, "lr": 3e-3, "predictor_lr": 3e-3, "threads": 1}


def run(out: Path, resume: bool = False, n: int = 24, val: bool = True, **overrides: Any) -> Trainer:
    """Train the tiny profile model on ``n`` Stripes images into ``out`` (seed 1, CPU)."""
    cfg = {**CONFIGS["tiny"], **SMALL, **overrides}
    return train(TrainContext(dataset=Stripes(n), val_dataset=Stripes(8, seed=1) if val else None, config=cfg,
                              out_dir=out, device=torch.device("cpu"), resume=resume, seed=1,
                              reporter=Reporter(quiet=True)))


def weights(t: Trainer) -> dict[str, torch.Tensor]:
    """Every parameter and buffer of every model, by ``model.key``."""
    return {f"{m}.{k}": v.detach().clone() for m, net in t.models.items() for k, v in net.state_dict().items()}
