"""Issue 19, points 2 and 3: honest counts and an export a researcher pastes into a paper
(LaTeX that pdflatex compiles, fixed precision, selection, one CSV/JSON document, escaping)."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from leaderboard_helpers import fake_run, ids, ramp

from colorbench.errors import ColorbenchError
from colorbench.reporting.formatting import View, md, parse_precision, tex
from colorbench.reporting.leaderboard import load_boards, render, to_markdown

FORMATS = ("markdown", "csv", "json", "latex", "html")


def test_a_model_better_on_every_image_ranks_higher_with_the_cpsnr_cap(tmp_path: Path) -> None:
    """42.10, 42.08, 28.59, 28.61 against (identical) 100, 100, 29.66, 29.72: capped values
    count in the mean, so the better model leads (inf used to be left out: 35.35 vs 29.69)."""
    names = ids(4)
    a = {i: {"cpsnr": v} for i, v in zip(names, (42.10, 42.08, 28.59, 28.61), strict=True)}
    b = {i: {"cpsnr": v} for i, v in zip(names, (100.0, 100.0, 29.66, 29.72), strict=True)}
    (board,) = load_boards([fake_run(tmp_path / "r", "ds", {"a": a, "b": b})])
    assert [r["model"] for r in render_rows(board)] == ["b", "a"]
    assert next(r for r in board.rows if r["model"] == "b")["cpsnr"] == pytest.approx(64.845)


def render_rows(board):
    from colorbench.reporting.boards import sort_rows

    return sort_rows(board, None)


def test_inf_and_nan_are_counted_per_metric_in_every_format(tmp_path: Path) -> None:
    vals = ramp(5, 30.0)
    vals["img000"]["cpsnr"], vals["img001"]["cpsnr"] = float("inf"), float("nan")
    for v in vals.values():
        v["mse"] = 0.01
    (board,) = load_boards([fake_run(tmp_path / "r", "ds", {"m": vals})])
    assert "5 (1 inf, 1 NaN)" in to_markdown(board)
    assert "5 (1 inf, 1 NaN)" in render([board], "html")
    assert "CPSNR 5 (1 inf, 1 NaN)" in render([board], "latex")
    (row,) = csv.DictReader(io.StringIO(render([board], "csv")))
    assert (row["cpsnr_n"], row["cpsnr_n_inf"], row["cpsnr_n_nan"], row["mse_n_inf"]) == ("5", "1", "1", "0")
    (rec,) = json.loads(render([board], "json"))["leaderboards"][0]["rows"]
    assert (rec["cpsnr_n"], rec["cpsnr_n_inf"], rec["cpsnr_n_nan"]) == (5, 1, 1)
    assert rec["cpsnr"] == pytest.approx(31.5)  # mean of the 3 finite values


def test_gray_ground_truths_are_counted_and_shown(tmp_path: Path) -> None:
    (board,) = load_boards([fake_run(tmp_path / "r", "ds", {"m": ramp(4, 30.0)}, gray=["img001"])])
    assert board.rows[0]["gray_gt"] == 1
    counts = to_markdown(board).split("## Counts per metric")[1]
    assert "| m | 4 | 1 |" in counts
    assert json.loads(render([board], "json"))["leaderboards"][0]["rows"][0]["gray_gt"] == 1


def _two(tmp_path: Path):
    x = {i: {"cpsnr": 30.0 + k * 0.123456, "mse": 0.001 * (k + 1), "delta_colorfulness": -3.0 - k}
         for k, i in enumerate(ids(6))}
    y = {i: {"cpsnr": 20.0 + k, "mse": 0.01, "delta_colorfulness": 1.0} for k, i in enumerate(ids(6))}
    return load_boards([fake_run(tmp_path / "r", "ds", {"x": x, "y": y})])


def test_latex_uses_math_mode_booktabs_bold_marker_caption_and_label(tmp_path: Path) -> None:
    boards = _two(tmp_path)
    text = render(boards, "latex", View(caption="Results on ds", label="tab:ds"))
    assert r"\toprule" in text and r"$\pm$" in text and r"\textbf{" in text and r"$|$" not in text
    assert r"\textbar{}$\Delta$CF\textbar{}" in text and r"\caption{Results on ds}" in text and r"\label{tab:ds}" in text
    assert all(ord(ch) < 128 for ch in text), [ch for ch in text if ord(ch) >= 128]


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed")
def test_latex_export_compiles_with_pdflatex(tmp_path: Path) -> None:
    boards = _two(tmp_path)
    boards[0].rows[0]["model"] = "x_{1} & 50% #weird~^\\"
    (tmp_path / "table.tex").write_text(render(boards, "latex", View(caption="c & d", label="tab:x")))
    (tmp_path / "doc.tex").write_text("\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n"
                                      "\\input{table.tex}\n\\end{document}\n")
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert (tmp_path / "doc.pdf").stat().st_size > 1000


def test_precision_is_fixed_per_column(tmp_path: Path) -> None:
    (board,) = _two(tmp_path)
    cells = [ln.split(" | ")[1] for ln in to_markdown(board).splitlines() if ln.startswith("| x ") or ln.startswith("| y ")][:2]
    parts = [p for c in cells for p in c.strip("*").split(" ± ")]
    assert len(parts) == 4 and all(len(p.split(".")[1]) == 2 for p in parts), cells  # cpsnr: 2 decimals
    text = to_markdown(board, View(precision=parse_precision(["cpsnr=3"])))
    assert "30.309" in text and "30.31 " not in text
    with pytest.raises(ColorbenchError, match="--precision"):
        parse_precision(["cpsnr=x"])


def test_metrics_and_columns_select_what_is_shown(cli, tmp_path: Path) -> None:
    run = fake_run(tmp_path / "r", "ds", {"m": ramp(3, 30.0)})
    out = cli("leaderboard", str(run), "--metrics", "cpsnr", "--columns", "n", "-f", "latex").output
    assert "CPSNR" in out and "device" not in out
    bad = cli("leaderboard", str(run), "--metrics", "nope", ok=False)
    assert bad.exit_code != 0 and "--metrics nope: not a metric" in bad.output


def test_several_datasets_on_stdout_are_one_json_and_one_csv_document(cli, tmp_path: Path) -> None:
    a = fake_run(tmp_path / "a", "one", {"m": ramp(3, 30.0)})
    b = fake_run(tmp_path / "b", "two", {"m": ramp(3, 31.0)})
    data = json.loads(cli("leaderboard", str(a), str(b), "-f", "json").output)
    assert [lb["dataset"] for lb in data["leaderboards"]] == ["one", "two"]
    text = cli("leaderboard", str(a), str(b), "-f", "csv").output
    assert text.count("dataset,") == 1
    assert [r["dataset"] for r in csv.DictReader(io.StringIO(text))] == ["one", "two"]


def test_signed_metric_shown_as_magnitude_has_an_explicit_name_and_small_p_reads_below(tmp_path: Path) -> None:
    (board,) = _two(tmp_path)
    rows = list(csv.DictReader(io.StringIO(render([board], "csv"))))
    assert "abs_delta_colorfulness" in rows[0] and "delta_colorfulness" not in rows[0]
    assert float(next(r for r in rows if r["model"] == "x")["abs_delta_colorfulness"]) == pytest.approx(5.5)
    assert next(r for r in rows if r["model"] == "y")["cpsnr_p"] == "<0.001"


def test_names_are_escaped_in_markdown_latex_and_html() -> None:
    assert md("a|b\n<script>") == "a\\|b &lt;script&gt;"
    assert tex("a_b & 5% ∪ Δ") == r"a\_b \& 5\% $\cup$ $\Delta$"


def test_a_hostile_model_name_does_not_break_any_table(tmp_path: Path) -> None:
    (board,) = _two(tmp_path)
    board.rows[0]["model"] = "evil|name\n<b>x</b>"
    text = to_markdown(board)
    table = text.split("\n\n")[1].splitlines()
    assert len(table) == 4 and len({len(re.findall(r"(?<!\\)\|", ln)) for ln in table}) == 1, table
    assert "<b>" not in text and "<b>x" not in render([board], "html").split("<td>")[1]
