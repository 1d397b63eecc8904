"""Registers the ``gray`` colorizer."""

from __future__ import annotations

from typing import Any

import torch

from colorbench import ColorizerSpec, hookimpl


class Gray:
    """Predicts a* = b* = 0 everywhere: the input's own gray image."""

    def __init__(self, device: Any = "cpu"):
        self.device = torch.device(device)

    def colorize(self, L: torch.Tensor) -> torch.Tensor:
        return torch.zeros(L.shape[0], 2, *L.shape[2:], dtype=torch.float32, device=L.device)


@hookimpl
def register_colorizers(register: Any) -> None:
    register(ColorizerSpec(
        name="gray",
        factory=lambda device="cpu", **_: Gray(device),
        description="a*=b*=0: the gray input itself (lower bound)",
        needs_weights=False,
    ))
