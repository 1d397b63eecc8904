"""Failures are per metric cell and visible: a raising / wrong-shape / NaN metric beside cpsnr,
a distribution metric whose factory, update or compute raises, errors.log, exit statuses."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import colorbench_metrics_classes.plugin as classes_plugin
import pytest
import torch
from conftest import load_regs, make_folder

from colorbench import ColorizerSpec, MetricSpec, hookimpl
from colorbench.evaluation.runner import RunConfig, Runner
from colorbench.reporting import Reporter
from colorbench.results import read_rows


def _raises(batch):
    raise RuntimeError("kaput")


def _short(batch):
    return torch.zeros(len(batch) + 1)


def _nan_on_first(batch):
    out = batch.pred.double().mean(dim=(1, 2, 3))
    if batch.ids and batch.ids[0] == "img000":
        out[0] = float("nan")
    return out


def _raises_on_img001(batch):
    if "img001" in batch.ids:
        raise ValueError("bad image img001")
    return torch.ones(len(batch))


def _broken_factory(**kw):
    raise RuntimeError("no network for this set metric")


class _BadUpdate:
    def update(self, batch):
        raise RuntimeError("update exploded")

    def compute(self):
        return 1.0


class _LegacyCount:
    """A third-party accumulator of the old protocol: update and compute only."""

    def __init__(self):
        self.n = 0

    def update(self, batch):
        self.n += len(batch)

    def compute(self):
        return float(self.n)


class Plugin:
    @hookimpl
    def register_metrics(self, register):
        register(MetricSpec(name="count", factory=lambda **kw: _LegacyCount(), kind="distribution",
                            description="images seen"))
        register(MetricSpec(name="raises", fn=_raises, description="always raises"))
        register(MetricSpec(name="short", fn=_short, description="one value too many"))
        register(MetricSpec(name="nanny", fn=_nan_on_first, description="NaN on img000"))
        register(MetricSpec(name="picky", fn=_raises_on_img001, description="raises on img001"))
        register(MetricSpec(name="setbroken", factory=_broken_factory, kind="distribution", description="x"))
        register(MetricSpec(name="setupdate", factory=lambda **kw: _BadUpdate(), kind="distribution",
                            description="x"))

    @hookimpl
    def register_colorizers(self, register):
        register(ColorizerSpec(name="boom", factory=lambda **kw: Boom(), description="fails every image"))


class Boom:
    def colorize(self, L):
        raise RuntimeError("the model exploded")


def _run(tmp_path: Path, metrics: list[str], models: list[str] = ("gray",), **kw):
    if not (tmp_path / "imgs").is_dir():  # rewritten files would be changed images to resume
        make_folder(tmp_path / "imgs", 3, size=(24, 20))
    cfg = RunConfig(models=list(models), datasets=[str(tmp_path / "imgs")], metrics=metrics, size=16,
                    batch_size=3, workers=0, out=str(tmp_path / "runs"), name="r", **kw)
    return Runner(cfg, load_regs([("bad", Plugin()), ("classes", classes_plugin)]), Reporter(quiet=True)).run()


def _summary(run_dir: Path) -> dict[str, str]:
    with open(run_dir / "summary.csv", newline="") as f:
        return next(csv.DictReader(f))


@pytest.mark.parametrize("bad,reason", [("raises", "kaput"), ("short", "returned shape (4,)")])
def test_a_failing_metric_beside_cpsnr_fails_only_its_cells(tmp_path: Path, bad: str, reason: str) -> None:
    result = _run(tmp_path, ["cpsnr", bad])
    _, rows = read_rows(result.run_dir / "per_image.csv")
    assert len(rows) == 3
    for r in rows:
        assert r["status"] == "partial" and r["failed_metrics"] == bad and r[bad] == ""
        assert r["error"].startswith(f"metric {bad}: ") and reason in r["error"]
        assert math.isfinite(float(r["cpsnr"]))
    s = _summary(result.run_dir)
    assert (s["n"], s["n_failed"], s["cpsnr_n"], s[f"{bad}_n"]) == ("3", "0", "3", "0")
    assert float(s["cpsnr"]) == pytest.approx(sum(float(r["cpsnr"]) for r in rows) / 3)
    # recorded and shown, not an error of the run (--fail-on-error makes it one)
    assert result.errors == [] and result.failed_images == 0 and result.failed_cells == 3
    log = (result.run_dir / "errors.log").read_text()
    assert log.count(f"metric {bad} failed") == 3 and (bad != "raises" or "Traceback" in log)


def test_a_nan_is_a_failed_cell_reported_not_a_silent_gap(tmp_path: Path) -> None:
    result = _run(tmp_path, ["cpsnr", "nanny"])
    rows = {r["image_id"]: r for r in read_rows(result.run_dir / "per_image.csv")[1]}
    assert rows["img000"]["status"] == "partial" and rows["img000"]["failed_metrics"] == "nanny"
    assert rows["img000"]["error"] == "metric nanny: returned NaN" and rows["img000"]["nanny"] == ""
    assert all(rows[i]["status"] == "ok" and rows[i]["nanny"] != "" for i in ("img001", "img002"))
    s = _summary(result.run_dir)
    assert (s["nanny_n"], s["cpsnr_n"], s["n"]) == ("2", "3", "3")
    assert float(s["nanny"]) == pytest.approx((float(rows["img001"]["nanny"]) + float(rows["img002"]["nanny"])) / 2)
    assert "returned NaN" in (result.run_dir / "errors.log").read_text()
    from colorbench.reporting.boards import load_boards

    (board,) = load_boards([result.run_dir])  # partial rows keep their other values
    assert set(board.rows[0]["_values"]["cpsnr"]) == {"img000", "img001", "img002"}
    assert set(board.rows[0]["_values"]["nanny"]) == {"img001", "img002"}


def test_images_reprocessed_for_a_set_metric_are_not_logged_twice(tmp_path: Path) -> None:
    _run(tmp_path, ["nanny", "cnr_union"], limit=2)
    result = _run(tmp_path, ["nanny", "cnr_union"])  # one more image: the set is fed all three again
    assert result.summary[0]["cnr_union"] is not None and result.summary[0]["nanny_n"] == 2
    assert (result.run_dir / "errors.log").read_text().count("returned NaN") == 1


def test_a_metric_raising_on_one_image_of_a_batch_fails_that_cell_only(tmp_path: Path) -> None:
    result = _run(tmp_path, ["picky"])
    rows = {r["image_id"]: r for r in read_rows(result.run_dir / "per_image.csv")[1]}
    assert rows["img001"]["status"] == "partial" and "bad image img001" in rows["img001"]["error"]
    assert rows["img000"]["picky"] == rows["img002"]["picky"] == "1.0"
    assert rows["img000"]["status"] == rows["img002"]["status"] == "ok"


def test_failing_distribution_metrics_fail_only_themselves(tmp_path: Path) -> None:
    result = _run(tmp_path, ["cpsnr", "setbroken", "setupdate"], models=["gray", "gray"])
    _, rows = read_rows(result.run_dir / "per_image.csv")
    assert all(r["status"] == "ok" for r in rows) and len(rows) == 3
    assert [e.split(": metric ")[1].split(" ")[0] for e in result.errors] == ["setbroken", "setupdate"]
    assert "no network for this set metric" in result.errors[0] and "update exploded" in result.errors[1]
    s = _summary(result.run_dir)
    assert s["setbroken"] == s["setupdate"] == "" and s["cpsnr_n"] == "3"


def test_a_model_failing_every_image_writes_errors_log_and_exits_1(cli, tmp_path: Path) -> None:
    make_folder(tmp_path / "imgs", 3, size=(24, 20))
    cli.add_plugin("bad", Plugin())
    result = cli("run", "--models", "boom,gray", "--datasets", str(tmp_path / "imgs"), "--metrics", "cpsnr",
                 "--size", "16", "--workers", "0", "--out", str(tmp_path / "runs"), "--name", "r", ok=False)
    assert result.exit_code == 1, result.output
    text = " ".join(result.output.split())
    assert "imgs/boom: 3 of 3 image(s) failed (first: the model exploded)" in text
    assert "imgs/boom: failed on every image (3)" in text
    log = (tmp_path / "runs" / "r" / "errors.log").read_text()
    assert log.count("Traceback (most recent call last)") == 3 and "RuntimeError: the model exploded" in log
    assert "in colorize" in log  # the traceback reaches into the plugin's code


def test_fail_on_error_turns_any_failed_cell_into_exit_1(cli, tmp_path: Path) -> None:
    make_folder(tmp_path / "imgs", 3, size=(24, 20))
    cli.add_plugin("bad", Plugin())
    def args(metrics: str, name: str) -> list[str]:
        return ["run", "--models", "gray", "--datasets", str(tmp_path / "imgs"), "--metrics", metrics,
                "--size", "16", "--workers", "0", "--out", str(tmp_path / "runs"), "--name", name]

    assert cli(*args("cpsnr,nanny", "a")).exit_code == 0  # one NaN cell: recorded, not fatal
    result = cli(*args("cpsnr,nanny", "b"), "--fail-on-error", ok=False)
    assert result.exit_code == 1 and "0 image(s) and 1 metric cell(s) failed" in " ".join(result.output.split())
    assert cli(*args("cpsnr", "c"), "--fail-on-error").exit_code == 0


def test_an_accumulator_without_reset_is_built_anew_for_every_pair(tmp_path: Path) -> None:
    make_folder(tmp_path / "big", 3, size=(24, 20))
    make_folder(tmp_path / "small", 2, size=(24, 20))
    cfg = RunConfig(models=["gray"], datasets=[str(tmp_path / "big"), str(tmp_path / "small")],
                    metrics=["cpsnr", "count"], size=16, batch_size=2, workers=0, out=str(tmp_path), name="r")
    result = Runner(cfg, load_regs([("bad", Plugin())]), Reporter(quiet=True)).run()
    assert [(s["dataset"], s["count"]) for s in result.summary] == [("big", 3.0), ("small", 2.0)]


def test_score_goes_through_the_same_scorer_and_exit_statuses(cli, tmp_path: Path) -> None:
    from conftest import write_image

    cli.add_plugin("bad", Plugin())
    for k in range(2):
        write_image(tmp_path / "gt" / f"i{k}.png", size=(16, 16), seed=k)
        write_image(tmp_path / "pred" / f"i{k}.png", size=(16, 16), seed=k + 5)
    base = ["score", "--pred", str(tmp_path / "pred"), "--gt", str(tmp_path / "gt"), "--workers", "0"]
    assert cli(*base, "--metrics", "cpsnr,nanny", "--out", str(tmp_path / "a")).exit_code == 0
    rows = {r["image_id"]: r for r in read_rows(tmp_path / "a" / "per_image.csv")[1]}
    assert rows["i0"]["status"] == rows["i1"]["status"] == "ok"  # nanny's NaN is for img000 only
    result = cli(*base, "--metrics", "cpsnr,raises", "--out", str(tmp_path / "b"), "--fail-on-error", ok=False)
    assert result.exit_code == 1 and "and 2 metric cell(s)" in " ".join(result.output.split())
    assert "RuntimeError: kaput" in (tmp_path / "b" / "errors.log").read_text()
    write_image(tmp_path / "pred" / "i0.png", size=(8, 8), seed=1)
    write_image(tmp_path / "pred" / "i1.png", size=(8, 8), seed=2)
    result = cli(*base, "--metrics", "cpsnr", "--out", str(tmp_path / "c"), ok=False)
    assert result.exit_code == 1 and "2 of 2 image(s) failed" in " ".join(result.output.split())
