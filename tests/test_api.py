"""The Python API (docs/api.md): every example in the doc runs and asserts its documented
values; score() on folders gives `colorbench score`'s numbers, on tensors the same per-image
values as on those tensors saved as PNG; metric() takes uint8 or float in [0, 1] and refuses
the rest; evaluate() is `colorbench run`; create_model() is the factory; `import colorbench`
loads no torch."""

from __future__ import annotations

import csv
import io
import math
import re
import subprocess
import sys
from pathlib import Path

import colorbench_metrics_classes.plugin
import numpy as np
import pytest
import torch
from conftest import load_regs, make_folder, write_image
from PIL import Image

import colorbench
from colorbench.errors import ColorbenchError, UnknownNameError

DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def doc_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)


@pytest.mark.slow
def test_every_example_in_api_md_runs_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    blocks = doc_blocks()
    assert len(blocks) >= 6
    namespace: dict = {}
    for k, block in enumerate(blocks):
        exec(compile(block, f"docs/api.md python block {k + 1}", "exec"), namespace)
    assert (tmp_path / "runs" / "api-demo" / "summary.csv").is_file()
    assert (tmp_path / "runs" / "score-gray" / "per_image.csv").is_file()


def test_doc_examples_call_every_api_function() -> None:
    code = "\n".join(doc_blocks())
    for name in ("list_models", "create_model", "metric", "score", "evaluate", "registries"):
        assert f"colorbench.{name}(" in code


def test_import_colorbench_loads_no_torch_and_exports_lazily() -> None:
    code = ("import sys, colorbench; assert 'torch' not in sys.modules; "
            "print(colorbench.list_models()); assert 'torch' not in sys.modules; "
            "assert colorbench.score is colorbench.api.score and colorbench.Scores.__name__ == 'Scores'")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "'gray'" in out
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        colorbench.nothing  # noqa: B018


@pytest.fixture
def regs():
    return load_regs()


