"""CCC++ training on the one loop: checkpoints, exact resume, logs, validation through the
registered metrics, and 2 gloo processes under torchrun (identical ranks; 2 x B/2 == 1 x B)."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import ccc_ddp
import pytest
import torch
from ccc_helpers import config, context
from colorbench_ccc.train import run_training

from colorbench.models.checkpoints import load_checkpoint

HERE = Path(__file__).parent


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_checkpoint_holds_model_optimizer_step_classes_config(tmp_path: Path) -> None:
    net = run_training(context(tmp_path, config(steps=3, save_every=2, val_images=4), val=True))
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    assert state["step"] == 3 and state["format"] == "ccc/1" and state["models"] == ["model"]
    assert set(state) >= {"model", "optimizers", "classes", "config", "rng"}
    assert state["classes"]["kept"].numel() == net.decoder[-1].out_channels
    assert state["config"]["decoder"] == [16, 16, 16]
    assert (tmp_path / "classes.json").is_file()
    rows = _rows(tmp_path / "train_log.csv")
    assert [r["step"] for r in rows] == ["1", "2", "3"]
    assert list(rows[0]) == ["step", "stage", "epoch", "lr", "loss", "val_tar", "val_cnr", "val_cpsnr",
                             "images_per_s"]
    assert float(rows[0]["lr"]) == 1e-3 and float(rows[0]["loss"]) > 0
    assert rows[0]["val_tar"] == "" and 0 <= float(rows[-1]["val_tar"]) <= 100  # val_every=0: at the end
    assert float(rows[-1]["val_cnr"]) > 0 and float(rows[-1]["val_cpsnr"]) > 5


def test_an_unregistered_validation_metric_fails_before_training(tmp_path: Path) -> None:
    import dataclasses

    import colorbench_ccc.plugin

    from colorbench.errors import ColorbenchError
    from colorbench.plugin.manager import load

    regs = load(entry_points=False, extra_plugins=[("ccc", colorbench_ccc.plugin)])  # no TAR/CNR plugin
    ctx = dataclasses.replace(context(tmp_path, config(val_images=2), val=True), registries=regs)
    with pytest.raises(ColorbenchError, match="unknown metric 'tar'"):
        run_training(ctx)
    assert not (tmp_path / "train_log.csv").exists()


def test_epochs_count_global_batches(tmp_path: Path) -> None:
    run_training(context(tmp_path, config(steps=None, epochs=2)))  # 8 images, global batch 4
    assert [(r["step"], r["epoch"]) for r in _rows(tmp_path / "train_log.csv")] == [
        ("1", "0"), ("2", "0"), ("3", "1"), ("4", "1")]


def test_stop_and_resume_is_bit_identical(tmp_path: Path) -> None:
    straight = run_training(context(tmp_path / "a", config(steps=5)))  # epoch = 2 steps of 4
    run_training(context(tmp_path / "b", config(steps=5, stop_at=3)))
    assert load_checkpoint(tmp_path / "b" / "checkpoint.pt")["step"] == 3
    resumed = run_training(context(tmp_path / "b", config(steps=5), resume=True))
    a, b = straight.state_dict(), resumed.state_dict()
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name
    rows_a, rows_b = _rows(tmp_path / "a" / "train_log.csv"), _rows(tmp_path / "b" / "train_log.csv")
    assert [r["step"] for r in rows_b] == [str(i) for i in range(1, 6)]
    assert [(r["loss"], r["epoch"]) for r in rows_a] == [(r["loss"], r["epoch"]) for r in rows_b]


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One torchrun launch of tests/ccc_ddp.py with 2 gloo processes (both tests read it)."""
    out = tmp_path_factory.mktemp("ccc_ddp")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(HERE), *sys.path])}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           str(HERE / "ccc_ddp.py"), str(out)], capture_output=True, text=True, env=env, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def test_two_processes_of_half_the_batch_give_the_loss_and_gradients_of_one(two_ranks: Path, tmp_path: Path) -> None:
    """Eq. 15's counts are summed over ranks: 2 x B/2 == 1 x B (loss and gradients to 1e-6)."""
    ccc_ddp.grads(tmp_path)
    one = torch.load(tmp_path / "grads0.pt", weights_only=True)
    r0, r1 = (torch.load(two_ranks / "grads" / f"grads{r}.pt", weights_only=True) for r in (0, 1))
    torch.testing.assert_close((r0.pop("loss") + r1.pop("loss")) / 2, one.pop("loss"), rtol=0, atol=1e-6)
    assert one.keys() == r0.keys()
    for name, g in one.items():
        assert torch.equal(r0[name], r1[name]), name  # DDP: every rank holds the averaged gradient
        torch.testing.assert_close(r0[name], g, rtol=0, atol=1e-6, msg=name)


def test_two_processes_under_torchrun_end_identical(two_ranks: Path, tmp_path: Path) -> None:
    out = two_ranks / "train"
    r0, r1 = (torch.load(out / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    for name in r0:
        assert torch.equal(r0[name], r1[name]), name
    start = run_training(context(tmp_path, config(steps=0)))  # the same init, untrained
    assert not torch.equal(start.state_dict()["decoder.0.weight"], r0["decoder.0.weight"])
    state = load_checkpoint(out / "checkpoint.pt")
    assert state["step"] == 3 and state["world_size"] == 2 and len(state["rng"]) == 2
    assert len(_rows(out / "train_log.csv")) == 3  # rank 0 alone writes
