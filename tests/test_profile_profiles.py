"""profile colorizer, part 1: the dominant colour descriptor, k-means profiles, the
small-profile fallback rule, the rarity weights and the blended loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from colorbench_profile.model import rarity_loss
from colorbench_profile.profiles import (
    Profiles,
    ab_bins,
    cluster,
    descriptor,
    dominant_colors,
    fallback_routes,
    joint_bins,
    lab_pixels,
    rarity_counts,
    rarity_weights,
)

from colorbench.color import rgb_to_lab

RED, BLUE, GREEN, YELLOW = (200, 30, 30), (30, 40, 200), (40, 170, 50), (230, 210, 40)


def lab_of(rgb: tuple[int, int, int]) -> np.ndarray:
    return rgb_to_lab(torch.tensor(rgb, dtype=torch.uint8).view(3, 1, 1)).double().view(3).numpy()


def two_colour_image(a: tuple[int, int, int], b: tuple[int, int, int], share_a: float, size: int = 32) -> np.ndarray:
    img = np.empty((size, size, 3), dtype=np.uint8)
    rows = round(size * share_a)
    img[:rows], img[rows:] = a, b
    return img


def test_dcd_finds_the_dominant_colours_and_their_shares() -> None:
    img = two_colour_image(RED, BLUE, 0.75)
    centroids, shares = dominant_colors(lab_pixels(img, 32), 2)
    np.testing.assert_allclose(shares, [0.75, 0.25], atol=1e-9)
    np.testing.assert_allclose(centroids[0], lab_of(RED), atol=0.05)  # largest share first
    np.testing.assert_allclose(centroids[1], lab_of(BLUE), atol=0.05)


def test_dcd_of_a_flat_image_pads_with_zero_shares() -> None:
    img = np.full((16, 16, 3), GREEN, dtype=np.uint8)
    centroids, shares = dominant_colors(lab_pixels(img, 16), 3)
    np.testing.assert_allclose(shares, [1.0, 0.0, 0.0])
    np.testing.assert_allclose(centroids, np.repeat(lab_of(GREEN)[None], 3, 0), atol=0.05)


def family_images(seed: int = 0, per_family: int = 6) -> tuple[np.ndarray, list[int]]:
    """Images mixing one family colour (60-90 %) with white or black: three families."""
    rng = np.random.default_rng(seed)
    images, family = [], []
    for f, colour in enumerate((RED, BLUE, GREEN)):
        for _ in range(per_family):
            jitter = np.clip(np.array(colour) + rng.integers(-20, 21, 3), 0, 255)
            other = (255, 255, 255) if rng.random() < 0.5 else (0, 0, 0)
            images.append(two_colour_image(tuple(jitter), other, rng.uniform(0.6, 0.9)))
            family.append(f)
    return np.stack(images), family


@pytest.mark.parametrize("kind", ["dcd", "abhist"])
def test_clustering_separates_colour_families(kind: str) -> None:
    images, family = family_images()
    cfg = {"profiles": 3, "descriptor": kind, "dcd_colors": 2, "hist_bins": 8, "min_profile_images": 1}
    labs = [lab_pixels(im, 16) for im in images]
    prof = cluster(np.stack([descriptor(lab, cfg) for lab in labs]), np.stack([joint_bins(lab) for lab in labs]),
                   np.stack([lab.mean(0) for lab in labs]), cfg)
    assert sorted(prof.sizes) == [6, 6, 6]
    for f in range(3):  # every family lands in one profile, different families in different ones
        assert len({prof.assignment[i] for i in range(18) if family[i] == f}) == 1
    assert len(set(prof.assignment)) == 3
    # a held-out image is assigned by its nearest profile centre
    red = lab_pixels(two_colour_image(RED, (255, 255, 255), 0.8), 16)
    assert prof.predict(descriptor(red, cfg)[None])[0] == prof.assignment[0]
    assert set(prof.weights) == {"profile0", "profile1", "profile2"}


def test_fallback_rule_routes_small_profiles_to_the_global_colorizer() -> None:
    assert fallback_routes([40, 12, 5], min_images=10) == ["profile0", "profile1", "global"]
    assert fallback_routes([3, 2], min_images=10) == ["global", "global"]
    images, _ = family_images(per_family=6)
    images = images[:14]  # 6 red, 6 blue, 2 green: the green profile is too small
    cfg = {"profiles": 3, "descriptor": "dcd", "dcd_colors": 2, "min_profile_images": 4}
    labs = [lab_pixels(im, 16) for im in images]
    prof = cluster(np.stack([descriptor(lab, cfg) for lab in labs]), np.stack([joint_bins(lab) for lab in labs]),
                   np.stack([lab.mean(0) for lab in labs]), cfg)
    assert prof.sizes == [6, 6, 2] and prof.routes == ["profile0", "profile1", "global"]
    assert prof.models == ["profile0", "profile1", "global"]
    assert prof.members("global") == list(range(14))  # global trains on every image
    assert prof.served("global") == 2 and prof.served("profile0") == 6
    back = Profiles.from_state(prof.to_state())
    assert back.routes == prof.routes and back.assignment == prof.assignment
    np.testing.assert_allclose(back.weights["global"], prof.weights["global"], rtol=1e-6)


def test_rarity_weights_favour_rare_colours_and_sum_to_one() -> None:
    counts = np.zeros((2, 64))
    counts[0, 32], counts[0, 40], counts[1, 33], counts[1, 10] = 900, 100, 990, 10
    w = rarity_weights(counts)
    assert w.shape == (2, 64)
    assert w.sum() == pytest.approx(1.0)
    assert w[0, 40] > w[0, 32] and w[1, 10] > w[1, 33]
    # 1/sqrt(f + 1e-7): the ratio of two bins' weights is sqrt of the inverse frequency ratio
    assert w[0, 40] / w[0, 32] == pytest.approx(np.sqrt((0.9 + 1e-7) / (0.1 + 1e-7)))
    raw = 1 / np.sqrt(np.stack([counts[0] / 1000, counts[1] / 1000]) + 1e-7)
    np.testing.assert_allclose(w, raw / raw.sum())  # a and b combined, then normalised once


def test_ab_bins_cover_the_range() -> None:
    ab = torch.tensor([-200.0, -128.0, -124.01, 0.0, 3.99, 127.9, 500.0])
    assert ab_bins(ab, 64).tolist() == [0, 0, 0, 32, 32, 63, 63]


def test_rarity_loss_blends_mse_and_weighted_mse() -> None:
    g = torch.Generator().manual_seed(0)
    ab = torch.zeros(1, 2, 4, 4)
    ab[0, :, 0, 0] = 60.0  # one rare, saturated pixel
    pred = torch.zeros(1, 2, 4, 4)  # predicts gray everywhere: only the rare pixel is wrong
    counts = rarity_counts(joint_bins(np.concatenate([np.zeros((16, 1)), ab[0].reshape(2, -1).T.numpy()], 1)),
                           "marginal")
    weights = torch.from_numpy(rarity_weights(counts)).float()
    out = rarity_loss(pred, ab, weights, blend=0.65)
    mse = ((60 / 110) ** 2 * 2) / 32
    assert float(out["mse"]) == pytest.approx(mse, rel=1e-5)
    assert float(out["wmse"]) > 3 * float(out["mse"])  # the rare pixel's error is up-weighted
    assert float(out["loss"]) == pytest.approx(0.65 * float(out["mse"]) + 0.35 * float(out["wmse"]), rel=1e-6)
    uniform = torch.full((2, 64), 1 / 128)
    pred = torch.randn(2, 2, 4, 4, generator=g)
    same = rarity_loss(pred, ab.repeat(2, 1, 1, 1), uniform)
    assert float(same["wmse"]) == pytest.approx(float(same["mse"]), rel=1e-5)  # uniform weights: plain MSE
    literal = rarity_loss(pred, ab.repeat(2, 1, 1, 1), uniform, norm="literal")
    assert float(literal["wmse"]) == pytest.approx(float(same["mse"]) / 128, rel=1e-5)
