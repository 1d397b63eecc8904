"""Networks of seed 004 (semantic-driven colorization, Ho et al.).

``GridNet``: the segmenter, 5 rows (resolutions) x 6 columns, row channels
[16, 32, 64, 128, 256] x ``seg_width``; residual 3x3 blocks along the rows, stride-2
convolutions from row r to r+1 in the first three columns, stride-2 transposed
convolutions from row r+1 to r in the last three; the output of row 0, last column, goes
through a 1x1 convolution to ``n_classes`` logits (cross-entropy).

``TwoStreamUNet``: the colorizer. One encoder (five layers, [32, 64, 128, 256, 512] x
``width``; a layer = 3x3 conv (stride 2 in layers 2..5) + 3x3 conv, each followed by
LeakyReLU 0.01) is applied to the gray image and to the semantic map (one channel of
normalized label values) with the *same* weights. The gray features of every layer pass
through instance normalization (no affine parameters), the semantic features do not; both
are concatenated (Fig. 6's ⊙), so the skips and the bottleneck have twice the encoder's
channels. The decoder ([1024, 512, 256, 128, 64] x ``width``) up-samples with stride-2
transposed convolutions; in each up-sampling layer the skip is *summed* onto the up-sampled
features between the layer's two convolution modules (Fig. 6's ⊕, ``skip_merge="sum"``:
the decoder widths are exactly the concatenated skips' widths, which a sum needs and a
concatenation would not; the authors' published code does the same). ``skip_merge="concat"``
(concatenate the skip before the second module) is colorbench's earlier reading, kept for
checkpoints trained with it. The decoder ends in a 1x1 convolution to a*b* in [-1, 1].

Scales: L in [0, 100] -> L/50 - 1; a*b* -> ab/110 (|a*|, |b*| < 110 for every sRGB
colour); label k of n classes -> 2k/(n-1) - 1.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from colorbench.color import AB_SCALE, normalize_ab, normalize_L, to_ab  # noqa: F401  (re-exported)

SEG_CHANNELS = (16, 32, 64, 128, 256)
ENC_CHANNELS = (32, 64, 128, 256, 512)
DEC_CHANNELS = (1024, 512, 256, 128, 64)



def normalize_labels(labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """[B,H,W] class ids -> [B,1,H,W] in [-1, 1] (the paper's one-channel semantic input)."""
    return (labels.float() * (2.0 / max(n_classes - 1, 1)) - 1.0).unsqueeze(1)


def _scaled(channels: tuple[int, ...], width: float) -> list[int]:
    return [max(1, round(c * width)) for c in channels]


# ------------------------------------------------------------------------ GridNet
class ResBlock(nn.Module):
    """Pre-activation residual block: BN-ReLU-conv3x3-BN-ReLU-conv3x3 + identity."""

    def __init__(self, c: int):
        super().__init__()
        self.body = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(), nn.Conv2d(c, c, 3, padding=1),
                                  nn.BatchNorm2d(c), nn.ReLU(), nn.Conv2d(c, c, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Down(nn.Module):
    """Row r -> row r+1: BN-ReLU-conv3x3 stride 2, BN-ReLU-conv3x3."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.body = nn.Sequential(nn.BatchNorm2d(cin), nn.ReLU(), nn.Conv2d(cin, cout, 3, stride=2, padding=1),
                                  nn.BatchNorm2d(cout), nn.ReLU(), nn.Conv2d(cout, cout, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class Up(nn.Module):
    """Row r+1 -> row r: BN-ReLU-transposed conv 3x3 stride 2, BN-ReLU-conv3x3."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.body = nn.Sequential(nn.BatchNorm2d(cin), nn.ReLU(),
                                  nn.ConvTranspose2d(cin, cout, 3, stride=2, padding=1, output_padding=1),
                                  nn.BatchNorm2d(cout), nn.ReLU(), nn.Conv2d(cout, cout, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class GridNet(nn.Module):
    """GridNet segmenter: X[r][c] = lateral(X[r][c-1]) + (down(X[r-1][c]) | up(X[r+1][c]))."""

    rows, columns = 5, 6

    def __init__(self, n_classes: int, width: float = 1.0, in_channels: int = 1):
        super().__init__()
        ch = _scaled(SEG_CHANNELS, width)
        self.channels, self.n_classes = ch, n_classes
        self.multiple = 2 ** (self.rows - 1)
        half = self.columns // 2
        self.stem = nn.Conv2d(in_channels, ch[0], 3, padding=1)
        # lateral[r][c-1]: residual block from column c-1 to c (c = 1..5)
        self.lateral = nn.ModuleList(nn.ModuleList(ResBlock(ch[r]) for _ in range(self.columns - 1))
                                     for r in range(self.rows))
        # down[c][r-1]: row r-1 -> r in column c < half; up[c-half][r]: row r+1 -> r in column c >= half
        self.down = nn.ModuleList(nn.ModuleList(Down(ch[r - 1], ch[r]) for r in range(1, self.rows))
                                  for _ in range(half))
        self.up = nn.ModuleList(nn.ModuleList(Up(ch[r + 1], ch[r]) for r in range(self.rows - 1))
                                for _ in range(self.columns - half))
        self.head = nn.Sequential(nn.BatchNorm2d(ch[0]), nn.ReLU(), nn.Conv2d(ch[0], n_classes, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        half = self.columns // 2
        grid: list[torch.Tensor] = []
        for c in range(self.columns):
            col: list[torch.Tensor | None] = [None] * self.rows
            if c < half:
                for r in range(self.rows):
                    lat = self.stem(x) if c == 0 and r == 0 else (self.lateral[r][c - 1](grid[r]) if c > 0 else None)
                    ver = self.down[c][r - 1](col[r - 1]) if r > 0 else None  # type: ignore[arg-type]
                    col[r] = ver if lat is None else (lat if ver is None else lat + ver)
            else:
                for r in reversed(range(self.rows)):
                    lat = self.lateral[r][c - 1](grid[r])
                    col[r] = lat if r == self.rows - 1 else lat + self.up[c - half][r](col[r + 1])
            grid = col  # type: ignore[assignment]
        return self.head(grid[0])


# ------------------------------------------------------------------ two-stream U-Net
def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1), nn.LeakyReLU(0.01))


class Encoder(nn.Module):
    """Five layers; layer 1 keeps the resolution, layers 2..5 start with a stride-2 conv."""

    def __init__(self, channels: list[int], in_channels: int = 1):
        super().__init__()
        layers, cin = [], in_channels
        for k, c in enumerate(channels):
            layers.append(nn.Sequential(_conv(cin, c, stride=1 if k == 0 else 2), _conv(c, c)))
            cin = c
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for layer in self.layers:
            x = layer(x)
            feats.append(x)
        return feats


SKIP_MERGES = ("sum", "concat")


class TwoStreamUNet(nn.Module):
    """The two-stream colorizer (module docstring); ``skip_merge``: ``sum`` (Fig. 6) or ``concat``."""

    def __init__(self, width: float = 1.0, instance_norm: bool = True, skip_merge: str = "sum"):
        super().__init__()
        if skip_merge not in SKIP_MERGES:
            from colorbench.errors import ColorbenchError

            raise ColorbenchError(f"--set skip_merge={skip_merge}: choose one of {', '.join(SKIP_MERGES)}")
        enc, dec = _scaled(ENC_CHANNELS, width), _scaled(DEC_CHANNELS, width)
        self.enc_channels, self.dec_channels = enc, dec
        self.instance_norm, self.skip_merge = instance_norm, skip_merge
        self.multiple = 2 ** (len(enc) - 1)
        self.encoder = Encoder(enc)  # shared by the gray and the semantic stream
        self.norms = nn.ModuleList(nn.InstanceNorm2d(c, affine=False) if instance_norm else nn.Identity()
                                   for c in enc)
        # decoder layer 1: two convs on the bottleneck (2 x enc[-1] channels) -> dec[0]
        self.bottleneck = nn.Sequential(_conv(2 * enc[-1], dec[0]), _conv(dec[0], dec[0]))
        ups, convs = [], []
        for k in range(1, len(dec)):
            skip = 2 * enc[-1 - k]
            # a sum needs the up-sampled width to equal the skip's (the paper's widths do)
            up_width = skip if skip_merge == "sum" else dec[k]
            ups.append(nn.Sequential(nn.ConvTranspose2d(dec[k - 1], up_width, 3, stride=2, padding=1,
                                                        output_padding=1), nn.LeakyReLU(0.01)))
            convs.append(_conv(skip if skip_merge == "sum" else dec[k] + skip, dec[k]))
        self.ups, self.convs = nn.ModuleList(ups), nn.ModuleList(convs)
        self.out = nn.Conv2d(dec[-1], 2, 1)

    def features(self, gray: torch.Tensor, semantic: torch.Tensor) -> list[torch.Tensor]:
        """Per encoder layer: cat(IN(gray features), semantic features)."""
        fg, fs = self.encoder(gray), self.encoder(semantic)
        return [torch.cat([norm(g), s], 1) for norm, g, s in zip(self.norms, fg, fs, strict=True)]

    def forward(self, gray: torch.Tensor, semantic: torch.Tensor) -> torch.Tensor:
        skips = self.features(gray, semantic)
        x = self.bottleneck(skips[-1])
        for k, (up, conv) in enumerate(zip(self.ups, self.convs, strict=True), start=1):
            skip = skips[-1 - k]
            x = conv(up(x) + skip if self.skip_merge == "sum" else torch.cat([up(x), skip], 1))
        return self.out(x)


def build_segmenter(cfg: dict[str, Any]) -> GridNet:
    return GridNet(int(cfg["n_classes"]), float(cfg.get("seg_width", 1.0)))


def build_colorizer(cfg: dict[str, Any]) -> TwoStreamUNet:
    """The colorizer of a config or checkpoint (one without ``skip_merge`` predates the sums: concat)."""
    return TwoStreamUNet(float(cfg.get("width", 1.0)), bool(cfg.get("instance_norm", True)),
                         str(cfg.get("skip_merge") or "concat"))
