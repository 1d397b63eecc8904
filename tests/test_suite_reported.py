"""The papers' suites (paper-ccc, -gan, -router, -profile): their reported rows parse,
name the suite's datasets and metrics, and carry numbers printed in the papers; the
``reported`` format's errors; the stand-in-weights warning of ``run --benchmark``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import make_folder

from colorbench.errors import ColorbenchError
from colorbench.evaluation import suites
from colorbench.evaluation.reported import parse_reported
from colorbench.plugin import manager as plugins

PAPERS = {"paper-ccc": "000_", "paper-router": "001_", "paper-gan": "002_", "paper-profile": "003_"}
SEEDS = Path(__file__).parents[1].parent / "shared" / "seeds"
TYPOS = {"21.6 8": "21.68"}  # CCC++ Table VII splits one number


def _printed_numbers(prefix: str) -> set[float]:
    files = sorted(SEEDS.glob(f"{prefix}*.txt")) if SEEDS.is_dir() else []
    if not files:
        pytest.skip("../shared/seeds not present")
    text = files[0].read_text(encoding="utf-8")
    for bad, good in TYPOS.items():
        text = text.replace(bad, good)
    return {float(t) for t in re.findall(r"(?<![\d.])\d*\.\d+|(?<![\d.])\d+(?![\d.])", text)}


@pytest.mark.parametrize("name", sorted(PAPERS))
def test_paper_suites_reported_rows_belong_to_the_suite(name: str, monkeypatch) -> None:
    monkeypatch.setenv("COLORBENCH_DATA", "/nonexistent")
    suite = suites.load(name)
    assert set(suite.requires_checkpoint) <= {m.name for m in suite.models}
    labels = {Path(d.name).name if "/" in d.name else d.name for d in suite.datasets}
    metric_ids = {m.name for m in plugins.load().metrics}
    for row in suite.reported:
        assert row["dataset"] in labels, (name, row)
        assert set(row["metrics"]) <= set(suite.metrics or []) <= metric_ids | {"psnr"}, (name, row)
        assert row["source"] and row["label"]
    assert (name == "paper-gan") == (not suite.reported)  # the GAN paper prints no comparable figure


@pytest.mark.shared_data
@pytest.mark.parametrize("name", sorted(PAPERS))
def test_reported_values_are_printed_in_the_paper(name: str, monkeypatch) -> None:
    monkeypatch.setenv("COLORBENCH_DATA", "/nonexistent")
    printed = _printed_numbers(PAPERS[name])
    for row in suites.load(name).reported:
        for metric, value in row["metrics"].items():
            assert value in printed, f"{name}: {row['label']} {row['dataset']} {metric}={value} is not in the paper"


def test_paper_ccc_protocol() -> None:
    suite = suites.load("paper-ccc")
    splits = {d.name: d.settings.get("split") for d in suite.datasets}
    assert splits["imagenet"] == "val" and splits["places365"] == "test"
    assert all(d.settings.get("resize") == "none" for d in suite.datasets)  # original sizes
    assert suite.metric_options == {"n_class": 532}
    assert {"ccar_union", "cnr_union", "tar", "tar_pixel", "ssim_skimage"} <= set(suite.metrics or [])
    assert "VII-X" in suite.description
    rows = {(r["model"], r["dataset"]): r["metrics"] for r in suite.reported}
    assert rows[("ccc", "imagenet")]["ccar_union"] == 86.67 and rows[("ccc", "coco")]["cnr_union"] == 3.02
    assert all("fid" not in m for m in rows.values())  # not the usual FID scale: left out


def test_parse_reported_accepts_both_forms_and_fills_defaults() -> None:
    row = {"source": "S, Table 1", "dataset": "d", "model": "m", "metrics": {"cpsnr": 30}}
    assert parse_reported([row], "f.yaml") == parse_reported({"reported": [row]}, "f.yaml")
    got = parse_reported([row], "f.yaml")[0]
    assert got["label"] == "m (reported)" and got["note"] == "" and got["metrics"] == {"cpsnr": 30.0}
    assert parse_reported({"reported": []}, "f.yaml") == []


@pytest.mark.parametrize("doc, needle", [
    ({"rows": []}, "no 'reported' key"),
    ({"reported": {"a": 1}}, "expected a list"),
    ([3], r"reported\[0\]: expected a mapping"),
    ([{"source": "s", "dataset": "d", "model": "m"}], "missing metrics"),
    ([{"source": "s", "dataset": "d", "model": "m", "metrics": {"x": "high"}}], "'x': expected a finite number"),
    ([{"source": "s", "dataset": "d", "model": "m", "metrics": {"x": True}}], "expected a finite number"),
    ([{"source": "s", "dataset": "d", "model": "m", "metrics": {}}], "non-empty mapping"),
    ([{"source": "s", "dataset": 3, "model": "m", "metrics": {"x": 1}}], "dataset: expected text"),
    ([{"source": "s", "dataset": "d", "model": "m", "metrics": {"x": 1}, "table": 2}], "unknown key"),
])
def test_parse_reported_errors_are_one_line(doc, needle: str) -> None:
    with pytest.raises(ColorbenchError, match=needle) as err:
        parse_reported(doc, "my.yaml")
    assert str(err.value).startswith("my.yaml") and "\n" not in str(err.value)


def test_suite_with_bad_reported_fails_at_load(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("models: [gray]\ndatasets: [samples]\nreported: [{source: s}]\n")
    with pytest.raises(ColorbenchError, match=r"s.yaml: reported\[0\]: missing dataset, model, metrics"):
        suites.load(str(path))
    path.write_text("models: [gray]\ndatasets: [samples]\nrequires_checkpoint: gray\n")
    with pytest.raises(ColorbenchError, match="requires_checkpoint: expected a list"):
        suites.load(str(path))


def test_stand_in_weights() -> None:
    suite = suites.load("paper-ccc")
    assert suites.stand_in_weights(suite, []) == ["ccc", "ccc-harmonized"]
    assert suites.stand_in_weights(suite, ["ccc=runs/x"]) == ["ccc-harmonized"]
    only_gray = suites.restrict(suite, ["gray"], None, None)
    assert suites.stand_in_weights(only_gray, []) == []


def test_run_benchmark_warns_and_records_stand_in_weights(cli, tmp_path: Path, monkeypatch) -> None:
    make_folder(tmp_path / "data" / "few", 2, size=(20, 16))
    monkeypatch.setenv("CB_TEST_DATA", str(tmp_path / "data"))
    suite = tmp_path / "s.yaml"
    suite.write_text("version: 1\ndatasets: ['${CB_TEST_DATA}/few']\nmodels: [gray]\nmetrics: [cpsnr]\n"
                     "requires_checkpoint: [gray]\nrun: {workers: 0}\n")
    result = cli("run", "--benchmark", str(suite), "--out", str(tmp_path / "runs"), "--size", "16")
    assert "no --checkpoint for gray" in " ".join(result.output.split())
    manifest = json.loads((tmp_path / "runs" / "s" / "run.json").read_text())
    assert manifest["config"]["benchmark"]["stand_in_weights"] == ["gray"]
