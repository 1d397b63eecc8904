"""LPIPS (Zhang et al. 2018) through the ``lpips`` package: AlexNet or VGG-16 trunk, v0.1 heads."""

from __future__ import annotations

from typing import Any

import torch


class LPIPSMetric:
    """Per-image LPIPS of uint8 RGB batches; inputs mapped to [-1, 1] as the package expects.

    ``random_backbone=True`` builds the trunk with random weights (tests; no download). The
    linear heads (v0.1) ship inside the ``lpips`` package.
    """

    def __init__(self, net: str = "alex", device: Any = "cpu", random_backbone: bool = False):
        import lpips

        self.device = torch.device(device)
        self.model = lpips.LPIPS(net=net, version="0.1", pretrained=True, pnet_rand=random_backbone,
                                 verbose=False).to(self.device).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    @staticmethod
    def to_input(rgb: torch.Tensor) -> torch.Tensor:
        return rgb.to(torch.float32) / 127.5 - 1.0

    def __call__(self, batch: Any) -> torch.Tensor:
        with torch.inference_mode():
            pred = self.to_input(batch.pred.to(self.device))
            gt = self.to_input(batch.gt.to(self.device))
            return self.model(pred, gt).reshape(len(batch)).double()
