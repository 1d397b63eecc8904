"""Training: the context a plugin's ``train`` receives, config resolution, L/ab pairs, the
training log and distributed helpers."""

from colorbench.training.context import (
    GENERIC_KEYS,
    ColorPairs,
    TrainContext,
    TrainLog,
    epoch_batches,
    load_sample,
    resolve_train_config,
)

__all__ = ["GENERIC_KEYS", "ColorPairs", "TrainContext", "TrainLog", "epoch_batches", "load_sample",
           "resolve_train_config"]
