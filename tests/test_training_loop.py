"""The one training loop: exact resume, data parallelism, accumulation, precision, shared
state, the sampling scheme and the batch-size convention (a toy trainer: loop_helpers)."""

from __future__ import annotations

import csv
from pathlib import Path

import loop_helpers as toy
import pytest
import torch

from colorbench.errors import ColorbenchError
from colorbench.models.checkpoints import load_checkpoint
from colorbench.training.sampling import ShardedBatches, per_rank_batch
from colorbench.training.state import check_resume, rng_state, set_rng_state


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.mark.parametrize("stop", [3, 5, 7])  # inside stage a, at the stage boundary, inside stage b
def test_stop_and_resume_is_bit_identical(tmp_path: Path, stop: int) -> None:
    straight = toy.train(toy.context(tmp_path / "a"))
    toy.train(toy.context(tmp_path / "b", stop_at=stop))
    assert load_checkpoint(tmp_path / "b" / "checkpoint.pt")["step"] == stop
    resumed = toy.train(toy.context(tmp_path / "b", resume=True))
    _assert_same(toy.weights(straight), toy.weights(resumed))
    a, b = _rows(tmp_path / "a" / "train_log.csv"), _rows(tmp_path / "b" / "train_log.csv")
    assert [r["step"] for r in b] == [str(i) for i in range(1, 10)]
    assert [(r["loss"], r["lr"], r["stage"], r["epoch"]) for r in a] == [(r["loss"], r["lr"], r["stage"], r["epoch"]) for r in b]


def test_resume_with_workers_matches_an_uninterrupted_run_without(tmp_path: Path) -> None:
    straight = toy.train(toy.context(tmp_path / "a"))
    toy.train(toy.context(tmp_path / "b", stop_at=4, workers=1))
    resumed = toy.train(toy.context(tmp_path / "b", resume=True, workers=1))
    _assert_same(toy.weights(straight), toy.weights(resumed))


def test_checkpoint_holds_optimizer_scheduler_rng_and_shared_state(tmp_path: Path) -> None:
    toy.CALLS["shared"] = 0
    toy.train(toy.context(tmp_path, stop_at=3))
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    assert state["format"] == toy.FORMAT and state["step"] == 3 and state["offset"] == 0.25
    assert set(state["optimizers"]) == {"net"} and state["schedulers"]["net"]["last_epoch"] == 3
    assert len(state["rng"]) == 1 and set(state["rng"][0]) >= {"python", "numpy", "torch"}
    assert state["config"]["precision"] == "fp32" and state["models"] == ["net"]
    toy.train(toy.context(tmp_path, resume=True))
    assert toy.CALLS["shared"] == 1  # read back from the checkpoint, not computed again
    final = load_checkpoint(tmp_path / "checkpoint.pt")
    assert final["models"] == ["net", "head"] and set(final["optimizers"]) == {"net", "head"}


def test_models_of_a_skipped_stage_stay_in_the_checkpoint(tmp_path: Path) -> None:
    toy.train(toy.context(tmp_path, stop_at=6))  # inside stage b: net and head exist
    before = load_checkpoint(tmp_path / "checkpoint.pt")
    toy.train(toy.context(tmp_path, resume=True, steps_b=6))
    after = load_checkpoint(tmp_path / "checkpoint.pt")
    assert after["step"] == 11 and after["models"] == ["net", "head"]
    _assert_same(before["net"], after["net"])  # stage a is over: net was not trained again


def test_gradient_accumulation_equals_the_full_batch(tmp_path: Path) -> None:
    whole = toy.train(toy.context(tmp_path / "a", dropout=0.0))
    split = toy.train(toy.context(tmp_path / "b", dropout=0.0, accumulate=2))
    for k, v in toy.weights(whole).items():
        torch.testing.assert_close(toy.weights(split)[k], v, rtol=0, atol=1e-6, msg=k)


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_reduced_precision_trains_and_is_recorded(tmp_path: Path, precision: str) -> None:
    t = toy.train(toy.context(tmp_path, precision=precision, steps_a=40, dropout=0.0))
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    assert state["precision"] == precision == state["config"]["precision"]
    assert (state["scaler"] is not None) == (precision == "fp16") == t.scaler.is_enabled()
    rows = _rows(tmp_path / "train_log.csv")
    first, last = (sum(float(r["loss"]) for r in rows[i:i + 8]) for i in (0, 32))
    assert last < 0.5 * first


def test_unknown_precision_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ColorbenchError, match="--precision 'fp8': choose fp32, bf16, fp16"):
        toy.train(toy.context(tmp_path, precision="fp8"))


def test_sharded_batches_are_a_function_of_seed_and_step() -> None:
    one = ShardedBatches(10, 4, 0, 1, seed=5)
    halves = [ShardedBatches(10, 4, r, 2, seed=5) for r in range(2)]
    it1, it2 = iter(one), [iter(h) for h in halves]
    steps = [next(it1) for _ in range(6)]  # 2 steps per epoch (10 // 4): 3 epochs
    for s in steps:
        assert sorted(s) == sorted(next(it2[0]) + next(it2[1]))  # 2 x B/2 is the global batch of 1 x B
    assert len({i for _, i in steps[0] + steps[1]}) == 8  # no item twice in an epoch
    assert [e for e, _ in steps[4]] == [2] * 4 and one.epoch_of(5) == 2
    assert next(zip(range(3), ShardedBatches(10, 4, 0, 1, seed=5, start=3), strict=False))[1] == steps[3]
    assert steps[0] != next(zip(range(1), ShardedBatches(10, 4, 0, 1, seed=6), strict=False))[1]


