"""benchmarks/gpu/: the bundle (prepare.py), the dist-info that makes a checkout an installed
colorbench (site_metadata.py), the per-image comparison (check_parity.py), the training
timings (train_timed.py) and, slow, the whole check rehearsed on the CPU (check.py --smoke)."""

from __future__ import annotations

import csv
import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
from colorbench_datasets.folder import Folder
from conftest import write_image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks" / "gpu"))
import check_parity
import prepare
import site_metadata
import train_timed

ROOT = Path(__file__).resolve().parents[1]
GPU = ROOT / "benchmarks" / "gpu"
EXACT = check_parity.Tolerance(0.0, 0.0)


def fake_shared_data(root: Path, n_imagenet: int = 40) -> Path:
    """The three folders of ../shared/data in miniature: JPEGs (some larger than 256 px),
    PNGs for cbsd68, two flower classes."""
    for i in range(n_imagenet):
        size = (400, 300) if i % 4 == 0 else (96, 80)
        write_image(root / "imagenet-sample" / f"n{i:05d}_thing.jpg", size=size, seed=i, quality=95)
    for i in range(4):
        write_image(root / "cbsd68" / f"{1000 + i}.png", size=(120, 80), seed=100 + i)
    for cls in ("daisy", "rose"):  # 3 of the 40 in the test split
        for i in range(20):
            write_image(root / "flowers-recognition" / cls / f"{cls}{i}.jpg", size=(64, 64), seed=200 + i)
    return root


def _ids(root: Path, split: str | None = None) -> list[str]:
    return Folder(root=root, split=split).ids


