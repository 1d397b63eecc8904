"""LPIPS (Zhang et al. 2018) through the ``lpips`` package: AlexNet or VGG-16 trunk, v0.1 heads.

lpips builds the network with nothing loaded (``pretrained=False, pnet_rand=True``);
colorbench loads the trunk from the hash-verified torchvision file and the linear heads
from the lpips package's ``weights/v0.1/<net>.pth``, both with ``load_checkpoint``
(``torch.load(weights_only=True)``), so no file is ever unpickled.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import torch

from colorbench.errors import ColorbenchError
from colorbench.models.checkpoints import load_checkpoint

NETS = ("alex", "vgg")
HEAD_KEY = re.compile(r"lin\d+\.")  # lin0.model.1.weight ...; ``lins.K`` are aliases of the same modules


def heads_file(net: str) -> Path:
    """The v0.1 linear heads shipped inside the lpips package."""
    import lpips

    return Path(lpips.__file__).resolve().parent / "weights" / "v0.1" / f"{net}.pth"


def trunk_state(trunk: torch.nn.Module, features: dict[str, torch.Tensor], source: Any) -> dict[str, torch.Tensor]:
    """torchvision's ``features.{x}.*`` keys mapped onto lpips' slices: lpips adds
    ``features[x]`` to ``slice1..sliceN`` under the name ``str(x)``, so ``sliceK.{x}.weight``
    is ``features.{x}.weight``. Every trunk key must be found (a one-line error otherwise)."""
    out = {}
    for key in trunk.state_dict():
        rest = key.partition(".")[2]
        if f"features.{rest}" not in features:
            raise ColorbenchError(f"lpips: {source} has no features.{rest} (not a torchvision trunk)")
        out[key] = features[f"features.{rest}"]
    return out


def build_lpips(net: str = "alex", trunk_file: str | Path | None = None) -> torch.nn.Module:
    """lpips.LPIPS v0.1 with its heads loaded from the package and, given ``trunk_file`` (a
    torchvision state dict), its trunk; without one the trunk stays random."""
    import lpips

    if net not in NETS:
        raise ColorbenchError(f"lpips: net={net!r}: choose one of {', '.join(NETS)}")
    with warnings.catch_warnings():  # lpips passes torchvision's deprecated pretrained=
        warnings.simplefilter("ignore", UserWarning)
        model = lpips.LPIPS(net=net, version="0.1", pretrained=False, pnet_rand=True, verbose=False)
    heads = {k: v for k, v in load_checkpoint(heads_file(net)).items() if HEAD_KEY.match(k)}
    missing = [k for k in model.state_dict() if HEAD_KEY.match(k) and k not in heads]
    if missing or not heads:
        raise ColorbenchError(f"lpips: {heads_file(net)} lacks {missing[0] if missing else 'the lin* heads'}")
    model.load_state_dict(heads, strict=False)
    if trunk_file is not None:
        model.net.load_state_dict(trunk_state(model.net, load_checkpoint(trunk_file), trunk_file))
    return model


class LPIPSMetric:
    """Per-image LPIPS of uint8 RGB batches; inputs mapped to [-1, 1] as the package expects.

    The trunk comes from the verified torchvision file (``ALEXNET``/``VGG16``.ensure());
    ``random_backbone=True`` keeps it random (tests; nothing read from the cache). The
    linear heads (v0.1) are always the ones shipped in the ``lpips`` package.
    """

    def __init__(self, net: str = "alex", device: Any = "cpu", random_backbone: bool = False):
        from colorbench_metrics_learned.weights import ALEXNET, VGG16

        trunk = None if random_backbone else (ALEXNET if net == "alex" else VGG16).ensure()
        self.device = torch.device(device)
        self.model = build_lpips(net, trunk).to(self.device).eval()
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
