"""CCC++ network (seed 000 §III-C4, Tables III-IV) and its inference (eq. 18, eq. 10-11).

Encoder: torchvision DenseNet (DenseNet-121 in the ``paper`` config) ``features`` with a
1-channel first convolution and the classifier removed -> [B, C_enc, H/32, W/32] (C_enc =
1024 for DenseNet-121; the final BN ``norm5`` is kept and followed by ReLU, as torchvision's
own forward does before the classifier). Decoder (Table IV): conv3x3 -> BN -> ReLU ->
nearest x2 -> conv3x3 -> BN -> ReLU -> x2 -> conv3x3 -> BN -> ReLU -> x2 -> conv3x3 to
n_classes logits at H/4 x W/4 (56x56 for a 224 input).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from colorbench.errors import WeightsUnavailableError
from colorbench.models.checkpoints import load_checkpoint
from colorbench_ccc.plugin import DENSENET121

DENSENET121_FILE, DENSENET121_URL = DENSENET121.file, DENSENET121.url


def _conv_bn_relu(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class CCCNet(nn.Module):
    """L* [B,1,H,W] -> class logits [B,K,H/4,W/4]; H, W multiples of 32."""

    def __init__(self, n_classes: int, growth_rate: int = 32, block_config: Sequence[int] = (6, 12, 24, 16),
                 num_init_features: int = 64, bn_size: int = 4, decoder: Sequence[int] = (1024, 512, 512)):
        super().__init__()
        from torchvision.models import DenseNet

        dense = DenseNet(growth_rate=growth_rate, block_config=tuple(block_config),
                         num_init_features=num_init_features, bn_size=bn_size)
        dense.features.conv0 = nn.Conv2d(1, num_init_features, 7, stride=2, padding=3, bias=False)
        self.encoder = dense.features  # classifier dropped
        c_enc = dense.features.norm5.num_features
        d1, d2, d3 = decoder
        up = nn.Upsample(scale_factor=2, mode="nearest")
        self.decoder = nn.Sequential(
            *_conv_bn_relu(c_enc, d1), up,                      # Conv-1, Upsample
            *_conv_bn_relu(d1, d2), nn.Upsample(scale_factor=2, mode="nearest"),  # Conv-2
            *_conv_bn_relu(d2, d3), nn.Upsample(scale_factor=2, mode="nearest"),  # Conv-3
            nn.Conv2d(d3, n_classes, 3, padding=1),             # Conv-4: logits
        )

    def forward(self, L: torch.Tensor) -> torch.Tensor:
        x = (L - 50.0) / 50.0  # L* in [0, 100] -> [-1, 1]
        return self.decoder(F.relu(self.encoder(x)))


NET_KEYS = ("growth_rate", "block_config", "num_init_features", "bn_size", "decoder")


def build_net(config: Mapping[str, Any], n_classes: int) -> CCCNet:
    net = CCCNet(n_classes, **{k: config[k] for k in NET_KEYS if k in config})
    if config.get("pretrained_encoder"):
        load_pretrained_encoder(net)
    return net


def load_pretrained_encoder(net: CCCNet) -> None:
    """ImageNet DenseNet-121 weights from the torchvision cache (sha256 checked, downloaded
    when the network allows), read with weights_only; conv0 summed over RGB."""
    import re

    try:
        path = DENSENET121.ensure()
    except WeightsUnavailableError as exc:  # missing, or the hash differs (WeightsHashError)
        raise type(exc)(f"pretrained_encoder: {exc} (or set pretrained_encoder=false)") from None
    state = load_checkpoint(path)
    # torchvision's renaming of the old checkpoint keys ("norm.1" -> "norm1"), as in densenet.py
    old = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$")
    for key in list(state):
        m = old.match(key)
        if m:
            state[m.group(1) + m.group(2)] = state.pop(key)
    features = {k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")}
    features["conv0.weight"] = features["conv0.weight"].sum(dim=1, keepdim=True)
    net.encoder.load_state_dict(features)


class CCCColorizer:
    """Inference: resize L to the input size, logits -> argmax class (eq. 18) -> a*b*
    (eq. 10-11) -> bilinear upsample to the image size (the engine joins it with L).
    ``decode="annealed"``: annealed mean of Zhang et al. 2016 (softmax(logits / T) · centres).
    ``harmonizer``: optional callable (L, ab) -> ab applied at the image size (Algorithm 1).
    """

    def __init__(self, net: CCCNet, classes: Any, input_size: int, device: torch.device,
                 decode: str = "argmax", temperature: float = 0.38, harmonizer: Any = None):
        self.net = net.to(device).eval()
        self.classes, self.input_size, self.device = classes, int(input_size), device
        self.decode, self.temperature, self.harmonizer = decode, float(temperature), harmonizer

    @torch.inference_mode()
    def colorize(self, L: torch.Tensor) -> torch.Tensor:
        H, W = L.shape[-2:]
        x = F.interpolate(L.float().to(self.device), size=(self.input_size,) * 2,
                          mode="bilinear", align_corners=False, antialias=True)
        logits = self.net(x).float()
        if self.decode == "annealed":
            ab = self.classes.expected(torch.softmax(logits / self.temperature, dim=1))
        else:
            ab = self.classes.decode(logits.argmax(dim=1))  # eq. 18, eq. 10-11
        ab = F.interpolate(ab, size=(H, W), mode="bilinear", align_corners=False)
        if self.harmonizer is not None:
            ab = self.harmonizer(L, ab)
        return ab.to(L.device)


def load_colorizer(checkpoint: str | Path, device: torch.device, **kwargs: Any) -> CCCColorizer:
    """Build the colorizer from a checkpoint written by ``colorbench train ccc``."""
    from colorbench.models.checkpoints import load_checkpoint
    from colorbench_ccc.classes import ClassSet

    state = load_checkpoint(checkpoint, map_location="cpu")
    classes = ClassSet.from_state(state["classes"])
    config = dict(state["config"])
    config["pretrained_encoder"] = False  # weights come from the checkpoint
    net = build_net(config, classes.n)
    net.load_state_dict(state["model"])
    return CCCColorizer(net, classes, config["input_size"], device, **kwargs)


def export(checkpoint: str | Path, out: str | Path, half: bool = False) -> Path:
    """Inference weights: model + class set + config + step + training-data record (no
    optimizer, scheduler or RNG states); ``half`` stores float16 tensors."""
    from colorbench.models.checkpoints import load_checkpoint, save_checkpoint

    state = load_checkpoint(checkpoint, map_location="cpu")
    model = {k: (v.half() if half and v.is_floating_point() else v) for k, v in state["model"].items()}
    return save_checkpoint({"model": model, "classes": state["classes"], "config": state["config"],
                            "step": state["step"], "training_data": state.get("training_data")}, out)


if __name__ == "__main__":
    from colorbench.models.checkpoints import export_cli

    export_cli(export, "python -m colorbench_ccc.model TRAIN_CHECKPOINT OUT.pt [--half]")
