"""Issue 24, point 4: leaderboard defaults a paper would use: a suite's ``primary_metric``
ranks by default (``--sort-by`` overrides), the metric columns follow the suite's order, and
numeric extra columns are summarised per model (mean, 10/50/90 % quantiles)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import make_folder
from leaderboard_helpers import META, fake_run, ids

from colorbench.errors import ColorbenchError
from colorbench.evaluation import suites
from colorbench.evaluation.suite_files import BUILTIN_DIR
from colorbench.reporting.boards import sort_rows
from colorbench.reporting.leaderboard import load_boards, render, to_markdown

SSIM = {"display_name": "SSIM", "higher_is_better": True, "range": [0.0, 1.0], "kind": "per_image", "version": "1"}
METRICS = {"cpsnr": META["cpsnr"], "mse": META["mse"], "ssim": SSIM}  # the order run.json records
SUITE_ORDER = ["ssim", "mse", "cpsnr"]  # the suite's metrics: list


def _two_models(run_dir: Path, suite: dict | None) -> Path:
    """a leads on ssim, b on cpsnr and mse; ``suite``: run.json's config.benchmark."""
    a = {i: {"cpsnr": 20.0 + k * 0.1, "mse": 0.01, "ssim": 0.9} for k, i in enumerate(ids(4))}
    b = {i: {"cpsnr": 30.0 + k * 0.1, "mse": 0.001, "ssim": 0.5} for k, i in enumerate(ids(4))}
    run = fake_run(run_dir, "ds", {"a": a, "b": b}, metrics=METRICS)
    if suite is not None:
        data = json.loads((run / "run.json").read_text())
        data["config"] = {"benchmark": suite, "metrics": SUITE_ORDER}
        (run / "run.json").write_text(json.dumps(data))
    return run


def _header(markdown: str) -> str:
    return next(line for line in markdown.splitlines() if line.startswith("| model |"))


def test_suite_primary_metric_ranks_by_default_and_sort_by_overrides(cli, tmp_path: Path) -> None:
    run = _two_models(tmp_path / "suite", {"name": "mine", "primary_metric": "ssim"})
    (board,) = load_boards([run])
    assert board.primary_metric == "ssim"
    assert [r["model"] for r in sort_rows(board, None)] == ["a", "b"]
    assert [r["model"] for r in sort_rows(board, "cpsnr")] == ["b", "a"]
    out = cli("leaderboard", str(run)).output
    assert out.index("| a |") < out.index("| b |")
    out = cli("leaderboard", str(run), "--sort-by", "cpsnr").output
    assert out.index("| b |") < out.index("| a |")
    (plain,) = load_boards([_two_models(tmp_path / "plain", None)])  # no suite: cpsnr leads
    assert plain.primary_metric is None and [r["model"] for r in sort_rows(plain, None)] == ["b", "a"]


def test_metric_columns_follow_the_suites_order(tmp_path: Path) -> None:
    (suite_board,) = load_boards([_two_models(tmp_path / "suite", {"name": "mine"})])
    assert _header(to_markdown(suite_board)).startswith("| model | SSIM ↑ | MSE ↓ | CPSNR ↑ |")
    assert [r["model"] for r in sort_rows(suite_board, None)] == ["b", "a"]  # no primary_metric: cpsnr
    (plain,) = load_boards([_two_models(tmp_path / "plain", None)])
    assert _header(to_markdown(plain)).startswith("| model | CPSNR ↑ | MSE ↓ | SSIM ↑ |")


