"""Networks of the cGAN colorizer (seed 002, after pix2pix, Isola et al. 2017).

* ``UNetGenerator``: the pix2pix U-Net (conv-BN-LeakyReLU down, deconv-BN-ReLU up, skip
  connections at every scale, dropout 0.5 in the innermost ngf*8 decoder blocks, tanh).
* ``ResNet18Encoder``: torchvision's ResNet18 without average pool and fc, one input channel.
* ``ResNetUNet`` (``decoder=compact``): that encoder and a compact decoder (transposed convs,
  BN, tanh), the architecture of the shipped tiny weights; the paper's final generator,
  fastai's DynamicUnet, is ``dynamic_unet.DynamicUNet`` (``decoder=dynamic``).
* ``PatchDiscriminator``: the 70x70 PatchGAN (n_layers=3) on concat(L, ab).

Tensors inside the networks are normalised: L in [-1, 1] (L/50 - 1), a*b* in [-1, 1]
(ab / AB_SCALE); ``normalize_L`` / ``to_ab`` convert.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.resnet import BasicBlock

from colorbench.color import AB_SCALE, normalize_ab, normalize_L, to_ab  # noqa: F401  (re-exported)


def init_normal(module: nn.Module, std: float = 0.02) -> None:
    """pix2pix ``init_weights('normal')``: conv/linear weights N(0, std), biases 0,
    batch-norm scales N(1, std)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)


# ---------------------------------------------------------------- pix2pix U-Net
class _SkipBlock(nn.Module):
    """One U-Net level: down -> submodule -> up, output concatenated with the input."""

    def __init__(self, outer: int, inner: int, in_ch: int | None = None,
                 sub: nn.Module | None = None, outermost: bool = False,
                 innermost: bool = False, dropout: bool = False, out_ch: int | None = None):
        super().__init__()
        self.outermost = outermost
        in_ch = outer if in_ch is None else in_ch
        down = nn.Conv2d(in_ch, inner, 4, 2, 1, bias=False)
        if outermost:
            up = nn.ConvTranspose2d(inner * 2, out_ch or outer, 4, 2, 1)
            layers: list[nn.Module] = [down, sub, nn.ReLU(True), up, nn.Tanh()]  # type: ignore[list-item]
        elif innermost:
            up = nn.ConvTranspose2d(inner, outer, 4, 2, 1, bias=False)
            layers = [nn.LeakyReLU(0.2, True), down, nn.ReLU(True), up, nn.BatchNorm2d(outer)]
        else:
            up = nn.ConvTranspose2d(inner * 2, outer, 4, 2, 1, bias=False)
            layers = [nn.LeakyReLU(0.2, True), down, nn.BatchNorm2d(inner), sub,  # type: ignore[list-item]
                      nn.ReLU(True), up, nn.BatchNorm2d(outer)]
            if dropout:
                layers.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x) if self.outermost else torch.cat([x, self.model(x)], 1)


