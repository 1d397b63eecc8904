"""One pass over a dataset for every model of a run: each image decoded once for all models,
and every pair's rows, failures and run.json record exactly those of the pair run alone."""

from __future__ import annotations

import functools
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import torch
from sharded_helpers import Plugin as ToyPlugin
from sharded_helpers import make_folder
from test_resume import comparable

from colorbench import ColorizerSpec, hookimpl
from colorbench.evaluation import loader
from colorbench.evaluation.runner import RunConfig, Runner
from colorbench.plugin import manager
from colorbench.reporting import Reporter

SET_METRICS = ["cpsnr", "delta_colorfulness", "cnr_union", "toy-fid", "toy-kid"]


class Noisy:
    """a*b* drawn from torch's global generator: its rows depend on the stream it gets."""

    def colorize(self, L: torch.Tensor) -> torch.Tensor:
        return torch.randn(L.shape[0], 2, *L.shape[2:]) * 30.0


class Flaky:
    """Fails every batch that holds ``img03``; a tint otherwise."""

    def colorize(self, L: torch.Tensor) -> torch.Tensor:
        return torch.cat([(L - 50.0) * 0.5, torch.full_like(L, 12.0)], 1)

    def colorize_with_info(self, L: torch.Tensor, ids: list[str]) -> tuple[torch.Tensor, dict[str, Any]]:
        if "img03" in ids:
            raise RuntimeError("flaky on img03")
        return self.colorize(L), {}


class Batchy:
    """a*b* that depend on the batch (its mean L*): its rows depend on how it is batched."""

    def colorize(self, L: torch.Tensor) -> torch.Tensor:
        return (L - L.mean()).repeat(1, 2, 1, 1)


def _broken(**_: Any) -> Any:
    raise RuntimeError("cannot build")


class Models:
    @hookimpl
    def register_colorizers(self, register: Any) -> None:
        register(ColorizerSpec(name="noisy", factory=lambda **kw: Noisy(), description="random a*b*"))
        register(ColorizerSpec(name="noisy2", factory=lambda **kw: Noisy(), description="random a*b* too"))
        register(ColorizerSpec(name="batchy", factory=lambda **kw: Batchy(), description="batch-dependent"))
        register(ColorizerSpec(name="flaky", factory=lambda **kw: Flaky(), description="fails on img03",
                               provides_info=True))
        register(ColorizerSpec(name="broken", factory=_broken, description="fails to build"))


@pytest.fixture(autouse=True)
def _one_thread() -> Any:
    """One torch thread: these tiny images gain nothing from a second one on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Every ``Dataset.load`` of the run's loaders, counted by image id."""
    counted: Counter[str] = Counter()
    real = loader.ProtocolDataset.__init__

    def init(self: Any, dataset: Any, *args: Any, **kw: Any) -> None:
        load = dataset.load

        def counting(index: int) -> Any:
            counted[str(dataset.ids[index])] += 1
            return load(index)

        dataset.load = counting
        real(self, dataset, *args, **kw)

    monkeypatch.setattr(loader.ProtocolDataset, "__init__", init)
    return counted


@functools.cache
def _regs() -> Any:
    return manager.load(extra_plugins=[("toy", ToyPlugin()), ("models", Models())])


def _run(folder: Path, out: Path, name: str, models: list[str], metrics: list[str], **kw: Any) -> Any:
    regs = _regs()
    cfg = RunConfig(models=models, datasets=[str(folder)], metrics=metrics, size=32, batch_size=4, workers=0,
                    out=str(out), name=name, device="cpu", **kw)
    return Runner(cfg, regs, Reporter(quiet=True)).run()


def _pairs(run_dir: Path) -> dict[str, dict[str, Any]]:
    """run.json's pair records without what depends on timing or on the run's directory."""
    pairs = json.loads((run_dir / "run.json").read_text())["pairs"]
    for record in pairs.values():
        record.pop("images_per_s")
        for key, info in record.items():
            if key in ("toy-fid_info", "toy-kid_info"):  # where the reference came from: computed, or the cache
                assert info.pop("reference")["source"] in ("computed", "cached")
    return pairs


def test_one_decode_per_image_for_all_models_and_pairs_as_if_alone(tmp_path: Path, loads: Counter[str]) -> None:
    folder = make_folder(tmp_path / "imgs", n=5)
    models = ["gray", "noisy", "toy", "noisy2"]  # each noisy model draws from its own stream
    together = _run(folder, tmp_path / "runs", "together", models, SET_METRICS)
    assert together.errors == []
    assert loads == {f"img{k:02d}": 1 for k in range(5)}  # once per image, not once per model
    rows = comparable(together.run_dir / "per_image.csv")
    pairs = _pairs(together.run_dir)
    assert set(pairs) == {f"imgs/{m}" for m in models}
    assert [k[1] for k in rows] == [m for m in models for _ in range(5)]  # per_image.csv in pair order
    for model in models:
        alone = _run(folder, tmp_path / "runs", f"alone-{model}", [model], SET_METRICS)
        assert {k: r for k, r in rows.items() if k[1] == model} == comparable(alone.run_dir / "per_image.csv")
        assert pairs[f"imgs/{model}"] == _pairs(alone.run_dir)[f"imgs/{model}"]
    fid = {m: pairs[f"imgs/{m}"]["toy-fid"] for m in models}  # each pair its own accumulator state
    assert all(isinstance(pairs[f"imgs/{m}"][k], float) for m in models for k in ("cnr_union", "toy-kid"))
    assert len(set(fid.values())) == 3 and min(fid.values()) > 0
    assert fid["noisy"] == fid["noisy2"]  # the same stream each, as when alone (not one shared stream)


