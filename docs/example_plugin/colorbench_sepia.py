"""Example third-party colorbench plugin (docs/plugins.md walks through it).

Adds a colorizer ``sepia`` (a constant warm tone, strength configurable with
``--set sepia.strength=...``) and a metric ``mean_chroma`` (mean a*b* chroma of the
prediction). Install with ``pip install ./docs/example_plugin`` and run
``colorbench run --models sepia,gray --datasets samples``.
"""

from __future__ import annotations

import torch

from colorbench import ColorizerSpec, MetricSpec, Option, hookimpl


class Sepia:
    def __init__(self, strength: float = 1.0, device: str | torch.device = "cpu"):
        self.strength = strength
        self.device = torch.device(device)

    def colorize(self, L: torch.Tensor) -> torch.Tensor:  # L: float32 [B,1,H,W], L* in [0, 100]
        ab = torch.zeros(L.shape[0], 2, *L.shape[2:], device=L.device)
        ab[:, 0], ab[:, 1] = 8.0 * self.strength, 20.0 * self.strength
        return ab  # float32 [B,2,H,W]: CIE a*, b*


def mean_chroma(batch) -> torch.Tensor:  # batch: colorbench.MetricBatch (uint8 [B,3,H,W])
    lab = batch.pred_lab
    return torch.sqrt(lab[:, 1] ** 2 + lab[:, 2] ** 2).flatten(1).mean(1)


@hookimpl
def register_colorizers(register):
    register(ColorizerSpec(
        name="sepia",
        factory=lambda device="cpu", checkpoint=None, strength=1.0, **kw: Sepia(strength, device),
        description="constant warm tone",
        needs_weights=False,
        options=(Option("strength", float, 1.0, "multiplies the a*b* tone"),),
    ))
    register(ColorizerSpec(  # a declared variant: leaderboards pair it with sepia
        name="sepia-light",
        factory=lambda device="cpu", checkpoint=None, **kw: Sepia(0.5, device),
        description="sepia at half strength",
        variant_of="sepia",
    ))


@hookimpl
def register_metrics(register):
    register(MetricSpec(
        name="mean_chroma", fn=mean_chroma, display_name="Chroma",
        higher_is_better=True, range=(0.0, 150.0),
        description="mean sqrt(a*² + b*²) of the prediction",
    ))
