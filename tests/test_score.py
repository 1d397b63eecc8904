"""`run` numbers == `score` numbers on the saved PNGs == an independent numpy/skimage CPSNR."""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import write_image
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio

from colorbench import ColorizerSpec, hookimpl


class Tint:
    def colorize(self, L: torch.Tensor) -> torch.Tensor:
        return torch.cat([(L - 50.0) * 0.7, torch.cos(L / 11.0) * 30.0], dim=1)


class TintPlugin:
    @hookimpl
    def register_colorizers(self, register):
        register(ColorizerSpec(name="tint", factory=lambda **kw: Tint(), description="test tint"))


def rows_of(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="") as f:
        return {r["image_id"]: r for r in csv.DictReader(f)}


def numpy_cpsnr(pred_path: Path, gt_path: Path) -> tuple[float, float]:
    pred = np.asarray(Image.open(pred_path).convert("RGB"), dtype=np.float64)
    gt = np.asarray(Image.open(gt_path).convert("RGB"), dtype=np.float64)
    mse255 = ((pred - gt) ** 2).mean()
    return (10 * math.log10(255.0**2 / mse255) if mse255 else math.inf), mse255 / 255.0**2


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    write_image(root / "wide.png", size=(90, 50), seed=1)
    write_image(root / "tall.png", size=(40, 70), seed=2)
    write_image(root / "sub/square.png", size=(64, 64), seed=3)
    write_image(root / "photo.jpg", size=(80, 60), seed=4, quality=90)
    gray = np.asarray(Image.fromarray(np.full((30, 30, 3), 128, np.uint8)).convert("L"))
    Image.fromarray(gray).save(root / "flat.png")  # gray predicts it exactly: cpsnr = inf
    return root


@pytest.mark.parametrize("resize", ["crop", "stretch"])
def test_run_equals_score_equals_numpy(cli, tmp_path: Path, photos: Path, resize: str) -> None:
    cli.add_plugin("tint", TintPlugin())
    runs = tmp_path / "runs"
    cli("run", "--models", "tint,gray", "--datasets", str(photos), "--metrics", "mse,cpsnr",
        "--size", "48", "--resize", resize, "--batch-size", "2", "--workers", "0",
        "--save-images", "--out", str(runs), "--name", "r", "--quiet")
    run_rows = {(r["model"], r["image_id"]): r
                for r in csv.DictReader(io.StringIO((runs / "r" / "per_image.csv").read_text()))}
    assert len(run_rows) == 10 and all(r["status"] == "ok" for r in run_rows.values())
    gt_dir = runs / "r" / "outputs" / "photos" / "_ground_truth"
    for model in ("tint", "gray"):
        pred_dir = runs / "r" / "outputs" / "photos" / model
        assert sorted(p.relative_to(pred_dir).as_posix() for p in pred_dir.rglob("*.png")) == [
            "flat.png", "photo.png", "sub/square.png", "tall.png", "wide.png"]
        out = tmp_path / f"score-{model}"
        cli("score", "--pred", str(pred_dir), "--gt", str(gt_dir), "--metrics", "mse,cpsnr",
            "--out", str(out), "--quiet")
        scored = rows_of(out / "per_image.csv")
        assert set(scored) == {"flat", "photo", "sub/square", "tall", "wide"}
        for image_id, s in scored.items():
            r = run_rows[(model, image_id)]
            assert s["dataset"] == "score" and s["model"] == model and s["status"] == "ok"
            assert Image.open(pred_dir / f"{image_id}.png").size == (48, 48)
            for m in ("mse", "cpsnr"):
                a, b = float(r[m]), float(s[m])
                assert a == b or abs(a - b) <= 1e-6, (model, image_id, m, a, b)
            ref_cpsnr, ref_mse = numpy_cpsnr(pred_dir / f"{image_id}.png", gt_dir / f"{image_id}.png")
            assert float(s["mse"]) == pytest.approx(ref_mse, rel=1e-9, abs=1e-15)
            if math.isinf(ref_cpsnr):  # identical images: the 100 dB cap
                assert float(s["cpsnr"]) == pytest.approx(100.0)
            else:
                assert float(s["cpsnr"]) == pytest.approx(ref_cpsnr, abs=1e-9)
                pred = np.asarray(Image.open(pred_dir / f"{image_id}.png"))
                gt = np.asarray(Image.open(gt_dir / f"{image_id}.png"))
                assert float(s["cpsnr"]) == pytest.approx(peak_signal_noise_ratio(gt, pred, data_range=255), abs=1e-9)
    assert float(run_rows[("gray", "flat")]["cpsnr"]) == pytest.approx(100.0)
    assert float(run_rows[("tint", "wide")]["cpsnr"]) < float(run_rows[("gray", "wide")]["cpsnr"]) + 50
    summary = list(csv.DictReader(io.StringIO((tmp_path / "score-gray" / "summary.csv").read_text())))
    assert summary[0]["cpsnr_n"] == "5" and summary[0]["n"] == "5"  # the capped image counts in the mean
    capped = [float(r["cpsnr"]) for r in rows_of(tmp_path / "score-gray" / "per_image.csv").values()]
    assert float(summary[0]["cpsnr"]) == pytest.approx(sum(capped) / 5)