def test_failing_and_complete_models_keep_their_own_outcome(tmp_path: Path, loads: Counter[str]) -> None:
    folder = make_folder(tmp_path / "imgs", n=6)
    out, metrics = tmp_path / "runs", ["mse", "cpsnr", "colorfulness"]
    assert _run(folder, out, "r", ["gray"], metrics).errors == []
    loads.clear()
    mixed = _run(folder, out, "r", ["gray", "toy", "broken", "flaky"], metrics)
    assert loads == {f"img{k:02d}": 1 for k in range(6)}  # gray is complete: toy and flaky share one decode
    assert [e.split(":")[0] for e in mixed.errors] == ["imgs/broken"]
    assert "could not be built" in mixed.errors[0]
    rows = comparable(mixed.run_dir / "per_image.csv")
    assert {k[1] for k in rows} == {"gray", "toy", "flaky"}
    flaky = {k[2]: r["status"] for k, r in rows.items() if k[1] == "flaky"}
    assert flaky == {f"img{k:02d}": "failed" if k == 3 else "ok" for k in range(6)}
    for model in ("gray", "toy", "flaky"):
        alone = _run(folder, out, f"alone-{model}", [model], metrics)
        assert {k: r for k, r in rows.items() if k[1] == model} == comparable(alone.run_dir / "per_image.csv")
    loads.clear()
    again = _run(folder, out, "r", ["gray", "toy", "broken", "flaky"], metrics)
    assert loads == {}  # every pair that can run has every image: nothing is decoded
    assert comparable(again.run_dir / "per_image.csv") == rows


def test_images_decoded_once_for_the_union_of_the_plans(tmp_path: Path, loads: Counter[str]) -> None:
    """batchy has four images, toy one: images 1-5 are decoded once, image 0 not at all, and
    each pair gets the batches it would get alone (batchy [4, 5], not [4] and [5])."""
    folder = make_folder(tmp_path / "imgs", n=6)
    metrics = ["mse", "cpsnr"]

    def resumed(name: str, steps: list[tuple[list[str], int]]) -> Any:
        for models, limit in steps:
            loads.clear()
            result = _run(folder, tmp_path / "runs", name, models, metrics, limit=limit)
        return result

    both = resumed("both", [(["batchy"], 4), (["batchy", "toy"], 1), (["batchy", "toy"], 6)])
    assert loads == {f"img{k:02d}": 1 for k in range(1, 6)}
    rows = comparable(both.run_dir / "per_image.csv")
    batchy = comparable(resumed("batchy", [(["batchy"], 4), (["batchy"], 6)]).run_dir / "per_image.csv")
    toy = comparable(resumed("toy", [(["toy"], 1), (["toy"], 6)]).run_dir / "per_image.csv")
    assert rows == {**batchy, **toy}


def test_ground_truth_side_computed_once_for_batches_that_share_it() -> None:
    from colorbench.evaluation.batch import GroundTruths, MetricBatch

    made: list[str] = []
    gen = torch.Generator().manual_seed(0)
    gt = torch.randint(0, 256, (2, 3, 8, 8), generator=gen, dtype=torch.uint8)
    shared = GroundTruths()
    stacked, side = shared.get(["a", "b"], lambda: made.append("stack") or gt)
    assert shared.get(["a", "b"], lambda: made.append("again") or gt) == (stacked, side)
    batches = [MetricBatch(pred=gt.flip(k), gt=stacked, ids=["a", "b"], gt_side=side) for k in (0, 2)]
    for b in batches:
        assert torch.equal(b.cached("gt_thing", lambda b=b: made.append("gt") or b.gt.sum()), gt.sum())
        b.cached("pred_thing", lambda b=b: made.append("pred") or b.pred.sum())
    assert made == ["stack", "gt", "pred", "pred"]  # the gt side once, each prediction's own
    assert torch.equal(batches[1].gt_lab32, batches[0].gt_lab32) and "gt_lab32" in side
    assert batches[0].pred_lab32 is not batches[1].pred_lab32
    other, other_side = shared.get(["b", "a"], lambda: gt.flip(0))
    assert other_side == {} and torch.equal(other, gt.flip(0))  # other images: their own cache
    shared.clear()
    assert shared.get(["a", "b"], lambda: gt[:1])[0].shape[0] == 1
