"""End to end: `colorbench run` over coco and flowers fixtures, an empty root, and a shared folder."""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path

import pytest
from colorbench_datasets.fixtures import make_coco, make_flowers
from typer.testing import CliRunner

from colorbench.cli import app

WIDE = {"COLUMNS": "4000"}  # rich must not wrap the long one-line messages


def _rows(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "per_image.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_run_scores_first_five_of_coco_and_flowers(tmp_path):
    root = tmp_path / "data"
    make_coco(root / "coco", n_val=7, n_train=1)
    make_flowers(root / "flowers")
    out = tmp_path / "runs"
    result = CliRunner().invoke(app, [
        "run", "--models", "gray", "--datasets", "coco,flowers", "--data-root", str(root),
        "--limit", "5", "--metrics", "cpsnr", "--out", str(out), "--name", "t", "--workers", "0", "-q",
    ], env=WIDE)
    assert result.exit_code == 0, result.output
    rows = _rows(out / "t")
    by_ds = {d: [r for r in rows if r["dataset"] == d] for d in ("coco", "flowers")}
    assert [r["image_id"] for r in by_ds["coco"]] == [f"{i:012d}" for i in range(1, 6)]
    assert [r["image_id"] for r in by_ds["flowers"]] == [f"image_{n:05d}" for n in (5, 6, 7, 8, 9)]
    for r in rows:
        assert r["status"] == "ok" and r["model"] == "gray"
        assert 5 < float(r["cpsnr"]) < 60 and math.isfinite(float(r["cpsnr"]))


def test_empty_root_fails_naming_both_layouts(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(app, [
        "run", "--models", "gray", "--datasets", "coco,flowers", "--data-root", str(empty),
        "--limit", "5", "--metrics", "cpsnr", "--out", str(tmp_path / "runs"), "--name", "e", "-q",
    ], env=WIDE)
    assert result.exit_code != 0
    text = result.output
    assert f"{empty}/coco/val2017/*.jpg" in text and f"{empty}/coco/annotations/instances_val2017.json" in text
    assert f"{empty}/flowers/jpg/image_NNNNN.jpg" in text and f"{empty}/flowers/setid.mat" in text
    errors = json.loads((tmp_path / "runs" / "e" / "run.json").read_text())["errors"]
    assert len(errors) == 2 and errors[0].startswith("dataset 'coco'") and errors[1].startswith("dataset 'flowers'")


def _shared_data() -> Path:
    env = os.environ.get("COLORBENCH_SHARED_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.mark.shared_data
def test_folder_dataset_over_shared_flowers_recognition(tmp_path):
    folder = _shared_data() / "flowers-recognition"
    if not folder.is_dir():
        pytest.skip(f"{folder} not present")
    result = CliRunner().invoke(app, [
        "run", "--models", "gray", "--datasets", str(folder), "--limit", "4", "--metrics", "cpsnr",
        "--out", str(tmp_path), "--name", "s", "--workers", "0", "-q",
    ], env=WIDE)
    assert result.exit_code == 0, result.output
    rows = _rows(tmp_path / "s")
    assert len(rows) == 4 and {r["dataset"] for r in rows} == {"flowers-recognition"}
    assert [r["image_id"] for r in rows] == sorted(r["image_id"] for r in rows)
    assert all(r["status"] == "ok" and r["image_id"].split("/")[0] in
               {"daisy", "dandelion", "rose", "sunflower", "tulip"} for r in rows)