def test_native_size_run_scored_against_the_original_files(cli, tmp_path: Path, photos: Path) -> None:
    cli.add_plugin("tint", TintPlugin())
    runs = tmp_path / "runs"
    (photos / "photo.jpg").unlink()  # originals must be lossless for an exact comparison
    cli("run", "--models", "tint", "--datasets", str(photos), "--metrics", "mse,cpsnr",
        "--resize", "none", "--batch-size", "3", "--workers", "0", "--save-images",
        "--out", str(runs), "--name", "native", "--quiet")
    run_rows = rows_of(runs / "native" / "per_image.csv")
    pred_dir = runs / "native" / "outputs" / "photos" / "tint"
    assert Image.open(pred_dir / "wide.png").size == (90, 50)
    cli("score", "--pred", str(pred_dir), "--gt", str(photos), "--out", str(tmp_path / "s"),
        "--metrics", "cpsnr,mse", "--quiet")
    scored = rows_of(tmp_path / "s" / "per_image.csv")
    assert set(scored) == set(run_rows) == {"flat", "sub/square", "tall", "wide"}
    for image_id, r in run_rows.items():
        assert scored[image_id]["cpsnr"] == r["cpsnr"] and scored[image_id]["mse"] == r["mse"]
        ref, _ = numpy_cpsnr(pred_dir / f"{image_id}.png", photos / f"{image_id}.png")
        assert float(r["cpsnr"]) == pytest.approx(ref, abs=1e-9)


def test_score_lists_unmatched_files_and_fails_size_mismatch(cli, tmp_path: Path) -> None:
    pred, gt = tmp_path / "pred", tmp_path / "gt"
    for name in ("a", "b", "c"):
        write_image(gt / f"{name}.png", size=(32, 32), seed=ord(name))
    write_image(pred / "a.png", size=(32, 32), seed=9)
    write_image(pred / "b.jpg", size=(20, 24), seed=10)  # other size, other extension
    write_image(pred / "extra.png", size=(32, 32), seed=11)
    result = cli("score", "--pred", str(pred), "--gt", str(gt), "--metrics", "cpsnr",
                 "--out", str(tmp_path / "s"))
    text = " ".join(result.output.split())
    assert "1 predictions without ground truth, not scored: extra" in text
    assert "1 ground truths without prediction, not scored: c" in text
    rows = rows_of(tmp_path / "s" / "per_image.csv")
    assert set(rows) == {"a", "b"}
    assert rows["a"]["status"] == "ok"
    assert rows["b"]["status"] == "failed" and rows["b"]["cpsnr"] == ""
    assert "20x24 differs from ground truth 32x32" in rows["b"]["error"]
    assert "--resize-pred" in rows["b"]["error"]
    manifest = json.loads((tmp_path / "s" / "run.json").read_text())
    assert manifest["unmatched"] == {"pred": ["extra"], "gt": ["c"]}

    cli("score", "--pred", str(pred), "--gt", str(gt), "--metrics", "cpsnr",
        "--out", str(tmp_path / "s2"), "--resize-pred", "--quiet")
    rows = rows_of(tmp_path / "s2" / "per_image.csv")
    assert rows["b"]["status"] == "ok" and math.isfinite(float(rows["b"]["cpsnr"]))


def test_score_with_no_matches_is_a_clear_error(cli, tmp_path: Path) -> None:
    write_image(tmp_path / "p" / "x.png")
    write_image(tmp_path / "g" / "y.png")
    result = cli("score", "--pred", str(tmp_path / "p"), "--gt", str(tmp_path / "g"), ok=False)
    assert result.exit_code == 2
    assert "no prediction in" in result.output
    shutil.rmtree(tmp_path / "g")
    result = cli("score", "--pred", str(tmp_path / "p"), "--gt", str(tmp_path / "g"), ok=False)
    assert result.exit_code == 2 and "not a directory" in result.output


