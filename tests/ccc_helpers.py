"""Shared helpers of the tests/test_ccc_* modules: tiny configs and training contexts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from colorbench_ccc.plugin import CONFIGS
from colorbench_datasets.shapes import Shapes

from colorbench.reporting import Reporter
from colorbench.training import TrainContext

MICRO = {"growth_rate": 4, "block_config": [1, 1, 1, 1], "num_init_features": 8, "bn_size": 2,
         "decoder": [16, 16, 16], "input_size": 32, "target_size": 8, "batch_size": 4,
         "steps": 4, "workers": 0, "save_every": 0, "val_images": 0, "log_every": 1,
         "class_min_count": 2, "class_min_fraction": None}


def config(**overrides: Any) -> dict[str, Any]:
    return {**CONFIGS["tiny"], **MICRO, **overrides}


def shapes(n: int = 8, size: int = 32, split: str = "train") -> Shapes:
    return Shapes(split=split, size=size, n_images=n)


def context(out: Path, cfg: dict[str, Any], resume: bool = False, n: int = 8, size: int = 32,
            val: bool = False) -> TrainContext:
    return TrainContext(dataset=shapes(n, size), val_dataset=shapes(4, size, "val") if val else None,
                        config=cfg, out_dir=out, device=__import__("torch").device("cpu"),
                        resume=resume, seed=0, reporter=Reporter(quiet=True))
