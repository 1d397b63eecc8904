"""Networks and loss of the colour-profile colorizer (seed 003 §4.3).

- ``UNet``: per-profile colorizer, L* -> a*b* regression (conv-BN-ReLU x2 per level,
  max-pool down, transposed conv up, skip concatenation, linear 1x1 output).
- ``Predictor``: the profile classifier on the gray image: conv blocks (conv-BN-ReLU,
  max-pool), flatten, dense, K logits (softmax + categorical cross entropy in training).
- ``rarity_loss``: blend·MSE + (1-blend)·rarity-weighted MSE.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from colorbench.color import AB_SCALE, normalize_ab, normalize_L, to_ab  # noqa: F401  (re-exported)
from colorbench_profile.profiles import ab_bins


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                         nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class UNet(nn.Module):
    """``widths`` = encoder widths, the last one the bottleneck (len(widths)-1 poolings)."""

    def __init__(self, widths: Sequence[int]):
        super().__init__()
        widths = [int(w) for w in widths]
        self.multiple = 2 ** (len(widths) - 1)
        self.down = nn.ModuleList()
        cin = 1
        for w in widths:
            self.down.append(_block(cin, w))
            cin = w
        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        for w in reversed(widths[:-1]):
            self.up.append(nn.ConvTranspose2d(cin, w, 2, stride=2))
            self.dec.append(_block(2 * w, w))
            cin = w
        self.out = nn.Conv2d(cin, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, block in enumerate(self.down):
            if i:
                x = F.max_pool2d(x, 2)
            x = block(x)
            skips.append(x)
        skips.pop()
        for up, dec in zip(self.up, self.dec, strict=True):
            x = dec(torch.cat([up(x), skips.pop()], 1))
        return self.out(x)


class Predictor(nn.Module):
    """Gray image at ``size`` x ``size`` -> K logits."""

    def __init__(self, widths: Sequence[int], size: int, hidden: int, k: int, dropout: float = 0.0):
        super().__init__()
        layers: list[nn.Module] = []
        cin = 1
        for w in widths:
            layers += [nn.Conv2d(cin, int(w), 3, padding=1, bias=False), nn.BatchNorm2d(int(w)),
                       nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            cin = int(w)
        self.features = nn.Sequential(*layers)
        side = size // 2 ** len(widths)
        if side < 1:
            raise ValueError(f"predictor_size {size} is too small for {len(widths)} pooling blocks")
        self.size = size
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(cin * side * side, hidden), nn.ReLU(inplace=True),
                                  nn.Dropout(dropout), nn.Linear(hidden, k))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def build_unet(cfg: dict[str, Any]) -> UNet:
    return UNet(cfg["unet_widths"])


def build_predictor(cfg: dict[str, Any], k: int) -> Predictor:
    return Predictor(cfg["predictor_widths"], int(cfg["predictor_size"]), int(cfg["predictor_hidden"]), k,
                     float(cfg.get("predictor_dropout", 0.0)))


def predictor_input(L: torch.Tensor, size: int) -> torch.Tensor:
    """Normalised L* resized (area-like antialiased bilinear) to the predictor's input size."""
    if tuple(L.shape[-2:]) != (size, size):
        L = F.interpolate(L.float(), size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return normalize_L(L.float())


def rarity_loss(pred: torch.Tensor, ab: torch.Tensor, weights: torch.Tensor, blend: float = 0.65,
                norm: str = "weighted_mean") -> dict[str, torch.Tensor]:
    """blend·MSE + (1-blend)·wMSE on normalised a*b* (ab/110).

    ``pred``: network output [B,2,H,W] (normalised); ``ab``: true a*b* in CIE units;
    ``weights`` (sum 1): [bins, bins] joint — both errors of a pixel take the weight of its
    true (a*, b*) bin (the paper's) — or [2, bins] marginal — the a* error takes its a* bin's
    weight, the b* error its b* bin's. ``norm="weighted_mean"``: wMSE = Σ w·e² / Σ w (a
    weighted mean, on MSE's scale); ``"literal"``: mean(w·e²) with the sum-1 weights as they
    are (the paper's Keras reading; tiny next to MSE)."""
    err = (pred.float() - normalize_ab(ab.float())) ** 2
    mse = err.mean()
    bins = ab_bins(ab, weights.shape[1])
    if weights.shape[0] == weights.shape[1] and weights.shape[0] != 2:
        w = weights[bins[:, 0], bins[:, 1]].unsqueeze(1).expand_as(err).to(err.dtype)
    else:
        w = torch.stack([weights[0][bins[:, 0]], weights[1][bins[:, 1]]], 1).to(err.dtype)
    wmse = (w * err).sum() / w.sum() if norm == "weighted_mean" else (w * err).mean()
    return {"loss": blend * mse + (1.0 - blend) * wmse, "mse": mse, "wmse": wmse}
