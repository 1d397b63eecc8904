"""Evaluation sharded over torchrun ranks (gloo on the CPU): per_image.csv, summary.csv and
the set metrics equal a one-process run's whatever the number of processes, also when a run
killed under one world size is finished under another; ``score`` shards the same way; and
the pieces (blocks, fold, order, merge) on their own."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sharded_helpers as toy
import torch

from colorbench import distributed
from colorbench.evaluation.metricset import MetricSet
from colorbench.evaluation.sharding import SHARD_DIR, Shard
from colorbench.results.files import PerImageWriter, read_rows

TESTS = Path(__file__).parent
TIMING = {"seconds", "images_per_s"}  # the only columns allowed to differ


def _env(**extra: str) -> dict[str, str]:
    path = os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": path, **extra}


def _torchrun(args: list[str], nproc: int = 2, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
                           str(nproc), *args], capture_output=True, text=True, env=_env(**env), timeout=300)


def _table(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def assert_same_results(a: Path, b: Path) -> None:
    """Same rows in the same order; every value equal (numbers to 1e-6: float32 features of
    other batch splits) but the timings."""
    for name in ("per_image.csv", "summary.csv"):
        ra, rb = _table(a / name), _table(b / name)
        assert [list(r) for r in ra] == [list(r) for r in rb], name
        assert len(ra) == len(rb) and ra, name
        for x, y in zip(ra, rb, strict=True):
            for col in set(x) - TIMING:
                if x[col] == y[col]:
                    continue
                assert float(x[col]) == pytest.approx(float(y[col]), rel=1e-6, abs=1e-6), (name, col, x, y)
    pa, pb = (json.loads((d / "run.json").read_text())["pairs"] for d in (a, b))
    assert pa.keys() == pb.keys()
    for key in pa:
        for mid in ("cnr_union", "toy-fid", "toy-kid"):
            assert pb[key][mid] == pytest.approx(pa[key][mid], rel=1e-6, abs=1e-6), (key, mid)
    assert not (b / SHARD_DIR).exists()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return toy.make_folder(tmp_path_factory.mktemp("imgs") / "imgs")


@pytest.fixture(scope="module")
def one_process(folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    result = toy.run(folder, tmp_path_factory.mktemp("ref"), "one")
    assert not result.errors and len(result.summary) == 2
    return result.run_dir


def test_two_processes_give_the_one_process_results(folder: Path, one_process: Path, tmp_path: Path) -> None:
    done = _torchrun([str(TESTS / "sharded_helpers.py"), str(folder), str(tmp_path), "two"])
    assert done.returncode == 0, done.stderr[-3000:]
    assert_same_results(one_process, tmp_path / "two")
    manifest = json.loads((tmp_path / "two" / "run.json").read_text())
    assert manifest["pairs"]["imgs/toy"]["toy-fid_info"]["images"] == 10  # merged: both ranks' images


def test_killed_under_two_processes_finished_by_one(folder: Path, one_process: Path, tmp_path: Path) -> None:
    """Rank 0 dies in the toy pair once rank 1 has written shard rows; one process finishes."""
    shard_file = tmp_path / "run" / SHARD_DIR / "imgs" / "toy.rank-1.csv"
    done = _torchrun([str(TESTS / "sharded_helpers.py"), str(folder), str(tmp_path), "run"],
                     TOY_EXIT_AFTER="1", TOY_EXIT_RANK="0", TOY_WAIT_FOR=str(shard_file))
    assert done.returncode != 0
    kept = read_rows(shard_file)[1]
    assert len(kept) >= 1  # a killed run's shard rows, to fold in
    kept += [r for r in read_rows(tmp_path / "run" / "per_image.csv")[1] if r["model"] == "toy"]
    assert len(kept) < 10
    result = toy.run(folder, tmp_path, "run")
    assert not result.errors
    assert_same_results(one_process, tmp_path / "run")
    final = read_rows(tmp_path / "run" / "per_image.csv")[1]
    assert all(r in final for r in kept)  # folded in as they were (timings too), not recomputed


def test_killed_in_one_process_finished_by_two(folder: Path, one_process: Path, tmp_path: Path) -> None:
    killed = subprocess.run([sys.executable, str(TESTS / "sharded_helpers.py"), str(folder), str(tmp_path), "run"],
                            capture_output=True, text=True, env=_env(TOY_EXIT_AFTER="2"), timeout=300)
    assert killed.returncode == 3
    kept = [r for r in read_rows(tmp_path / "run" / "per_image.csv")[1] if r["model"] == "toy"]
    assert len(kept) == 6
    done = _torchrun([str(TESTS / "sharded_helpers.py"), str(folder), str(tmp_path), "run"])
    assert done.returncode == 0, done.stderr[-3000:]
    assert_same_results(one_process, tmp_path / "run")
    final = read_rows(tmp_path / "run" / "per_image.csv")[1]
    assert all(r in final for r in kept)  # kept as they were, not recomputed


def test_score_under_torchrun_equals_one_process(folder: Path, one_process: Path, tmp_path: Path) -> None:
    """`score` of one folder against another: the same rows and summary (set metric
    included) from 2 processes as from 1."""
    pred, gt = tmp_path / "pred", tmp_path / "gt"
    toy.make_folder(gt, n=7)
    toy.make_folder(pred, n=7, seed=1)
    args = ["--pred", str(pred), "--gt", str(gt), "--metrics", "cpsnr,ssim,cnr_union", "-b", "2", "-q"]
    one = subprocess.run([sys.executable, "-m", "colorbench", "score", *args, "--out", str(tmp_path / "s1")],
                         capture_output=True, text=True, env=_env(), timeout=300)
    assert one.returncode == 0, one.stderr[-3000:]
    two = _torchrun(["-m", "colorbench", "score", *args, "--out", str(tmp_path / "s2")])
    assert two.returncode == 0, two.stderr[-3000:]
    assert two.stdout.count("results:") == 1  # rank 0 alone reports
    for name in ("per_image.csv", "summary.csv"):
        a, b = _table(tmp_path / "s1" / name), _table(tmp_path / "s2" / name)
        assert [{k: v for k, v in r.items() if k not in TIMING} for r in a] == \
            [{k: v for k, v in r.items() if k not in TIMING} for r in b]
    assert not (tmp_path / "s2" / SHARD_DIR).exists()


# ------------------------------------------------------------------ the pieces, in one process
def _shard(tmp_path: Path, rank: int, world: int) -> Shard:
    return Shard(tmp_path, distributed.DistInfo(rank=rank, world_size=world))


@pytest.mark.parametrize("world", [1, 2, 3, 4, 7])
def test_blocks_in_rank_order_cover_the_items_once(tmp_path: Path, world: int) -> None:
    items = list(range(10))
    blocks = [_shard(tmp_path, r, world).part(items) for r in range(world)]
    assert [i for block in blocks for i in block] == items
    assert max(map(len, blocks)) - min(map(len, blocks)) <= 1


def test_fold_appends_shard_rows_once_and_deletes_them(tmp_path: Path) -> None:
    cols = ["cpsnr"]
    main = PerImageWriter(tmp_path / "per_image.csv", cols)
    main.append([{"dataset": "d", "model": "m", "image_id": "a", "status": "ok", "cpsnr": 1.0}])
    with _shard(tmp_path, 1, 2).writer(None, main.columns, "d", "m") as w:
        w.append([{"dataset": "d", "model": "m", "image_id": i, "status": "ok", "cpsnr": 2.0} for i in "ab"])
    (tmp_path / SHARD_DIR / "errors.rank-1.log").write_text("rank 1 trace\n")
    assert _shard(tmp_path, 1, 2).fold(main) == 0  # only rank 0 folds
    assert _shard(tmp_path, 0, 2).fold(main, ("d", "other")) == 0  # another pair's files stay
    assert _shard(tmp_path, 0, 2).fold(main) == 1  # "a" was already there: not twice
    main.close()
    rows = read_rows(tmp_path / "per_image.csv")[1]
    assert [(r["image_id"], r["cpsnr"]) for r in rows] == [("a", "1.0"), ("b", "2.0")]
    assert "rank 1 trace" in (tmp_path / "errors.log").read_text()
    assert not (tmp_path / SHARD_DIR).exists()


def test_order_puts_rows_in_dataset_order_and_keeps_others_first(tmp_path: Path) -> None:
    w = PerImageWriter(tmp_path / "per_image.csv", [])
    for key in [("d", "m", "2"), ("old", "x", "z"), ("d", "m", "0"), ("d", "m", "1")]:
        w.append([{"dataset": key[0], "model": key[1], "image_id": key[2], "status": "ok"}])
    position = {("d", "m", str(k)): (0, k) for k in range(3)}
    assert w.order(position.get) is True
    assert w.order(position.get) is False  # already in order: not rewritten
    w.close()
    assert [r["image_id"] for r in read_rows(tmp_path / "per_image.csv")[1]] == ["z", "0", "1", "2"]


def test_gathered_states_merge_in_rank_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rank 0 folds the other ranks' accumulator states after its own, keeps their set-metric
    failures and failure counts, and sums the images (the gather replaced by a fake)."""
    from colorbench.evaluation.batch import MetricBatch
    from colorbench.evaluation.failures import ErrorLog, Failure
    from colorbench.plugin import manager

    regs = manager.load(extra_plugins=[("toy", toy.Plugin())])
    specs = [regs.metrics.get(m) for m in ("toy-kid", "toy-fid")]
    sets = [MetricSet(specs) for _ in range(2)]
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (6, 3, 16, 16), generator=gen, dtype=torch.uint8)
    for k, mset in enumerate(sets):
        mset.start_pair()
        mset.feed(MetricBatch(pred=images[3 * k:3 * k + 3], gt=images.flip(0)[3 * k:3 * k + 3]))
    sets[1].pair_failures["toy-fid"] = Failure("(set)", "rank 1 broke", "toy-fid")
    logs = [ErrorLog(tmp_path / f"e{k}.log") for k in range(2)]
    logs[1].add("d/m", [Failure("img3", "bad file")])
    sent: dict[str, object] = {}

    def fake_gather(obj: object, info: distributed.DistInfo) -> list[object]:
        if info.rank == 1:
            sent["rank 1"] = obj
            return [obj, obj]
        return [obj, sent["rank 1"]]

    monkeypatch.setattr(distributed, "gather_objects", fake_gather)
    _shard(tmp_path, 1, 2).gather_pair(sets[1], logs[1], "d/m", 3, 2, 5.0, ["g1"])  # rank 1 sends its state
    totals = _shard(tmp_path, 0, 2).gather_pair(sets[0], logs[0], "d/m", 3, 3, 4.0, ["g0"])
    # images and rows summed, the slowest rank's seconds, the gray ground truths of both ranks
    assert totals == (6, 5, 5.0, ["g0", "g1"])
    whole = MetricSet(specs)
    whole.start_pair()
    whole.feed(MetricBatch(pred=images, gt=images.flip(0)))
    kid = sets[0].accumulators["toy-kid"]
    assert kid.pred.n == 6
    assert torch.equal(torch.cat(kid.pred.features), torch.cat(whole.accumulators["toy-kid"].pred.features))
    assert sets[0].pair_failures["toy-fid"].message == "rank 1 broke"
    assert [f.image_id for f in logs[0].counts["d/m"][""]] == ["img3"]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_two_nodes_rendezvous_on_localhost_like_one_process(folder: Path, tmp_path: Path) -> None:
    """Two torchrun invocations (``--nnodes 2``, one process each) meet through the c10d
    rendezvous on 127.0.0.1 and write one shared run directory: the one-process results."""
    args = ["-m", "colorbench", "run", "--models", "gray", "--datasets", str(folder), "--metrics",
            "cpsnr,ssim,cnr_union", "--size", "32", "-b", "3", "--workers", "0", "--device", "cpu", "-q",
            "--out", str(tmp_path)]
    one = subprocess.run([sys.executable, *args, "--name", "one"], capture_output=True, text=True,
                         env=_env(), timeout=300)
    assert one.returncode == 0, one.stderr[-3000:]
    endpoint = f"127.0.0.1:{_free_port()}"
    nodes = [subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--node_rank", str(r),
                               "--nproc_per_node", "1", "--rdzv_backend", "c10d", "--rdzv_endpoint", endpoint,
                               "--rdzv_id", "cb-test", *args, "--name", "two"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
             for r in range(2)]
    outs = [n.communicate(timeout=300) for n in nodes]
    assert [n.returncode for n in nodes] == [0, 0], [o[1][-2000:] for o in outs]
    for name in ("per_image.csv", "summary.csv"):
        a, b = _table(tmp_path / "one" / name), _table(tmp_path / "two" / name)
        assert [{k: v for k, v in r.items() if k not in TIMING} for r in a] == \
            [{k: v for k, v in r.items() if k not in TIMING} for r in b]
    assert sum(o[0].count("run directory:") for o in outs) == 1  # rank 0 alone reports


def test_evaluation_ranks_share_one_gpu_over_gloo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """2 ranks on a 1-GPU machine: rank 1 takes cuda:0 (LOCAL_RANK mod GPUs) and evaluation
    joins with gloo (NCCL refuses two ranks on one GPU); training keeps NCCL on CUDA."""
    import torch.distributed as dist

    calls: list[str] = []
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "set_device", lambda d: calls.append(f"set {d}"))
    monkeypatch.setattr(dist, "is_initialized", lambda: False)
    monkeypatch.setattr(dist, "init_process_group", lambda backend, **kw: calls.append(backend))
    shard = Shard.join(tmp_path, torch.device("cuda"))
    assert shard.device == torch.device("cuda", 0) and calls == ["set cuda:0", "gloo"]
    assert not shard.is_main and shard.label == " (rank 1 of 2)"
    distributed.setup(torch.device("cuda"))
    assert calls[-1] == "nccl"