class UNetGenerator(nn.Module):
    """pix2pix ``UnetGenerator(1, 2, num_downs, ngf, use_dropout=True)``: ``num_downs``
    halvings (8 takes 256 px to 1x1); the ``num_downs - 5`` inner ngf*8 levels have dropout."""

    def __init__(self, num_downs: int = 8, ngf: int = 64, dropout: bool = True):
        super().__init__()
        if num_downs < 5:
            raise ValueError("the pix2pix U-Net needs num_downs >= 5")
        self.multiple = 2 ** num_downs
        block = _SkipBlock(ngf * 8, ngf * 8, innermost=True)
        for _ in range(num_downs - 5):
            block = _SkipBlock(ngf * 8, ngf * 8, sub=block, dropout=dropout)
        for mult in (4, 2, 1):
            block = _SkipBlock(ngf * mult, ngf * mult * 2, sub=block)
        self.model = _SkipBlock(ngf, ngf, in_ch=1, sub=block, outermost=True, out_ch=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


# ------------------------------------------------------- ResNet18 dynamic U-Net
class ResNet18Encoder(nn.Module):
    """torchvision ``resnet18`` without avgpool/fc, one input channel; ``width=64`` has the
    exact layout (and state-dict keys) of torchvision's model, so ImageNet weights load."""

    def __init__(self, width: int = 64):
        super().__init__()
        w = width
        self.conv1 = nn.Conv2d(1, w, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(w)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.inplanes = w
        self.layer1 = self._layer(w, 1)
        self.layer2 = self._layer(w * 2, 2)
        self.layer3 = self._layer(w * 4, 2)
        self.layer4 = self._layer(w * 8, 2)

    def _layer(self, planes: int, stride: int) -> nn.Sequential:
        down = None
        if stride != 1 or self.inplanes != planes:
            down = nn.Sequential(nn.Conv2d(self.inplanes, planes, 1, stride, bias=False),
                                 nn.BatchNorm2d(planes))
        blocks = [BasicBlock(self.inplanes, planes, stride, down), BasicBlock(planes, planes)]
        self.inplanes = planes
        return nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Features at strides 2, 4, 8, 16, 32."""
        x = self.relu(self.bn1(self.conv1(x)))
        feats = [x]
        x = self.layer1(self.maxpool(x))
        feats.append(x)
        for layer in (self.layer2, self.layer3, self.layer4):
            x = layer(x)
            feats.append(x)
        return feats


def _conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True))


class _UpBlock(nn.Module):
    """Upsample x2 (deconv), concat the batch-normed skip, two 3x3 convs (fastai UnetBlock)."""

    def __init__(self, up_in: int, skip: int, out: int):
        super().__init__()
        self.up = nn.Sequential(nn.ConvTranspose2d(up_in, up_in // 2, 4, 2, 1, bias=False),
                                nn.BatchNorm2d(up_in // 2), nn.ReLU(True))
        self.skip_bn = nn.BatchNorm2d(skip)
        self.convs = nn.Sequential(_conv(up_in // 2 + skip, out), _conv(out, out))

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.convs(torch.cat([self.up(x), self.skip_bn(skip)], 1))


class ResNetUNet(nn.Module):
    """ResNet18 encoder + a decoder built from the encoder's feature shapes (probed with a
    dummy input): a middle block at stride 32, one up block per encoder scale, a last
    block at full resolution that also sees the input (fastai ``last_cross``), then a
    1x1 conv to a*b* and tanh."""

    multiple = 32

    def __init__(self, width: int = 64):
        super().__init__()
        self.encoder = ResNet18Encoder(width)
        with torch.no_grad():
            shapes = [f.shape for f in self.encoder.eval()(torch.zeros(1, 1, 64, 64))]
        self.encoder.train()
        chans = [s[1] for s in shapes]
        bottom = chans[-1]
        self.middle = nn.Sequential(_conv(bottom, bottom * 2), _conv(bottom * 2, bottom))
        blocks, up_in = [], bottom
        for skip in reversed(chans[:-1]):  # strides 16, 8, 4, 2
            out = max(skip, up_in // 2)
            blocks.append(_UpBlock(up_in, skip, out))
            up_in = out
        self.blocks = nn.ModuleList(blocks)
        self.final_up = nn.Sequential(nn.ConvTranspose2d(up_in, up_in // 2, 4, 2, 1, bias=False),
                                      nn.BatchNorm2d(up_in // 2), nn.ReLU(True))
        self.last = nn.Sequential(_conv(up_in // 2 + 1, up_in // 2), nn.Conv2d(up_in // 2, 2, 1), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.encoder(x)
        y = self.middle(feats[-1])
        for block, skip in zip(self.blocks, reversed(feats[:-1]), strict=True):
            y = block(y, skip)
        return self.last(torch.cat([self.final_up(y), x], 1))


# ------------------------------------------------------------- discriminator
class PatchDiscriminator(nn.Module):
    """pix2pix ``NLayerDiscriminator(3, ndf, n_layers=3)``: 70x70 receptive field, one logit
    per patch (30x30 logits for a 256x256 input)."""

    def __init__(self, in_ch: int = 3, ndf: int = 64, n_layers: int = 3):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_ch, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2 ** n, 8)
            stride = 2 if n < n_layers else 1
            layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride, 1, bias=False),
                       nn.BatchNorm2d(ndf * mult), nn.LeakyReLU(0.2, True)]
        layers.append(nn.Conv2d(ndf * mult, 1, 4, 1, 1))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


# ------------------------------------------------------------------ builders
GENERATORS = ("resnet18-unet", "unet")
DECODERS = ("dynamic", "compact")  # resnet18-unet: fastai's DynamicUnet, or the compact one before it


def build_generator(cfg: dict[str, Any]) -> nn.Module:
    """The generator a config describes: the pix2pix U-Net (``unet_downs`` blocks) or the
    ResNet18 U-Net with ``decoder=dynamic`` (fastai's DynamicUnet, the paper's final model;
    fastai's own inits) or ``compact`` (the shipped tiny weights' decoder). The U-Nets other
    than ``dynamic`` are N(0, 0.02)-initialised (§4); ImageNet encoder weights are loaded
    afterwards by ``train.py`` when asked for."""
    kind = cfg.get("generator", "resnet18-unet")
    if kind == "unet":
        net: nn.Module = UNetGenerator(int(cfg.get("unet_downs", 7)), int(cfg.get("ngf", 64)),
                                       bool(cfg.get("dropout", True)))
    elif kind == "resnet18-unet":
        decoder = str(cfg.get("decoder", "dynamic"))
        if decoder == "dynamic":
            from colorbench_gan.dynamic_unet import DynamicUNet

            return DynamicUNet(int(cfg.get("resnet_width", 64)))
        if decoder != "compact":
            raise ValueError(f"decoder {decoder!r}: choose one of {', '.join(DECODERS)}")
        net = ResNetUNet(int(cfg.get("resnet_width", 64)))
    else:
        raise ValueError(f"generator {kind!r}: choose one of {', '.join(GENERATORS)}")
    init_normal(net)
    return net


def build_discriminator(cfg: dict[str, Any]) -> nn.Module:
    net = PatchDiscriminator(3, int(cfg.get("ndf", 64)), int(cfg.get("d_layers", 3)))
    init_normal(net)
    return net


def gan_loss(logits: torch.Tensor, real: bool, mode: str) -> torch.Tensor:
    """BCE-with-logits (the cGAN log-loss of pix2pix / the paper) or least squares (LSGAN)."""
    target = torch.full_like(logits, 1.0 if real else 0.0)
    if mode == "lsgan":
        return F.mse_loss(logits.float(), target.float())
    return F.binary_cross_entropy_with_logits(logits.float(), target.float())