@pytest.mark.shared_data
def test_run_equals_score_on_real_photos(cli, tmp_path: Path, shared_data: Path) -> None:
    """Real photographs (../shared/data/cbsd68): run == score == numpy, gray and tint."""
    cli.add_plugin("tint", TintPlugin())
    photos = tmp_path / "cbsd"
    photos.mkdir()
    for src in sorted((shared_data / "cbsd68").glob("*.png"))[:4]:
        shutil.copy(src, photos / src.name)
    runs = tmp_path / "runs"
    cli("run", "--models", "tint,gray", "--datasets", str(photos), "--metrics", "mse,cpsnr",
        "--size", "128", "--workers", "0", "--save-images", "--out", str(runs), "--name", "r", "--quiet")
    run_rows = {(r["model"], r["image_id"]): r
                for r in csv.DictReader(io.StringIO((runs / "r" / "per_image.csv").read_text()))}
    gt_dir = runs / "r" / "outputs" / "cbsd" / "_ground_truth"
    for model in ("tint", "gray"):
        pred_dir = runs / "r" / "outputs" / "cbsd" / model
        cli("score", "--pred", str(pred_dir), "--gt", str(gt_dir), "--metrics", "mse,cpsnr",
            "--out", str(tmp_path / model), "--quiet")
        for image_id, s in rows_of(tmp_path / model / "per_image.csv").items():
            assert s["cpsnr"] == run_rows[(model, image_id)]["cpsnr"]
            ref, _ = numpy_cpsnr(pred_dir / f"{image_id}.png", gt_dir / f"{image_id}.png")
            assert float(s["cpsnr"]) == pytest.approx(ref, abs=1e-9)
            assert 10 < ref < 60


@pytest.mark.parametrize("resize", ["crop", "stretch"])
def test_score_applies_the_run_protocol_to_original_ground_truths(cli, tmp_path: Path, photos: Path,
                                                                  resize: str) -> None:
    """`score --size/--resize` resizes the original files as `run` does: scoring a run's saved
    outputs against the ORIGINAL photos gives the run's numbers exactly; without the protocol
    every size differs and fails; `report` works on the score directory."""
    import colorbench_metrics_color.plugin as color_metrics

    cli.add_plugin("tint", TintPlugin())
    cli.add_plugin("metrics_color", color_metrics)
    runs = tmp_path / "runs"
    cli("run", "--models", "tint", "--datasets", str(photos), "--metrics", "mse,cpsnr,delta_colorfulness",
        "--size", "40", "--resize", resize, "--workers", "0", "--save-images", "--out", str(runs),
        "--name", "r", "--quiet")
    run_rows = rows_of(runs / "r" / "per_image.csv")
    pred_dir = runs / "r" / "outputs" / "photos" / "tint"
    out = tmp_path / "s"
    result = cli("score", "--pred", str(pred_dir), "--gt", str(photos), "--size", "40", "--resize", resize,
                 "--metrics", "mse,cpsnr,delta_colorfulness", "--out", str(out))
    scored = rows_of(out / "per_image.csv")
    assert set(scored) == set(run_rows) and len(scored) == 5
    for image_id, r in run_rows.items():
        for m in ("mse", "cpsnr", "delta_colorfulness"):
            assert scored[image_id][m] == r[m], (image_id, m)
    assert "|delta_colorfulness|" in result.output  # the run's display of a signed metric
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["protocol"] == {"size": 40, "resize": resize}
    report = cli("report", str(out), "--out", str(tmp_path / "report"))
    assert report.exit_code == 0, report.output
    page = (tmp_path / "report" / "score.html").read_text()
    assert page.count("<img") >= 3 * 5  # gray input, prediction and ground truth of each image
    plain = cli("score", "--pred", str(pred_dir), "--gt", str(photos), "--metrics", "mse",
                "--out", str(tmp_path / "plain"), ok=False)
    assert plain.exit_code == 1 and "--resize-pred" in (tmp_path / "plain" / "per_image.csv").read_text()


def test_score_refuses_an_unknown_resize_mode(cli, tmp_path: Path, photos: Path) -> None:
    result = cli("score", "--pred", str(photos), "--gt", str(photos), "--resize", "zoom", ok=False)
    assert result.exit_code == 2 and "--resize 'zoom': choose one of" in result.output
