"""Training: the one loop every trainer runs (``Trainer`` with ``Stage``s), its sampling
scheme, settings and checkpoint state, the context a plugin's ``train`` receives, config
resolution, L/ab pairs, the training log, validation and distributed helpers."""

from colorbench.training.context import (
    GENERIC_KEYS,
    ColorPairs,
    TrainContext,
    TrainLog,
    load_sample,
    resolve_train_config,
)
from colorbench.training.loop import Stage, Trainer
from colorbench.training.settings import LoopSettings

__all__ = ["GENERIC_KEYS", "ColorPairs", "LoopSettings", "Stage", "TrainContext", "TrainLog", "Trainer",
           "load_sample", "resolve_train_config"]
