"""gan through the command line and the registry: train -> run --checkpoint, the shipped
weights, lazy torch import, and data-parallel training under torchrun (gloo on the CPU)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from colorbench.cli import app
from colorbench.models.checkpoints import load_checkpoint, sha256
from colorbench.plugin.manager import load
from colorbench.training.settings import LOOP_KEYS


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_train_then_run_with_the_checkpoint(tmp_path: Path) -> None:
    out, runs = tmp_path / "D", tmp_path / "runs"
    cli = CliRunner()
    args = ["train", "gan", "--dataset", "shapes", "--config", "tiny", "--steps", "30", "--out", str(out),
            "--set", "workers=0", "--set", "val_images=4", "--set", "threads=1"]
    res = cli.invoke(app, [*args, "--set", "stop_at=20"])  # inside the adversarial phase (15 + 15)
    assert res.exit_code == 0, res.output
    assert load_checkpoint(out)["step"] == 20
    res = cli.invoke(app, [*args, "--resume"])
    assert res.exit_code == 0, res.output
    log = _rows(out / "train_log.csv")
    assert log[-1]["step"] == "30" and {r["stage"] for r in log} == {"pretrain", "adversarial"}
    assert json.loads((out / "config.json").read_text())["config_name"] == "tiny"
    res = cli.invoke(app, ["run", "--models", "gan,gray", "--checkpoint", f"gan={out}", "--datasets", "shapes",
                           "--limit", "4", "--metrics", "cpsnr,mse", "--out", str(runs), "--name", "r", "--workers", "0"])
    assert res.exit_code == 0, res.output
    summary = {r["model"]: r for r in _rows(runs / "r" / "summary.csv")}
    assert summary["gan"]["n"] == "4" and summary["gan"]["n_failed"] == "0"
    manifest = json.loads((runs / "r" / "run.json").read_text())
    assert manifest["checkpoints"]["gan"]["sha256"] == sha256(out / "checkpoint.pt")


def test_registered_with_shipped_weights_and_lazy_torch() -> None:
    spec = load().colorizers.get("gan")
    assert spec.needs_weights and spec.trainable and set(spec.configs) == {"paper", "tiny"}
    assert spec.configs["paper"]["size"] == 256 and spec.configs["paper"]["lambda_l1"] == 100.0
    for cfg in spec.configs.values():  # every loop setting is a key, so `--set KEY=VALUE` reaches it
        assert set(LOOP_KEYS) <= set(cfg)
    assert spec.weights is not None and spec.weights.training.startswith("colorbench train gan")
    path = spec.weights.locate()
    assert path is not None and sha256(path) == spec.weights.sha256
    state = load_checkpoint(path)
    assert state["config"]["generator"] == "resnet18-unet" and "discriminator" not in state
    code = "import sys, colorbench_gan.plugin; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.slow
def test_torchrun_two_processes_gloo(tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "colorbench", "train", "gan", "--dataset", "shapes", "--config", "tiny", "--steps", "6",
           "--batch-size", "8", "--out", str(out), "--device", "cpu",
           "--set", "pretrain_steps=3", "--set", "workers=0", "--set", "log_every=1", "--set", "val_images=0"]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    log = _rows(out / "train_log.csv")
    assert [r["step"] for r in log] == [str(s) for s in range(1, 7)]  # rank 0 writes, once
    assert float(log[-1]["images_per_s"]) > 0 and log[-1]["stage"] == "adversarial"
    assert load_checkpoint(out)["step"] == 6


def test_distributed_helpers_are_no_ops_in_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    from colorbench import distributed

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    info = distributed.setup(torch.device("cpu"))
    assert (info.rank, info.world_size, info.is_main, info.enabled) == (0, 1, True, False)
    net = torch.nn.Linear(2, 2)
    assert distributed.wrap(net, info) is net and distributed.unwrap(net) is net
    value = torch.tensor(3.0)
    assert distributed.mean(value, info) is value
