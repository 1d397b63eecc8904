"""``score`` on the CPU computes the worker-safe per-image metrics in the DataLoader workers:
the same rows, bit for bit, as the main-process path, failures per cell included."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import colorbench_metrics_classes.plugin as classes_plugin
import colorbench_metrics_color.plugin as color_plugin
import colorbench_metrics_learned.plugin as learned_plugin
import pytest
import torch
from conftest import load_regs, write_image

from colorbench import MetricSpec, hookimpl
from colorbench.evaluation.metricset import MetricSet
from colorbench.evaluation.scoring import score_dirs
from colorbench.evaluation.selection import resolve_metrics
from colorbench.evaluation.worker_metrics import WorkerMetrics
from colorbench.reporting import Reporter
from colorbench.results import read_rows

SUITE = ["mse", "cpsnr", "ssim", "uiqi", "colorfulness", "delta_colorfulness", "deltae2000", "cnr", "ccar", "tar"]
OURS = ["pid", "picky_w", "nan_w", "broken_w", "picky_main"]
PLUGINS = [("classes", classes_plugin), ("color", color_plugin), ("learned", learned_plugin)]


def _pid(batch):
    return torch.full((len(batch),), float(os.getpid()), dtype=torch.float64)


def _raises_on_i1(batch):
    if "i1" in batch.ids:
        raise ValueError("bad image i1")
    return batch.pred.sum(dim=(1, 2, 3), dtype=torch.int64).double()


def _nan_on_i2(batch):
    out = batch.gt.sum(dim=(1, 2, 3), dtype=torch.int64).double()  # exact: the same whatever the batch
    out[[k for k, i in enumerate(batch.ids) if i == "i2"]] = float("nan")
    return out


def _no_factory(**kw):
    raise RuntimeError("cannot build broken_w")


class Plugin:
    def __init__(self, builds: Path | None = None):
        self.builds = builds  # one line per build of the ``pid`` metric: the building process

    def _pid_factory(self, **kw):
        if self.builds is not None:
            with open(self.builds, "a") as log:
                log.write(f"{os.getpid()}\n")
        return _pid

    @hookimpl
    def register_metrics(self, register):
        register(MetricSpec(name="pid", factory=self._pid_factory, worker_safe=True, description="scoring process"))
        register(MetricSpec(name="picky_w", fn=_raises_on_i1, worker_safe=True, description="raises on i1"))
        register(MetricSpec(name="nan_w", fn=_nan_on_i2, worker_safe=True, description="NaN on i2"))
        register(MetricSpec(name="broken_w", factory=_no_factory, worker_safe=True, description="no build"))
        register(MetricSpec(name="picky_main", fn=_raises_on_i1, description="raises on i1, main process"))


@pytest.fixture
def pairs(tmp_path: Path) -> tuple[Path, Path]:
    for k in range(5):
        write_image(tmp_path / "gt" / f"i{k}.png", size=(40, 32), seed=k)
        write_image(tmp_path / "pred" / f"i{k}.png", size=(40, 32), seed=k + 10)
    return tmp_path / "pred", tmp_path / "gt"


def _score(pairs: tuple[Path, Path], out: Path, workers: int) -> dict[str, dict[str, str]]:
    specs, _ = resolve_metrics(load_regs([*PLUGINS, ("w", Plugin(out.parent / f"{out.name}.builds"))]), SUITE + OURS)
    score_dirs(*pairs, specs, out, batch_size=3, workers=workers, reporter=Reporter(quiet=True),
               metric_options={"cnr": {"delta": 30}})
    return {r["image_id"]: r for r in read_rows(out / "per_image.csv")[1]}


def test_worker_metrics_equal_the_main_process_path_bit_for_bit(pairs, tmp_path: Path) -> None:
    main = _score(pairs, tmp_path / "main", workers=0)
    workers = _score(pairs, tmp_path / "workers", workers=2)
    assert {r["pid"] for r in main.values()} == {f"{float(os.getpid())!r}"}  # computed here
    worker_pids = {float(r["pid"]) for r in workers.values()}
    assert os.getpid() not in worker_pids and 1 <= len(worker_pids) <= 2  # computed in the workers
    builds = [float(p) for p in (tmp_path / "workers.builds").read_text().split()]
    assert len(builds) == len(set(builds)) == 2 and worker_pids <= set(builds)  # once per worker
    assert (tmp_path / "main.builds").read_text().split() == [str(os.getpid())]
    for rows in (main, workers):
        for r in rows.values():
            r.pop("pid")
    assert workers == main  # every value, status, error and failed_metrics the same
    i1, i2, i0 = main["i1"], main["i2"], main["i0"]
    assert i1["status"] == "partial" and i1["failed_metrics"] == "picky_w,broken_w,picky_main"
    assert i1["error"] == ("metric picky_w: bad image i1; metric broken_w: cannot build broken_w; "
                           "metric picky_main: bad image i1")
    assert i2["failed_metrics"] == "nan_w,broken_w" and "metric nan_w: returned NaN" in i2["error"]
    assert i0["failed_metrics"] == "broken_w" and i0["picky_w"] != "" and i0["nan_w"] != ""
    assert all(r[m] != "" for r in main.values() for m in SUITE)
    log = (tmp_path / "workers" / "errors.log").read_text()
    assert "ValueError: bad image i1" in log and "RuntimeError: cannot build broken_w" in log
    means = [next(csv.DictReader((tmp_path / d / "summary.csv").read_text().splitlines())) for d in ("main", "workers")]
    assert [{m: s[m] for m in SUITE} for s in means] == [{m: s[m] for m in SUITE} for s in means[::-1]]


def test_only_declared_metrics_on_the_cpu_with_workers_run_in_the_workers() -> None:
    specs, _ = resolve_metrics(load_regs([*PLUGINS, ("w", Plugin())]), ["cpsnr", "picky_main", "lpips", "pid"])
    mset = MetricSet(specs, "cpu", {})
    found = WorkerMetrics.for_loader(mset, torch.device("cpu"), 2)
    assert found is not None and found.ids == ["cpsnr", "pid"]  # third parties opt in; lpips has weights
    assert WorkerMetrics.for_loader(mset, torch.device("cuda"), 2) is None  # the GPU scores whole batches
    assert WorkerMetrics.for_loader(mset, torch.device("cpu"), 0) is None
    only_main = MetricSet([s for s in specs if s.name == "picky_main"], "cpu", {})
    assert WorkerMetrics.for_loader(only_main, torch.device("cpu"), 2) is None


def test_worker_safe_is_for_per_image_metrics_only() -> None:
    with pytest.raises(TypeError, match="only per-image metrics can be worker_safe"):
        MetricSpec(name="x", factory=lambda **kw: None, kind="distribution", worker_safe=True)
