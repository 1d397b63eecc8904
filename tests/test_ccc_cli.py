"""CCC++ end to end through the harness: `colorbench train` then `colorbench run`, and a tiny
model that overfits a few `shapes` images far above the gray baseline."""

from __future__ import annotations

import csv
from pathlib import Path

import colorbench_ccc.plugin
import colorbench_metrics_classes.plugin
import pytest
from ccc_helpers import config, context
from colorbench_ccc.train import run_training


def _summary(run_dir: Path) -> dict[str, dict[str, str]]:
    (summary,) = run_dir.glob("*/summary.csv")
    with open(summary, newline="") as f:
        return {r["model"]: r for r in csv.DictReader(f)}


def test_train_command_then_run_loads_the_checkpoint(cli, tmp_path: Path) -> None:
    cli.add_plugin("ccc", colorbench_ccc.plugin)
    cli.add_plugin("metrics_classes", colorbench_metrics_classes.plugin)  # validation: TAR, CNR, CPSNR
    out = tmp_path / "D"
    cli("train", "ccc", "--dataset", "shapes", "--config", "tiny", "--steps", "3", "--out", out,
        "--set", "val_images=2", "--set", "fit_images=16", "--set", "workers=0")
    assert (out / "checkpoint.pt").is_file() and (out / "config.json").is_file()
    assert (out / "classes.json").is_file() and (out / "train_log.csv").is_file()
    with open(out / "train_log.csv", newline="") as f:
        assert float(list(csv.DictReader(f))[-1]["val_tar"]) >= 0  # validated at the end
    cli("run", "--models", "ccc,gray", "--checkpoint", f"ccc={out}", "--datasets", "shapes",
        "--limit", "2", "--metrics", "cpsnr,ssim", "--out", tmp_path / "runs", "--size", "64")
    rows = _summary(tmp_path / "runs")
    assert set(rows) == {"ccc", "gray"} and rows["ccc"]["n_failed"] == "0"
    # resuming with more steps continues from step 3
    cli("train", "ccc", "--dataset", "shapes", "--config", "tiny", "--steps", "4", "--out", out,
        "--resume", "--set", "val_images=0", "--set", "workers=0")
    with open(out / "train_log.csv", newline="") as f:
        assert [r["step"] for r in csv.DictReader(f)][-1] == "4"


def test_tiny_model_overfits_a_few_shapes_images(cli, tmp_path: Path) -> None:
    cfg = config(growth_rate=8, block_config=[2, 2, 2, 2], num_init_features=16, decoder=[64, 48, 32],
                 input_size=64, target_size=16, batch_size=8, steps=120, class_min_count=1)
    run_training(context(tmp_path / "ckpt", cfg, n=8, size=64))
    cli.add_plugin("ccc", colorbench_ccc.plugin)
    cli.add_plugin("metrics_classes", colorbench_metrics_classes.plugin)
    cli("run", "--models", "ccc,gray", "--checkpoint", f"ccc={tmp_path / 'ckpt'}", "--datasets", "shapes",
        "--split", "train", "--set", "n_images=8", "--size", "64", "--metrics", "tar,cnr,cpsnr",
        "--out", tmp_path / "runs")
    rows = _summary(tmp_path / "runs")
    ccc, gray = rows["ccc"], rows["gray"]
    assert int(ccc["n"]) == 8
    assert float(ccc["tar"]) > float(gray["tar"]) + 20.0, (ccc["tar"], gray["tar"])
    assert float(ccc["cpsnr"]) > float(gray["cpsnr"]) + 3.0, (ccc["cpsnr"], gray["cpsnr"])
    assert float(ccc["cnr"]) > 2.0 * float(gray["cnr"])


pytestmark = pytest.mark.filterwarnings("ignore:The given NumPy array is not writable")
