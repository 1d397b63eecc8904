"""CCC++ training: checkpoints, --resume equivalence, logs, DDP on CPU (gloo), the CLI."""

from __future__ import annotations

import csv
import socket
from pathlib import Path

import pytest
import torch
from ccc_helpers import config, context
from colorbench_ccc.train import run_training

from colorbench.models.checkpoints import load_checkpoint


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_checkpoint_holds_model_optimizer_step_classes_config(tmp_path: Path) -> None:
    net = run_training(context(tmp_path, config(steps=3, checkpoint_every=2, val_images=4), val=True))
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    assert state["step"] == 3
    assert set(state) >= {"model", "optimizer", "step", "classes", "config"}
    assert state["classes"]["kept"].numel() == net.decoder[-1].out_channels
    assert state["config"]["decoder"] == [16, 16, 16]
    rows = _rows(tmp_path / "train_log.csv")
    assert [r["step"] for r in rows] == ["1", "2", "3"]
    assert set(rows[0]) == {"step", "epoch", "loss", "lr", "images_per_s"}
    assert float(rows[0]["lr"]) == 1e-3 and float(rows[0]["loss"]) > 0
    val = _rows(tmp_path / "val_log.csv")
    assert val and 0 <= float(val[-1]["tar"]) <= 100 and float(val[-1]["cpsnr"]) > 5


def test_resume_continues_exactly(tmp_path: Path) -> None:
    straight = run_training(context(tmp_path / "a", config(steps=6)))  # epoch = 2 steps of 4
    run_training(context(tmp_path / "b", config(steps=3)))
    resumed = run_training(context(tmp_path / "b", config(steps=6), resume=True))
    for (name, p), q in zip(straight.state_dict().items(), resumed.state_dict().values(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-6, msg=name)
    a = _rows(tmp_path / "a" / "train_log.csv")
    b = _rows(tmp_path / "b" / "train_log.csv")
    assert [r["step"] for r in b] == [str(i) for i in range(1, 7)]
    assert [float(r["loss"]) for r in a] == pytest.approx([float(r["loss"]) for r in b], rel=1e-5)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, world: int, port: int, out: str) -> None:
    import os

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    net = run_training(context(Path(out), config(steps=3)))
    torch.save(net.state_dict(), Path(out) / f"rank{rank}.pt")


def test_two_process_gloo_ranks_end_identical(tmp_path: Path) -> None:
    import torch.multiprocessing as mp

    mp.spawn(_ddp_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    for name in r0:
        assert torch.equal(r0[name], r1[name]), name
    start = run_training(context(tmp_path / "ref", config(steps=0)))  # the same init, untrained
    assert not torch.equal(start.state_dict()["decoder.0.weight"], r0["decoder.0.weight"])
    # only rank 0 wrote; the log counts images of both ranks
    assert load_checkpoint(tmp_path / "checkpoint.pt")["step"] == 3
    assert len(_rows(tmp_path / "train_log.csv")) == 3
