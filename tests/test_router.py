"""router (seed 001): labelling picks the best member, SMOTE balances, the classifier learns a
separable toy routing task, routed scores lie between the worst member and the oracle, and
inference runs only the chosen member, building each member once."""

from __future__ import annotations

import json
from pathlib import Path

import colorbench_router.plugin
import numpy as np
import pytest
import torch
from colorbench_router.balance import balance
from colorbench_router.colorizer import RouterColorizer, load_router
from colorbench_router.evaluate import auc, evaluate
from colorbench_router.labels import best_member, read_scores, run_pool
from colorbench_router.train import train
from router_helpers import ToyPlugin, ToyRoute

from colorbench import results
from colorbench.errors import ColorbenchError
from colorbench.evaluation.protocol import lightness, to_tensor
from colorbench.reporting import Reporter
from colorbench.training import TrainContext, resolve_train_config

# 24 epochs x 3 full global batches of 16 (of 56 balanced images; the loop drops the partial one)
SETS = ["pool=toy_red,toy_blue", "label_split=train", "label_size=32", "input_size=32", "epochs=24", "batch_size=16",
        "lr=0.003", "threads=1"]


# ------------------------------------------------------------------ labelling
def test_best_member_is_the_argmax_ignoring_failures() -> None:
    s = np.array([[20.0, 25.0, 22.0], [np.nan, 18.0, 30.0], [np.inf, 40.0, 50.0], [31.0, 31.0, 10.0]])
    assert best_member(s).tolist() == [1, 2, 0, 0]  # NaN never wins; +inf wins; ties: first
    assert best_member(s[:, ::-1] * -1, higher_is_better=False).tolist() == [1, 0, 2, 1]


def test_read_scores_keeps_ok_rows_of_the_pool(tmp_path: Path) -> None:
    path = tmp_path / "per_image.csv"
    w = results.PerImageWriter(path, ["cpsnr"])
    w.append([
        {"dataset": "d", "model": "a", "image_id": "x", "status": "ok", "cpsnr": 20.0},
        {"dataset": "d", "model": "b", "image_id": "x", "status": "ok", "cpsnr": 21.0},
        {"dataset": "d", "model": "b", "image_id": "y", "status": "failed", "error": "boom"},
        {"dataset": "e", "model": "a", "image_id": "y", "status": "ok", "cpsnr": 99.0},
    ])
    w.close()
    table = read_scores(path, "d", ["a", "b"], ["x", "y"], "cpsnr")
    assert table[0].tolist() == [20.0, 21.0]
    assert np.isnan(table[1]).all()


# ------------------------------------------------------------------ balancing
def test_smote_balances_counts_with_interpolated_samples() -> None:
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.random((30, 1, 4, 4)), 5 + rng.random((8, 1, 4, 4))]).astype(np.float32)
    y = np.array([0] * 30 + [1] * 8)
    Xb, yb, info = balance(X, y, k_neighbors=5, seed=0)
    assert info.method == "smote" and info.k_neighbors == {1: 5}
    assert info.before == {0: 30, 1: 8} and info.after == {0: 30, 1: 30}
    assert Xb.shape == (60, 1, 4, 4) and np.bincount(yb).tolist() == [30, 30]
    synthetic = Xb[38:]
    assert (yb[38:] == 1).all()
    assert synthetic.min() >= X[30:].min() and synthetic.max() <= X[30:].max()  # inside class 1's hull
    assert not any(np.allclose(s, o) for s in synthetic[:5] for o in X[30:])  # new points, not copies


