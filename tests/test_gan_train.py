"""gan training on the one loop: L1 pretraining learns, adversarial losses stay finite, the
phases keep their semantics, stop/resume is exact in either phase, and 2 processes under
torchrun end with identical generator and discriminator."""

from __future__ import annotations

import csv
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from colorbench_datasets.shapes import Shapes
from colorbench_gan.phases import schedule
from colorbench_gan.plugin import CONFIGS
from colorbench_gan.train import train

from colorbench.evaluation.runner import RunConfig, Runner
from colorbench.models.checkpoints import load_checkpoint
from colorbench.plugin.manager import load
from colorbench.reporting import Reporter
from colorbench.training import TrainContext, Trainer

SMALL = {"resnet_width": 8, "ndf": 8, "size": 32, "batch_size": 4, "workers": 0, "threads": 1,
         "log_every": 1, "save_every": 1000, "val_images": 0}
ARCHS = {"resnet18-unet": {"generator": "resnet18-unet"},
         "unet-with-dropout": {"generator": "unet", "unet_downs": 6, "ngf": 4, "size": 64}}


def _fit(out: Path, n_images: int = 8, resume: bool = False, val: bool = False, **overrides: Any) -> Trainer:
    cfg = {**CONFIGS["tiny"], **SMALL, **overrides}
    ds = Shapes(split="train", size=cfg["size"], n_images=n_images)
    val_ds = Shapes(split="val", size=cfg["size"], n_images=4) if val else None
    return train(TrainContext(dataset=ds, config=cfg, out_dir=out, device=torch.device("cpu"), val_dataset=val_ds,
                              resume=resume, seed=3, reporter=Reporter(quiet=True)))


def _rows(out: Path) -> list[dict[str, str]]:
    with open(out / "train_log.csv", newline="") as f:
        return list(csv.DictReader(f))


def _train(out: Path, **kwargs: Any) -> list[dict[str, str]]:
    _fit(out, **kwargs)
    return _rows(out)


def _assert_same_nets(a: Path, b: Path, nets: tuple[str, ...] = ("generator", "discriminator"),
                      buffers: bool = True) -> None:
    sa, sb = load_checkpoint(a), load_checkpoint(b)
    for net in nets:
        assert sa[net].keys() == sb[net].keys()
        for key, value in sa[net].items():
            if buffers or not ("running_" in key or key.endswith("num_batches_tracked")):
                assert torch.equal(value, sb[net][key]), f"{net}.{key} differs"


def _cpsnr(tmp: Path, checkpoint: Path) -> dict[str, float]:
    cfg = RunConfig(models=["gan", "gray"], datasets=["shapes"], split="train", metrics=["cpsnr"],
                    size=32, options=["shapes.n_images=8", "shapes.size=32"], workers=0,
                    checkpoints=[f"gan={checkpoint}"], out=str(tmp / "runs"), name="eval")
    result = Runner(cfg, load(), Reporter(quiet=True)).run()
    assert not result.errors
    return {row["model"]: float(row["cpsnr"]) for row in result.summary}


def test_l1_pretraining_lowers_l1_and_beats_gray(tmp_path: Path) -> None:
    rows = _train(tmp_path / "pre", phase="pretrain", steps=60, pretrain_lr=2e-3)
    assert {r["stage"] for r in rows} == {"pretrain"}
    assert all(r["loss_D"] == "" for r in rows)  # the discriminator is not trained
    assert "discriminator" not in load_checkpoint(tmp_path / "pre")
    first = sum(float(r["l1_ab"]) for r in rows[:5]) / 5
    last = sum(float(r["l1_ab"]) for r in rows[-5:]) / 5
    assert last < 0.7 * first
    scores = _cpsnr(tmp_path, tmp_path / "pre")
    assert scores["gan"] > scores["gray"] + 1.0