def _images(n: int = 3, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    gt = torch.randint(0, 256, (n, 3, 24, 20), dtype=torch.uint8, generator=g)
    pred = (gt.int() + torch.randint(-40, 40, gt.shape, generator=g)).clamp(0, 255).to(torch.uint8)
    return pred, gt


# ------------------------------------------------------------------ metric()
def test_metric_values_uint8_float_and_identical(regs) -> None:
    pred, gt = _images()
    cpsnr = colorbench.metric("psnr", regs=regs)  # an alias
    assert cpsnr.spec.name == "cpsnr" and cpsnr.higher_is_better
    v = cpsnr(pred, gt)
    mse = ((pred.double() - gt.double()) ** 2).mean(dim=(1, 2, 3))
    assert v.dtype == torch.float64 and v.shape == (3,)
    torch.testing.assert_close(v, 10 * torch.log10(255.0**2 / mse))
    assert torch.equal(cpsnr(pred.float() / 255, gt.float() / 255), v)
    assert (cpsnr(gt, gt) == 100.0).all()  # the cap
    assert torch.equal(cpsnr(pred[0], gt[0]), v[:1])  # one [3, H, W] image
    half = torch.full((1, 3, 4, 4), 0.5)
    assert colorbench.api.as_uint8(half).unique().tolist() == [128]  # round half up, as the protocol


def test_metric_refuses_bad_input_and_set_metrics(regs) -> None:
    pred, gt = _images()
    cpsnr = colorbench.metric("cpsnr", regs=regs)
    with pytest.raises(ColorbenchError, match=r"floats must be in \[0, 1\]"):
        cpsnr(pred.float(), gt.float())
    with pytest.raises(ColorbenchError, match=r"dtype torch\.int64"):
        cpsnr(pred.long(), gt.long())
    with pytest.raises(ColorbenchError, match=r"expected RGB \[B, 3, H, W\]"):
        cpsnr(pred[:, :1], gt[:, :1])
    with pytest.raises(UnknownNameError, match="Did you mean"):
        colorbench.metric("cpsnrr", regs=regs)
    with pytest.raises(ColorbenchError, match="no option 'nope'"):
        colorbench.metric("cpsnr", regs=regs, nope=1)

    full = load_regs([("metrics_classes", colorbench_metrics_classes.plugin)])
    with pytest.raises(ColorbenchError, match=r"per-set .*colorbench\.score"):
        colorbench.metric("cnr_union", regs=full)
    assert colorbench.metric("cnr", regs=full, alpha=12)(pred, gt).shape == (3,)


# ------------------------------------------------------------------- score()
def test_score_tensors_equals_score_of_the_same_images_as_png(regs, tmp_path: Path) -> None:
    pred, gt = _images(4, seed=1)
    ids = ["w", "x", "y", "z"]
    s = colorbench.score(pred, gt, metrics=["cpsnr", "mse", "ssim"], ids=ids, regs=regs)
    assert list(s.per_image.index) == ids and list(s.per_image.columns) == ["status", "error", "failed_metrics",
                                                                            "cpsnr", "mse", "ssim"]
    torch.testing.assert_close(torch.tensor(s.per_image["cpsnr"].to_numpy()), colorbench.metric("cpsnr", regs=regs)(pred, gt))
    for k, name in enumerate(ids):
        write_image(tmp_path / "pred" / f"{name}.png", pred[k].permute(1, 2, 0).numpy())
        write_image(tmp_path / "gt" / f"{name}.png", gt[k].permute(1, 2, 0).numpy())
    folders = colorbench.score(tmp_path / "pred", tmp_path / "gt", metrics=["cpsnr", "mse", "ssim"], regs=regs)
    assert folders.per_image[["cpsnr", "mse", "ssim"]].equals(s.per_image[["cpsnr", "mse", "ssim"]])
    assert folders.out_dir is None and s.summary["n"] == 4
    for m in ("cpsnr", "mse", "ssim"):
        assert math.isclose(folders.summary[m], s.summary[m], rel_tol=1e-12)
        assert math.isclose(s.summary[m], float(s.per_image[m].mean()), rel_tol=1e-12)


def test_score_folder_equals_the_cli(regs, cli, tmp_path: Path) -> None:
    make_folder(tmp_path / "gt", 3)
    pred_dir = tmp_path / "pred"
    pred_dir.mkdir()
    for k, f in enumerate(sorted((tmp_path / "gt").iterdir())):
        img = np.asarray(Image.open(f)).astype(int)
        write_image(pred_dir / f.name, np.clip(img + 10 * (k + 1), 0, 255).astype(np.uint8))
    cli("score", "--pred", pred_dir, "--gt", tmp_path / "gt", "--metrics", "cpsnr,ssim",
        "--out", tmp_path / "cli", "--workers", "0", "--quiet")
    api = colorbench.score(pred_dir, tmp_path / "gt", metrics=["cpsnr", "ssim"], out=tmp_path / "api", regs=regs)
    cli_rows = {r["image_id"]: r for r in csv.DictReader(io.StringIO((tmp_path / "cli" / "per_image.csv").read_text()))}
    assert sorted(cli_rows) == sorted(api.per_image.index) and len(cli_rows) == 3
    for image_id, row in api.per_image.iterrows():
        assert float(cli_rows[image_id]["cpsnr"]) == row["cpsnr"]
        assert float(cli_rows[image_id]["ssim"]) == row["ssim"]
    summary = next(csv.DictReader(io.StringIO((tmp_path / "cli" / "summary.csv").read_text())))
    assert api.out_dir == tmp_path / "api"
    for key in ("n", "cpsnr", "cpsnr_ci95", "cpsnr_n_inf", "ssim", "ssim_ci95"):
        assert float(summary[key]) == api.summary[key], key


def test_score_tensors_failed_cell_and_shape_errors(regs_with) -> None:
    from colorbench import MetricSpec, hookimpl

    class Picky:
        @hookimpl
        def register_metrics(self, register):
            def fn(batch):
                if (batch.gt.flatten(1).float().mean(1) < 1).any():
                    raise ValueError("black image")
                return torch.ones(len(batch))
            register(MetricSpec(name="picky", fn=fn))

    regs = regs_with(("picky", Picky()))
    pred, gt = _images(2)
    gt[1] = 0
    s = colorbench.score(pred, gt, metrics=["picky", "mse"], regs=regs)
    assert s.per_image.loc["0", "status"] == "ok" and s.per_image.loc["1", "status"] == "partial"
    assert "black image" in s.per_image.loc["1", "error"] and s.per_image.loc["1", "mse"] > 0
    assert s.summary["picky_n"] == 1
    with pytest.raises(ColorbenchError, match="differ in shape"):
        colorbench.score(pred, gt[:1], metrics=["mse"], regs=regs)
    with pytest.raises(ColorbenchError, match="one unique id per image"):
        colorbench.score(pred, gt, metrics=["mse"], ids=["a", "a"], regs=regs)


# ------------------------------------------------- evaluate(), create_model()
def test_evaluate_is_run_with_mapping_options(regs, tmp_path: Path) -> None:
    import json

    ckpt = tmp_path / "my.pt"
    ckpt.write_bytes(b"gray ignores it")
    result = colorbench.evaluate(models=["gray"], datasets=["shapes"], metrics=["cpsnr"], size=16,
                                 out=tmp_path / "runs", name="e", options={"shapes.n_images": 5},
                                 checkpoints={"gray": ckpt}, quiet=True, regs=regs)
    assert result.run_dir == tmp_path / "runs" / "e" and result.errors == []
    row = result.summary[0]
    assert (row["dataset"], row["model"], row["n"]) == ("shapes", "gray", 5)
    rows = list(csv.DictReader(io.StringIO((result.run_dir / "per_image.csv").read_text())))
    assert len(rows) == 5 and math.isclose(row["cpsnr"], sum(float(r["cpsnr"]) for r in rows) / 5, rel_tol=1e-12)
    assert str(ckpt) in json.dumps(json.loads((result.run_dir / "run.json").read_text()))
    with pytest.raises(ColorbenchError, match="nonexistent"):
        colorbench.evaluate(models=["gray"], datasets=["shapes"], metrics=["cpsnr"], out=tmp_path / "runs",
                            name="bad", options={"gray.nonexistent": 1}, regs=regs)
    with pytest.raises(TypeError, match="unexpected keyword"):
        colorbench.evaluate(models=["gray"], out=tmp_path / "runs", colour="red", regs=regs)


def test_create_and_list_models(regs) -> None:
    assert colorbench.list_models(regs) == ["gray"]
    assert "samples" in colorbench.list_datasets(regs) and "cpsnr" in colorbench.list_metrics(regs)
    model = colorbench.create_model("gray", regs=regs)
    L = torch.rand(2, 1, 8, 8) * 100
    ab = model.colorize(L)
    assert ab.shape == (2, 2, 8, 8) and ab.abs().max() == 0
    with pytest.raises(UnknownNameError, match="Did you mean 'gray'"):
        colorbench.create_model("grey", regs=regs)
