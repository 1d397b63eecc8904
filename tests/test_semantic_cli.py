"""semantic through the command line: train -> run --checkpoint, colorize --save-maps and
the edited-map round trip, the shipped weights, lazy torch import."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from colorbench.cli import app
from colorbench.models.checkpoints import load_checkpoint, sha256
from colorbench.plugin.manager import load

SMALL = ["--set", "workers=0", "--set", "val_images=2", "--set", "threads=1", "--set", "size=32",
         "--set", "scale=36", "--set", "width=0.125", "--set", "seg_width=0.125"]


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("semantic") / "D"
    res = CliRunner().invoke(app, ["train", "semantic", "--dataset", "shapes", "--config", "tiny", "--steps", "30",
                                   "--out", str(out), *SMALL])
    assert res.exit_code == 0, res.output
    return out


def test_train_then_run_with_the_checkpoint(trained: Path, tmp_path: Path) -> None:
    log = _rows(trained / "train_log.csv")
    assert log[-1]["step"] == "30" and {r["stage"] for r in log} == {"segmenter", "colorizer"}
    assert log[-1]["val_l1_ab"] != ""  # validation at the end of each stage, of that stage's network
    assert [r for r in log if r["stage"] == "segmenter"][-1]["val_pixel_acc"] != ""
    res = CliRunner().invoke(app, ["run", "--models", "semantic,gray", "--checkpoint", f"semantic={trained}",
                                   "--datasets", "shapes", "--limit", "3", "--metrics", "cpsnr", "--out",
                                   str(tmp_path), "--name", "r", "--workers", "0"])
    assert res.exit_code == 0, res.output
    summary = {r["model"]: r for r in _rows(tmp_path / "r" / "summary.csv")}
    assert summary["semantic"]["n"] == "3" and summary["semantic"]["n_failed"] == "0"
    per_image = [r for r in _rows(tmp_path / "r" / "per_image.csv") if r["model"] == "semantic"]
    assert {r["semantic_map"] for r in per_image} == {"predicted"}


def test_resume_through_the_cli_continues_and_refuses_another_schedule(tmp_path: Path) -> None:
    out = tmp_path / "R"
    base = ["train", "semantic", "--dataset", "shapes", "--config", "tiny", "--steps", "4", "--batch-size", "4",
            "--out", str(out), *SMALL, "--set", "val_images=0", "--set", "seg_steps=2"]
    res = CliRunner().invoke(app, [*base, "--set", "stop_at=3"])
    assert res.exit_code == 0, res.output
    assert load_checkpoint(out / "checkpoint.pt")["step"] == 3
    res = CliRunner().invoke(app, [*base[:-1], "seg_steps=1", "--resume"])
    assert res.exit_code != 0 and "seg_steps 2 -> 1" in res.output
    res = CliRunner().invoke(app, [*base, "--resume"])
    assert res.exit_code == 0, res.output
    state = load_checkpoint(out / "checkpoint.pt")
    assert (state["step"], state["boundary"], state["stage"]) == (4, 2, "colorizer")


def test_colorize_save_maps_and_edited_maps(trained: Path, tmp_path: Path) -> None:
    photo = tmp_path / "in" / "p1.png"
    photo.parent.mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 56, 3), dtype=np.uint8)).save(photo)
    cli = CliRunner()
    base = ["colorize", "semantic", str(photo), "--checkpoint", str(trained), "--size", "32"]
    res = cli.invoke(app, [*base, "--out", str(tmp_path / "a"), "--save-maps"])
    assert res.exit_code == 0, res.output
    saved = tmp_path / "a" / "maps" / "p1.png"
    assert Image.open(saved).mode == "P" and Image.open(saved).size == (32, 32)
    # the saved map read back gives the same colours; an edited map changes them
    res = cli.invoke(app, [*base, "--out", str(tmp_path / "b"), "--set", f"semantic_maps={tmp_path / 'a' / 'maps'}"])
    assert res.exit_code == 0, res.output
    a, b = (np.asarray(Image.open(tmp_path / d / "p1.png")) for d in ("a", "b"))
    assert np.array_equal(a, b)
    edited = tmp_path / "edited"
    edited.mkdir()
    img = Image.open(saved)
    img.putdata([4] * (32 * 32))  # every pixel -> class 4 (ring)
    img.save(edited / "p1.png")
    res = cli.invoke(app, [*base, "--out", str(tmp_path / "c"), "--set", f"semantic_maps={edited}"])
    assert res.exit_code == 0, res.output
    assert not np.array_equal(a, np.asarray(Image.open(tmp_path / "c" / "p1.png")))


def test_save_maps_without_hook_is_one_line(tmp_path: Path) -> None:
    photo = tmp_path / "p.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(photo)
    res = CliRunner().invoke(app, ["colorize", "gray", str(photo), "--out", str(tmp_path / "o"), "--save-maps"])
    assert res.exit_code != 0
    assert "no maps to save" in res.output and not (tmp_path / "o" / "p.png").exists()


def test_train_on_folder_without_maps_is_a_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(np.full((16, 16, 3), 40 * i, np.uint8)).save(folder / f"{i}.png")
    res = CliRunner().invoke(app, ["train", "semantic", "--dataset", str(folder), "--split", "", "--val-split", "",
                                   "--config", "tiny", "--steps", "1", "--out", str(tmp_path / "o"), *SMALL])
    assert res.exit_code != 0 and "no semantic maps" in res.output and "labels=pseudo" in res.output


def test_registered_with_shipped_weights_and_lazy_torch() -> None:
    spec = load().colorizers.get("semantic")
    assert spec.needs_weights and spec.trainable and set(spec.configs) == {"paper", "tiny"}
    paper = spec.configs["paper"]
    assert (paper["size"], paper["scale"], paper["batch_size"], paper["lr"]) == (352, 360, 16, 1e-4)
    assert (paper["beta1"], paper["beta2"], paper["huber_delta"]) == (0.9, 0.999, 1.0)
    from colorbench_semantic.plugin import SHAPES_WEIGHTS

    for weights, labels in ((spec.weights, "pseudo"), (SHAPES_WEIGHTS, "dataset")):
        assert weights is not None and weights.training.startswith("colorbench train semantic")
        path = weights.locate()
        assert path is not None and sha256(path) == weights.sha256
        state = load_checkpoint(path)
        assert state["config"]["labels"] == labels and "optimizers" not in state and "opt_seg" not in state
        assert (state["pseudo"] is not None) == (labels == "pseudo")
    code = "import sys, colorbench_semantic.plugin; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_weights_option_selects_the_shapes_file() -> None:
    import torch

    from colorbench.models.factory import create_colorizer, resolve_checkpoint

    regs = load()
    spec = regs.colorizers.get("semantic")
    assert resolve_checkpoint(spec, options={"weights": "shapes"}).path.name == "semantic_tiny_shapes.pt"
    photos = create_colorizer(regs, "semantic", device=torch.device("cpu"))
    shapes = create_colorizer(regs, "semantic", device=torch.device("cpu"), options={"weights": "shapes"})
    assert photos.labeler is not None and photos.n_classes == 8
    assert shapes.labeler is None and shapes.classes[1] == "disc"


@pytest.mark.slow
def test_torchrun_two_processes_gloo(tmp_path: Path) -> None:
    import os

    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "colorbench", "train", "semantic", "--dataset", "shapes", "--config", "tiny", "--steps", "6",
           "--batch-size", "8", "--out", str(out), "--device", "cpu", "--set", "seg_steps=3",
           "--set", "log_every=1", "--set", "val_images=0", *SMALL[:2], *SMALL[6:]]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    log = _rows(out / "train_log.csv")
    assert [r["step"] for r in log] == [str(s) for s in range(1, 7)]  # rank 0 writes, once
    assert [r["stage"] for r in log] == ["segmenter"] * 3 + ["colorizer"] * 3
    assert load_checkpoint(out / "checkpoint.pt")["step"] == 6
