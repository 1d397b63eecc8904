"""The command line through typer's CliRunner, with only the built-in plugins (plus test
plugins a test adds): list, run errors, --set, leaderboard formats, colorize, train errors,
and the no-argument default run."""

from __future__ import annotations

import csv
import io
import json
import math
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import make_folder, write_image
from PIL import Image

from colorbench import ColorizerSpec, Option, __version__, hookimpl


class Tint:
    def __init__(self, strength: float = 1.0):
        self.strength = strength

    def colorize(self, L: torch.Tensor) -> torch.Tensor:
        return torch.cat([(L - 50.0) * 0.5, torch.sin(L / 9.0) * 25.0], dim=1) * self.strength


class TintPlugin:
    @hookimpl
    def register_colorizers(self, register):
        register(ColorizerSpec(
            name="tint", description="test tint",
            factory=lambda device="cpu", checkpoint=None, strength=1.0, **kw: Tint(strength),
            options=(Option("strength", float, 1.0, "scale of a*b*"),)))


@pytest.fixture
def argv(monkeypatch):
    """Make sys.argv look like a real `colorbench ...` call (run.json records it)."""

    def set_argv(*args: str) -> None:
        monkeypatch.setattr(sys, "argv", ["colorbench", *map(str, args)])

    return set_argv


# ------------------------------------------------------------------------ list
def test_version(cli) -> None:
    assert cli("--version").output.strip() == f"colorbench {__version__}"


@pytest.mark.parametrize("kind,expected", [
    ("colorizers", ["gray"]), ("datasets", ["samples", "shapes", "folder"]),
    ("metrics", ["mse", "cpsnr", "higher ↑", "lower ↓"]), ("segmenters", ["segmenters: none registered"]),
    ("plugins", ["gray", "datasets", "metrics_pixel", "register_metrics"]),
    ("metric", ["cpsnr"]),  # singular accepted
])
def test_list_each_kind(cli, kind: str, expected: list[str]) -> None:
    out = cli("list", kind).output
    for text in expected:
        assert text in out, (kind, text, out)


def test_list_all_and_verbose_shows_options(cli) -> None:
    cli.add_plugin("tint", TintPlugin())
    out = cli("list").output
    assert all(k in out for k in ("colorizers", "datasets", "metrics", "plugins"))
    assert "strength" not in cli("list", "colorizers").output
    out = cli("list", "colorizers", "--verbose").output
    assert "strength=1.0 (float) scale of a*b*" in out
    out = cli("list", "datasets", "-v").output
    assert "val_fraction=0.1 (float)" in out and "n_images=0 (int)" in out
    out = cli("list", "metrics", "--verbose").output
    assert "psnr" in out  # the alias


def test_list_unknown_kind(cli) -> None:
    result = cli("list", "colourizers", ok=False)
    assert result.exit_code == 2 and "choose one of all, colorizers" in result.output


# ---------------------------------------------------------------- run errors
@pytest.mark.parametrize("args,needle", [
    (["--models", "grey"], "unknown colorizer 'grey'. Did you mean 'gray'?"),
    (["--metrics", "cpsrn"], "unknown metric 'cpsrn'. Did you mean 'cpsnr'"),
    (["--datasets", "sampels"], "unknown dataset 'sampels'. Did you mean 'samples'"),
    (["--datasets", "./no/such/dir"], "no such directory"),
    (["--resize", "squash"], "--resize 'squash': choose one of crop, stretch, none"),
    (["--set", "strenght=2"], "no selected colorizer or dataset declares option 'strenght'. Did you mean strength?"),
    (["--set", "tint.nope=2"], "no selected colorizer or dataset declares option 'nope'"),
    (["--set", "strength=strong"], "option strength='strong': expected a float"),
    (["--set", "noequals"], "expected KEY=VALUE"),
    (["--checkpoint", "tnt=x.pt"], "'tnt' is not a selected model. Did you mean tint?"),
    (["--device", "cuda:0"], "CUDA is not available"),
])
def test_run_argument_errors_exit_2_with_one_line(cli, tmp_path: Path, args: list[str], needle: str) -> None:
    if args[0] == "--device" and torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    cli.add_plugin("tint", TintPlugin())
    base = ["run", "--models", "tint", "--datasets", "samples", "--out", str(tmp_path), "--quiet"]
    result = cli(*base, *args, ok=False)
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and needle in errors[0], result.output
    assert not (tmp_path / "per_image.csv").exists()


