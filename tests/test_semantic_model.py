"""semantic (seed 004) networks: shapes, the shared encoder, instance norm on gray features
only, the pseudo-label recipe and the map PNG round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from colorbench_semantic.colorizer import read_map, save_map
from colorbench_semantic.model import GridNet, TwoStreamUNet, normalize_labels
from colorbench_semantic.pseudo import PseudoLabeler


@pytest.mark.parametrize("hw", [(32, 32), (48, 64)])
def test_gridnet_shapes(hw: tuple[int, int]) -> None:
    net = GridNet(n_classes=5, width=0.25)
    assert len(net.lateral) == 5 and all(len(row) == 5 for row in net.lateral)  # 5 rows x 6 columns
    assert len(net.down) == 3 and len(net.up) == 3 and len(net.down[0]) == 4
    assert net.channels == [4, 8, 16, 32, 64]
    assert GridNet(3).channels == [16, 32, 64, 128, 256]
    out = net(torch.randn(2, 1, *hw))
    assert out.shape == (2, 5, *hw)


def test_gridnet_uses_every_row() -> None:
    """The coarsest row contributes to the output (the grid is really traversed)."""
    net = GridNet(n_classes=3, width=0.25)
    net(torch.randn(2, 1, 32, 32)).sum().backward()
    for block in (net.lateral[4][0], net.down[2][3], net.up[0][3]):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in block.parameters())


@pytest.mark.parametrize("hw", [(32, 32), (64, 48)])
def test_unet_shapes_and_channels(hw: tuple[int, int]) -> None:
    net = TwoStreamUNet(width=0.25)
    assert net.enc_channels == [8, 16, 32, 64, 128] and net.dec_channels == [256, 128, 64, 32, 16]
    full = TwoStreamUNet(width=1.0)
    assert full.enc_channels == [32, 64, 128, 256, 512] and full.dec_channels == [1024, 512, 256, 128, 64]
    gray, sem = torch.randn(2, 1, *hw), torch.rand(2, 1, *hw) * 2 - 1
    assert net(gray, sem).shape == (2, 2, *hw)
    feats = net.features(gray, sem)
    assert [f.shape[1] for f in feats] == [2 * c for c in net.enc_channels]  # two streams concatenated


def test_encoder_is_shared_by_both_streams() -> None:
    net = TwoStreamUNet(width=0.25)
    encoders = [m for m in net.modules() if type(m).__name__ == "Encoder"]
    assert len(encoders) == 1
    first_conv = net.encoder.layers[0][0][0]
    seen: list[torch.Tensor] = []
    first_conv.register_forward_hook(lambda m, i, o: seen.append(i[0].detach().clone()))
    gray, sem = torch.randn(1, 1, 32, 32), torch.full((1, 1, 32, 32), 0.5)
    out = net(gray, sem)
    assert len(seen) == 2 and torch.equal(seen[0], gray) and torch.equal(seen[1], sem)
    # the same weight receives gradient from the semantic stream alone
    net.zero_grad()
    g_only = torch.autograd.grad(net(gray.detach(), sem.requires_grad_()).sum(), sem)[0]
    assert g_only.abs().sum() > 0
    out.sum().backward()
    assert first_conv.weight.grad is not None


def test_instance_norm_on_gray_features_only() -> None:
    torch.manual_seed(0)
    net = TwoStreamUNet(width=0.25)
    gray = torch.randn(2, 1, 32, 32) * 3 + 1
    sem = normalize_labels(torch.randint(0, 5, (2, 32, 32)), 5)
    raw_gray, raw_sem = net.encoder(gray), net.encoder(sem)
    for f, c, g, s in zip(net.features(gray, sem), net.enc_channels, raw_gray, raw_sem, strict=True):
        mean, var = g.mean(dim=(2, 3), keepdim=True), g.var(dim=(2, 3), keepdim=True, unbiased=False)
        assert torch.allclose(f[:, :c], (g - mean) / torch.sqrt(var + 1e-5), atol=1e-4)  # IN(gray)
        assert torch.equal(f[:, c:], s)  # semantic features untouched
        assert s.mean(dim=(2, 3)).abs().max() > 1e-3
    off = TwoStreamUNet(width=0.25, instance_norm=False)
    off.load_state_dict(net.state_dict())
    assert torch.equal(off.features(gray, sem)[0][:, :8], raw_gray[0])  # the ablation: no IN


def test_pseudo_labels_are_deterministic_and_from_gray_only() -> None:
    rng = np.random.default_rng(0)
    images = [np.clip(rng.normal(50, 20, (32, 32)).cumsum(0) % 100, 0, 100) for _ in range(6)]
    lab1 = PseudoLabeler.fit(images, k=4, seed=0, area=32)
    lab2 = PseudoLabeler.fit(images, k=4, seed=0, area=32)
    assert np.array_equal(lab1.centres, lab2.centres)
    restored = PseudoLabeler.from_state(lab1.state())
    m = restored(images[0])
    assert m.shape == (32, 32) and m.dtype == np.uint8 and m.max() < 4
    assert np.array_equal(m, lab1(images[0]))
    assert len(np.unique(np.concatenate([lab1(i).ravel() for i in images]))) > 1
    # classes are ordered by mean L*: a bright flat image gets a higher class than a dark one
    assert lab1(np.full((32, 32), 95.0)).mean() >= lab1(np.full((32, 32), 5.0)).mean()


def test_map_png_round_trip(tmp_path: Path) -> None:
    labels = np.random.default_rng(0).integers(0, 7, (20, 30))
    path = save_map(labels, tmp_path / "sub" / "x.png")
    assert np.array_equal(read_map(path, 7), labels)
    from PIL import Image

    Image.open(path).convert("RGB").save(tmp_path / "rgb.png")  # an editor that flattened the palette
    assert np.array_equal(read_map(tmp_path / "rgb.png", 7), labels)
    Image.fromarray(labels.astype(np.uint8), mode="L").save(tmp_path / "gray.png")
    assert np.array_equal(read_map(tmp_path / "gray.png", 7), labels)
    from colorbench.errors import ColorbenchError

    with pytest.raises(ColorbenchError, match="class 6 but the model has 5"):
        read_map(path, 5)
