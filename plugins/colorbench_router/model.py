"""The Best Colorizer Guesser classifier (seed 001 §3.3): MobileNetV2 on a 64x64 gray image
replicated to three channels, dense head 256-100-50-K with dropout 0.2."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from colorbench.models.checkpoints import load_checkpoint
from colorbench_router.plugin import IMAGENET

IMAGENET_FILE = IMAGENET.file
HEAD = (256, 100, 50)
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


def classifier_input(L: torch.Tensor, size: int) -> torch.Tensor:
    """L* [B,1,H,W] in [0,100] -> [B,1,size,size] in [0,1] (antialiased bilinear resize).

    Training and inference both call this on the protocol-resized L*, so the classifier
    sees the same pixels in both (and SMOTE interpolates exactly these pixels)."""
    x = L.float() / 100.0
    if tuple(x.shape[-2:]) != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return x.clamp(0, 1)


class RouterNet(nn.Module):
    """MobileNetV2 features -> global average pool -> 256-100-50-K, dropout 0.2 before each
    dense layer. Input: [B,1,S,S] gray in [0,1]; replicated to RGB and ImageNet-normalized."""

    def __init__(self, n_classes: int, width_mult: float = 1.0, dropout: float = 0.2):
        super().__init__()
        from torchvision.models import mobilenet_v2

        backbone = mobilenet_v2(weights=None, width_mult=width_mult)
        self.features = backbone.features
        last = backbone.last_channel
        layers: list[nn.Module] = []
        width = last
        for h in HEAD:
            layers += [nn.Dropout(dropout), nn.Linear(width, h), nn.ReLU(inplace=True)]
            width = h
        layers += [nn.Dropout(dropout), nn.Linear(width, n_classes)]
        self.head = nn.Sequential(*layers)
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, gray: torch.Tensor) -> torch.Tensor:
        x = (gray.expand(-1, 3, -1, -1) - self.mean) / self.std
        x = self.features(x)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.head(x)


def build_classifier(n_classes: int, cfg: dict[str, Any]) -> RouterNet:
    return RouterNet(n_classes, width_mult=float(cfg.get("width_mult", 1.0)),
                     dropout=float(cfg.get("dropout", 0.2)))


def frozen_features(cfg: dict[str, Any]) -> int:
    """How many leading ``features`` modules a training freezes: with ``pretrained``, the stem
    (features[0], a conv, not a block) plus ``freeze_blocks`` inverted-residual blocks
    (seed 001: "the first 10 blocks"; features[1:11] for 10); 0 when trained from scratch."""
    return 1 + int(cfg["freeze_blocks"]) if cfg.get("pretrained") else 0


def load_imagenet_blocks(net: RouterNet, blocks: int) -> str:
    """Load torchvision's ImageNet MobileNetV2 weights into the first ``blocks`` modules of
    ``features`` and freeze them (seed 001: "only include the first 10 blocks ... the rest are
    retrained"). Returns a description for the checkpoint; raises a one-line error when the
    file is missing from the torchvision cache (and cannot be downloaded), its sha256
    differs, or the width does not match."""
    from colorbench.errors import ColorbenchError, WeightsUnavailableError

    if abs(_width(net) - 1.0) > 1e-9:
        raise ColorbenchError("router: pretrained=true needs width_mult=1.0 (the ImageNet weights' width)")
    try:
        path = IMAGENET.ensure()
    except WeightsUnavailableError as exc:  # missing, or the hash differs (WeightsHashError)
        raise type(exc)(f"router: pretrained=true: {exc} (or train from scratch with pretrained=false)") from None
    state = load_checkpoint(path)
    prefix = [f"features.{i}." for i in range(blocks)]
    picked = {k[len("features."):]: v for k, v in state.items() if any(k.startswith(p) for p in prefix)}
    missing, _ = net.features.load_state_dict(picked, strict=False)
    expected = [k for k in net.features.state_dict() if int(k.split(".")[0]) < blocks]
    if any(k in missing for k in expected):
        raise ColorbenchError(f"router: {path} does not match MobileNetV2's first {blocks} blocks")
    for i in range(blocks):
        for p in net.features[i].parameters():
            p.requires_grad_(False)
    return f"imagenet:{IMAGENET_FILE} (features[0:{blocks}] loaded and frozen)"


def freeze_eval(net: RouterNet, blocks: int) -> None:
    """Frozen blocks keep ImageNet's batch-norm statistics (eval mode) while the rest trains."""
    for i in range(blocks):
        net.features[i].eval()


@torch.no_grad()
def precise_bn(net: RouterNet, X: torch.Tensor, device: torch.device, frozen: int, bs: int = 64) -> None:
    """Recompute the batch-norm statistics of the trainable blocks over the training inputs
    with the current weights ("precise BN"): the running averages of a few hundred steps
    still mix statistics of earlier weights, which made eval-mode predictions collapse to
    one class on small sets. Frozen (ImageNet) blocks keep their statistics."""
    bns = [m for i, block in enumerate(net.features) if i >= frozen for m in block.modules()
           if isinstance(m, nn.BatchNorm2d)]
    if not bns or len(X) == 0:
        return
    momenta = [m.momentum for m in bns]
    was_training = net.training
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the pass
    net.train()
    freeze_eval(net, frozen)
    for i in range(0, len(X), bs):
        net.features(((X[i:i + bs].to(device)).expand(-1, 3, -1, -1) - net.mean) / net.std)
    for m, mom in zip(bns, momenta, strict=True):
        m.momentum = mom
    net.train(was_training)


def _width(net: RouterNet) -> float:
    # features[0] is Conv(3 -> 32 * width_mult) rounded to a multiple of 8
    out = net.features[0][0].out_channels
    return 1.0 if out == 32 else out / 32


@torch.no_grad()
def logits(net: RouterNet, X: torch.Tensor, device: torch.device, bs: int = 64) -> torch.Tensor:
    """Eval-mode logits [N, K] (float32, on the CPU) of inputs ``X`` [N,1,S,S], in batches of ``bs``."""
    was_training = net.training
    net.eval()
    out = [net(X[i:i + bs].to(device)).float().cpu() for i in range(0, len(X), bs)]
    net.train(was_training)
    return torch.cat(out) if out else torch.zeros(0, net.head[-1].out_features)
