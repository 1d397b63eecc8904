"""What a training checkpoint holds beyond weights: every RNG of every rank, and the check
that a ``--resume`` continues the run it claims to continue.

A checkpoint written by the loop (``LOOP_FORMAT``) has ``format`` (the plugin's), ``step``,
``config``, ``precision``, ``world_size``, one state dict per model under the model's name,
``optimizers`` / ``schedulers`` (by model name), ``scaler``, ``rng`` (one entry per rank)
and the plugin's data-derived state under its own keys. It loads with ``weights_only=True``.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from colorbench.errors import ColorbenchError

LOOP_FORMAT = "colorbench-train/1"

# Settings that may change between a run and its --resume: how long to train, how often to
# log/validate/save, how to feed the data, which phase to run next. Any other difference
# (an architecture, a loss, a learning rate) means another experiment: train into a new --out.
RESUMABLE_KEYS = frozenset({
    "steps", "epochs", "phase", "stage", "stop_at", "workers", "prefetch", "threads", "log_every",
    "save_every", "val_every", "val_images", "config_name", "precision", "dist_timeout",
    "pretrained", "pretrained_encoder", "init_generator", "cache_size",
})


def rng_state() -> dict[str, Any]:
    """This process's python, numpy, torch and (when present) CUDA generator states, in
    types that ``torch.load(weights_only=True)`` reads back."""
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": [version, torch.tensor(internal, dtype=torch.int64), gauss],
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore what ``rng_state`` captured."""
    version, internal, gauss = state["python"]
    random.setstate((int(version), tuple(int(x) for x in internal.tolist()), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), int(pos), int(has_gauss), float(cached)))
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def restore_rng(states: list[Any], rank: int, world_size: int, warn: Any) -> None:
    """Restore this rank's generators from a checkpoint's per-rank ``rng`` list; with another
    number of processes, keep the freshly seeded ones and ``warn``."""
    if len(states) == world_size:
        set_rng_state(states[rank])
    else:
        warn(f"resumed with {world_size} process(es) instead of {len(states)}: the same batches, other dropout draws")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def config_differences(saved: Mapping[str, Any], config: Mapping[str, Any],
                       resumable: frozenset[str] = RESUMABLE_KEYS) -> list[str]:
    """``key saved -> now`` for every setting given now that differs from the saved one and
    may not change on resume (a setting given as None is derived by the plugin: not compared)."""
    out = []
    for key in sorted(config):
        if key in resumable or config[key] is None or key not in saved:
            continue
        a, b = saved.get(key), config.get(key)
        if isinstance(a, tuple):
            a = list(a)
        if isinstance(b, tuple):
            b = list(b)
        if a != b:
            out.append(f"{key} {_short(a)} -> {_short(b)}")
    return out


def check_resume(checkpoint: Path, config: Mapping[str, Any]) -> None:
    """One line naming the settings that differ from the checkpoint's, before anything is
    written; silent for a checkpoint without a recorded config."""
    from colorbench.models.checkpoints import load_checkpoint

    saved = load_checkpoint(checkpoint).get("config")
    if not isinstance(saved, Mapping):
        return
    diffs = config_differences(saved, {k: (str(v) if isinstance(v, Path) else v) for k, v in config.items()})
    if diffs:
        raise ColorbenchError(f"--resume: {checkpoint} was trained with other settings ({'; '.join(diffs)}); "
                              "resume with the same settings or train into another --out")


def plain_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The config as plain JSON-like values (paths as strings, tuples as lists)."""
    def plain(v: Any) -> Any:
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v if isinstance(v, (int, float, str, bool, type(None))) else str(v)
    return {k: plain(v) for k, v in config.items()}
