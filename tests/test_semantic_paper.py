"""semantic against seed 004: the paper config's values, GridNet 5x6, the two-stream U-Net's
widths, LeakyReLU 0.01, instance norm on the gray stream only, and Fig. 6's summed skips."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from colorbench_semantic import model
from colorbench_semantic.plugin import CONFIGS
from colorbench_semantic.stages import huber
from torch import nn

from colorbench.errors import ColorbenchError

PAPER = CONFIGS["paper"]


@pytest.mark.parametrize(("key", "value"), [
    ("lr", 1e-4), ("beta1", 0.9), ("beta2", 0.999), ("batch_size", 16), ("scale", 360), ("size", 352),
    ("vflip", True), ("huber_delta", 1.0), ("instance_norm", True), ("skip_merge", "sum"), ("width", 1.0),
    ("seg_width", 1.0),
])
def test_paper_config_matches_seed_004(key: str, value: object) -> None:
    assert PAPER[key] == value


def test_paper_widths_and_grid() -> None:
    assert model.SEG_CHANNELS == (16, 32, 64, 128, 256)
    assert model.ENC_CHANNELS == (32, 64, 128, 256, 512) and model.DEC_CHANNELS == (1024, 512, 256, 128, 64)
    assert (model.GridNet.rows, model.GridNet.columns) == (5, 6)
    net = model.build_colorizer(PAPER)
    slopes = {m.negative_slope for m in net.modules() if isinstance(m, nn.LeakyReLU)}
    assert slopes == {0.01}
    kernels = {m.kernel_size for m in net.modules() if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)}
    assert kernels == {(3, 3), (1, 1)}  # 3x3 everywhere, the 1x1 a*b* head


def test_huber_delta_is_the_quadratic_to_linear_switch() -> None:
    pred, target = torch.tensor([0.5, 3.0]), torch.zeros(2)
    assert float(huber(pred, target, 1.0)) == pytest.approx((0.5 * 0.25 + (3.0 - 0.5)) / 2)
    assert float(huber(pred, target, 2.0)) != pytest.approx(float(huber(pred, target, 1.0)))


def _net(merge: str = "sum") -> model.TwoStreamUNet:
    torch.manual_seed(0)
    return model.TwoStreamUNet(width=0.125, skip_merge=merge)


def test_instance_norm_on_the_gray_stream_only() -> None:
    net = _net()
    gray, sem = torch.randn(2, 1, 32, 32) * 3 + 1, torch.randn(2, 1, 32, 32) * 3 + 1
    feats, raw_gray, raw_sem = net.features(gray, sem), net.encoder(gray), net.encoder(sem)
    for f, g, s, c in zip(feats, raw_gray, raw_sem, net.enc_channels, strict=True):
        assert torch.allclose(f[:, :c], F.instance_norm(g), atol=1e-5)  # gray first, normalized
        assert f[:, :c].mean((2, 3)).abs().max() < 1e-4
        assert torch.equal(f[:, c:], s)  # the semantic stream keeps its range
    # the semantic features do not depend on the gray input
    assert torch.equal(net.features(gray * 5, sem)[0][:, net.enc_channels[0]:], feats[0][:, net.enc_channels[0]:])


def test_decoder_sums_the_skips_onto_the_upsampled_features() -> None:
    net = _net()
    for k, conv in enumerate(net.convs, start=1):  # the sum keeps the skip's width: no concatenation
        assert conv[0].in_channels == 2 * net.enc_channels[-1 - k]
    gray, sem = torch.randn(1, 1, 32, 32), torch.randn(1, 1, 32, 32)
    seen: list[torch.Tensor] = []
    hook = net.convs[-1].register_forward_hook(lambda m, i, o: seen.append(i[0]))
    out = net(gray, sem)
    hook.remove()
    skips = net.features(gray, sem)
    x = net.bottleneck(skips[-1])
    for k, (up, conv) in enumerate(zip(net.ups, net.convs, strict=True), start=1):
        merged = up(x) + skips[-1 - k]
        x = conv(merged)
    assert torch.allclose(seen[0], merged) and torch.allclose(net.out(x), out)
    assert out.shape == (1, 2, 32, 32)


def test_concat_reading_kept_for_old_checkpoints_and_bad_names_refused() -> None:
    old = model.build_colorizer({"width": 0.125})  # a checkpoint config without skip_merge
    assert old.skip_merge == "concat"
    assert old.convs[0][0].in_channels == old.dec_channels[1] + 2 * old.enc_channels[-2]
    with pytest.raises(ColorbenchError, match="skip_merge=add"):
        model.TwoStreamUNet(width=0.125, skip_merge="add")