def test_primary_metric_is_validated_and_recorded(cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("datasets: [samples]\nmodels: [gray]\nmetrics: [cpsnr, mse]\nprimary_metric: ssim\n")
    with pytest.raises(ColorbenchError) as err:
        suites.load(str(bad))
    assert "\n" not in str(err.value)
    assert f"{bad}: primary_metric: 'ssim' is not one of the suite's metrics (cpsnr, mse)" in str(err.value)
    bad.write_text("datasets: [samples]\nmodels: [gray]\nprimary_metric: ssim\n")
    with pytest.raises(ColorbenchError, match="primary_metric: 'ssim' needs the suite's metrics: list"):
        suites.load(str(bad))
    make_folder(tmp_path / "imgs", 2)
    good = tmp_path / "good.yaml"
    good.write_text(f"datasets: ['{tmp_path / 'imgs'}']\nmodels: [gray]\nmetrics: [mse, cpsnr]\n"
                    "primary_metric: mse\nprotocol: {size: 24}\nrun: {workers: 0}\n")
    assert suites.restrict(suites.load(str(good)), None, None, ["cpsnr"]).primary_metric is None
    cli("run", "--benchmark", str(good), "--out", str(tmp_path / "runs"), "--quiet")
    run = tmp_path / "runs" / "good"
    assert json.loads((run / "run.json").read_text())["config"]["benchmark"]["primary_metric"] == "mse"
    assert load_boards([run])[0].primary_metric == "mse"
    assert _header((run / "leaderboard" / "imgs.md").read_text()).startswith("| model | MSE ↓ | CPSNR ↑ |")


def test_shipped_suites_with_cpsnr_name_it_primary() -> None:
    shipped = [f for f in sorted(BUILTIN_DIR.glob("*.yaml")) if not f.name.startswith("_")]
    assert len(shipped) >= 6
    for path in shipped:
        suite, name = suites.load(str(path)), path.stem
        assert suite.primary_metric == ("cpsnr" if "cpsnr" in (suite.metrics or []) else None), name


def test_numeric_extra_columns_are_summarised_per_model_and_text_ones_grouped(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    n = 40
    numbers = {"a": rng.uniform(0.0, 1.0, n), "c": rng.normal(0.5, 0.1, n)}
    extra = {m: {i: f"{v:.6f}" for i, v in zip(ids(n), vals, strict=True)} for m, vals in numbers.items()}
    extra["b"] = {i: "even" if k % 2 == 0 else "odd" for k, i in enumerate(ids(n))}
    values = {m: {i: {"cpsnr": 20.0 + k % 7} for k, i in enumerate(ids(n))} for m in ("a", "b", "c")}
    (board,) = load_boards([fake_run(tmp_path / "r", "ds", values, extra=extra)])
    text = to_markdown(board)
    section = text.split("### member per image: mean and quantiles")[1].split("###")[0]
    lines = [ln for ln in section.splitlines() if ln.startswith("| ") and not ln.startswith("| model")]
    assert [ln.split("|")[1].strip() for ln in lines] == ["a", "c"]  # one line per numeric model
    html = render([board], "html")
    for line, model in zip(lines, ("a", "c"), strict=True):
        parsed = np.array([float(t) for t in extra[model].values()])
        cells = [c.strip() for c in line.split("|")[2:-1]]
        assert cells[0] == str(n)
        assert cells[1] == f"{parsed.mean():.4f}" and cells[3] == f"{np.median(parsed):.4f}"
        assert cells[2] == f"{np.quantile(parsed, 0.1):.4f}" and cells[4] == f"{np.quantile(parsed, 0.9):.4f}"
        assert f"<td>{model}</td><td>{n}</td><td>{parsed.mean():.4f}</td>" in html
    assert "### a: member per image" not in text and "### c: member per image" not in text
    grouped = text.split("### b: member per image")[1].split("###")[0]
    assert "| even | 20 | 50% |" in grouped and "| odd | 20 | 50% |" in grouped
    assert "<h3>b: member per image</h3>" in html


def test_a_few_whole_numbers_are_labels_grouped_not_summarised(tmp_path: Path) -> None:
    n = 12
    extra = {"a": {i: str(k % 3) for k, i in enumerate(ids(n))}}  # a profile index 0..2
    values = {"a": {i: {"cpsnr": 20.0 + k} for k, i in enumerate(ids(n))}}
    (board,) = load_boards([fake_run(tmp_path / "r", "ds", values, extra=extra)])
    text = to_markdown(board)
    assert "mean and quantiles" not in text
    grouped = text.split("### a: member per image")[1].split("###")[0]
    assert sorted(ln.split("|")[1].strip() for ln in grouped.splitlines()
                  if ln.startswith("| ") and not ln.startswith("| member")) == ["0", "1", "2"]