def test_prepare_keeps_the_held_out_splits_and_is_idempotent(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    src, out = fake_shared_data(tmp_path / "src"), tmp_path / "bundle"
    args = ["--source", str(src), "--out", str(out), "--no-wheels", "--train-images", "5", "--val-images", "2"]
    assert prepare.main(args) == 0
    data = out / "data"
    # held out means the same images as on the shared data: the seeded hash split of the ids
    assert _ids(data / "imagenet-sample", "test") == _ids(src / "imagenet-sample", "test") != []
    for image_id in _ids(src / "imagenet-sample", "test"):  # copied byte for byte
        name = f"{image_id}.jpg"
        assert (data / "imagenet-sample" / name).read_bytes() == (src / "imagenet-sample" / name).read_bytes()
    train = _ids(data / "imagenet-sample", "train")
    assert len(train) == 5 and set(train) <= set(_ids(src / "imagenet-sample", "train"))
    assert len(_ids(data / "imagenet-sample", "val")) == 2
    from PIL import Image

    for image_id in train:
        assert min(Image.open(data / "imagenet-sample" / f"{image_id}.jpg").size) <= 256
    assert _ids(data / "flowers-recognition") == _ids(src / "flowers-recognition", "test")
    assert _ids(data / "cbsd68") == _ids(src / "cbsd68")
    assert Image.open(data / "cbsd68" / "1000.jpg").size == (120, 80)  # re-encoded at its own size
    manifest = json.loads((out / "MANIFEST.json").read_text())
    n_test = len(_ids(src / "imagenet-sample", "test"))
    assert manifest["datasets"]["imagenet-sample"] == {"train": 5, "val": 2, "test": n_test}
    printed = capsys.readouterr().out
    assert "of the 64 MiB that travel" in printed and "data/cbsd68: all 4" in printed
    stamps = {p: p.stat().st_mtime_ns for p in data.rglob("*.jpg")}
    assert prepare.main(args) == 0
    assert {p: p.stat().st_mtime_ns for p in data.rglob("*.jpg")} == stamps  # nothing redone


def test_prepare_fails_in_one_line_without_the_shared_data(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert prepare.main(["--source", str(tmp_path), "--out", str(tmp_path / "b"), "--no-wheels"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "imagenet-sample not found" in err[0] and "--source" in err[0]


def test_wheels_to_bundle_are_the_dependencies_missing_on_the_gpu_machine() -> None:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {name for name, _ in prepare.missing_requirements(deps)}
    assert names == {"pycocotools", "lpips", "torch-fidelity", "segment-anything", "imbalanced-learn"}
    assert prepare.missing_requirements([
        "sklearn-compat<0.2,>=0.1.6", "numpy<3", "tensorflow; extra == 'docs'", "old; python_version < '3.11'",
        "torch==2.9.1; platform_machine == 'aarch64'"]) == [("sklearn-compat", "sklearn-compat<0.2,>=0.1.6")]


def test_site_metadata_makes_the_checkout_an_installed_colorbench(tmp_path: Path) -> None:
    site_metadata.write_dist_info(tmp_path)
    (dist,) = importlib.metadata.distributions(path=[str(tmp_path)])
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert dist.metadata["Name"] == "colorbench" and dist.version == project["version"]
    plugins = {ep.name: ep.value for ep in dist.entry_points.select(group="colorbench")}
    assert plugins == project["entry-points"]["colorbench"]
    (script,) = dist.entry_points.select(group="console_scripts")
    assert (script.name, script.value) == ("colorbench", "colorbench.cli:main")


def _per_image(path: Path, rows: list[dict[str, str]]) -> Path:
    from colorbench.results.files import FIXED_COLUMNS

    columns = [*FIXED_COLUMNS, "cpsnr", "mse", "member"]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns, restval="")
        w.writeheader()
        w.writerows({"dataset": "d", "model": "m", "status": "ok", **r} for r in rows)
    return path


def _mse(k: int) -> float:
    return 0.01 + 0.001 * (k % 5)  # mean 0.012 over 100 rows


def _cpsnr(k: int) -> float:
    return 20.0 + k % 7


def _rows(n: int, **changes: dict[str, str]) -> list[dict[str, str]]:
    rows = [{"image_id": f"i{k}", "cpsnr": repr(_cpsnr(k)), "mse": repr(_mse(k)), "member": "gan"} for k in range(n)]
    for k, change in changes.items():
        rows[int(k[1:])].update(change)
    return rows


def test_parity_scales_the_tolerance_per_metric_and_allows_rare_outliers(tmp_path: Path) -> None:
    ref = _per_image(tmp_path / "ref.csv", _rows(100))
    same = check_parity.compare(ref, _per_image(tmp_path / "a.csv", _rows(100)), EXACT)
    assert same["passed"] and same["exact_fraction"] == 1.0 and same["rows"] == 100
    # mse's scale is 0.012: 1e-6 is 8e-5 of it (inside STRICT's 1e-3), 2e-4 is 1.7e-2 (outside)
    near = _rows(100, r3={"mse": repr(_mse(3) + 1e-6)}, r4={"cpsnr": repr(_cpsnr(4) + 1e-3)})
    result = check_parity.compare(ref, _per_image(tmp_path / "b.csv", near), check_parity.STRICT)
    assert result["passed"] and result["outlier_rows"] == 0 and result["exact_fraction"] < 1.0
    assert check_parity.compare(ref, _per_image(tmp_path / "b.csv", near), EXACT)["outlier_rows"] == 2
    one = _rows(100, r5={"mse": repr(_mse(5) + 2e-4)})
    assert check_parity.compare(ref, _per_image(tmp_path / "c.csv", one), check_parity.STRICT)["passed"]  # 1 of 100
    two = _rows(100, r5={"mse": "0.5"}, r6={"member": "ccc"})
    result = check_parity.compare(ref, _per_image(tmp_path / "d.csv", two), check_parity.STRICT)
    assert not result["passed"] and result["outlier_rows"] == 2 and result["allowed_outliers"] == 1
    assert result["outliers"] == ["d/m/i5: mse", "d/m/i6: member"]


def test_parity_needs_every_row_ok_and_present(tmp_path: Path) -> None:
    ref = _per_image(tmp_path / "ref.csv", _rows(10, r1={"cpsnr": "inf"}))
    assert check_parity.compare(ref, _per_image(tmp_path / "a.csv", _rows(10, r1={"cpsnr": "inf"})),
                                EXACT)["passed"]
    inf = check_parity.compare(ref, _per_image(tmp_path / "b.csv", _rows(10)), check_parity.DEFAULT)
    assert not inf["passed"] and inf["outliers"] == ["d/m/i1: cpsnr"]  # inf against a finite value
    failed = _rows(10, r1={"cpsnr": "inf"}, r2={"status": "failed"})
    assert check_parity.compare(ref, _per_image(tmp_path / "c.csv", failed), check_parity.DEFAULT)["outliers"] == \
        ["d/m/i2: status"]
    extra = _rows(11, r1={"cpsnr": "inf"})
    result = check_parity.compare(ref, _per_image(tmp_path / "d.csv", extra), check_parity.DEFAULT)
    assert not result["passed"] and result["missing"] == ["d/m/i10"]
    assert check_parity.compare(_per_image(tmp_path / "e.csv", extra), ref, EXACT)["passed"]  # subset


def test_stage_timings_leave_out_the_warm_up_and_the_counted_step() -> None:
    rec = train_timed.StageRecord("train", planned=6, flop_index=2, images=8, flops=4 * 10**12)
    rec.starts = [0.0, 5.0, 6.0, 8.0, 9.0, 10.5]  # steps 0-1 warm up, step 2 runs under the flop counter
    rec.ends = [4.0, 5.5, 7.9, 8.5, 9.5, 11.0]
    s = rec.summary(peak_tflops=10.0)
    assert s["timed_steps"] == 3 and s["step_ms"] == pytest.approx(1000 * (1.0 + 1.5 + 0.5) / 3)
    assert s["compute_ms"] == pytest.approx(500.0) and s["images_per_s"] == pytest.approx(8.0)
    assert s["tflops"] == pytest.approx(4.0) and s["mfu"] == pytest.approx(0.4)
    assert s["tflops_compute"] == pytest.approx(8.0) and s["wall_s"] == pytest.approx(11.0)


def test_main_run_steps_fill_the_budget_at_the_probe_step_times() -> None:
    probe = [{"steps": 4, "step_ms": 500.0}, {"steps": 4, "step_ms": 1500.0}, {"stage": "empty", "steps": 0}]
    assert train_timed.steps_for(30.0, probe, floor=8, ceiling=1000) == 30  # 1 s a step on average
    assert train_timed.steps_for(3.0, probe, floor=8, ceiling=1000) == 8
    assert train_timed.steps_for(3000.0, probe, floor=8, ceiling=1000) == 1000


@pytest.mark.slow
def test_smoke_run_on_the_cpu_passes_every_step_with_sane_figures(tmp_path: Path) -> None:
    # enough val images that the router, labelling the val split, trains on a full batch
    src, bundle, out = fake_shared_data(tmp_path / "src", 100), tmp_path / "bundle", tmp_path / "out"
    assert prepare.main(["--source", str(src), "--out", str(bundle), "--no-wheels", "--train-images", "40",
                         "--val-images", "10"]) == 0
    cmd = [sys.executable, str(GPU / "check.py"), "--smoke", "--bundle", str(bundle), "--out", str(out),
           "--work", str(tmp_path / "work")]
    res = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
                         timeout=1800)
    report = json.loads((out / "gpu_check.json").read_text())
    steps = {s["name"]: s for s in report["steps"]}
    assert res.returncode == 0, [f"{s['name']}: {s['detail']}" for s in report["steps"] if s["status"] != "pass"]
    assert all(s["status"] == "pass" for s in steps.values()) and len(steps) == 15
    decoded = steps["decode"]["data"]["rows"]  # the same code with torchvision's CPU decoder
    assert [r["dataset"] for r in decoded] == ["imagenet-sample", "cbsd68"]
    assert [r["images"] for r in decoded] == [6, 4]  # --limit 6 in the smoke run; the fake cbsd68 has 4
    assert all(r["cpu_images_per_s"] > 0 and r["device_images_per_s"] > 0 and r["max_level_diff"] <= 2 for r in decoded)
    assert "--decode-device cuda" in (out / "perf.md").read_text()
    shipped = steps["eval-device"]["data"]["summary"]
    assert len(shipped) == 21 and all(r["n"] >= 1 and 5 < r["cpsnr"] < 60 for r in shipped)
    for name in ("parity-cpu", "parity-strict"):  # the same arithmetic on the CPU: identical text
        assert steps[name]["data"]["parity"]["exact_fraction"] >= 0.99
    # 2 processes of 1 torch thread against 1 of 2: a colorizer's convolutions may round
    # differently (one gan image at ~1e-6 with the December 2026 weights); within STRICT
    assert steps["torchrun"]["data"]["parity"]["passed"]
    assert max(steps["torchrun"]["data"]["parity"]["worst_relative"].values(), default=0.0) < 1e-4
    training = report["training"]
    assert {r["model"] for r in training} == {"ccc", "gan", "profile", "router", "semantic"}
    assert all(r["images_per_s"] > 0 and r["flops_per_step"] > 0 and r["step_ms"] > 0 for r in training)
    trained = steps["eval-trained"]["data"]["summary"]
    assert {r["model"] for r in trained} == {"ccc", "gan", "profile", "router", "semantic"}
    board = (out / "imagenet-sample.md").read_text()
    assert "ccc (trained)" in board and "ccc (shipped)" in board
    assert (out / "index.md").exists() and "| ccc | train |" in (out / "perf.md").read_text()
    assert "Smoke run on the CPU" in (out / "README.md").read_text()


def test_bundled_wheels_are_the_locked_versions() -> None:
    """prepare.py downloads the lock's exact versions of what the GPU machine lacks."""
    pins = prepare.locked(ROOT / "requirements" / "lock.txt")
    assert pins["torch-fidelity"] == "torch-fidelity==0.4.0" and pins["lpips"] == "lpips==0.1.4"
    assert pins["torch"] == "torch==2.14.1"  # the x86_64 line, not aarch64's