def test_balance_degenerate_cases() -> None:
    X = np.random.default_rng(1).random((12, 1, 2, 2)).astype(np.float32)
    _, yb, info = balance(X, np.zeros(12, dtype=int))
    assert info.method == "none" and len(yb) == 12
    _, yb, info = balance(X, np.array([0] * 10 + [1] * 2))
    assert info.method == "smote" and info.k_neighbors == {1: 1} and np.bincount(yb).tolist() == [10, 10]
    Xb, yb, info = balance(X, np.array([0] * 11 + [1]))
    assert info.method == "random" and np.bincount(yb).tolist() == [11, 11]
    assert all(np.array_equal(Xb[i], X[11]) for i in np.flatnonzero(yb == 1))  # duplicates
    _, yb, info = balance(X, np.array([0] * 6 + [1] * 5 + [2]))  # per class: SMOTE k=4, copies
    assert info.method == "smote+random" and info.k_neighbors == {1: 4}
    assert np.bincount(yb).tolist() == [6, 6, 6]


# ----------------------------------------------------------------- evaluation
def test_auc_binary_and_multiclass_with_absent_classes() -> None:
    y = np.array([0, 0, 2, 2])
    prob = np.array([[0.8, 0.1, 0.1], [0.6, 0.1, 0.3], [0.2, 0.1, 0.7], [0.3, 0.2, 0.5]])
    assert auc(y, prob) == 1.0
    assert auc(np.array([1, 1]), prob[:2]) is None
    y3 = np.array([0, 1, 2, 0, 1, 2])
    p3 = np.eye(3)[[0, 1, 2, 0, 2, 1]] * 0.8 + 0.1
    assert 0.5 < auc(y3, p3) < 1.0


def test_evaluate_router_between_worst_and_oracle() -> None:
    scores = np.array([[20.0, 30.0], [25.0, 21.0], [np.inf, 24.0]])
    y = best_member(scores)
    prob = np.array([[0.2, 0.8], [0.9, 0.1], [0.1, 0.9]])  # last one routed wrongly
    ev = evaluate(scores, y, prob, ["a", "b"])
    s = ev["scores"]
    assert s["oracle (best member per image)"] == pytest.approx((30 + 25 + 100) / 3)
    assert s["router (predicted member)"] == pytest.approx((30 + 25 + 24) / 3)
    assert s["random member (expected)"] == pytest.approx((25 + 23 + 62) / 3)
    assert ev["confusion"] == [[1, 1], [0, 1]] and ev["recall"] == {"a": 0.5, "b": 1.0}


# --------------------------------------------------------- end-to-end, toy
def _ctx(regs, out: Path, resume: bool = False, sets=SETS) -> TrainContext:
    spec = regs.colorizers.get("router")
    cfg = resolve_train_config(spec, "tiny", {}, sets)
    return TrainContext(dataset=ToyRoute("train"), config=cfg, out_dir=out, device=torch.device("cpu"),
                        resume=resume, seed=0, reporter=Reporter(quiet=True),
                        dataset_name="toyroute", split="train", registries=regs)


@pytest.fixture
def toy(regs_with):
    plugin = ToyPlugin()
    regs = regs_with(("toy", plugin), ("router", colorbench_router.plugin))
    return plugin, regs


def test_labelling_runs_the_engine_once_and_resumes(toy, tmp_path: Path) -> None:
    plugin, regs = toy
    ctx = _ctx(regs, tmp_path)
    table, members = run_pool(ctx, ["toy_red", "toy_blue"], ctx.config)
    ds = ToyRoute("train")
    assert table.best().tolist() == [0 if ds.is_red(i) else 1 for i in range(len(ds.ids))]
    assert plugin.images() == 2 * len(ds.ids)
    assert set(members) == {"toy_red", "toy_blue"} and members["toy_red"]["checkpoint"] is None
    assert (tmp_path / "labels" / "per_image.csv").is_file()
    table2, _ = run_pool(ctx, ["toy_red", "toy_blue"], ctx.config)
    assert plugin.images() == 2 * len(ds.ids)  # rerun: nothing recomputed
    np.testing.assert_array_equal(table.scores, table2.scores)


