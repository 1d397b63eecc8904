"""gan networks: shapes, initialisation, one optimisation step, ImageNet encoder loading."""

from __future__ import annotations

from pathlib import Path

import colorbench_gan.colorizer as gan_colorizer
import pytest
import torch
from colorbench_gan.colorizer import GanColorizer, load_imagenet_encoder
from colorbench_gan.model import (
    AB_SCALE,
    PatchDiscriminator,
    ResNet18Encoder,
    ResNetUNet,
    UNetGenerator,
    build_discriminator,
    build_generator,
    gan_loss,
)
from conftest import pin_weights

from colorbench.errors import ColorbenchError, WeightsHashError

TINY_RES = {"generator": "resnet18-unet", "decoder": "compact", "resnet_width": 8}
TINY_UNET = {"generator": "unet", "unet_downs": 5, "ngf": 8}


@pytest.mark.parametrize("cfg", [TINY_RES, TINY_UNET], ids=["resnet18-unet", "unet"])
def test_generator_maps_L_to_ab_in_tanh_range(cfg: dict) -> None:
    torch.manual_seed(0)
    G = build_generator(cfg)
    out = G(torch.randn(3, 1, 32, 32))
    assert out.shape == (3, 2, 32, 32)
    assert out.abs().max() <= 1.0  # tanh; a*b* = out * AB_SCALE


def test_patchgan_is_70x70_with_30x30_logits_at_256() -> None:
    D = PatchDiscriminator(3, ndf=8, n_layers=3)
    assert D(torch.zeros(1, 3, 256, 256)).shape == (1, 1, 30, 30)
    assert D(torch.zeros(2, 3, 64, 64)).shape == (2, 1, 6, 6)
    # receptive field: a change at one pixel reaches the centre logit only within 70 px
    x = torch.zeros(1, 3, 256, 256, requires_grad=True)
    D.eval()(x)[0, 0, 15, 15].backward()
    rows = torch.nonzero(x.grad.abs().sum(dim=(0, 1, 3)))  # type: ignore[union-attr]
    assert int(rows.max() - rows.min() + 1) == 70


def test_pix2pix_unet_has_dropout_only_in_inner_blocks() -> None:
    G = UNetGenerator(num_downs=8, ngf=4)
    assert sum(isinstance(m, torch.nn.Dropout) for m in G.modules()) == 3  # num_downs - 5


def test_weights_are_initialised_from_normal_0_002() -> None:
    torch.manual_seed(0)
    D = build_discriminator({"ndf": 32})
    w = torch.cat([m.weight.flatten() for m in D.modules() if isinstance(m, torch.nn.Conv2d)])
    w = w.detach()
    assert abs(float(w.mean())) < 1e-3 and 0.018 < float(w.std()) < 0.022


def test_decoder_is_built_from_encoder_feature_shapes() -> None:
    for width in (8, 16):
        G = ResNetUNet(width)
        assert [b.skip_bn.num_features for b in G.blocks] == [4 * width, 2 * width, width, width]
        assert G.middle[0][0].in_channels == 8 * width


def test_one_step_changes_both_networks() -> None:
    torch.manual_seed(0)
    G, D = build_generator(TINY_RES), build_discriminator({"ndf": 8})
    opt_G = torch.optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999))
    opt_D = torch.optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999))
    g0 = [p.detach().clone() for p in G.parameters()]
    d0 = [p.detach().clone() for p in D.parameters()]
    x, y = torch.rand(4, 1, 32, 32) * 2 - 1, torch.rand(4, 2, 32, 32) * 0.4 - 0.2
    fake = G(x)
    loss_D = 0.5 * (gan_loss(D(torch.cat([x, fake.detach()], 1)), False, "bce")
                    + gan_loss(D(torch.cat([x, y], 1)), True, "bce"))
    opt_D.zero_grad()
    loss_D.backward()
    opt_D.step()
    loss_G = gan_loss(D(torch.cat([x, fake], 1)), True, "bce") + 100 * (fake - y).abs().mean()
    opt_G.zero_grad()
    loss_G.backward()
    opt_G.step()
    assert all((a != b).any() for a, b in zip(g0, G.parameters(), strict=True) if b.requires_grad)
    assert all((a != b).any() for a, b in zip(d0, D.parameters(), strict=True))


def test_lsgan_option_is_least_squares() -> None:
    logits = torch.tensor([0.5, -1.0])
    assert torch.isclose(gan_loss(logits, True, "lsgan"), ((logits - 1) ** 2).mean())
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.zeros(2))
    assert torch.isclose(gan_loss(logits, False, "bce"), bce)


@torch.no_grad()
def test_colorizer_is_deterministic_and_keeps_any_size() -> None:
    torch.manual_seed(0)
    cfg = {"generator": "unet", "unet_downs": 6, "ngf": 4}
    model = GanColorizer(build_generator(cfg), torch.device("cpu"))
    L = torch.rand(2, 1, 45, 70) * 100
    ab = model.colorize(L)
    assert ab.shape == (2, 2, 45, 70) and ab.abs().max() <= AB_SCALE
    assert torch.equal(ab, model.colorize(L))  # eval mode: dropout off
    noisy = GanColorizer(build_generator(cfg), torch.device("cpu"), dropout_at_inference=True)
    assert not torch.equal(noisy.colorize(L), noisy.colorize(L))
    at_train_size = GanColorizer(build_generator(TINY_RES), torch.device("cpu"), size=32)
    assert at_train_size.colorize(L).shape == (2, 2, 45, 70)


def test_imagenet_encoder_loads_from_the_torch_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    hub = tmp_path / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    torch.manual_seed(1)
    reference = torchvision.models.resnet18()
    url = torchvision.models.ResNet18_Weights.IMAGENET1K_V1.url
    torch.save(reference.state_dict(), hub / Path(url).name)
    enc = ResNet18Encoder(64)
    with pytest.raises(WeightsHashError, match="resnet18-f37072fd"):  # a random file is not the declared one
        load_imagenet_encoder(enc)
    pin_weights(monkeypatch, gan_colorizer, "RESNET18", hub / Path(url).name)
    load_imagenet_encoder(enc)
    assert torch.equal(enc.layer3[1].conv2.weight, reference.layer3[1].conv2.weight)
    assert torch.equal(enc.conv1.weight, reference.conv1.weight.sum(1, keepdim=True))
    with pytest.raises(ColorbenchError, match="resnet_width=64"):
        load_imagenet_encoder(ResNet18Encoder(16))


def test_missing_imagenet_weights_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("COLORBENCH_OFFLINE", "1")
    with pytest.raises(ColorbenchError) as info:
        load_imagenet_encoder(ResNet18Encoder(64))
    message = str(info.value)
    assert "\n" not in message and "resnet18-f37072fd.pth" in message
    assert str(tmp_path / "hub" / "checkpoints") in message and "pretrained_encoder=false" in message
