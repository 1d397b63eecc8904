"""The ``gray`` colorizer: a* = b* = 0 everywhere."""

from __future__ import annotations

from typing import Any

import torch


class Gray:
    """Predicts a* = b* = 0: the input's own gray image, the lower bound."""

    def __init__(self, device: Any = "cpu"):
        self.device = torch.device(device)

    def colorize(self, L: torch.Tensor) -> torch.Tensor:
        return torch.zeros(L.shape[0], 2, *L.shape[2:], dtype=torch.float32, device=L.device)
