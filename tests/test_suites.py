"""Benchmark suites (colorbench/benchmarks/*.yaml, ``run --benchmark``): loading, include, validation
errors, per-dataset protocols reaching the engine, subsets, and the shipped suites' names."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from pathlib import Path

import pytest
from conftest import make_folder

from colorbench.errors import ColorbenchError
from colorbench.evaluation import suites
from colorbench.plugin import manager as plugins

SHIPPED = sorted(suites.available())


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_suites_are_found() -> None:
    assert {"quick", "cpu-real", "paper-ccc"} <= set(SHIPPED)
    assert not any(name.startswith("_") for name in SHIPPED)  # building blocks are not suites


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_suite_names_are_registered(name: str, monkeypatch) -> None:
    """Every model, metric and named dataset of a shipped suite exists (typos fail here)."""
    monkeypatch.setenv("COLORBENCH_DATA", "/nonexistent")
    regs = plugins.load()
    suite = suites.load(name)
    assert suite.version != "0" and suite.description
    for m in suite.models:
        regs.colorizers.get(m.name)
        spec = regs.colorizers.get(m.name)
        for key in m.options:
            assert spec.option(key) is not None, f"{name}: {m.name} has no option {key}"
    for mid in suite.metrics or []:
        assert mid in regs.metrics or any(mid in m.aliases for m in regs.metrics), mid
    settings = suites.run_settings(suite)
    for ds in settings["datasets"]:
        if not ds.startswith("/nonexistent"):
            spec = regs.datasets.get(ds)
            split = settings["dataset_settings"].get(ds, {}).get("split")
            assert split is None or split in spec.splits, f"{name}: {ds} has no split {split}"


def test_quick_includes_models_and_metrics() -> None:
    suite = suites.load("quick")
    assert [m.name for m in suite.models][:2] == ["gray", "ccc"]
    harmonized = next(m for m in suite.models if m.name == "ccc-harmonized")
    assert harmonized.options == {"segmenter": "slic"}
    assert "cpsnr" in (suite.metrics or []) and "lpips" not in (suite.metrics or [])
    assert len(suite.files) == 3 and suite.digest


def test_include_overrides_and_merges(tmp_path: Path) -> None:
    write(tmp_path / "base.yaml", "version: 1\ndescription: base\nprotocol: {size: 64, resize: crop}\n"
          "datasets: [samples]\nmodels: [gray]\nmetrics: [cpsnr]\nrun: {batch_size: 4, seed: 3}\n")
    variant = write(tmp_path / "variant.yaml", "include: base\nprotocol: {size: 32}\nmetrics: [mse, ssim]\n"
                    "run: {seed: 5}\n")
    suite = suites.load(str(variant))
    assert suite.name == "variant" and suite.description == "base"
    assert suite.datasets[0].settings == {"size": 32, "resize": "crop"}
    assert suite.metrics == ["mse", "ssim"]
    assert suite.run == {"batch_size": 4, "seed": 5}
    assert suites.load(str(tmp_path / "base.yaml")).digest != suite.digest


@pytest.mark.parametrize(("text", "needle"), [
    ("datasets: [samples]\nmodel: [gray]\n", "unknown key 'model'. Did you mean models?"),
    ("datasets: [samples]\nmodels: []\n", "models: expected a non-empty list"),
    ("datasets: [{name: samples, limt: 3}]\nmodels: [gray]\n", "unknown key 'limt'. Did you mean limit?"),
    ("datasets: [{name: samples, size: big}]\nmodels: [gray]\n", "size: expected a positive integer"),
    ("datasets: [samples]\nmodels: [gray, gray]\n", "models listed twice: gray"),
    ("datasets: [samples]\nmodels: [gray]\nmetrics: cpsnr\n", "metrics: expected a list"),
    ("include: loop.yaml\ndatasets: [samples]\nmodels: [gray]\n", "include cycle"),
    ("datasets: [samples\n", "not valid YAML"),
])
def test_invalid_suites_give_one_clear_line(tmp_path: Path, text: str, needle: str) -> None:
    path = write(tmp_path / "loop.yaml", text)
    with pytest.raises(ColorbenchError) as err:
        suites.load(str(path))
    assert needle in str(err.value) and "\n" not in str(err.value)
    assert str(path) in str(err.value)


def test_unknown_suite_name_suggests(monkeypatch) -> None:
    with pytest.raises(ColorbenchError, match="Did you mean quick"):
        suites.locate("quik")


def test_unset_variable_is_named(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("COLORBENCH_DATA", raising=False)
    suite = suites.load(str(write(tmp_path / "s.yaml", "datasets: ['${COLORBENCH_DATA}/x']\nmodels: [gray]\n")))
    with pytest.raises(ColorbenchError, match=r"\$\{COLORBENCH_DATA\} is not set; export COLORBENCH_DATA=DIR"):
        suites.run_settings(suite)
    monkeypatch.setenv("COLORBENCH_DATA", str(tmp_path))
    assert suites.run_settings(suite)["datasets"] == [f"{tmp_path}/x"]


@pytest.fixture
def two_folder_suite(tmp_path: Path, monkeypatch) -> Path:
    make_folder(tmp_path / "data" / "small", 6, size=(40, 30))
    make_folder(tmp_path / "data" / "big", 5, size=(50, 44))
    monkeypatch.setenv("CB_TEST_DATA", str(tmp_path / "data"))
    return write(tmp_path / "two.yaml", """
