"""Metrics through `colorbench score`/`run`: offline weights, --class-set, union metrics, |ΔCF|."""

from __future__ import annotations

import csv
import json
import re

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from colorbench.cli import app


@pytest.fixture
def folders(tmp_path):
    rng = np.random.default_rng(0)
    pred, gt = tmp_path / "pred", tmp_path / "gt"
    pred.mkdir()
    gt.mkdir()
    for k in range(3):
        g = rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)
        Image.fromarray(g).save(gt / f"im{k}.png")
        Image.fromarray((g * 0.6).astype(np.uint8)).save(pred / f"im{k}.png")  # duller
    return pred, gt


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _invoke(args, monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("COLORBENCH_OFFLINE", "1")
    return CliRunner().invoke(app, args, catch_exceptions=False)


def test_offline_lpips_is_reported_and_cpsnr_still_written(folders, tmp_path, monkeypatch) -> None:
    pred, gt = folders
    out = tmp_path / "out"
    res = _invoke(["score", "--pred", str(pred), "--gt", str(gt), "--metrics", "cpsnr,lpips", "--out", str(out)],
                  monkeypatch, tmp_path)
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "lpips unavailable" in text and "alexnet-owt-7be5be79.pth" in text
    assert "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth" in text
    rows = _rows(out / "per_image.csv")
    assert len(rows) == 3 and all(float(r["cpsnr"]) > 0 for r in rows) and "lpips" not in rows[0]
    assert "alexnet" in json.loads((out / "run.json").read_text())["unavailable_metrics"][0]
    strict = _invoke(["score", "--pred", str(pred), "--gt", str(gt), "--metrics", "cpsnr,lpips",
                      "--out", str(out), "--strict"], monkeypatch, tmp_path)
    assert strict.exit_code != 0


def test_class_set_option_union_metrics_and_abs_leaderboard(folders, tmp_path, monkeypatch) -> None:
    pred, gt = folders
    (tmp_path / "set.txt").write_text("\n".join(str(c) for c in range(0, 1296, 3)))
    out = tmp_path / "out"
    metrics = "ccar,cnr,delta_colorfulness,ccar_union,cnr_union"
    res = _invoke(["score", "--pred", str(pred), "--gt", str(gt), "--metrics", metrics, "--out", str(out),
                   "--class-set", str(tmp_path / "set.txt"), "--metric-set", "cnr_union.delta=36"],
                  monkeypatch, tmp_path)
    assert res.exit_code == 0, res.output
    rows = _rows(out / "per_image.csv")
    assert all(float(r["ccar"]) * 432 / 100 == pytest.approx(round(float(r["ccar"]) * 432 / 100)) for r in rows)
    summary = _rows(out / "summary.csv")[0]
    run = json.loads((out / "run.json").read_text())
    pair = run["pairs"]["score/pred"]
    assert float(summary["ccar_union"]) == pytest.approx(pair["ccar_union"])
    assert pair["ccar_union_info"]["n_class"] == 432 and pair["ccar_union_info"]["images"] == 3
    assert pair["ccar_union"] >= max(float(r["ccar"]) for r in rows)  # a union has at least each image's classes
    assert run["metric_options"]["ccar"]["class_set"].endswith("set.txt")
    mean = float(summary["delta_colorfulness"])
    assert mean < 0  # the predictions are duller
    board = _invoke(["leaderboard", str(out), "--out", str(tmp_path / "lb")], monkeypatch, tmp_path)
    assert board.exit_code == 0, board.output
    md = next((tmp_path / "lb").glob("*.md")).read_text()
    assert "\\|ΔCF\\|" in md and f"{abs(mean):.2f}" in md and f"{mean:.2f}" not in md
    # every table line has the same number of cells: the bars of |ΔCF| are escaped
    table = next(b for b in md.split("\n\n") if b.startswith("| model")).splitlines()  # the main table
    cells = {len(re.split(r"(?<!\\)\|", line)) for line in table}
    assert len(table) == 3 and len(cells) == 1, table


def test_unknown_metric_option_is_one_clear_error(folders, tmp_path, monkeypatch) -> None:
    pred, gt = folders
    res = _invoke(["score", "--pred", str(pred), "--gt", str(gt), "--metrics", "cpsnr",
                   "--out", str(tmp_path / "o"), "--class-set", str(tmp_path / "x.txt")], monkeypatch, tmp_path)
    assert res.exit_code != 0 and "class_set" in res.output


def test_run_and_score_give_identical_numbers(tmp_path, monkeypatch) -> None:
    from colorbench.evaluation.runner import RunConfig, Runner
    from colorbench.evaluation.scoring import score_dirs
    from colorbench.evaluation.selection import resolve_metrics
    from colorbench.plugin.manager import load
    from colorbench.reporting import Reporter

    monkeypatch.setenv("COLORBENCH_OFFLINE", "1")
    metrics = ["mse", "ssim", "uiqi", "colorfulness", "deltae2000", "cnr", "tar", "cnr_union"]
    regs = load()
    cfg = RunConfig(models=["gray"], datasets=["samples"], metrics=metrics, limit=3, size=48, workers=0,
                    out=str(tmp_path), name="r", save_images=True)
    result = Runner(cfg, regs, Reporter(quiet=True)).run()
    assert not result.errors
    run_rows = {r["image_id"]: r for r in _rows(tmp_path / "r" / "per_image.csv")}
    specs, _ = resolve_metrics(regs, metrics)
    out = tmp_path / "s"
    base = tmp_path / "r" / "outputs" / "samples"
    score_dirs(base / "gray", base / "_ground_truth", specs, out, reporter=Reporter(quiet=True))
    score_rows = _rows(out / "per_image.csv")
    assert len(score_rows) == len(run_rows) == 3
    for r in score_rows:
        for m in metrics[:-1]:
            assert float(r[m]) == float(run_rows[r["image_id"]][m]), m
    run_pair = json.loads((tmp_path / "r" / "run.json").read_text())["pairs"]["samples/gray"]
    score_pair = json.loads((out / "run.json").read_text())["pairs"]["score/gray"]
    assert run_pair["cnr_union"] == score_pair["cnr_union"] > 0
