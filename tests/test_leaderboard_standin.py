"""Rows of models a benchmark ran without their paper-scale checkpoint (run.json's
``config.benchmark.stand_in_weights``) are marked ‡ with a note in every format and carry
``stand_in`` in CSV and JSON; they stay measured rows, ranked and tested like the others."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from conftest import make_folder
from leaderboard_helpers import fake_run, ramp

from colorbench.reporting import reported, table
from colorbench.reporting.boards import sort_rows
from colorbench.reporting.leaderboard import load_boards, render, to_index, to_markdown

NOTE = "shipped CPU weights standing in for paper-scale ones"
PAPER = {"source": "Someone et al., Table 2", "dataset": "ds", "model": "ccc", "metrics": {"cpsnr": 40.0}}


def _board(tmp_path: Path, stand_ins: list[str] | None):
    run = fake_run(tmp_path / "r", "ds", {"ccc": ramp(5, 30.0), "gray": ramp(5, 29.9)}, stand_ins=stand_ins)
    (board,) = load_boards([run], reported=reported.validate([PAPER], "x"))
    return board


def _line(text: str, start: str) -> str:
    return next(ln for ln in text.splitlines() if ln.startswith(start))


def test_stand_in_rows_are_marked_in_markdown_latex_and_html_and_still_ranked_and_tested(tmp_path: Path) -> None:
    board = _board(tmp_path, ["ccc"])
    assert [r["model"] for r in sort_rows(board, None)] == ["ccc", "gray"]  # ranked as measured
    assert set(board.pvalues["cpsnr"]) == {"gray"}  # the best row: tested against
    text = to_markdown(board)
    assert _line(text, "| ccc ‡ |").startswith("| ccc ‡ | **31.00 ± ")  # bolded as the best
    assert _line(text, "| gray").startswith("| gray | ")
    assert _line(text, "| ccc (reported)").startswith("| ccc (reported) | 40.00")  # a reported row: no ‡
    assert text.count("‡") == 2 and "‡ " + NOTE in text
    latex = render([board], "latex")
    assert r"ccc$^{\ddagger}$ & \textbf{31.00" in latex and "\ngray & " in latex
    assert latex.count(r"$^{\ddagger}$") == 2 and r"$^{\ddagger}$" + NOTE in latex
    assert all(ord(ch) < 128 for ch in latex)  # ASCII-safe for pdflatex
    html = render([board], "html")
    assert "<td>ccc ‡</td>" in html and "<td>gray</td>" in html and " ‡: " + NOTE in html
    assert html.count("‡") == 2
    assert "CPSNR: ccc ‡" in to_index([board]) and NOTE in to_index([board])


def test_stand_in_field_in_csv_and_json(tmp_path: Path) -> None:
    board = _board(tmp_path, ["ccc"])
    recs = list(csv.DictReader(io.StringIO(render([board], "csv"))))
    assert [(r["model"], r["stand_in"], r["reported"]) for r in recs] == [
        ("ccc", "True", "False"), ("gray", "False", "False"), ("ccc (reported)", "False", "True")]
    rows = json.loads(render([board], "json"))["leaderboards"][0]["rows"]
    assert [(r["model"], r["stand_in"]) for r in rows] == [("ccc", True), ("gray", False), ("ccc (reported)", False)]


def test_a_run_without_stand_ins_has_no_mark_or_note(tmp_path: Path) -> None:
    board = _board(tmp_path, None)
    assert not table.has_stand_ins(board)
    for fmt in ("markdown", "html", "latex"):
        doc = render([board], fmt)
        assert "‡" not in doc and r"\ddagger" not in doc and NOTE not in doc, fmt
    assert NOTE not in to_index([board])
    assert {r["stand_in"] for r in csv.DictReader(io.StringIO(render([board], "csv")))} == {"False"}
    assert not any(r["stand_in"] for r in json.loads(render([board], "json"))["leaderboards"][0]["rows"])


def test_only_the_stand_in_model_of_its_own_run_is_marked(tmp_path: Path) -> None:
    a = fake_run(tmp_path / "a", "ds", {"ccc": ramp(4, 30.0)}, stand_ins=["ccc"])
    b = fake_run(tmp_path / "b", "ds", {"ccc": ramp(4, 31.0)})  # trained weights: not a stand-in
    (board,) = load_boards([a, b])
    text = to_markdown(board)
    assert "| ccc (a) ‡ |" in text and "| ccc (b) | " in text and "ccc (b) ‡" not in text


def test_run_benchmark_marks_its_stand_in_rows(cli, tmp_path: Path) -> None:
    make_folder(tmp_path / "few", 2, size=(20, 16))
    suite = tmp_path / "s.yaml"
    suite.write_text(f"datasets: ['{tmp_path / 'few'}']\nmodels: [gray]\nmetrics: [cpsnr]\n"
                     "requires_checkpoint: [gray]\nrun: {workers: 0}\n")
    cli("run", "--benchmark", str(suite), "--out", str(tmp_path / "runs"), "--size", "16", "--quiet")
    text = (tmp_path / "runs" / "s" / "leaderboard" / "few.md").read_text()
    assert "| gray ‡ |" in text and "‡ " + NOTE in text
