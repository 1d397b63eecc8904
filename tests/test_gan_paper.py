"""gan against its paper (seed 002): the ``paper`` config value by value, the final generator
(ImageNet ResNet18 + fastai's DynamicUnet), the 7-block baseline, the loss terms' formulas,
and one adversarial phase that trains D, with a fresh Adam for G."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch
from colorbench_datasets.shapes import Shapes
from colorbench_gan import train as gan_train
from colorbench_gan.dynamic_unet import DynamicUNet, PixelShuffleICNR, ResBlock, UnetBlock
from colorbench_gan.model import AB_SCALE, build_discriminator, build_generator
from colorbench_gan.plugin import CONFIGS
from colorbench_gan.train import discriminator_losses, generator_losses

from colorbench.errors import ColorbenchError
from colorbench.models.checkpoints import load_checkpoint
from colorbench.reporting import Reporter
from colorbench.training import TrainContext

# (config key, the paper's value, where the paper states it)
PAPER = [
    ("lambda_l1", 100.0, "loss = cGAN + λ·L1, λ = 100"), ("gan_mode", "bce", "cGAN log-loss"),
    ("lr", 2e-4, "Adam 2e-4"), ("pretrain_lr", 2e-4, "Adam 2e-4"), ("beta1", 0.5, "Adam betas"),
    ("beta2", 0.999, "Adam betas"), ("size", 256, "256x256"), ("pretrain_epochs", 20, "phase 1: 20 epochs"),
    ("phase", "both", "L1 pretraining then adversarial"), ("generator", "resnet18-unet", "final model"),
    ("decoder", "dynamic", "fastai DynamicUnet"), ("pretrained_encoder", True, "ImageNet ResNet18"),
    ("resnet_width", 64, "ResNet18"), ("unet_downs", 7, "baseline: seven blocks"), ("d_layers", 3, "PatchGAN"),
    ("dropout", True, "baseline: dropout noise"),
]


@pytest.mark.parametrize(("key", "value", "source"), PAPER, ids=[p[0] for p in PAPER])
def test_paper_config_matches_the_paper(key: str, value: object, source: str) -> None:
    assert CONFIGS["paper"][key] == value, source


def _convs_std(net: torch.nn.Module) -> float:
    return float(torch.cat([m.weight.detach().flatten() for m in net.modules()
                            if isinstance(m, torch.nn.Conv2d | torch.nn.ConvTranspose2d)]).std())


def test_baseline_has_seven_blocks_initialised_from_normal_0_002() -> None:
    torch.manual_seed(0)
    G = build_generator({**CONFIGS["paper"], "generator": "unet", "ngf": 8})
    downs = [m for m in G.modules() if isinstance(m, torch.nn.Conv2d) and m.stride == (2, 2)]
    ups = [m for m in G.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert len(downs) == len(ups) == 7
    assert G(torch.zeros(1, 1, 128, 128)).shape == (1, 2, 128, 128)
    assert 0.019 < _convs_std(G) < 0.021  # N(0, 0.02)
    D = build_discriminator(CONFIGS["paper"] | {"ndf": 16})
    assert 0.019 < _convs_std(D) < 0.021 and D.model[0].in_channels == 3  # concat(L, ab)


def test_final_generator_is_fastais_dynamic_unet_over_resnet18() -> None:
    torch.manual_seed(0)
    G = build_generator(CONFIGS["paper"])
    assert isinstance(G, DynamicUNet) and G.encoder.conv1.in_channels == 1
    assert [b.out_channels for b in G.blocks] == [512, 384, 256, 96]  # fastai's resnet18 U-Net
    assert [b.bn.num_features for b in G.blocks] == [256, 128, 64, 64]  # BN'd skips at strides 16..2
    assert all(isinstance(b.shuf, PixelShuffleICNR) for b in G.blocks)
    assert isinstance(G.res, ResBlock) and G.head.in_channels == 97 and G.head.kernel_size == (1, 1)
    assert not any(isinstance(m, torch.nn.Tanh | torch.nn.ConvTranspose2d) for m in G.modules())
    with torch.no_grad():
        out = G(torch.randn(1, 1, 64, 64) * 3)
    assert out.shape == (1, 2, 64, 64) and float(out.abs().max()) > 1.0  # linear output: no tanh


def test_icnr_upsampling_starts_as_nearest_neighbour() -> None:
    torch.manual_seed(0)
    up = PixelShuffleICNR(8, 4)
    x = torch.randn(1, 8, 5, 5)
    y = up(x)
    assert y.shape == (1, 4, 10, 10)
    torch.testing.assert_close(y, torch.nn.functional.interpolate(y[..., ::2, ::2], scale_factor=2))
    block = UnetBlock(16, 6, final_div=False)
    x, skip = torch.randn(2, 16, 4, 4), torch.randn(2, 6, 8, 8) * 3 + 2
    out = block(x, skip)
    assert out.shape == (2, 7, 8, 8)
    with torch.no_grad():  # the skip goes through the block's BatchNorm: shifting it shifts the output
        block.bn.bias += 1.0
    assert not torch.allclose(block(x, skip), out)


class _Const(torch.nn.Module):
    """A critic that says +2 (real) where a* > 0 and -2 (fake) elsewhere."""

    def forward(self, pair: torch.Tensor) -> torch.Tensor:
        return torch.where(pair[:, 1:2] > 0, 2.0, -2.0)


def test_loss_terms_equal_their_formulas() -> None:
    x, y = torch.zeros(2, 1, 4, 4), torch.full((2, 2, 4, 4), 0.5)
    fake = torch.full((2, 2, 4, 4), -0.25)
    small, big = math.log1p(math.exp(-2)), math.log1p(math.exp(2))  # BCE of a right / wrong verdict
    d = discriminator_losses(_Const(), x, fake, y)
    assert float(d["loss_D_real"]) == pytest.approx(small) and float(d["loss_D_fake"]) == pytest.approx(small)
    assert float(d["loss_D"]) == pytest.approx(small)
    g = generator_losses(_Const(), x, fake, y, 100.0)
    assert float(g["loss_G_GAN"]) == pytest.approx(big)  # G wants its pairs called real
    assert float(g["loss_G_L1"]) == pytest.approx(100 * 0.75)
    assert float(g["loss_G"]) == pytest.approx(big + 75.0)
    pre = generator_losses(None, x, fake, y, 100.0)
    assert set(pre) == {"loss_G_L1", "loss_G"} and float(pre["loss_G"]) == pytest.approx(75.0)


SMALL = {"resnet_width": 8, "ndf": 8, "size": 32, "batch_size": 4, "workers": 0, "threads": 1,
         "log_every": 1, "save_every": 1000, "val_images": 0, "lr": 1e-3, "pretrain_lr": 1e-3}


def _train(out: Path, **overrides: Any) -> gan_train.Trainer:
    cfg = {**CONFIGS["tiny"], **SMALL, "decoder": "dynamic", **overrides}
    ds = Shapes(split="train", size=32, n_images=8)
    return gan_train.train(TrainContext(dataset=ds, config=cfg, out_dir=out, device=torch.device("cpu"),
                                        resume=False, seed=3, reporter=Reporter(quiet=True)))


def test_adversarial_phase_trains_d_and_restarts_gs_adam(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[dict[str, torch.Tensor]] = []

    def recording(cfg: dict[str, Any]) -> torch.nn.Module:
        D = build_discriminator(cfg)
        built.append({k: v.clone() for k, v in D.state_dict().items()})
        return D

    monkeypatch.setattr(gan_train, "build_discriminator", recording)
    t = _train(tmp_path, steps=8, pretrain_steps=2)
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    # D learnt: its weights moved from their init, and it tells the photos from G's output
    assert len(built) == 1
    moved = [k for k, v in built[0].items() if v.is_floating_point() and not torch.equal(v, state["discriminator"][k])]
    assert any(k.endswith("weight") for k in moved)
    D, G = t.models["discriminator"].eval(), t.models["generator"].eval()
    pairs = gan_train.ColorPairs(Shapes(split="train", size=32, n_images=8), 32, train=False)
    x = gan_train.normalize_L(torch.stack([pairs[i]["L"] for i in range(8)]))
    y = gan_train.normalize_ab(torch.stack([pairs[i]["ab"] for i in range(8)]))
    with torch.no_grad():
        real, fake = D(torch.cat([x, y], 1)).mean(), D(torch.cat([x, G(x)], 1)).mean()
    assert float(real) > float(fake)
    # G's Adam restarted at phase 2: it has counted the 6 adversarial steps, not all 8
    adam = state["optimizers"]["generator"]["state"]
    assert {int(s["step"]) for s in adam.values()} == {6}
    assert {int(s["step"]) for s in state["optimizers"]["discriminator"]["state"].values()} == {6}
    rows = (tmp_path / "train_log.csv").read_text().splitlines()
    assert len(rows) == 9


def test_logged_generator_loss_is_cgan_plus_100_l1(tmp_path: Path) -> None:
    import csv

    _train(tmp_path, steps=2, pretrain_steps=1, lr=2e-4)
    with open(tmp_path / "train_log.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    pre, adv = rows
    assert pre["loss_G_GAN"] == "" and float(pre["loss_G"]) == pytest.approx(float(pre["loss_G_L1"]))
    assert float(adv["loss_G"]) == pytest.approx(float(adv["loss_G_GAN"]) + float(adv["loss_G_L1"]), rel=1e-5)
    for r in rows:  # λ·L1 with λ = 100, L1 in the networks' [-1, 1] a*b* units
        assert float(r["loss_G_L1"]) == pytest.approx(100 * float(r["l1_ab"]) / AB_SCALE, rel=1e-4)
    assert float(adv["loss_D"]) == pytest.approx(0.5 * (float(adv["loss_D_fake"]) + float(adv["loss_D_real"])))


def test_paper_config_without_the_imagenet_file_fails_in_one_line(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("COLORBENCH_OFFLINE", "1")
    cfg = {**CONFIGS["paper"], "size": 32, "batch_size": 2, "workers": 0, "steps": 1, "val_images": 0}
    ds = Shapes(split="train", size=32, n_images=2)
    with pytest.raises(ColorbenchError) as info:
        gan_train.train(TrainContext(dataset=ds, config=cfg, out_dir=tmp_path / "out", device=torch.device("cpu"),
                                     resume=False, seed=0, reporter=Reporter(quiet=True)))
    message = str(info.value)
    assert "\n" not in message and "colorbench weights download resnet18" in message
    assert "resnet18-f37072fd.pth" in message
