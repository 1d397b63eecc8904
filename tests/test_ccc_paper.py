"""CCC++ against its paper (seed 000): the ``paper`` config value by value, fit-classes as
§IV-A describes it (random images, 56x56 targets of the training pipeline, the threshold
scaled to the sample), and the class-weighted loss (eq. 15-16) in the training step."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from ccc_helpers import config, context
from colorbench_ccc.classes import ClassSet, class_histogram, fit_classes, sample_indices, target_ab
from colorbench_ccc.loss import ce_loss, compute_loss
from colorbench_ccc.model import build_net
from colorbench_ccc.plugin import CONFIGS, PAPER_MIN_FRACTION
from colorbench_ccc.train import setup

from colorbench.color.classes import ClassGrid, frequent_classes
from colorbench.plugin.specs import Sample
from colorbench.training import ColorPairs

# (config key, the paper's value, where the paper states it)
PAPER = [
    ("alpha", 6.0, "Table V α"), ("beta", 108.0, "Table V β"), ("delta", 36, "Table V Δ (1296 classes)"),
    ("class_min_fraction", 500 / 109_885_440, "§III-C3: >= 500 of 109,885,440 samples"),
    ("class_min_count", None, "§III-C3: the share alone"), ("class_set", "fit", "§III-C3"),
    ("fit_images", 35_040, "§IV-A: 35,040 random Places365 val images"),
    ("p_percent", 10.0, "Table V P = 10 %"), ("psi", None, "Ψ from eq. 15's formula"), ("loss", "cbce", "eq. 15-16"),
    ("lr", 1e-3, "§IV-B Adam"), ("betas", [0.5, 0.999], "§IV-B Adam betas"), ("batch_size", 64, "§IV-B"),
    ("input_size", 224, "§IV-B"), ("target_size", 56, "§III-C4 56x56 targets"),
    ("growth_rate", 32, "DenseNet-121"), ("block_config", [6, 12, 24, 16], "DenseNet-121"),
    ("num_init_features", 64, "DenseNet-121"), ("decoder", [1024, 512, 512], "Table IV"),
]


@pytest.mark.parametrize(("key", "value", "source"), PAPER, ids=[p[0] for p in PAPER])
def test_paper_config_matches_the_paper(key: str, value: object, source: str) -> None:
    assert CONFIGS["paper"][key] == value, source


def test_paper_grid_has_1296_classes_and_harmonization_deltas_are_8() -> None:
    from colorbench_ccc.plugin import HARMONIZE

    cfg = CONFIGS["paper"]
    assert ClassGrid(cfg["alpha"], cfg["beta"], cfg["delta"]).n_classes == 1296
    assert {o.name: o.default for o in HARMONIZE}["delta_a"] == 8.0  # Algorithm 1 δa = δb = 8
    assert {o.name: o.default for o in HARMONIZE}["delta_b"] == 8.0
    assert round(PAPER_MIN_FRACTION * 109_885_440, 6) == 500


class _Photos:
    """Non-square images of smooth random colour fields: resampling them differently changes classes."""

    def __init__(self, n: int = 6) -> None:
        self.ids = [f"p{i}" for i in range(n)]

    def load(self, i: int) -> Sample:
        rng = np.random.default_rng(i)
        small = rng.integers(0, 256, (6, 9, 3)).astype(np.float32)
        img = F.interpolate(torch.from_numpy(small).permute(2, 0, 1)[None], size=(60, 90), mode="bilinear")
        return Sample(self.ids[i], img[0].permute(1, 2, 0).clamp(0, 255).byte().numpy())


def test_fit_classes_counts_exactly_the_training_targets() -> None:
    """One 56x56 pipeline: fit-classes' histogram equals the bincount of the classes the
    training step computes for the same (centre-cropped, unflipped) inputs."""
    ds, grid = _Photos(), ClassGrid()
    hist = class_histogram(ds, grid, input_size=64, target_size=16)
    pairs = ColorPairs(ds, 64, train=False)
    ab = torch.stack([pairs[i]["ab"] for i in range(len(ds.ids))])
    train_targets = ClassSet.full(grid).targets(target_ab(ab, 16))  # the step's path (train.py)
    assert torch.equal(hist, torch.bincount(train_targets.reshape(-1), minlength=grid.n_classes))
    assert int(hist.sum()) == 6 * 16 * 16
    # the old fit path (RGB resized straight to the target size) disagrees with the training targets
    small = torch.stack([ColorPairs(ds, 16, train=False)[i]["ab"] for i in range(len(ds.ids))])
    assert not torch.equal(grid.classes(small[:, 0], small[:, 1]), train_targets)


def test_fit_samples_random_images_with_the_seed() -> None:
    first = sample_indices(100, 10, seed=0)
    assert len(set(first)) == 10 and first != list(range(10))  # not the first N
    assert first == sample_indices(100, 10, seed=0) and first != sample_indices(100, 10, seed=1)
    assert sample_indices(5, 10, seed=0) == list(range(5)) and sample_indices(5, None, 0) == list(range(5))
    ds, grid = _Photos(6), ClassGrid()
    picked = sample_indices(6, 2, seed=3)
    hist = class_histogram(ds, grid, 32, 8, images=2, seed=3)
    pairs = ColorPairs(ds, 32, train=False)
    ab = torch.stack([pairs[i]["ab"] for i in picked])
    assert torch.equal(hist, torch.bincount(grid.classes(*target_ab(ab, 8).unbind(1)).reshape(-1),
                                            minlength=grid.n_classes))


def test_threshold_is_500_of_109885440_scaled_to_the_sample() -> None:
    """500 of 109,885,440 pixels is kept, 499 is not; a sample 10x smaller keeps 50, not 49."""
    for total, keep, drop in ((109_885_440, 500, 499), (10_988_544, 50, 49)):
        hist = torch.zeros(1296, dtype=torch.int64)
        hist[0], hist[1], hist[2] = total - keep - drop, keep, drop
        assert frequent_classes(hist, None, CONFIGS["paper"]["class_min_fraction"]).tolist() == [0, 1]


def test_fit_classes_keeps_the_threshold_share_and_reassigns_the_rest() -> None:
    ds, grid = _Photos(), ClassGrid()
    hist = class_histogram(ds, grid, 64, 16)
    share = float(hist[hist > 0].median()) / float(hist.sum())  # about half the seen classes kept
    cs, _ = fit_classes(ds, grid, 64, 16, None, share)
    expected = torch.nonzero(hist >= share * hist.sum()).reshape(-1)
    assert torch.equal(cs.kept, expected) and 1 < cs.n < int((hist > 0).sum())
    dropped = torch.nonzero((hist > 0) & (hist < share * hist.sum())).reshape(-1)
    centres = grid.centres(cs.kept)
    for c in dropped.tolist():  # eq. 12: the nearest kept centre
        d = (centres - grid.centres(torch.tensor([c]))).norm(dim=1)
        assert float(d[cs.table[c]]) == float(d.min())


def test_rare_class_gets_a_larger_gradient_than_plain_ce() -> None:
    """Eq. 15-16: a pixel of a rare class pulls harder than under plain cross entropy (eq. 13-14)."""
    target = torch.zeros(1, 4, 4, dtype=torch.int64)
    target[0, 0, 0] = 1  # class 1: one pixel of 16
    logits = torch.zeros(1, 3, 4, 4, requires_grad=True)
    compute_loss("cbce", logits, target, 10.0).backward()
    g_cbce = logits.grad.clone()
    logits.grad = None
    ce_loss(logits, target).backward()
    g_ce = logits.grad.clone()
    rare, common = g_cbce[0, 1, 0, 0] / g_ce[0, 1, 0, 0], g_cbce[0, 0, 1, 1] / g_ce[0, 0, 1, 1]
    # N = [15, 1, 0], Ψ = 16/3·0.1; W = 16 / (N_adj + 15/Ψ): the rare class's weight over the common one's
    psi = 16 / 3 * 0.1
    assert float(rare / common) == pytest.approx((15 + 15 / psi) / (1 + 15 / psi), rel=1e-5)
    assert float(rare) > float(common) > 0


def test_training_step_minimises_eq16_on_the_batch(tmp_path) -> None:
    """The step's loss is eq. 16 over the batch's targets (not plain CE), and Adam uses the paper's betas."""
    cfg = config(steps=1)
    ctx = context(tmp_path, cfg)
    t, step, _ = setup(ctx)
    net = t.models["model"]
    assert t.optimizers["model"].defaults["betas"] == (0.5, 0.999) and t.optimizers["model"].defaults["lr"] == 1e-3
    pairs = ColorPairs(ctx.dataset, cfg["input_size"], train=False)
    batch = {k: torch.stack([pairs[i][k] for i in range(4)]) for k in ("L", "ab")}
    classes = ClassSet.from_state(t.extra["classes"])
    y = classes.targets(target_ab(batch["ab"], cfg["target_size"]))
    net.train()
    with torch.no_grad():
        logits = net(batch["L"])
    expected = compute_loss("cbce", logits, y, 10.0)
    got = step(t, batch)["loss"]
    assert float(got) == pytest.approx(float(expected), rel=1e-5)
    assert float(got) != pytest.approx(float(ce_loss(logits, y)), rel=1e-3)
    assert y.shape[-1] == cfg["target_size"]
    assert build_net(cfg, classes.n)(batch["L"]).shape[-1] == cfg["target_size"]