def test_set_option_reaches_the_colorizer(cli, tmp_path: Path) -> None:
    cli.add_plugin("tint", TintPlugin())
    make_folder(tmp_path / "imgs", 2)
    common = ["run", "--models", "tint", "--datasets", str(tmp_path / "imgs"), "--metrics", "cpsnr",
              "--size", "16", "--workers", "0", "--out", str(tmp_path / "runs"), "--quiet"]
    cli(*common, "--name", "zero", "--set", "strength=0")
    cli(*common, "--name", "gray")
    cli(*common[:2], "gray", *common[3:], "--name", "g2")
    zero = (tmp_path / "runs/zero/per_image.csv").read_text().replace("tint", "gray")
    gray = (tmp_path / "runs/g2/per_image.csv").read_text()
    strip = lambda t: [r[:5] + r[6:] for r in csv.reader(io.StringIO(t))]  # noqa: E731  (drop seconds)
    assert strip(zero) == strip(gray)  # strength 0 == gray
    manifest = json.loads((tmp_path / "runs/zero/run.json").read_text())
    assert manifest["resolved"]["options"]["tint"] == {"strength": 0.0}


class IdEcho(Tint):
    """Reports, per image, the id the harness passed and the batch position."""

    def colorize_with_info(self, L: torch.Tensor, ids: list[str]) -> tuple[torch.Tensor, dict]:
        assert len(ids) == L.shape[0]
        return self.colorize(L), {"seen_id": list(ids), "pos": list(range(len(ids)))}


class IdEchoPlugin:
    @hookimpl
    def register_colorizers(self, register):
        register(ColorizerSpec(name="idecho", factory=lambda device="cpu", checkpoint=None, **kw: IdEcho(),
                               extra_columns=("seen_id", "pos")))


def test_colorize_with_info_gets_ids_and_fills_extra_columns(cli, tmp_path: Path) -> None:
    cli.add_plugin("idecho", IdEchoPlugin())
    make_folder(tmp_path / "imgs", 5)
    cli("run", "--models", "idecho,gray", "--datasets", str(tmp_path / "imgs"), "--metrics", "cpsnr",
        "--size", "16", "--workers", "0", "--batch-size", "2", "--out", str(tmp_path / "runs"),
        "--name", "r", "--quiet")
    rows = list(csv.DictReader(io.StringIO((tmp_path / "runs/r/per_image.csv").read_text())))
    echo = [r for r in rows if r["model"] == "idecho"]
    assert len(echo) == 5 and all(r["seen_id"] == r["image_id"] for r in echo)
    assert sorted(r["pos"] for r in echo) == ["0", "0", "0", "1", "1"]  # batches of 2, 2, 1
    assert all(r["seen_id"] == "" for r in rows if r["model"] == "gray")
    cli("colorize", "idecho", str(tmp_path / "imgs"), "--out", str(tmp_path / "col"), "--size", "16")
    assert len(list((tmp_path / "col").glob("*.png"))) == 5


# ---------------------------------------------------------------- leaderboard
@pytest.fixture
def two_runs(cli, tmp_path: Path, argv) -> tuple[Path, Path]:
    cli.add_plugin("tint", TintPlugin())
    make_folder(tmp_path / "imgs", 4)
    args = ["run", "--models", "gray", "--datasets", str(tmp_path / "imgs"), "--metrics", "cpsnr,mse",
            "--size", "24", "--workers", "0", "--out", str(tmp_path / "runs"), "--name", "a", "--quiet"]
    argv(*args)
    cli(*args)
    args[2], args[-2] = "tint", "b"
    argv(*args)
    cli(*args)
    return tmp_path / "runs" / "a", tmp_path / "runs" / "b"