version: 2
description: two folders, two protocols
protocol: {size: 24, resize: crop}
datasets:
  - {name: "${CB_TEST_DATA}/small", limit: 4}
  - {name: "${CB_TEST_DATA}/big", size: 16, resize: stretch}
models: [gray]
metrics: [cpsnr, ssim]
run: {batch_size: 2, workers: 0, save_images: true}
""")


def rows_of(run_dir: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO((run_dir / "per_image.csv").read_text())))


def test_run_benchmark_applies_each_datasets_protocol(cli, tmp_path: Path, two_folder_suite: Path) -> None:
    out = tmp_path / "runs"
    cli("run", "--benchmark", str(two_folder_suite), "--out", str(out), "--quiet")
    run_dir = out / "two"  # the run is named after the suite
    assert Counter(r["dataset"] for r in rows_of(run_dir)) == {"small": 4, "big": 5}
    manifest = json.loads((run_dir / "run.json").read_text())
    assert manifest["config"]["benchmark"]["name"] == "two"
    assert manifest["config"]["benchmark"]["version"] == "2"
    settings = manifest["config"]["dataset_settings"]
    assert settings[str(tmp_path / "data" / "big")] == {"size": 16, "resize": "stretch"}
    from PIL import Image  # the saved outputs show each dataset's size

    assert Image.open(next((run_dir / "outputs" / "big" / "gray").glob("*.png"))).size == (16, 16)
    assert Image.open(next((run_dir / "outputs" / "small" / "gray").glob("*.png"))).size == (24, 24)
    # rerun: everything resumes; an explicit --limit overrides every dataset's own
    result = cli("run", "--benchmark", str(two_folder_suite), "--out", str(out))
    assert "all 4 images already scored" in result.output and "all 5 images already scored" in result.output
    cli("run", "--benchmark", str(two_folder_suite), "--out", str(out), "--name", "lim", "--limit", "2", "--quiet")
    assert Counter(r["dataset"] for r in rows_of(out / "lim")) == {"small": 2, "big": 2}


def test_run_benchmark_subset_and_errors(cli, tmp_path: Path, two_folder_suite: Path) -> None:
    out = tmp_path / "runs"
    cli("run", "--benchmark", str(two_folder_suite), "--datasets", "big", "--metrics", "cpsnr",
        "--out", str(out), "--name", "sub", "--quiet")
    rows = rows_of(out / "sub")
    assert {r["dataset"] for r in rows} == {"big"} and "ssim" not in rows[0]
    bad = cli("run", "--benchmark", str(two_folder_suite), "--datasets", "cbsd68", "--out", str(out), ok=False)
    assert bad.exit_code != 0 and "not in benchmark 'two'" in bad.output
    bad = cli("run", "--benchmark", str(two_folder_suite), "--models", "grey", "--out", str(out), ok=False)
    assert bad.exit_code != 0 and "Did you mean 'gray'" in bad.output


def test_run_benchmark_adds_a_model_the_suite_lacks(cli, tmp_path: Path, two_folder_suite: Path) -> None:
    """Your own model on a shipped suite: the suite's pairs resume, only yours runs."""
    from test_leaderboard_stats import Plugin

    out = tmp_path / "runs"
    cli("run", "--benchmark", str(two_folder_suite), "--out", str(out), "--quiet")
    cli.add_plugin("lbtest", Plugin())
    result = cli("run", "--benchmark", str(two_folder_suite), "--out", str(out), "--models", "tint")
    assert "already scored" not in result.output
    rows = rows_of(out / "two")
    assert Counter((r["dataset"], r["model"]) for r in rows) == {
        ("small", "gray"): 4, ("big", "gray"): 5, ("small", "tint"): 4, ("big", "tint"): 5}


def test_list_benchmarks(cli) -> None:
    result = cli("list", "benchmarks")
    for name in ("quick", "cpu-real", "paper-ccc"):
        assert name in result.output


def test_quick_suite_runs_every_shipped_model_and_reports(tmp_path: Path) -> None:
    """`run --benchmark quick` end to end through the installed console script (entry
    points: every shipped model), one small image per model, then `report` on it."""
    import subprocess

    from conftest import colorbench_exe

    suite = suites.load("quick")
    run = subprocess.run([*colorbench_exe(), "run", "--benchmark", "quick", "--limit", "1", "--size", "32",
                          "--out", str(tmp_path), "--quiet", "--workers", "0"],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    rows = rows_of(tmp_path / "quick")
    assert sorted(r["model"] for r in rows) == sorted(m.name for m in suite.models)
    assert all(r["status"] == "ok" for r in rows), [r["error"] for r in rows]
    assert (tmp_path / "quick" / "leaderboard" / "samples.png").is_file()  # saved images → contact sheet
    report = subprocess.run([*colorbench_exe(), "report", str(tmp_path / "quick"), "--out", str(tmp_path / "rep")],
                            capture_output=True, text=True, timeout=300)
    assert report.returncode == 0, report.stderr[-2000:]
    page = (tmp_path / "rep" / "samples.html").read_text()
    assert all(m.name in page for m in suite.models)
