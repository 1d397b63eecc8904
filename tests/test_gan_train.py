"""gan training: L1 pretraining learns, adversarial losses stay finite, resume is exact,
and the command line trains a checkpoint that ``run`` loads."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from colorbench_datasets.shapes import Shapes
from colorbench_gan.plugin import CONFIGS
from colorbench_gan.train import schedule, train

from colorbench.evaluation.runner import RunConfig, Runner
from colorbench.models.checkpoints import load_checkpoint
from colorbench.plugin.manager import load
from colorbench.reporting import Reporter
from colorbench.training import TrainContext

SMALL = {"resnet_width": 8, "ndf": 8, "size": 32, "batch_size": 4, "workers": 0,
         "log_every": 1, "save_every": 1000, "val_images": 0}


def _train(out: Path, n_images: int = 8, resume: bool = False, **overrides: Any) -> list[dict[str, str]]:
    cfg = {**CONFIGS["tiny"], **SMALL, **overrides}
    ds = Shapes(split="train", size=cfg["size"], n_images=n_images)
    torch.manual_seed(0)
    train(TrainContext(dataset=ds, config=cfg, out_dir=out, device=torch.device("cpu"),
                       resume=resume, seed=3, reporter=Reporter(quiet=True)))
    with open(out / "train_log.csv", newline="") as f:
        return list(csv.DictReader(f))


def _cpsnr(tmp: Path, checkpoint: Path) -> dict[str, float]:
    cfg = RunConfig(models=["gan", "gray"], datasets=["shapes"], split="train", metrics=["cpsnr"],
                    size=32, options=["shapes.n_images=8", "shapes.size=32"], workers=0,
                    checkpoints=[f"gan={checkpoint}"], out=str(tmp / "runs"), name="eval")
    result = Runner(cfg, load(), Reporter(quiet=True)).run()
    assert not result.errors
    return {row["model"]: float(row["cpsnr"]) for row in result.summary}


def test_l1_pretraining_lowers_l1_and_beats_gray(tmp_path: Path) -> None:
    rows = _train(tmp_path / "pre", phase="pretrain", steps=60, pretrain_lr=2e-3)
    assert {r["phase"] for r in rows} == {"pretrain"}
    assert all(r["loss_D"] == "" for r in rows)  # the discriminator is not trained
    first = sum(float(r["l1_ab"]) for r in rows[:5]) / 5
    last = sum(float(r["l1_ab"]) for r in rows[-5:]) / 5
    assert last < 0.7 * first
    scores = _cpsnr(tmp_path, tmp_path / "pre")
    assert scores["gan"] > scores["gray"] + 1.0


def test_adversarial_phase_logs_finite_paper_losses(tmp_path: Path) -> None:
    rows = _train(tmp_path / "adv", steps=8, pretrain_steps=3)
    assert [r["phase"] for r in rows] == ["pretrain"] * 3 + ["adversarial"] * 5
    for r in rows[3:]:
        values = {k: float(r[k]) for k in ("loss_D_fake", "loss_D_real", "loss_D", "loss_G_GAN",
                                           "loss_G_L1", "loss_G")}
        assert all(math.isfinite(v) for v in values.values())
        assert values["loss_D"] == pytest.approx(0.5 * (values["loss_D_fake"] + values["loss_D_real"]), rel=1e-4)
        assert values["loss_G"] == pytest.approx(values["loss_G_GAN"] + values["loss_G_L1"], rel=1e-4)
        assert values["loss_G_L1"] == pytest.approx(100 * float(r["l1_ab"]) / 110, rel=1e-4)
    ckpt = load_checkpoint(tmp_path / "adv")
    assert ckpt["step"] == 8 and {"generator", "discriminator", "opt_G", "opt_D"} <= set(ckpt)
    assert (tmp_path / "adv" / "checkpoint_pretrain.pt").is_file()  # the L1-only generator


@pytest.mark.parametrize("arch", [{"generator": "resnet18-unet"},
                                  {"generator": "unet", "unet_downs": 6, "ngf": 4, "size": 64}],
                         ids=["resnet18-unet", "unet-with-dropout"])
def test_resume_gives_the_weights_of_an_uninterrupted_run(tmp_path: Path, arch: dict[str, Any]) -> None:
    straight = _train(tmp_path / "a", n_images=12, steps=6, pretrain_steps=3, **arch)
    _train(tmp_path / "b", n_images=12, steps=4, pretrain_steps=3, **arch)
    resumed = _train(tmp_path / "b", n_images=12, resume=True, steps=6, pretrain_steps=3, **arch)
    a, b = load_checkpoint(tmp_path / "a"), load_checkpoint(tmp_path / "b")
    for net in ("generator", "discriminator"):
        for key, value in a[net].items():
            assert torch.equal(value, b[net][key]), f"{net}.{key} differs after resume"
    assert [r["step"] for r in resumed] == [str(s) for s in range(1, 7)]
    assert [r["loss_G"] for r in resumed] == [r["loss_G"] for r in straight]


def test_schedule_splits_phases() -> None:
    cfg = {"pretrain_epochs": 20, "epochs": 50, "steps": None, "pretrain_steps": None, "phase": "both"}
    assert schedule(cfg, 10, 0, None) == (200, 700)
    assert schedule({**cfg, "phase": "pretrain"}, 10, 0, None) == (200, 200)
    assert schedule({**cfg, "phase": "adversarial"}, 10, 0, None) == (0, 500)
    assert schedule({**cfg, "phase": "adversarial"}, 10, 200, 200) == (200, 700)  # after pretrain
    assert schedule({**cfg, "steps": 70}, 10, 0, None) == (20, 70)


def test_seeded_color_pairs_repeat_their_augmentation_per_epoch() -> None:
    import numpy as np

    from colorbench.plugin.specs import Sample
    from colorbench.training import ColorPairs

    class Wide:
        ids = ("a",)

        def load(self, index: int) -> Sample:
            rng = np.random.default_rng(0)
            return Sample(id="a", image=rng.integers(0, 256, (40, 120, 3), dtype=np.uint8))

    pairs = ColorPairs(Wide(), 16, train=True, seed=5)
    views = []
    for epoch in range(6):
        pairs.set_epoch(epoch)
        views.append(pairs[0]["ab"])
    pairs.set_epoch(2)
    assert torch.equal(pairs[0]["ab"], views[2])  # same (seed, epoch, index): same crop and flip
    assert len({v.sum().item() for v in views}) > 1  # epochs differ
