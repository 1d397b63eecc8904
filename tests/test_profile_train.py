"""profile colorizer, part 2: the predictor learns profiles from gray images, the
per-profile colorizers learn their colours, resume is exact, and inference routes every
image to its (predicted or forced) profile's colorizer."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from colorbench_profile.colorizer import ProfileColorizer, load_parts
from colorbench_profile.plugin import CONFIGS
from colorbench_profile.profiles import Profiles
from colorbench_profile.train import schedule, train
from torch import nn

from colorbench.color import rgb_to_lab
from colorbench.errors import ColorbenchError
from colorbench.models.checkpoints import load_checkpoint
from colorbench.plugin.specs import Sample
from colorbench.reporting import Reporter
from colorbench.training import TrainContext

# family 0: reds with horizontal stripes; family 1: blues with vertical stripes. The colour
# family (hence the profile) can be told from the gray image by the stripes' direction.
HUES = {0: (210, 40, 30), 1: (30, 60, 210)}


class Stripes:
    def __init__(self, n: int, seed: int = 0, size: int = 32):
        rng = np.random.default_rng(seed)
        self.ids, self.images, self.family = [], [], []
        for i in range(n):
            f = i % 2
            yy, xx = np.mgrid[0:size, 0:size]
            period = int(rng.integers(3, 6))
            stripes = ((yy if f == 0 else xx) // period) % 2
            shade = np.where(stripes, 1.0, rng.uniform(0.35, 0.6))[..., None]
            base = np.clip(np.array(HUES[f]) + rng.integers(-25, 26, 3), 0, 255)
            self.images.append(np.clip(base * shade, 0, 255).astype(np.uint8))
            self.ids.append(f"s{seed}-{i:03d}")
            self.family.append(f)

    def load(self, index: int) -> Sample:
        return Sample(id=self.ids[index], image=self.images[index])


SMALL = {"size": 32, "batch_size": 8, "unet_widths": [6, 12, 24], "predictor_widths": [4, 8],
         "predictor_size": 32, "predictor_hidden": 16, "profiles": 2, "fit_size": 16, "dcd_colors": 2,
         "min_profile_images": 4, "cache_size": 0, "workers": 0, "log_every": 1, "save_every": 1000,
         "val_images": 8, "lr": 3e-3, "predictor_lr": 3e-3, "threads": 1}


def _train(out: Path, resume: bool = False, n: int = 24, **overrides: Any) -> list[dict[str, str]]:
    cfg = {**CONFIGS["tiny"], **SMALL, **overrides}
    train(TrainContext(dataset=Stripes(n), val_dataset=Stripes(8, seed=1), config=cfg, out_dir=out,
                       device=torch.device("cpu"), resume=resume, seed=1, reporter=Reporter(quiet=True)))
    with open(out / "train_log.csv", newline="") as f:
        return list(csv.DictReader(f))


def _lab(images: list[np.ndarray]) -> torch.Tensor:
    return rgb_to_lab(torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2)).float()


def test_predictor_and_colorizers_learn_and_route(tmp_path: Path) -> None:
    rows = _train(tmp_path / "run", steps=120, predictor_share=0.25)
    pred_rows = [r for r in rows if r["model"] == "predictor"]
    assert len(pred_rows) == 30 and float(pred_rows[-1]["val_acc"]) >= 0.85  # held-out profile accuracy
    assert float(pred_rows[-1]["loss"]) < 0.5 * float(pred_rows[0]["loss"])
    for model in ("profile0", "profile1"):
        losses = [float(r["loss"]) for r in rows if r["model"] == model]
        assert np.mean(losses[-4:]) < 0.5 * np.mean(losses[:4]), model
    predictor, colorizers, profiles, cfg = load_parts(tmp_path / "run")
    model = ProfileColorizer(predictor, colorizers, profiles, torch.device("cpu"), size=cfg["size"])
    held_out = Stripes(8, seed=2)
    lab = _lab(held_out.images)
    with torch.inference_mode():
        ab, info = model.colorize_with_info(lab[:, :1], held_out.ids)
    # the profiles are the two families, and the predictor tells them apart from gray
    family_profile = {f: profiles.assignment[i] for i, f in enumerate(Stripes(24).family)}
    assert info["profile"] == [family_profile[f] for f in held_out.family]
    err, gray_err = (ab - lab[:, 1:]).abs().mean(), lab[:, 1:].abs().mean()
    assert float(err) < 0.65 * float(gray_err)  # clearly beats gray on held-out images


def test_resume_gives_the_weights_of_an_uninterrupted_run(tmp_path: Path) -> None:
    straight = _train(tmp_path / "a", steps=16, predictor_share=0.25)
    _train(tmp_path / "b", steps=16, predictor_share=0.25, stop_at=9)  # stops inside profile0
    assert load_checkpoint(tmp_path / "b")["step"] == 9
    resumed = _train(tmp_path / "b", resume=True, steps=16, predictor_share=0.25)
    assert [r["step"] for r in resumed] == [r["step"] for r in straight]
    a, b = load_checkpoint(tmp_path / "a"), load_checkpoint(tmp_path / "b")
    for name, state in [("predictor", a["predictor"]), *a["colorizers"].items()]:
        other = b["predictor"] if name == "predictor" else b["colorizers"][name]
        for key, value in state.items():
            torch.testing.assert_close(value, other[key], msg=f"{name}.{key}")


def test_schedule_splits_steps_by_images_served() -> None:
    prof = Profiles(descriptor="dcd", centers=np.zeros((3, 4)), sizes=[60, 30, 10],
                    routes=["profile0", "profile1", "global"], assignment=[0] * 60 + [1] * 30 + [2] * 10)
    cfg = {**CONFIGS["tiny"], "steps": 100}
    assert schedule(cfg, prof) == [("predictor", 15), ("profile0", 51), ("profile1", 26), ("global", 8)]
    cfg = {**CONFIGS["tiny"], "steps": None, "batch_size": 10, "predictor_epochs": 2, "colorizer_epochs": 1}
    assert schedule(cfg, prof) == [("predictor", 20), ("profile0", 6), ("profile1", 3), ("global", 10)]


class _ConstNet(nn.Module):
    """A 'colorizer' that outputs one a*b* everywhere (normalised by 110)."""

    multiple = 1

    def __init__(self, a: float, b: float):
        super().__init__()
        self.register_buffer("ab", torch.tensor([a, b]) / 110.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ab.view(1, 2, 1, 1).expand(x.shape[0], 2, *x.shape[2:]).clone()


class _MeanPredictor(nn.Module):
    """Profile 0 for dark images, 1 for bright ones."""

    size = 8

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bright = (x.mean((1, 2, 3)) > 0).float()
        return torch.stack([1 - bright, bright, torch.zeros_like(bright) - 1], 1)


def test_routing_uses_the_predicted_or_forced_profile_and_the_fallback() -> None:
    prof = Profiles(descriptor="dcd", centers=np.zeros((3, 4)), sizes=[10, 2, 8],
                    routes=["profile0", "global", "profile2"])
    nets = {"profile0": _ConstNet(10, 0), "global": _ConstNet(0, 20), "profile2": _ConstNet(-30, -30)}
    L = torch.cat([torch.full((1, 1, 12, 10), 20.0), torch.full((1, 1, 12, 10), 80.0),
                   torch.full((1, 1, 12, 10), 10.0)])
    model = ProfileColorizer(_MeanPredictor(), nets, prof, torch.device("cpu"))
    ab, info = model.colorize_with_info(L, ["dark", "bright", "darker"])
    assert info == {"profile": [0, 1, 0]}
    assert torch.allclose(ab[0, :, 0, 0], torch.tensor([10.0, 0.0]))
    assert torch.allclose(ab[1, :, 0, 0], torch.tensor([0.0, 20.0]))  # profile 1 fell back to global
    assert torch.allclose(ab[2, :, 0, 0], torch.tensor([10.0, 0.0]))
    assert torch.equal(model.colorize(L), ab)
    forced = ProfileColorizer(_MeanPredictor(), nets, prof, torch.device("cpu"), profile=2)
    ab, info = forced.colorize_with_info(L, ["a", "b", "c"])
    assert info == {"profile": [2, 2, 2]} and torch.allclose(ab, torch.full_like(ab, -30.0))
    with pytest.raises(ColorbenchError, match="3 profiles"):
        ProfileColorizer(_MeanPredictor(), nets, prof, torch.device("cpu"), profile=3)


def test_oracle_routing_uses_each_photographs_own_profile() -> None:
    from colorbench_profile.evaluate import routing_cpsnr
    from colorbench_profile.profiles import descriptor, lab_pixels

    cfg = {"descriptor": "dcd", "dcd_colors": 2, "fit_size": 16}
    ds = Stripes(2)  # image 0 red (family 0), image 1 blue (family 1)
    centers = np.stack([descriptor(lab_pixels(im, 16), cfg) for im in ds.images])
    prof = Profiles(descriptor="dcd", centers=centers, sizes=[1, 1], routes=["profile0", "profile1"])
    ab = [_lab([im])[0, 1:].mean((1, 2)).tolist() for im in ds.images]
    nets = {"profile0": _ConstNet(*ab[0]), "profile1": _ConstNet(*ab[1])}

    class Always0(_MeanPredictor):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.tensor([[1.0, 0.0]]).expand(x.shape[0], 2)

    model = ProfileColorizer(Always0(), nets, prof, torch.device("cpu"))
    scores = routing_cpsnr(model, prof, cfg, ds, n=2, size=32)
    assert scores["oracle"] > scores["predicted"] + 3  # the blue image gets the blue colorizer
    assert scores["predicted"] == pytest.approx(scores["forced 0"])
    assert model.forced == -1
