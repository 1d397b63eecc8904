"""profile against seed 003: the paper config's values, the joint 64x64 a*b* rarity weights
(1/sqrt(f + 1e-7), sum 1; the marginal reading kept as an option) and no augmentation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from colorbench_profile.data import MemberPairs
from colorbench_profile.model import rarity_loss
from colorbench_profile.plugin import CONFIGS
from colorbench_profile.profiles import Profiles, joint_bins, rarity_counts, rarity_weights
from profile_helpers import Stripes

from colorbench.errors import ColorbenchError

PAPER = CONFIGS["paper"]


@pytest.mark.parametrize(("key", "value"), [
    ("profiles", 4), ("mse_blend", 0.65), ("rarity", "joint"), ("augment", False), ("flip", False),
    ("descriptor", "dcd"),
])
def test_paper_config_matches_seed_003(key: str, value: object) -> None:
    assert PAPER[key] == value


def _pixels(*pairs: tuple[float, float, int]) -> np.ndarray:
    """Lab pixels: (a*, b*, count) each, L* 50."""
    rows = [np.tile([50.0, a, b], (n, 1)) for a, b, n in pairs]
    return np.concatenate(rows)


def test_joint_weights_are_the_inverse_sqrt_of_the_joint_frequency() -> None:
    lab = _pixels((0.0, 0.0, 900), (40.0, 40.0, 100))
    counts = rarity_counts(joint_bins(lab), "joint")
    assert counts.shape == (64, 64) and counts[32, 32] == 900 and counts[42, 42] == 100 and counts.sum() == 1000
    w = rarity_weights(counts)
    assert w.shape == (64, 64) and w.sum() == pytest.approx(1.0)
    raw = 1.0 / np.sqrt(counts / 1000 + 1e-7)
    np.testing.assert_allclose(w, raw / raw.sum())
    assert w[42, 42] / w[32, 32] == pytest.approx(np.sqrt((0.9 + 1e-7) / (0.1 + 1e-7)))
    assert w[0, 0] / w[32, 32] == pytest.approx(np.sqrt((0.9 + 1e-7) / 1e-7))  # empty bins: the 1e-7 floor


def test_marginal_option_sums_the_joint_histogram() -> None:
    lab = _pixels((0.0, 0.0, 900), (40.0, -40.0, 100))
    m = rarity_counts(joint_bins(lab), "marginal")
    assert m.shape == (2, 64) and m[0, 32] == 900 and m[0, 42] == 100 and m[1, 22] == 100
    with pytest.raises(ColorbenchError, match="rarity=both"):
        rarity_counts(joint_bins(lab), "both")


def test_joint_weights_up_weight_a_rare_combination_of_common_values() -> None:
    # a*=40 and b*=40 are each common, but together rare: only the joint histogram sees it
    lab = _pixels((0.0, 0.0, 500), (40.0, 0.0, 240), (0.0, 40.0, 240), (40.0, 40.0, 20))
    flat = joint_bins(lab)
    joint = torch.from_numpy(rarity_weights(rarity_counts(flat, "joint"))).float()
    marginal = torch.from_numpy(rarity_weights(rarity_counts(flat, "marginal"))).float()
    ab = torch.zeros(1, 2, 2, 2)
    ab[0, :, 0, 0] = 40.0  # the rare pair
    ab[0, 0, 0, 1], ab[0, 1, 1, 0] = 40.0, 40.0  # the common single values
    pred = torch.zeros(1, 2, 2, 2)
    pred[0, :, 0, 1], pred[0, :, 1, 0], pred[0, :, 1, 1] = ab[0, :, 0, 1], ab[0, :, 1, 0], ab[0, :, 1, 1]
    pred = pred / 110.0  # exact everywhere but the rare pixel
    j, m = rarity_loss(pred, ab, joint), rarity_loss(pred, ab, marginal)
    assert float(j["mse"]) == pytest.approx(float(m["mse"]))
    assert float(j["wmse"]) > 1.5 * float(m["wmse"])
    # uniform weights give plain MSE: the rarity term is not a no-op with the real weights
    uniform = rarity_loss(pred, ab, torch.full((64, 64), 1 / 4096))
    assert float(uniform["wmse"]) == pytest.approx(float(j["mse"]), rel=1e-5)
    assert float(j["wmse"]) > 2 * float(uniform["wmse"])


def test_profiles_default_to_joint_and_old_checkpoints_read_as_marginal() -> None:
    prof = Profiles(descriptor="dcd", centers=np.zeros((1, 2)), sizes=[1], routes=["profile0"])
    state = prof.to_state()
    assert state["rarity"] == "joint" and Profiles.from_state(state).rarity == "joint"
    del state["rarity"]
    assert Profiles.from_state(state).rarity == "marginal"


def test_without_augmentation_the_pairs_are_the_centre_crop_every_epoch() -> None:
    ds = Stripes(2, size=40)
    plain = MemberPairs(ds, [0, 1], 32, augment=False)
    assert not plain.train and not plain.flip
    first = plain[0]["ab"].clone()
    torch.manual_seed(123)
    assert torch.equal(plain[0]["ab"], first)
    augmented = MemberPairs(ds, [0, 1], 32, augment=True)
    assert augmented.train and augmented.flip


def test_the_colorizer_step_trains_on_the_blended_rarity_loss_with_its_profiles_weights() -> None:
    import contextlib
    from types import SimpleNamespace

    from colorbench_profile.train import COLORIZER, _colorizer_step

    lab = _pixels((0.0, 0.0, 60), (40.0, 40.0, 4))
    weights = torch.from_numpy(rarity_weights(rarity_counts(joint_bins(lab), "joint"))).float()
    ab = torch.from_numpy(lab[:, 1:].T.reshape(1, 2, 8, 8).copy()).float()
    net = torch.nn.Conv2d(1, 2, 1)
    torch.nn.init.zeros_(net.weight)
    torch.nn.init.zeros_(net.bias)  # predicts gray: only the 4 rare pixels are wrong
    optimized: list[torch.Tensor] = []
    t = SimpleNamespace(device=torch.device("cpu"), autocast=contextlib.nullcontext,
                        optimize=lambda name, loss: optimized.append(loss))
    step = _colorizer_step({COLORIZER + "profile0": net}, "profile0", weights, {**PAPER})
    b = {"L": torch.full((1, 1, 8, 8), 50.0), "ab": ab}
    out = step(t, b)
    with torch.no_grad():
        ref = rarity_loss(torch.zeros(1, 2, 8, 8), ab, weights, 0.65)
    assert float(out["wmse"]) == pytest.approx(float(ref["wmse"]), rel=1e-5)
    assert float(out["mse"]) == pytest.approx(float(ref["mse"]), rel=1e-5)
    assert float(out["wmse"]) > 3 * float(out["mse"])  # uniform: 1x; the rare pixels' errors are up-weighted
    assert float(optimized[0]) == pytest.approx(0.65 * float(out["mse"]) + 0.35 * float(out["wmse"]), rel=1e-5)
