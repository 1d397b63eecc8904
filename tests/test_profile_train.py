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
from colorbench_profile.card import plot
from colorbench_profile.colorizer import ProfileColorizer, export, load_parts
from colorbench_profile.plugin import CONFIGS
from colorbench_profile.profiles import Profiles
from colorbench_profile.schedule import schedule, stage_batch
from profile_helpers import Stripes, run
from torch import nn

from colorbench.color import rgb_to_lab
from colorbench.errors import ColorbenchError
from colorbench.models.checkpoints import load_checkpoint, save_checkpoint


def _train(out: Path, resume: bool = False, n: int = 24, **overrides: Any) -> list[dict[str, str]]:
    run(out, resume=resume, n=n, **overrides)
    return _rows(out)


def _rows(out: Path) -> list[dict[str, str]]:
    with open(out / "train_log.csv", newline="") as f:
        return list(csv.DictReader(f))


def _lab(images: list[np.ndarray]) -> torch.Tensor:
    return rgb_to_lab(torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2)).float()


def test_predictor_and_colorizers_learn_and_route(tmp_path: Path) -> None:
    rows = _train(tmp_path / "run", steps=120, predictor_share=0.25)
    pred_rows = [r for r in rows if r["stage"] == "predictor"]
    assert len(pred_rows) == 30 and float(pred_rows[-1]["val_acc"]) >= 0.85  # held-out profile accuracy
    assert float(pred_rows[-1]["loss"]) < 0.5 * float(pred_rows[0]["loss"])
    for model in ("profile0", "profile1"):
        losses = [float(r["loss"]) for r in rows if r["stage"] == model]
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


@pytest.mark.parametrize("stop", [2, 9])  # inside the predictor's stage, inside profile0's
def test_stop_and_resume_is_bit_identical_on_every_model(tmp_path: Path, stop: int) -> None:
    run(tmp_path / "a", steps=16, predictor_share=0.25, val=False)  # predictor 4, profile0 6, profile1 6 steps
    run(tmp_path / "b", steps=16, predictor_share=0.25, val=False, stop_at=stop)
    assert load_checkpoint(tmp_path / "b")["step"] == stop
    run(tmp_path / "b", resume=True, steps=16, predictor_share=0.25, val=False)
    a, b = load_checkpoint(tmp_path / "a"), load_checkpoint(tmp_path / "b")
    assert a["models"] == b["models"] == ["predictor", "colorizer/profile0", "colorizer/profile1"]
    for name in a["models"]:
        assert a[name].keys() == b[name].keys()
        for key in a[name]:
            assert torch.equal(a[name][key], b[name][key]), f"{name}.{key}"
        moments = [(x["exp_avg"], y["exp_avg"]) for x, y in zip(a["optimizers"][name]["state"].values(),
                                                               b["optimizers"][name]["state"].values(), strict=True)]
        assert moments and all(torch.equal(x, y) for x, y in moments), name
    rows_a, rows_b = _rows(tmp_path / "a"), _rows(tmp_path / "b")
    assert [r["step"] for r in rows_b] == [str(i) for i in range(1, 17)]
    assert [(r["stage"], r["loss"], r["epoch"]) for r in rows_a] == [(r["stage"], r["loss"], r["epoch"]) for r in rows_b]


def test_schedule_splits_steps_by_images_served() -> None:
    prof = Profiles(descriptor="dcd", centers=np.zeros((3, 4)), sizes=[60, 30, 10],
                    routes=["profile0", "profile1", "global"], assignment=[0] * 60 + [1] * 30 + [2] * 10)
    cfg = {**CONFIGS["tiny"], "steps": 100}
    assert schedule(cfg, prof) == [("predictor", 15), ("profile0", 51), ("profile1", 26), ("global", 8)]
    cfg = {**CONFIGS["tiny"], "steps": None, "batch_size": 10, "predictor_epochs": 2, "colorizer_epochs": 1}
    assert schedule(cfg, prof) == [("predictor", 20), ("profile0", 6), ("profile1", 3), ("global", 10)]


def test_a_profile_smaller_than_the_batch_trains_on_all_its_images() -> None:
    assert stage_batch(16, 12, 1) == 12 and stage_batch(16, 12, 8) == 8 and stage_batch(16, 40, 2) == 16
    assert stage_batch(16, 3, 4) == 4  # fewer images than processes: the loop says so in one line