def test_batch_size_is_global_and_must_divide() -> None:
    assert per_rank_batch(8, 2, 100) == 4 and per_rank_batch(8, 2, 100, accumulate=2) == 4
    with pytest.raises(ColorbenchError, match=r"batch_size 6 .* does not divide over 4 processes"):
        per_rank_batch(6, 4, 100)
    with pytest.raises(ColorbenchError, match="3 accumulation steps"):
        per_rank_batch(8, 2, 100, accumulate=3)
    with pytest.raises(ColorbenchError, match="has 5 images, fewer than one batch of 8"):
        per_rank_batch(8, 1, 5)


def test_rng_state_round_trips_every_generator() -> None:
    import random

    import numpy as np

    state = rng_state()
    a = (random.random(), float(np.random.rand()), float(torch.rand(())))
    set_rng_state(state)
    assert (random.random(), float(np.random.rand()), float(torch.rand(()))) == a


def test_resume_with_changed_architecture_names_the_keys(tmp_path: Path) -> None:
    toy.train(toy.context(tmp_path, stop_at=2))
    cfg = dict(toy.context(tmp_path).config, dropout=0.5, lr=0.05, workers=2)
    with pytest.raises(ColorbenchError, match=r"other settings \(dropout 0.2 -> 0.5\)"):
        check_resume(tmp_path / "checkpoint.pt", cfg)
    check_resume(tmp_path / "checkpoint.pt", dict(cfg, dropout=0.2))  # workers may change


def test_resume_into_a_model_of_another_shape_is_one_line(tmp_path: Path) -> None:
    toy.train(toy.context(tmp_path, stop_at=2))
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    state["net"]["0.weight"] = torch.zeros(8, 4)
    torch.save(state, tmp_path / "checkpoint.pt")
    with pytest.raises(ColorbenchError, match=r"model 'net' in .* does not fit"):
        toy.train(toy.context(tmp_path, resume=True))


DDP_SCRIPT = """
import os, sys, torch
from pathlib import Path
sys.path.insert(0, sys.argv[2])
import loop_helpers as toy
torch.set_num_threads(1)
out, dropout, stop_at, resume = Path(sys.argv[1]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "1"
t = toy.train(toy.context(out, resume=resume, dropout=dropout, stop_at=stop_at))
torch.save(toy.weights(t), out / f"rank{os.environ['RANK']}.pt")
"""


def _torchrun(tmp_path: Path, out: Path, dropout: float = 0.0, stop_at: int = 0, resume: bool = False) -> None:
    import os
    import subprocess
    import sys

    script = tmp_path / "ddp_toy.py"
    script.write_text(DDP_SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           str(script), str(out), str(Path(__file__).parent), str(dropout), str(stop_at), str(int(resume))],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


def test_two_processes_under_torchrun_match_one_process(tmp_path: Path) -> None:
    """gloo, 2 x B/2: both ranks end identical and equal to 1 x B (DDP and loop-averaged models)."""
    _torchrun(tmp_path, tmp_path / "ddp")
    r0 = torch.load(tmp_path / "ddp" / "rank0.pt", weights_only=True)
    _assert_same(r0, torch.load(tmp_path / "ddp" / "rank1.pt", weights_only=True))
    single = toy.weights(toy.train(toy.context(tmp_path / "one", dropout=0.0)))
    for k, v in single.items():
        torch.testing.assert_close(r0[k], v, rtol=0, atol=1e-6, msg=k)
    state = load_checkpoint(tmp_path / "ddp" / "checkpoint.pt")
    assert state["world_size"] == 2 and len(state["rng"]) == 2
    assert len(_rows(tmp_path / "ddp" / "train_log.csv")) == 9  # rank 0 alone writes


def test_two_processes_stop_and_resume_like_an_uninterrupted_pair(tmp_path: Path) -> None:
    """Each rank's own RNG (dropout differs per rank) is checkpointed and restored."""
    _torchrun(tmp_path, tmp_path / "a", dropout=0.3)
    _torchrun(tmp_path, tmp_path / "b", dropout=0.3, stop_at=3)
    _torchrun(tmp_path, tmp_path / "b", dropout=0.3, resume=True)
    for rank in (0, 1):
        _assert_same(torch.load(tmp_path / "a" / f"rank{rank}.pt", weights_only=True),
                     torch.load(tmp_path / "b" / f"rank{rank}.pt", weights_only=True))


@pytest.mark.slow
def test_two_nodes_rendezvous_on_localhost_train_like_one_process(tmp_path: Path) -> None:
    """Two torchrun invocations (``--nnodes 2``, one process each, c10d rendezvous on
    127.0.0.1) train through one shared output folder like 1 process x B."""
    import os
    import socket
    import subprocess
    import sys

    script = tmp_path / "ddp_toy.py"
    script.write_text(DDP_SCRIPT)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        endpoint = f"127.0.0.1:{s.getsockname()[1]}"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    nodes = [subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--node_rank", str(r),
                               "--nproc_per_node", "1", "--rdzv_backend", "c10d", "--rdzv_endpoint", endpoint,
                               "--rdzv_id", "cb-train", str(script), str(tmp_path / "ddp"), str(Path(__file__).parent),
                               "0.0", "0", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for r in range(2)]
    outs = [n.communicate(timeout=300) for n in nodes]
    assert [n.returncode for n in nodes] == [0, 0], [o[1][-2000:] for o in outs]
    r0 = torch.load(tmp_path / "ddp" / "rank0.pt", weights_only=True)
    _assert_same(r0, torch.load(tmp_path / "ddp" / "rank1.pt", weights_only=True))
    single = toy.weights(toy.train(toy.context(tmp_path / "one", dropout=0.0)))
    for k, v in single.items():
        torch.testing.assert_close(r0[k], v, rtol=0, atol=1e-6, msg=k)
    assert load_checkpoint(tmp_path / "ddp" / "checkpoint.pt")["world_size"] == 2
