"""router on the one training loop: a run stopped mid-epoch (stop_at) and resumed ends
bit-identical to an uninterrupted one without labelling again; under torchrun (2 gloo
processes) both ranks end with identical classifiers and only rank 0 writes files."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import colorbench_router.data
import colorbench_router.plugin
import pytest
import torch
from colorbench_router.colorizer import export, load_router
from colorbench_router.train import train
from router_helpers import ToyPlugin, ToyRoute

from colorbench.models.checkpoints import load_checkpoint
from colorbench.reporting import Reporter
from colorbench.training import TrainContext, resolve_train_config

# 60 toy images -> 42 train -> 56 after SMOTE: 3 global batches of 16 per epoch
SETS = ["pool=toy_red,toy_blue", "label_size=32", "input_size=32", "batch_size=16", "threads=1", "steps=5"]


def _ctx(regs, out: Path, resume: bool = False, sets=SETS) -> TrainContext:
    cfg = resolve_train_config(regs.colorizers.get("router"), "tiny", {}, sets)
    return TrainContext(dataset=ToyRoute("train"), config=cfg, out_dir=out, device=torch.device("cpu"),
                        resume=resume, seed=0, reporter=Reporter(quiet=True),
                        dataset_name="toyroute", split="train", registries=regs)


def _rows(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="") as f:
        return {r["step"]: r for r in csv.DictReader(f)}


def _assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_stop_mid_epoch_and_resume_is_bit_identical_without_labelling_again(
        regs_with, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plugin = ToyPlugin()
    regs = regs_with(("toy", plugin), ("router", colorbench_router.plugin))
    calls: list[int] = []
    run_pool = colorbench_router.data.run_pool
    monkeypatch.setattr(colorbench_router.data, "run_pool", lambda *a: (calls.append(1), run_pool(*a))[1])
    straight = train(_ctx(regs, tmp_path / "a")).models["classifier"].state_dict()
    train(_ctx(regs, tmp_path / "b", sets=[*SETS, "stop_at=2"]))
    stopped = load_checkpoint(tmp_path / "b" / "checkpoint.pt")
    assert stopped["step"] == 2 and stopped["evaluation"] is None
    assert not (tmp_path / "b" / "evaluation.json").exists()  # evaluated only once trained
    images = plugin.images()
    resumed = train(_ctx(regs, tmp_path / "b", resume=True)).models["classifier"].state_dict()
    assert len(calls) == 2 and plugin.images() == images  # a and b labelled once each; not on resume
    _assert_same(straight, resumed)
    a, b = _rows(tmp_path / "a" / "train_log.csv"), _rows(tmp_path / "b" / "train_log.csv")
    assert list(a) == ["3", "5"] and list(b) == ["2", "3", "5"]  # per epoch, the last step, the stop
    assert [a["5"][k] for k in ("loss", "val_loss", "val_acc")] == [b["5"][k] for k in ("loss", "val_loss", "val_acc")]
    state = load_checkpoint(tmp_path / "b" / "checkpoint.pt")
    assert state["step"] == 5 and state["evaluation"]["n_test"] == 12
    assert state["pool"] == ["toy_red", "toy_blue"] and state["kind"] == "router"
    _assert_same(state["labels"]["data"], stopped["labels"]["data"])  # restored, not recomputed
    net, _ = load_router(tmp_path / "b" / "checkpoint.pt")  # the factory's loader reads it
    _assert_same(net.state_dict(), resumed)
    shipped = load_checkpoint(export(tmp_path / "b" / "checkpoint.pt", tmp_path / "w.pt", half=True))
    assert not {"labels", "optimizers", "rng"} & set(shipped) and shipped["evaluation"] == state["evaluation"]


DDP_SCRIPT = """
import json, os, sys
from pathlib import Path
sys.path[:0] = [sys.argv[2]]
import torch
import colorbench_router.plugin
from conftest import load_regs
from router_helpers import ToyPlugin
from test_router_loop import SETS, _ctx
from colorbench_router.train import train

out = Path(sys.argv[1])
rank = os.environ["RANK"]
writes = []


def audit(event, args):  # every file this process opens for writing (or renames into) under out/
    inside = lambda p: isinstance(p, (str, Path)) and str(p).startswith(str(out) + os.sep)
    if event == "open" and inside(args[0]):
        mode, flags = args[1], args[2] or 0
        if (mode and any(c in mode for c in "wax+")) or (not mode and flags & (os.O_WRONLY | os.O_RDWR)):
            writes.append(str(args[0]))
    elif event == "os.rename" and inside(args[1]):
        writes.append(str(args[1]))


sys.addaudithook(audit)
torch.set_num_threads(1)
regs = load_regs([("toy", ToyPlugin()), ("router", colorbench_router.plugin)])
t = train(_ctx(regs, out, sets=[*SETS, "steps=4"]))
Path(f"{out}-rank{rank}.json").write_text(json.dumps(sorted(set(writes))))
torch.save(t.models["classifier"].state_dict(), f"{out}-rank{rank}.pt")
"""


def test_two_processes_under_torchrun_end_identical_and_only_rank_0_writes(tmp_path: Path) -> None:
    script = tmp_path / "ddp_router.py"
    script.write_text(DDP_SCRIPT)
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           str(script), str(out), str(Path(__file__).parent)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    _assert_same(torch.load(f"{out}-rank0.pt", weights_only=True), torch.load(f"{out}-rank1.pt", weights_only=True))
    written = [json.loads(Path(f"{out}-rank{r}.json").read_text()) for r in (0, 1)]
    assert written[1] == []  # rank 1: no labels, logs, checkpoints or evaluation
    names = {Path(p).name for p in written[0]}
    assert {"balance.json", "pool_scores.csv", "train_log.csv", "evaluation.json", "evaluation.md"} <= names
    assert any(p.startswith(str(out / "labels")) for p in written[0]) and any("checkpoint" in n for n in names)
    state = load_checkpoint(out / "checkpoint.pt")
    assert state["world_size"] == 2 and len(state["rng"]) == 2 and state["step"] == 4