def test_adversarial_phase_logs_finite_paper_losses(tmp_path: Path) -> None:
    rows = _train(tmp_path / "adv", steps=8, pretrain_steps=3, pretrain_lr=1e-3, val=True, val_images=3)
    assert [r["stage"] for r in rows] == ["pretrain"] * 3 + ["adversarial"] * 5
    assert [float(r["lr"]) for r in rows] == [1e-3] * 3 + [2e-4] * 5  # the generator's lr per phase
    assert [r["step"] for r in rows if r["val_l1_ab"]] == ["3", "8"]  # validated at the end of each stage
    assert all(0 < float(r["val_l1_ab"]) < 110 for r in rows if r["val_l1_ab"])
    for r in rows[3:]:
        values = {k: float(r[k]) for k in ("loss_D_fake", "loss_D_real", "loss_D", "loss_G_GAN",
                                           "loss_G_L1", "loss_G")}
        assert all(math.isfinite(v) for v in values.values())
        assert values["loss_D"] == pytest.approx(0.5 * (values["loss_D_fake"] + values["loss_D_real"]), rel=1e-4)
        assert values["loss_G"] == pytest.approx(values["loss_G_GAN"] + values["loss_G_L1"], rel=1e-4)
        assert values["loss_G_L1"] == pytest.approx(100 * float(r["l1_ab"]) / 110, rel=1e-4)
    ckpt = load_checkpoint(tmp_path / "adv")
    assert ckpt["step"] == 8 and ckpt["phase_boundary"] == 3 and ckpt["models"] == ["generator", "discriminator"]
    assert set(ckpt["optimizers"]) == {"generator", "discriminator"}
    pre = load_checkpoint(tmp_path / "adv" / "checkpoint_pretrain.pt")  # the L1-only generator (§5.1)
    assert pre["step"] == 3 and "discriminator" not in pre
    _train(tmp_path / "pre", phase="pretrain", steps=3, pretrain_lr=1e-3, val=True, val_images=3)
    _assert_same_nets(tmp_path / "adv" / "checkpoint_pretrain.pt", tmp_path / "pre" / "checkpoint.pt", ("generator",))
    assert not (tmp_path / "pre" / "checkpoint_pretrain.pt").exists()  # no adversarial stage: no copy


_STRAIGHT: dict[str, Path] = {}


def _straight(tmp_factory: pytest.TempPathFactory, arch: str) -> Path:
    """One uninterrupted run of 6 steps (3 + 3) per generator, shared by the resume tests."""
    if arch not in _STRAIGHT:
        out = tmp_factory.mktemp(f"straight-{arch}")
        _train(out, n_images=12, steps=6, pretrain_steps=3, **ARCHS[arch])
        _STRAIGHT[arch] = out
    return _STRAIGHT[arch]


@pytest.mark.parametrize("arch", sorted(ARCHS))
@pytest.mark.parametrize("stop", [2, 5], ids=["in-pretrain", "in-adversarial"])
def test_stop_and_resume_is_bit_identical(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory,
                                          arch: str, stop: int) -> None:
    straight = _straight(tmp_path_factory, arch)
    cfg = {"n_images": 12, "steps": 6, "pretrain_steps": 3, **ARCHS[arch]}
    _train(tmp_path, stop_at=stop, **cfg)
    assert load_checkpoint(tmp_path)["step"] == stop
    resumed = _train(tmp_path, resume=True, **cfg)
    _assert_same_nets(straight / "checkpoint.pt", tmp_path / "checkpoint.pt")
    _assert_same_nets(straight / "checkpoint_pretrain.pt", tmp_path / "checkpoint_pretrain.pt", ("generator",))
    expected = [(r["step"], r["stage"], r["loss_G"]) for r in _rows(straight)]
    assert [(r["step"], r["stage"], r["loss_G"]) for r in resumed] == expected