def main_table_models(markdown: str) -> list[str]:
    """Model names of the leaderboard's first table (later tables: p-values, breakdowns)."""
    lines = markdown.split("\n\n| model ")[1].split("\n\n")[0].splitlines()
    return [line.split("|")[1].strip() for line in lines[2:]]


def summary_of(run_dir: Path) -> dict[str, str]:
    return next(csv.DictReader(io.StringIO((run_dir / "summary.csv").read_text())))


def test_leaderboard_markdown(cli, two_runs) -> None:
    a, b = two_runs
    out = cli("leaderboard", str(a), str(b)).output
    assert out.startswith("# imgs")
    assert "| model | CPSNR ↑ | MSE ↓ | n | failed | device | weights |" in out
    sa, sb = summary_of(a), summary_of(b)
    best_cpsnr = max((float(sa["cpsnr"]), "gray"), (float(sb["cpsnr"]), "tint"))
    row = next(line for line in out.splitlines() if line.startswith(f"| {best_cpsnr[1]} |"))
    assert row.split("|")[2].strip().startswith("**") and "| 4 | 0 | cpu" in row
    other = next(line for line in out.splitlines() if line.startswith("| ") and best_cpsnr[1] not in line
                 and ("gray" in line or "tint" in line))
    assert "**" not in other.split("|")[2]
    # rows sorted by the first metric, best first
    assert main_table_models(out)[0] == best_cpsnr[1]
    assert f"colorbench {__version__}" in out
    assert f"colorbench run --models gray --datasets {a.parent.parent / 'imgs'}" in out
    assert "cpu" in out


def test_leaderboard_formats_and_out_dir(cli, two_runs, tmp_path: Path) -> None:
    a, b = two_runs
    csv_text = cli("leaderboard", str(a), str(b), "--format", "csv").output
    rows = list(csv.DictReader(io.StringIO(csv_text.strip())))
    assert {r["model"] for r in rows} == {"gray", "tint"} and rows[0]["n"] == "4"
    assert float(next(r for r in rows if r["model"] == "gray")["cpsnr"]) == pytest.approx(float(summary_of(a)["cpsnr"]))

    json_text = cli("leaderboard", str(a), str(b), "-f", "json").output

    def reject(name: str) -> None:
        raise AssertionError(f"leaderboard JSON contains the non-standard constant {name}")

    (data,) = json.loads(json_text, parse_constant=reject)["leaderboards"]  # strict JSON: no Infinity/NaN
    assert data["dataset"] == "imgs" and len(data["rows"]) == 2
    assert data["metrics"]["mse"]["higher_is_better"] is False

    latex = cli("leaderboard", str(a), str(b), "-f", "latex").output
    assert r"\begin{tabular}" in latex and r"$\uparrow$" in latex and r"\textbf{" in latex
    html = cli("leaderboard", str(a), str(b), "-f", "html").output
    assert "<table>" in html and "<b>" in html

    out = cli("leaderboard", str(a), str(b), "--out", str(tmp_path / "lb"), "-f", "markdown").output
    assert (tmp_path / "lb" / "imgs.md").is_file() and "wrote" in out
    md = cli("leaderboard", str(a), str(b), "--sort-by", "mse").output
    models = main_table_models(md)
    sa, sb = float(summary_of(a)["mse"]), float(summary_of(b)["mse"])
    assert models == (["gray", "tint"] if sa < sb else ["tint", "gray"])

    for bad, needle in ((["-f", "docx"], "--format docx"), (["--sort-by", "ssim"], "--sort-by ssim")):
        result = cli("leaderboard", str(a), *bad, ok=False)
        assert result.exit_code == 2 and needle in result.output
    result = cli("leaderboard", str(tmp_path), ok=False)
    assert result.exit_code == 2 and "not a finished colorbench run directory" in result.output


