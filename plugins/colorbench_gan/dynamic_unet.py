"""fastai's ``DynamicUnet`` (fastai v2 ``vision/models/unet.py``, the module seed 002's final
generator is built with) over the 1-channel ResNet18 encoder, in plain torch.

As fastai builds it with its defaults (``norm_type=None``, ``blur=False``,
``self_attention=False``, ``last_cross=True``, ``bottle=False``, ``y_range=None``):

* after the encoder: BatchNorm + ReLU, then a middle of two 3x3 conv+ReLU (C -> 2C -> C);
* one ``UnetBlock`` per encoder scale (strides 16, 8, 4, 2, the layers where fastai's hooks
  find the size changing): ``PixelShuffle_ICNR`` upsampling (1x1 conv to 4x the channels
  with ICNR init, ReLU, pixel shuffle x2) to half the input channels, concatenated with the
  BatchNorm'd skip features, ReLU, two 3x3 conv+ReLU (the last block halves its channels);
* a last ``PixelShuffle_ICNR`` to the input size, the input concatenated (``last_cross``),
  a ``ResBlock`` (two 3x3 convs, identity shortcut, ReLU after the sum), a 1x1 conv to a*b*.

No tanh: fastai's output is linear (``y_range=None``), and the paper's code passes none.
Convolutions have biases (no norm layer); decoder weights kaiming-normal, ICNR for the
shuffles (fastai's ``apply_init``); the encoder keeps ImageNet or torchvision-default weights.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from colorbench_gan.model import ResNet18Encoder


def _conv(cin: int, cout: int, ks: int = 3, act: bool = True) -> nn.Sequential:
    """fastai ``ConvLayer(norm_type=None)``: conv with bias, optionally ReLU; kaiming init."""
    conv = nn.Conv2d(cin, cout, ks, padding=ks // 2)
    nn.init.kaiming_normal_(conv.weight)
    nn.init.zeros_(conv.bias)
    return nn.Sequential(conv, nn.ReLU(inplace=True)) if act else nn.Sequential(conv)


def icnr_(weight: torch.Tensor, scale: int = 2) -> None:
    """ICNR init (Aitken et al. 2017): the ``scale²`` sub-pixel filters of each output channel
    start equal, so the pixel shuffle begins as a nearest-neighbour upsampling."""
    out_ch, in_ch, h, w = weight.shape
    base = torch.empty(out_ch // scale ** 2, in_ch, h, w)
    nn.init.kaiming_normal_(base)
    with torch.no_grad():
        weight.copy_(base.repeat_interleave(scale ** 2, dim=0))


class PixelShuffleICNR(nn.Module):
    """fastai ``PixelShuffle_ICNR(ni, nf, norm_type=None)``: 1x1 conv to nf·4, ReLU, shuffle x2."""

    def __init__(self, ni: int, nf: int | None = None, scale: int = 2):
        super().__init__()
        nf = ni if nf is None else nf
        self.conv = nn.Conv2d(ni, nf * scale ** 2, 1)
        icnr_(self.conv.weight, scale)
        nn.init.zeros_(self.conv.bias)
        self.relu, self.shuffle = nn.ReLU(inplace=True), nn.PixelShuffle(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shuffle(self.relu(self.conv(x)))


class UnetBlock(nn.Module):
    """fastai ``UnetBlock``: shuffle-upsample to up_in/2, concat BN(skip), ReLU, two convs."""

    def __init__(self, up_in: int, skip: int, final_div: bool = True):
        super().__init__()
        self.shuf = PixelShuffleICNR(up_in, up_in // 2)
        self.bn = nn.BatchNorm2d(skip)
        ni = up_in // 2 + skip
        self.out_channels = ni if final_div else ni // 2
        self.conv1, self.conv2 = _conv(ni, self.out_channels), _conv(self.out_channels, self.out_channels)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        up = self.shuf(x)
        if up.shape[-2:] != skip.shape[-2:]:
            up = F.interpolate(up, skip.shape[-2:], mode="nearest")
        return self.conv2(self.conv1(self.relu(torch.cat([up, self.bn(skip)], 1))))


class ResBlock(nn.Module):
    """fastai ``ResBlock(1, ni, ni, norm_type=None)``: relu(conv-relu-conv(x) + x)."""

    def __init__(self, ni: int):
        super().__init__()
        self.convpath = nn.Sequential(_conv(ni, ni), _conv(ni, ni, act=False))
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.convpath(x) + x)


class DynamicUNet(nn.Module):
    """L [B,1,H,W] in [-1,1] -> a*b* [B,2,H,W] / AB_SCALE (unbounded); H, W multiples of 32.
    ``width=64`` is torchvision's ResNet18 (ImageNet weights load into ``encoder``); with it
    the decoder's channels are fastai's for resnet18: 512 -> 512, 384, 256, 96 -> 97 -> 2."""

    multiple = 32

    def __init__(self, width: int = 64):
        super().__init__()
        self.encoder = ResNet18Encoder(width)
        with torch.no_grad():
            chans = [f.shape[1] for f in self.encoder.eval()(torch.zeros(1, 1, 64, 64))]
        self.encoder.train()
        ni = chans[-1]
        self.bn = nn.BatchNorm2d(ni)
        self.middle = nn.Sequential(_conv(ni, ni * 2), _conv(ni * 2, ni))
        blocks, up_in = [], ni
        skips = list(reversed(chans[:-1]))  # strides 16, 8, 4, 2
        for i, skip in enumerate(skips):
            blocks.append(UnetBlock(up_in, skip, final_div=i != len(skips) - 1))
            up_in = blocks[-1].out_channels
        self.blocks = nn.ModuleList(blocks)
        self.shuf = PixelShuffleICNR(up_in)  # stride 2 -> the input size
        self.res = ResBlock(up_in + 1)  # + the input (last_cross)
        self.head = nn.Conv2d(up_in + 1, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.encoder(x)
        y = self.middle(F.relu(self.bn(feats[-1])))
        for block, skip in zip(self.blocks, reversed(feats[:-1]), strict=True):
            y = block(y, skip)
        y = self.shuf(y)
        if y.shape[-2:] != x.shape[-2:]:  # fastai ResizeToOrig
            y = F.interpolate(y, x.shape[-2:], mode="nearest")
        return self.head(self.res(torch.cat([y, x], 1)))