def test_router_learns_toy_routing_task(toy, tmp_path: Path) -> None:
    plugin, regs = toy
    train(_ctx(regs, tmp_path))
    ev = json.loads((tmp_path / "evaluation.json").read_text())
    assert ev["balance"]["before"]["toy_red"] > ev["balance"]["before"]["toy_blue"]
    assert ev["balance"]["after"]["toy_red"] == ev["balance"]["after"]["toy_blue"]
    assert ev["accuracy"] >= 0.9 and ev["auc_ovr_macro"] >= 0.9  # chance: 0.5 / majority 0.67
    s = ev["scores"]
    worst = min(s["toy_red alone"], s["toy_blue alone"])
    assert worst <= s["router (predicted member)"] <= s["oracle (best member per image)"] + 1e-9
    assert s["router (predicted member)"] > max(s["toy_red alone"], s["toy_blue alone"])
    assert "| router (predicted member) |" in (tmp_path / "evaluation.md").read_text()
    header = (tmp_path / "pool_scores.csv").read_text().splitlines()[0]
    assert header == "image_id,toy_red,toy_blue,best,part"
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert state["pool"] == ["toy_red", "toy_blue"] and state["pretrained"].startswith("none")

    # inference: each image goes to its member only; members built lazily, once
    net, st = load_router(tmp_path / "checkpoint.pt")
    router = RouterColorizer(net, st, torch.device("cpu"), registries=regs)
    assert plugin.builds == {"toy_red": 1, "toy_blue": 1}  # from labelling only
    test = ToyRoute("test", n=9)
    L = torch.stack([lightness(to_tensor(test.load(i).image)) for i in range(9)])
    before = {k: sum(v) for k, v in plugin.calls.items()}
    ab, info = router.colorize_with_info(L, list(test.ids))
    expect = ["toy_red" if test.is_red(i) else "toy_blue" for i in range(9)]
    assert info["member"] == expect
    assert {k: sum(v) - before[k] for k, v in plugin.calls.items()} == {"toy_red": 6, "toy_blue": 3}
    router.colorize_with_info(L[:2], list(test.ids[:2]))
    assert plugin.builds == {"toy_red": 2, "toy_blue": 2}  # one more each, not per batch
    red_ab = ab[0, :, 0, 0]
    assert red_ab[0] > 20  # the red member's a*


def test_resume_continues_to_the_requested_steps(toy, tmp_path: Path) -> None:
    plugin, regs = toy
    train(_ctx(regs, tmp_path, sets=[*SETS, "steps=4"]))
    images = plugin.images()
    train(_ctx(regs, tmp_path, resume=True, sets=[*SETS, "steps=6"]))
    assert plugin.images() == images  # labels come from the checkpoint: the pool does not run again
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert state["step"] == 6
    steps = [int(r.split(",")[0]) for r in (tmp_path / "train_log.csv").read_text().splitlines()[1:]]
    assert steps == sorted(steps) and steps[-1] == 6


def test_pool_needs_two_members(toy, tmp_path: Path) -> None:
    _, regs = toy
    with pytest.raises(ColorbenchError, match="at least two"):
        train(_ctx(regs, tmp_path, sets=[*SETS, "pool=toy_red"]))


def test_cli_train_then_run_records_member(cli, tmp_path: Path) -> None:
    cli.add_plugin("toy", ToyPlugin())
    cli.add_plugin("router", colorbench_router.plugin)
    out = tmp_path / "r"
    args = [a for s in [*SETS, "steps=4"] for a in ("--set", s)]
    cli("train", "router", "--dataset", "toyroute", "--config", "tiny", "--val-split", "", *args, "--out", out)
    assert (out / "evaluation.md").is_file() and (out / "labels" / "per_image.csv").is_file()
    res = cli("run", "--models", "router", "--checkpoint", f"router={out}", "--datasets", "toyroute",
              "--split", "test", "--metrics", "cpsnr", "--size", "32", "--out", tmp_path / "runs", "--name", "t")
    _, rows = results.read_rows(tmp_path / "runs" / "t" / "per_image.csv")
    assert rows and all(r["status"] == "ok" for r in rows), res.output
    assert {r["member"] for r in rows} <= {"toy_red", "toy_blue"} and all(r["member"] for r in rows)