def test_pretrain_then_adversarial_equals_both(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """``phase=pretrain``, then ``--resume --set phase=adversarial``: the run of ``phase=both``."""
    straight = _straight(tmp_path_factory, "resnet18-unet")
    _train(tmp_path, n_images=12, phase="pretrain", steps=3)
    assert not (tmp_path / "checkpoint_pretrain.pt").exists()
    rows = _train(tmp_path, n_images=12, resume=True, phase="adversarial", steps=3)
    assert [r["stage"] for r in rows] == ["pretrain"] * 3 + ["adversarial"] * 3
    _assert_same_nets(straight / "checkpoint.pt", tmp_path / "checkpoint.pt")
    _assert_same_nets(straight / "checkpoint_pretrain.pt", tmp_path / "checkpoint_pretrain.pt", ("generator",))


def test_more_steps_after_a_finished_run_keep_its_phase_boundary(tmp_path: Path) -> None:
    _train(tmp_path / "a", steps=4)  # 10 : 10 epochs: 2 + 2 steps
    _train(tmp_path / "a", resume=True, steps=6)  # alone, 6 steps would split 3 + 3
    assert load_checkpoint(tmp_path / "a")["phase_boundary"] == 2
    _train(tmp_path / "b", steps=6, pretrain_steps=2)
    _assert_same_nets(tmp_path / "a" / "checkpoint.pt", tmp_path / "b" / "checkpoint.pt")


def test_adversarial_from_init_generator_without_pretraining(tmp_path: Path) -> None:
    _train(tmp_path / "pre", phase="pretrain", steps=2, pretrain_lr=1e-3)
    # lr 0: Adam leaves every weight where it started, so G's weights are init_generator's
    t = _fit(tmp_path / "adv", phase="adversarial", steps=2, lr=0.0, init_generator=str(tmp_path / "pre" / "checkpoint.pt"))
    # G's adversarial backward goes through the frozen D: it leaves no gradient on D's weights
    assert all(p.grad is None for p in t.models["discriminator"].parameters())
    rows = _rows(tmp_path / "adv")
    assert [r["stage"] for r in rows] == ["adversarial"] * 2 and rows[0]["loss_D"] != ""
    assert not (tmp_path / "adv" / "checkpoint_pretrain.pt").exists()
    _assert_same_nets(tmp_path / "pre" / "checkpoint.pt", tmp_path / "adv" / "checkpoint.pt", ("generator",),
                      buffers=False)  # batch-norm statistics move at any lr


def test_schedule_splits_phases() -> None:
    cfg = {"pretrain_epochs": 20, "epochs": 50, "steps": None, "pretrain_steps": None, "phase": "both"}
    assert schedule(cfg, 10, 0, None) == (200, 700)
    assert schedule({**cfg, "phase": "pretrain"}, 10, 0, None) == (200, 200)
    assert schedule({**cfg, "phase": "adversarial"}, 10, 0, None) == (0, 500)
    assert schedule({**cfg, "phase": "adversarial"}, 10, 200, 200) == (200, 700)  # after pretrain
    assert schedule({**cfg, "phase": "adversarial"}, 10, 300, 200) == (200, 700)  # inside adversarial
    assert schedule({**cfg, "steps": 70}, 10, 0, None) == (20, 70)
    assert schedule({**cfg, "steps": 70}, 10, 50, 40) == (40, 70)  # the recorded boundary wins


DDP_SCRIPT = """
import os, sys, torch
from pathlib import Path
sys.path.insert(0, sys.argv[2])
import test_gan_train as T
t = T._fit(Path(sys.argv[1]), steps=4, pretrain_steps=2, val=True, val_images=3)
weights = {f"{m}.{k}": v for m, net in t.models.items() for k, v in net.state_dict().items()}
torch.save(weights, Path(sys.argv[1]) / f"rank{os.environ['RANK']}.pt")
"""


def test_two_processes_under_torchrun_end_identical(tmp_path: Path) -> None:
    """gloo, global batch 4 = 2 x 2: after 2 adversarial steps both ranks hold the same G and
    D (G by DDP, D by the loop's gradient averaging); validation is sharded, its value whole."""
    from colorbench_gan.colorizer import load_generator, validation_l1

    (tmp_path / "ddp_gan.py").write_text(DDP_SCRIPT)
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           str(tmp_path / "ddp_gan.py"), str(out), str(Path(__file__).parent)],
                          capture_output=True, text=True, env=env, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    r0, r1 = (torch.load(out / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert r0.keys() == r1.keys() and any(k.startswith("discriminator.") for k in r0)
    for k in r0:
        assert torch.equal(r0[k], r1[k]), k
    rows = _rows(out)
    assert [(r["step"], r["stage"]) for r in rows] == [("1", "pretrain"), ("2", "pretrain"),
                                                       ("3", "adversarial"), ("4", "adversarial")]
    state = load_checkpoint(out)
    assert state["world_size"] == 2 and len(state["rng"]) == 2
    G, _ = load_generator(out)
    whole = validation_l1(G, Shapes(split="val", size=32, n_images=4), 32, 3, torch.device("cpu"))
    assert float(rows[-1]["val_l1_ab"]) == pytest.approx(whole, rel=1e-4)  # 3 images over 2 ranks
