"""profile through the command line and the registry: train -> run --checkpoint with the
per-image ``profile`` column and ``--set profile=K``, the shipped weights, lazy torch."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import make_folder
from typer.testing import CliRunner

from colorbench.cli import app
from colorbench.models.checkpoints import load_checkpoint, sha256
from colorbench.plugin.manager import load

SMALL = ["--set", "size=32", "--set", "unet_widths=[4,8,16]", "--set", "predictor_widths=[4,8]",
         "--set", "predictor_size=32", "--set", "predictor_hidden=8", "--set", "fit_size=16",
         "--set", "profiles=2", "--set", "min_profile_images=4", "--set", "val_images=2", "--set", "threads=1"]


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_train_then_run_records_profiles_and_forces_one(tmp_path: Path) -> None:
    data, out, runs = make_folder(tmp_path / "photos", 20, size=(40, 32)), tmp_path / "D", tmp_path / "runs"
    cli = CliRunner()
    res = cli.invoke(app, ["train", "profile", "--dataset", str(data), "--split", "all", "--val-split", "",
                           "--config", "tiny", "--steps", "12", "--out", str(out), *SMALL])
    assert res.exit_code == 0, res.output
    state = load_checkpoint(out)
    assert state["step"] == 12 and len(state["profiles"]["sizes"]) == 2
    log = _rows(out / "train_log.csv")
    assert log[-1]["step"] == "12" and log[0]["stage"] == "predictor"
    res = cli.invoke(app, ["run", "--models", "profile,gray", "--checkpoint", f"profile={out}", "--datasets",
                           str(data), "--size", "32", "--metrics", "cpsnr", "--out", str(runs), "--name", "r",
                           "--workers", "0"])
    assert res.exit_code == 0, res.output
    rows = [r for r in _rows(runs / "r" / "per_image.csv") if r["model"] == "profile"]
    assert len(rows) == 20 and {r["status"] for r in rows} == {"ok"}
    assert {r["profile"] for r in rows} <= {"0", "1"}
    res = cli.invoke(app, ["run", "--models", "profile", "--checkpoint", f"profile={out}", "--datasets", str(data),
                           "--size", "32", "--metrics", "cpsnr", "--out", str(runs), "--name", "forced",
                           "--workers", "0", "--set", "profile=1", "--limit", "4"])
    assert res.exit_code == 0, res.output
    assert [r["profile"] for r in _rows(runs / "forced" / "per_image.csv")] == ["1"] * 4
    res = cli.invoke(app, ["run", "--models", "profile", "--checkpoint", f"profile={out}", "--datasets", str(data),
                           "--out", str(runs), "--name", "bad", "--workers", "0", "--set", "profile=5", "--limit", "2"])
    assert res.exit_code != 0 and "2 profiles" in res.output


def test_registered_with_configs_and_lazy_torch() -> None:
    spec = load().colorizers.get("profile")
    assert spec.needs_weights and spec.trainable and set(spec.configs) == {"paper", "tiny"}
    assert spec.extra_columns == ("profile",)
    assert spec.configs["paper"]["profiles"] == 4 and spec.configs["paper"]["mse_blend"] == 0.65
    code = "import sys, colorbench_profile.plugin; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_shipped_weights_match_their_hash_and_hold_no_training_state() -> None:
    spec = load().colorizers.get("profile")
    assert spec.weights is not None and spec.weights.training.startswith("colorbench train profile")
    path = spec.weights.locate()
    assert path is not None and sha256(path) == spec.weights.sha256
    state = load_checkpoint(path)
    assert "optimizers" not in state and "assignment" not in state["profiles"]
    assert set(state["colorizers"]) == {r for r in state["profiles"]["routes"]}


@pytest.mark.slow
def test_issue_command_shapes_tiny_30_steps(tmp_path: Path) -> None:
    """The issue's acceptance command, verbatim (about a minute on a busy CPU)."""
    out = tmp_path / "D"
    cli = CliRunner()
    res = cli.invoke(app, ["train", "profile", "--dataset", "shapes", "--config", "tiny", "--steps", "30",
                           "--out", str(out)])
    assert res.exit_code == 0, res.output
    res = cli.invoke(app, ["run", "--models", "profile,gray", "--checkpoint", f"profile={out}", "--datasets",
                           "shapes", "--limit", "8", "--metrics", "cpsnr", "--out", str(tmp_path / "runs"),
                           "--name", "r", "--workers", "0"])
    assert res.exit_code == 0, res.output
    summary = {r["model"]: r for r in _rows(tmp_path / "runs" / "r" / "summary.csv")}
    assert summary["profile"]["n_failed"] == "0"