def test_profiles_and_schedule_are_computed_once_and_kept_on_resume(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import colorbench_profile.data as data

    calls = []
    cluster = data.cluster
    monkeypatch.setattr(data, "cluster", lambda *a, **k: calls.append(1) or cluster(*a, **k))
    run(tmp_path, steps=8, val=False, batch_size=16, stop_at=3)  # 12 images per profile: batch 12
    state = load_checkpoint(tmp_path)
    assert state["format"] == "colorbench-profile/2" and state["schedule"] == [("predictor", 1), ("profile0", 4),
                                                                               ("profile1", 3)]
    resumed = run(tmp_path, resume=True, steps=20, val=False, batch_size=16)  # --steps changes nothing now
    assert calls == [1] and load_checkpoint(tmp_path)["step"] == 8
    assert Profiles.from_state(load_checkpoint(tmp_path)["profiles"]).assignment == \
        Profiles.from_state(state["profiles"]).assignment
    assert resumed.step == 8


def test_checkpoint_holds_every_model_by_name_and_each_stage_logs_its_lr(tmp_path: Path) -> None:
    rows = _train(tmp_path, steps=6, val=False, lr=2e-3, predictor_lr=1e-3)
    assert {r["stage"]: r["lr"] for r in rows} == {"predictor": "0.001", "profile0": "0.002", "profile1": "0.002"}
    state = load_checkpoint(tmp_path)
    names = ["predictor", "colorizer/profile0", "colorizer/profile1"]
    assert state["models"] == names and set(state["optimizers"]) == set(names) and "colorizers" not in state
    L = _lab(Stripes(4, seed=3).images)[:, :1]
    with torch.inference_mode():
        new = ProfileColorizer(*load_parts(tmp_path)[:3], torch.device("cpu")).colorize(L)
    legacy = {k: v for k, v in state.items() if not k.startswith("colorizer/")}
    legacy.update(format="colorbench-profile/1", colorizers={n[10:]: state[n] for n in names[1:]})
    save_checkpoint(legacy, tmp_path / "legacy.pt")  # an earlier trainer's layout still loads
    with torch.inference_mode():
        old = ProfileColorizer(*load_parts(tmp_path / "legacy.pt")[:3], torch.device("cpu")).colorize(L)
    assert torch.equal(new, old)
    exported = load_checkpoint(export(tmp_path, tmp_path / "weights.pt"))  # the shipped file's layout
    assert set(exported["colorizers"]) == {"profile0", "profile1"} and "optimizers" not in exported
    with torch.inference_mode():
        assert torch.equal(ProfileColorizer(*load_parts(tmp_path / "weights.pt")[:3], torch.device("cpu")).colorize(L), new)
    assert plot(tmp_path / "train_log.csv", tmp_path / "curves.png").is_file()  # curves by stage
    (tmp_path / "legacy.pt").replace(tmp_path / "checkpoint.pt")
    with pytest.raises(ColorbenchError, match="is not a colorbench-profile/2 training checkpoint"):
        run(tmp_path, resume=True, steps=6, val=False)


DDP_SCRIPT = """
import os, sys, torch
from pathlib import Path
sys.path.insert(0, sys.argv[2])
import colorbench_profile.data as data
import profile_helpers as h
torch.set_num_threads(1)
calls, cluster = [], data.cluster
data.cluster = lambda *a, **k: calls.append(1) or cluster(*a, **k)
t = h.run(Path(sys.argv[1]), steps=8, val=False, batch_size=4, predictor_share=0.25)
torch.save({"weights": h.weights(t), "profiles": t.extra["profiles"], "schedule": t.extra["schedule"],
            "clustered": len(calls)}, Path(sys.argv[1]) / f"rank{os.environ['RANK']}.pt")
"""


def test_two_processes_under_torchrun_end_identical(tmp_path: Path) -> None:
    """gloo, 2 x B/2: the profiles are clustered on rank 0 alone and broadcast; both ranks
    end with the same parameters and buffers of every model."""
    import os
    import subprocess
    import sys

    script = tmp_path / "ddp_profile.py"
    script.write_text(DDP_SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           str(script), str(tmp_path / "ddp"), str(Path(__file__).parent)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    r0, r1 = (torch.load(tmp_path / "ddp" / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert (r0["clustered"], r1["clustered"]) == (1, 0)
    assert r0["profiles"]["assignment"] == r1["profiles"]["assignment"] and r0["schedule"] == r1["schedule"]
    for key in ("centers", "mean_lab"):
        assert torch.equal(r0["profiles"][key], r1["profiles"][key])
    assert r0["weights"].keys() == r1["weights"].keys() and len({k.split(".")[0] for k in r0["weights"]}) == 3
    for key, value in r0["weights"].items():
        assert torch.equal(value, r1["weights"][key]), key
    state = load_checkpoint(tmp_path / "ddp")
    assert state["world_size"] == 2 and state["step"] == 8


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


def test_oracle_is_the_best_profile_colorizer_per_image_and_descriptor_routing_is_separate() -> None:
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
    assert scores["descriptor-routed"] == pytest.approx(scores["oracle"])  # here the profiles are right
    assert scores["predicted"] == pytest.approx(scores["forced 0"])
    assert model.forced == -1
    # swapped colorizers: each photograph's own profile now picks the wrong one; the oracle
    # still takes the better colorizer of every image
    swapped = ProfileColorizer(Always0(), {"profile0": nets["profile1"], "profile1": nets["profile0"]}, prof,
                               torch.device("cpu"))
    scores = routing_cpsnr(swapped, prof, cfg, ds, n=2, size=32)
    assert scores["oracle"] > scores["descriptor-routed"] + 3
    assert scores["oracle"] > max(scores["forced 0"], scores["forced 1"])
