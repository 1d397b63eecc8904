"""What run/score print: the summary fitted to the terminal width, and ``-q``."""

from __future__ import annotations

import io

from rich.console import Console
from typer.testing import CliRunner

from colorbench.cli import app
from colorbench.reporting.boards import fmt
from colorbench.reporting.summary_table import print_summary

METRICS = {"cpsnr": {"higher_is_better": True}, "ccar_unweighted": {"higher_is_better": True},
           "delta_colorfulness": {"higher_is_better": True, "leaderboard_abs": True},
           "fid": {"higher_is_better": False}}


def _summary(n_models: int) -> list[dict]:
    return [{"dataset": "samples", "model": f"ccc-harmonized-variant-{i}", "n": 68, "n_failed": i % 2,
             "cpsnr": 19.123456 + i, "ccar_unweighted": 0.123456 * i, "delta_colorfulness": -12.3456 * i,
             "fid": 123.456 + i, "images_per_s": 1234.5} for i in range(n_models)]


def _render(summary: list[dict], width: int) -> str:
    buffer = io.StringIO()
    print_summary(summary, METRICS, Console(file=buffer, width=width, force_terminal=False))
    return buffer.getvalue()


def test_nine_models_at_80_columns_show_every_number_whole():
    summary = _summary(9)
    text = _render(summary, 80)
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "…" not in text
    tokens = set(text.split())
    for row in summary:
        for value in (row["cpsnr"], row["ccar_unweighted"], abs(row["delta_colorfulness"]), row["fid"]):
            assert fmt(value) in tokens, fmt(value)
    assert "(models 1-" in text and "of 9)" in text  # split over several tables


def test_a_wide_console_holds_every_model_in_one_table():
    text = _render(_summary(3), 200)
    assert text.count("mean over images") == 1 and "models 1-" not in text


def test_quiet_run_prints_only_the_paths(tmp_path):
    args = ["run", "--models", "gray", "--datasets", "samples", "--limit", "2", "--size", "16", "--metrics",
            "cpsnr", "--workers", "0", "--out", str(tmp_path), "--name", "q"]
    loud = CliRunner().invoke(app, args, env={"COLUMNS": "120"})
    assert loud.exit_code == 0, loud.output
    assert "mean over images" in loud.output
    quiet = CliRunner().invoke(app, [*args[:-1], "q2", "-q"])
    assert quiet.exit_code == 0, quiet.output
    lines = [line for line in quiet.output.splitlines() if line.strip()]
    assert lines and all(line.startswith(("run directory:", "leaderboard:")) for line in lines), lines
    assert lines[0] == f"run directory: {tmp_path / 'q2'}"


def test_a_metric_with_missing_or_infinite_values_shows_its_counts():
    row = {"dataset": "d", "model": "m", "n": 4, "n_failed": 0, "images_per_s": 1.0,
           "cpsnr": 30.0, "cpsnr_n": 3, "cpsnr_n_inf": 1, "cpsnr_n_nan": 2}
    buffer = io.StringIO()
    print_summary([row], {"cpsnr": {"higher_is_better": True}}, Console(file=buffer, width=120))
    assert "(n 3, 1 inf, 2 NaN)" in buffer.getvalue()
    full = {**row, "cpsnr_n": 4, "cpsnr_n_inf": 0, "cpsnr_n_nan": 0}
    buffer = io.StringIO()
    print_summary([full], {"cpsnr": {"higher_is_better": True}}, Console(file=buffer, width=120))
    assert "(n " not in buffer.getvalue() and "inf" not in buffer.getvalue()
