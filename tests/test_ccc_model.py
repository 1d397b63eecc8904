"""CCC++ network shapes (Tables III-IV), inference (eq. 18, eq. 10-11, annealed mean), the
factory and its weight messages."""

from __future__ import annotations

from pathlib import Path

import colorbench_ccc.model as ccc_model
import pytest
import torch
from ccc_helpers import config
from colorbench_ccc.classes import ClassSet
from colorbench_ccc.model import CCCColorizer, CCCNet, build_net, load_pretrained_encoder
from colorbench_ccc.plugin import CONFIGS, _build
from conftest import pin_weights

from colorbench.color.classes import ClassGrid
from colorbench.errors import WeightsHashError, WeightsUnavailableError
from colorbench.models.checkpoints import save_checkpoint


def test_paper_network_shapes() -> None:
    net = build_net(CONFIGS["paper"], 532).eval()
    assert net.encoder.conv0.in_channels == 1 and net.encoder.norm5.num_features == 1024
    convs = [m for m in net.decoder if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size) for c in convs] == [
        (1024, 1024, (3, 3)), (1024, 512, (3, 3)), (512, 512, (3, 3)), (512, 532, (3, 3))]
    ups = [m for m in net.decoder if isinstance(m, torch.nn.Upsample)]
    assert [(u.scale_factor, u.mode) for u in ups] == [(2.0, "nearest")] * 3
    with torch.inference_mode():
        feats = net.encoder(torch.zeros(1, 1, 224, 224))
        assert tuple(feats.shape) == (1, 1024, 7, 7)  # H/32 x W/32 x 1024
        assert tuple(net(torch.zeros(1, 1, 224, 224)).shape) == (1, 532, 56, 56)


def test_tiny_network_same_structure_fewer_channels() -> None:
    net = build_net(CONFIGS["tiny"], 300)
    out = net(torch.zeros(2, 1, 128, 128))
    assert tuple(out.shape) == (2, 300, 32, 32)
    assert sum(p.numel() for p in net.parameters()) < 1_000_000


def _fixed_logits_colorizer(winner: int, decode: str = "argmax") -> CCCColorizer:
    classes = ClassSet(ClassGrid(), torch.tensor([0, 666, 678, 1295]))

    class Net(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            logits = torch.zeros(x.shape[0], 4, x.shape[2] // 4, x.shape[3] // 4)
            logits[:, winner] = 5.0
            return logits

    return CCCColorizer(Net(), classes, 32, torch.device("cpu"), decode=decode)  # type: ignore[arg-type]


def test_argmax_decoding_gives_the_winning_centre_at_full_size() -> None:
    ab = _fixed_logits_colorizer(2).colorize(torch.full((2, 1, 40, 24), 50.0))
    assert tuple(ab.shape) == (2, 2, 40, 24)
    torch.testing.assert_close(ab[:, 0], torch.full((2, 40, 24), 75.0))  # class 678: a = 75
    torch.testing.assert_close(ab[:, 1], torch.full((2, 40, 24), 3.0))


def test_annealed_mean_is_between_argmax_and_mean() -> None:
    ab = _fixed_logits_colorizer(2, "annealed").colorize(torch.full((1, 1, 8, 8), 50.0))
    # softmax(logits / 0.38): the winner has weight 1/(1 + 3·e^{-5/0.38}) ≈ 1
    p = 1 / (1 + 3 * torch.exp(torch.tensor(-5 / 0.38)))
    centres = ClassGrid().centres(torch.tensor([0, 666, 678, 1295]))
    expected = p * centres[2] + (1 - p) / 3 * (centres[0] + centres[1] + centres[3])
    torch.testing.assert_close(ab[0, :, 0, 0], expected.float(), atol=1e-4, rtol=1e-4)


def _write_random_tiny(path: Path) -> Path:
    cfg = config()
    classes = ClassSet(ClassGrid(), torch.arange(0, 1296, 7))
    torch.manual_seed(0)
    net = build_net(cfg, classes.n)
    return save_checkpoint({"model": net.state_dict(), "classes": classes.to_state(), "config": cfg,
                            "step": 0}, path / "checkpoint.pt")


def test_factory_loads_a_checkpoint_directory_and_is_deterministic(tmp_path: Path) -> None:
    _write_random_tiny(tmp_path)
    model = _build(device=torch.device("cpu"), checkpoint=tmp_path / "checkpoint.pt")
    L = torch.rand(3, 1, 32, 32) * 100
    a = model.colorize(L)
    assert tuple(a.shape) == (3, 2, 32, 32) and torch.isfinite(a).all()
    torch.testing.assert_close(a, torch.cat([model.colorize(L[i:i + 1]) for i in range(3)]))


def test_missing_weights_are_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    from colorbench.models.factory import create_colorizer
    from colorbench.plugin.manager import load

    regs = load()
    spec = regs.colorizers.get("ccc")
    spec.weights = dataclasses.replace(spec.weights, path=tmp_path / "absent.pt")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(WeightsUnavailableError, match="--checkpoint ccc=") as exc:
        create_colorizer(regs, "ccc")
    assert "\n" not in str(exc.value)
    with pytest.raises(WeightsUnavailableError, match=r"densenet121-a639ec97\.pth"):
        load_pretrained_encoder(CCCNet(4, 4, (1, 1, 1, 1), 8, 2, (8, 8, 8)))


def test_pretrained_encoder_sums_conv0_over_rgb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from torchvision.models import densenet121

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    torch.manual_seed(1)
    ref = densenet121()  # a random stand-in for the ImageNet file, saved under its cache name
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    file = tmp_path / "hub" / "checkpoints" / "densenet121-a639ec97.pth"
    torch.save(ref.state_dict(), file)
    with pytest.raises(WeightsHashError, match="densenet121-a639ec97"):  # not the declared file
        build_net({**CONFIGS["paper"], "pretrained_encoder": True}, 16)
    pin_weights(monkeypatch, ccc_model, "DENSENET121", file)
    net = build_net({**CONFIGS["paper"], "pretrained_encoder": True}, 16)
    torch.testing.assert_close(net.encoder.conv0.weight, ref.features.conv0.weight.sum(1, keepdim=True))
    torch.testing.assert_close(net.encoder.denseblock4.denselayer16.conv2.weight,
                               ref.features.denseblock4.denselayer16.conv2.weight)


def test_shipped_weights_match_their_card() -> None:
    from colorbench_ccc.plugin import WEIGHTS

    from colorbench.models.checkpoints import load_checkpoint

    if WEIGHTS.path is None or not WEIGHTS.path.is_file():
        pytest.skip("no shipped weights in this checkout")
    WEIGHTS.verify(WEIGHTS.path)  # raises when the sha256 differs
    state = load_checkpoint(WEIGHTS.path)
    assert "optimizer" not in state and state["config"]["decoder"] == CONFIGS["tiny"]["decoder"]
    assert state["classes"]["kept"].numel() == state["model"]["decoder.12.weight"].shape[0]
