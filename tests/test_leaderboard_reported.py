"""Issue 19, points 2 and 4: chroma-free ground truths detected, counted and skippable;
figures reported in papers shown as marked rows, never ranked, bolded or tested; the
default ranking metric and breakdowns by low-cardinality text columns only."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import make_folder, write_image
from leaderboard_helpers import META, fake_run, ids, ramp

from colorbench.errors import ColorbenchError
from colorbench.reporting import reported
from colorbench.reporting.boards import sort_rows
from colorbench.reporting.leaderboard import load_boards, render, to_markdown

ENTRY = {"source": "Someone et al., Table 2", "dataset": "ds", "model": "m1", "label": "M1 (paper)",
         "metrics": {"cpsnr": 99.0}, "note": "256 crop"}


def _gray_folder(root: Path) -> Path:
    make_folder(root, 3)
    g = np.random.default_rng(0).integers(0, 256, (40, 48), dtype=np.uint8)
    write_image(root / "img_gray.png", np.stack([g, g, g], -1))
    return root


def test_gray_ground_truths_are_detected_recorded_and_skipped_on_request(cli, tmp_path: Path) -> None:
    """`gray` scores the grayscale photo exactly; the board must say it is there."""
    _gray_folder(tmp_path / "imgs")
    base = ["run", "--models", "gray", "--datasets", str(tmp_path / "imgs"), "--metrics", "cpsnr", "--size", "24",
            "--workers", "0", "--out", str(tmp_path / "runs"), "--quiet"]
    cli(*base, "--name", "keep")
    cli(*base, "--name", "skip", "--skip-gray-gt")
    keep = json.loads((tmp_path / "runs/keep/run.json").read_text())["pairs"]["imgs/gray"]
    skip = json.loads((tmp_path / "runs/skip/run.json").read_text())["pairs"]["imgs/gray"]
    assert keep["gray_gt"] == {"count": 1, "skipped": False, "ids": ["img_gray"]}
    assert skip["gray_gt"]["skipped"] is True and skip["protocol"]["skip_gray_gt"] is True
    rows = list(csv.DictReader(io.StringIO((tmp_path / "runs/skip/per_image.csv").read_text())))
    assert sorted(r["image_id"] for r in rows) == ["img000", "img001", "img002"]
    keep_board, skip_board = load_boards([tmp_path / "runs/keep", tmp_path / "runs/skip"])
    assert skip_board.heading == "gray ground truths skipped"
    assert "| gray | 4 | 1 |" in to_markdown(keep_board) and "1 skipped" in to_markdown(skip_board)


def test_suite_protocol_key_skip_gray_gt_is_validated(tmp_path: Path) -> None:
    from colorbench.evaluation import suites

    path = tmp_path / "s.yaml"
    path.write_text("datasets: [samples]\nmodels: [gray]\nprotocol: {skip_gray_gt: yes please}\n")
    with pytest.raises(ColorbenchError, match="skip_gray_gt: expected true or false"):
        suites.load(str(path))
    path.write_text("datasets: [samples]\nmodels: [gray]\nprotocol: {skip_gray_gt: true}\n")
    assert suites.run_settings(suites.load(str(path)))["dataset_settings"]["samples"]["skip_gray_gt"] is True


def test_shipped_real_photo_suites_skip_gray_ground_truths() -> None:
    from colorbench.evaluation import suites

    assert all(d.settings.get("skip_gray_gt") is True for d in suites.load("cpu-real").datasets)
    paper = {d.name: d.settings.get("skip_gray_gt", False) for d in suites.load("paper-ccc").datasets}
    assert not any(paper.values())  # CCC++ scores ImageNet val and the others as they are


def test_reported_rows_are_marked_never_ranked_bolded_or_tested(tmp_path: Path) -> None:
    run = fake_run(tmp_path / "r", "ds", {"m1": ramp(5, 30.0), "m2": ramp(5, 29.0)})
    (board,) = load_boards([run], reported=[reported.validate([ENTRY], "x")[0]])
    assert [r["model"] for r in sort_rows(board, None)] == ["m1", "m2"]  # 99.0 dB ranks nothing
    assert set(board.pvalues["cpsnr"]) == {"m2"}
    text = to_markdown(board)
    line = next(ln for ln in text.splitlines() if ln.startswith("| M1 (paper)"))
    assert "99.00" in line and "**" not in line and "Someone et al., Table 2 †" in line
    assert "**31.00 ± " in text and "reported in the paper" in text
    latex = render([board], "latex")
    assert r"M1 (paper)$^{\ast}$ & 99.00" in latex and r"\textbf{99" not in latex and "reported in the paper" in latex
    assert "M1 (paper) †" in render([board], "html") and "reported in the paper" in render([board], "html")
    rec = list(csv.DictReader(io.StringIO(render([board], "csv"))))[-1]
    assert (rec["model"], rec["reported"], rec["source"], rec["cpsnr"]) == ("M1 (paper)", "True", ENTRY["source"], "99.0")
    assert json.loads(render([board], "json"))["leaderboards"][0]["rows"][-1]["reported"] is True


def test_reported_file_on_the_command_line_and_bad_entries(cli, tmp_path: Path) -> None:
    run = fake_run(tmp_path / "r", "ds", {"m1": ramp(3, 30.0)})
    good = tmp_path / "paper.yaml"
    good.write_text(json.dumps({"reported": [ENTRY]}))
    assert "M1 (paper)" in cli("leaderboard", str(run), "--reported", str(good)).output
    bad = tmp_path / "bad.yaml"
    bad.write_text(json.dumps([{**ENTRY, "metrics": {"cpsnr": "high"}}]))
    out = cli("leaderboard", str(run), "--reported", str(bad), ok=False)
    assert out.exit_code != 0 and "reported[0]: metrics: 'cpsnr': expected a finite number" in out.output


def test_run_benchmark_writes_the_suites_reported_rows(cli, tmp_path: Path) -> None:
    make_folder(tmp_path / "imgs", 2)
    suite = tmp_path / "mine.yaml"
    suite.write_text(f"datasets: ['{tmp_path / 'imgs'}']\nmodels: [gray]\nmetrics: [cpsnr]\n"
                     "protocol: {size: 24}\nrun: {workers: 0}\n"
                     "reported:\n  - {source: 'Paper, Table 1', dataset: imgs, model: gray, metrics: {cpsnr: 23.5}}\n")
    cli("run", "--benchmark", str(suite), "--out", str(tmp_path / "runs"), "--quiet")
    run = tmp_path / "runs" / "mine"
    assert reported.of_run(run)[0]["label"] == "gray (reported)"
    assert "| gray (reported) | 23.50 |" in (run / "leaderboard" / "imgs.md").read_text()


def test_default_sort_is_cpsnr_and_numeric_extra_columns_are_not_grouped(tmp_path: Path) -> None:
    metrics = {"mse": META["mse"], "cpsnr": META["cpsnr"]}
    a = {i: {"mse": 0.001, "cpsnr": 20.0} for i in ids(4)}  # best mse, worst cpsnr
    b = {i: {"mse": 0.01, "cpsnr": 30.0} for i in ids(4)}
    run = fake_run(tmp_path / "r", "ds", {"a": a, "b": b}, metrics=metrics,
                   extra={"a": {i: f"{0.1 * k:.3f}" for k, i in enumerate(ids(4))},
                          "b": {i: "even" if k % 2 == 0 else "odd" for k, i in enumerate(ids(4))}})
    (board,) = load_boards([run])
    assert [r["model"] for r in sort_rows(board, None)] == ["b", "a"]
    text = to_markdown(board)
    assert "### b: member per image" in text and "### a: member per image" not in text


def test_reported_rows_of_a_dataset_without_measured_rows_get_their_own_table(tmp_path: Path) -> None:
    run = fake_run(tmp_path / "r", "ds", {"m1": ramp(3, 30.0)})
    other = {**ENTRY, "dataset": "coco", "metrics": {"cpsnr": 24.5, "fid": 12.0}}
    boards = load_boards([run], reported=reported.validate([other], "x"))
    (coco,) = [b for b in boards if b.dataset == "coco"]
    line = next(ln for ln in to_markdown(coco).splitlines() if ln.startswith("| M1 (paper)"))
    assert "24.50" in line and "12.00" in line and coco.metrics["cpsnr"]["display_name"] == "CPSNR"