def test_leaderboard_same_model_from_two_runs(cli, two_runs) -> None:
    a, _ = two_runs
    out = cli("leaderboard", str(a), str(a)).output
    assert main_table_models(out) == ["gray (a)", "gray (a)"]


# ------------------------------------------------------------------- colorize
def test_colorize_writes_full_size_pngs(cli, tmp_path: Path) -> None:
    cli.add_plugin("tint", TintPlugin())
    photos = tmp_path / "bw"
    write_image(photos / "one.jpg", size=(120, 70))
    write_image(photos / "nested/two.png", size=(33, 51))
    (photos / "broken.png").write_bytes(b"")
    extra = write_image(tmp_path / "three.png", size=(20, 20))
    result = cli("colorize", "tint", str(photos), str(extra), "--out", str(tmp_path / "out"),
                 "--size", "32", ok=False)
    assert result.exit_code == 1  # one input failed, the others were written
    assert "wrote 3 images" in result.output and "1 failed" in result.output and "empty file" in result.output
    out = tmp_path / "out"
    assert Image.open(out / "one.png").size == (120, 70)
    assert Image.open(out / "nested" / "two.png").size == (33, 51)
    assert Image.open(out / "three.png").size == (20, 20)
    # the photo's own L* at full resolution: lightness preserved, colour added
    from colorbench.color import rgb_to_lab

    src = torch.from_numpy(np.array(Image.open(photos / "one.jpg").convert("RGB"))).permute(2, 0, 1)
    got = torch.from_numpy(np.array(Image.open(out / "one.png"))).permute(2, 0, 1)
    dL = (rgb_to_lab(src)[0] - rgb_to_lab(got)[0]).abs()
    assert dL.mean() < 1.5
    assert rgb_to_lab(got)[1:].abs().mean() > 3


def test_colorize_errors(cli, tmp_path: Path) -> None:
    result = cli("colorize", "gary", str(tmp_path), "--out", str(tmp_path / "o"), ok=False)
    assert result.exit_code == 2 and "Did you mean 'gray'" in result.output
    (tmp_path / "notes.txt").write_text("x")
    result = cli("colorize", "gray", str(tmp_path / "notes.txt"), "--out", str(tmp_path / "o"), ok=False)
    assert result.exit_code == 2 and "not an image file or directory" in result.output


# ---------------------------------------------------------------------- train
def test_train_non_trainable_model_is_a_clear_error(cli, tmp_path: Path) -> None:
    result = cli("train", "gray", "--dataset", "shapes", "--out", str(tmp_path / "t"), ok=False)
    assert result.exit_code == 2
    assert "colorizer 'gray' does not support training" in result.output
    assert not (tmp_path / "t").exists()


# ------------------------------------------------------------ default run
def test_run_without_arguments_is_the_embedded_default(cli, tmp_path: Path, monkeypatch, argv) -> None:
    monkeypatch.chdir(tmp_path)
    argv("run")
    result = cli("run")
    out = result.output
    match = re.search(r"leaderboard: (\S+\.md)", out)
    assert match, out
    board = Path(match.group(1))
    assert board.is_absolute() or (tmp_path / board).is_file()
    assert (tmp_path / board).read_text().startswith("# samples")
    run_dir = next((tmp_path / "runs").iterdir())
    rows = list(csv.DictReader(io.StringIO((run_dir / "per_image.csv").read_text())))
    assert {r["model"] for r in rows} == {"gray"} and len(rows) == 8
    assert {"mse", "cpsnr"} <= set(rows[0])
    assert all(r["status"] == "ok" and math.isfinite(float(r["cpsnr"])) for r in rows)
    assert "samples: mean over" in out and "cpsnr ↑" in out  # the summary table


def test_python_dash_m_colorbench() -> None:
    import subprocess

    out = subprocess.run([sys.executable, "-m", "colorbench", "--version"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == f"colorbench {__version__}"
