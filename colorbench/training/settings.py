"""The loop's own settings, read from a trainer's resolved config (every plugin's configs
share these keys; ``colorbench train --set KEY=VALUE`` changes them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from colorbench.errors import ColorbenchError

LOOP_KEYS = ("batch_size", "workers", "prefetch", "precision", "accumulate", "sync_bn", "log_every",
             "save_every", "val_every", "threads", "dist_timeout", "stop_at")


@dataclass(frozen=True)
class LoopSettings:
    """``batch_size`` is the global batch (all processes, all accumulation steps);
    ``save_every`` / ``val_every`` / ``log_every`` count optimizer steps (0: only at the end
    of each stage); ``precision`` is fp32, bf16 or fp16 (fp16 with a GradScaler);
    ``dist_timeout`` (seconds) bounds every collective under torchrun; ``stop_at`` ends the
    run after that global step with a checkpoint (``--resume`` continues it exactly)."""

    batch_size: int = 16
    workers: int = 0
    prefetch: int = 2
    precision: str = "fp32"
    accumulate: int = 1
    sync_bn: bool = False
    log_every: int = 10
    save_every: int = 500
    val_every: int = 0
    threads: int = 0
    dist_timeout: float = 1800.0
    stop_at: int = 0

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> LoopSettings:
        """The settings in ``cfg`` (missing or None keys keep their defaults)."""
        given = {k: cfg[k] for k in LOOP_KEYS if cfg.get(k) is not None}
        try:
            settings = cls(**{k: type(getattr(cls, k))(v) if k != "sync_bn" else _flag(v) for k, v in given.items()})
        except (TypeError, ValueError) as exc:
            raise ColorbenchError(f"training settings: {exc}") from None
        if settings.accumulate < 1 or settings.log_every < 1 or settings.workers < 0:
            raise ColorbenchError("training settings: accumulate and log_every must be >= 1, workers >= 0")
        return settings


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)
