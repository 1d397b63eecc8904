"""Leaderboard statistics: paired bootstrap p-values, the ≈ marker, device/weights columns,
per-model breakdowns (extra columns, <model>-<suffix> variants) and the index page."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import make_folder

from colorbench import ColorizerSpec, Option, hookimpl
from colorbench.reporting.leaderboard import load_boards, to_markdown
from colorbench.reporting.significance import aligned, paired_bootstrap


# ------------------------------------------------------------------ the test itself
def test_bootstrap_identical_is_one_and_clear_lead_is_tiny() -> None:
    rng = np.random.default_rng(1)
    b = rng.normal(20, 3, 200)
    assert paired_bootstrap(b, b.copy()) == 1.0
    assert paired_bootstrap(b + 1.0 + rng.normal(0, 0.5, 200), b) < 0.001


def test_bootstrap_noise_only_is_not_significant() -> None:
    rng = np.random.default_rng(2)
    b = rng.normal(20, 3, 300)
    p = paired_bootstrap(b + rng.normal(0, 1, 300), b)
    assert p is not None and p > 0.05
    assert paired_bootstrap(b[:1], b[:1]) is None  # one image: no test


def test_bootstrap_pairs_images() -> None:
    """A small lead that holds on every image is significant even though the spread across
    images is large (an unpaired test would not see it)."""
    rng = np.random.default_rng(3)
    b = rng.normal(20, 10, 50)
    assert paired_bootstrap(b + 0.2, b) < 0.001


def test_bootstrap_absolute_compares_magnitudes() -> None:
    rng = np.random.default_rng(4)
    b = rng.normal(-5, 1, 100)
    p_abs = paired_bootstrap(-b, b, absolute=True)  # |mean| equal, signs opposite
    assert p_abs is not None and p_abs > 0.5
    assert paired_bootstrap(-b, b) < 0.001


def test_aligned_uses_shared_finite_images() -> None:
    a, b = aligned({"x": 1.0, "y": 2.0, "z": float("inf")}, {"y": 5.0, "z": 1.0, "w": 0.0})
    assert a.tolist() == [2.0] and b.tolist() == [5.0]


# ------------------------------------------------------------------ on a real run
class Tint:
    def __init__(self, strength: float):
        self.strength = strength

    def colorize(self, L: torch.Tensor) -> torch.Tensor:
        return torch.cat([(L - 50.0) * 0.3, torch.cos(L / 7.0) * 20.0], 1) * self.strength


class Picky(Tint):
    def colorize_with_info(self, L: torch.Tensor, ids: list[str]) -> tuple[torch.Tensor, dict]:
        return self.colorize(L), {"member": ["even" if int(i[-1]) % 2 == 0 else "odd" for i in ids]}


class Plugin:
    @hookimpl
    def register_colorizers(self, register):
        make = lambda cls, s: lambda device="cpu", checkpoint=None, **kw: cls(s)  # noqa: E731
        register(ColorizerSpec(name="tint", factory=make(Tint, 1.0), options=(Option("x", int, 0, ""),)))
        register(ColorizerSpec(name="tint-zero", factory=make(Tint, 0.0), variant_of="tint"))
        register(ColorizerSpec(name="picky", factory=make(Picky, 0.5), extra_columns=("member",)))


@pytest.fixture
def board_run(cli, tmp_path: Path) -> Path:
    cli.add_plugin("lbtest", Plugin())
    make_folder(tmp_path / "imgs", 6)
    cli("run", "--models", "gray,tint,tint-zero,picky", "--datasets", str(tmp_path / "imgs"),
        "--metrics", "cpsnr,mse", "--size", "24", "--workers", "0", "--out", str(tmp_path / "runs"),
        "--name", "r", "--quiet")
    return tmp_path / "runs" / "r"


def test_pvalues_and_markers(board_run: Path) -> None:
    board = load_boards([board_run])[0]
    rows = {r["model"]: r for r in board.rows}
    best = max(rows, key=lambda m: rows[m]["cpsnr"])
    p = board.pvalues["cpsnr"]
    assert best not in p and set(p) == set(rows) - {best}
    assert rows["gray"]["cpsnr"] == rows["tint-zero"]["cpsnr"]  # same outputs
    if best in ("gray", "tint-zero"):
        assert p["tint-zero" if best == "gray" else "gray"] == 1.0
    assert p["tint"] < 0.05 and rows["tint"]["cpsnr"] < rows["gray"]["cpsnr"]  # worse on every image
    text = to_markdown(board)
    for model, row in rows.items():
        line = next(ln for ln in text.splitlines() if ln.startswith(f"| {model} "))
        cell = line.split("|")[2]
        if row["cpsnr"] == rows[best]["cpsnr"]:
            assert cell.strip().startswith("**")  # ties share the bold
        else:
            assert ("≈" in cell) == (p[model] >= 0.05)
    assert "## Paired bootstrap p-values against the best model of each column" in text
    assert "| model | CPSNR ↑ | MSE ↓ | n | failed | device | weights |" in text


def test_breakdowns_extra_columns_and_variants(board_run: Path) -> None:
    board = load_boards([board_run])[0]
    text = to_markdown(board)
    assert "### picky: member per image" in text
    section = text.split("### picky: member per image")[1]
    assert "| even | 3 | 50% |" in section and "| odd | 3 | 50% |" in section
    assert "### tint-zero vs tint" in text
    variant = text.split("### tint-zero vs tint")[1]
    mse_row = next(ln for ln in variant.splitlines() if ln.startswith("| MSE "))
    assert mse_row.split("|")[5].strip() in ("<0.001", *(f"{x/1000:.3f}" for x in range(60)))


def test_leaderboard_out_writes_index_and_csv_pvalues(cli, board_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "boards"
    cli("leaderboard", str(board_run), "--out", str(out))
    index = (out / "index.md").read_text()
    assert "| [imgs](imgs.md) | 4 | 6 |" in index and "CPSNR: " in index
    cli("leaderboard", str(board_run), "--out", str(out), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO((out / "imgs.csv").read_text())))
    assert {"cpsnr_p", "mse_p", "weights", "device"} <= set(rows[0])
    assert sum(r["cpsnr_p"] == "best" for r in rows) == 1  # the best row has no test
    cli("leaderboard", str(board_run), "--out", str(out), "--format", "json")
    (data,) = json.loads((out / "imgs.json").read_text())["leaderboards"]
    assert not any(k.startswith("_") for r in data["rows"] for k in r)
    assert sum(r["cpsnr_p"] == "best" for r in data["rows"]) == 1 and all(r["mse_p"] for r in data["rows"])


def test_weights_column_names_the_checkpoint(cli, tmp_path: Path) -> None:
    import colorbench_ccc.plugin

    cli.add_plugin("ccc", colorbench_ccc.plugin)
    make_folder(tmp_path / "imgs", 2)
    cli("run", "--models", "gray,ccc", "--datasets", str(tmp_path / "imgs"), "--metrics", "cpsnr",
        "--size", "32", "--workers", "0", "--out", str(tmp_path / "runs"), "--name", "w", "--quiet")
    text = to_markdown(load_boards([tmp_path / "runs" / "w"])[0])
    ccc_line = next(ln for ln in text.splitlines() if ln.startswith("| ccc "))
    assert "ccc_tiny_imagenet-sample.pt (" in ccc_line and "| cpu" in ccc_line.lower()


def test_contact_sheet_is_written_and_embedded(cli, tmp_path: Path) -> None:
    make_folder(tmp_path / "imgs", 3)
    common = ["--models", "gray", "--datasets", str(tmp_path / "imgs"), "--metrics", "cpsnr", "--size", "24",
              "--workers", "0", "--out", str(tmp_path / "runs"), "--quiet"]
    cli("run", *common, "--name", "saved", "--save-images")
    cli("run", *common, "--name", "plain")
    cli("leaderboard", str(tmp_path / "runs" / "saved"), "--out", str(tmp_path / "a"))
    assert "](imgs.png)" in (tmp_path / "a" / "imgs.md").read_text()
    from PIL import Image

    assert Image.open(tmp_path / "a" / "imgs.png").size[1] > 3 * 24  # three rows of thumbnails
    cli("leaderboard", str(tmp_path / "runs" / "plain"), "--out", str(tmp_path / "b"))
    assert "](imgs.png)" not in (tmp_path / "b" / "imgs.md").read_text()
    assert not (tmp_path / "b" / "imgs.png").exists()


def test_bootstrap_chunking_does_not_change_the_answer(monkeypatch) -> None:
    import colorbench.reporting.significance as sig

    rng = np.random.default_rng(5)
    b = rng.normal(20, 3, 300)
    a = b + rng.normal(0.1, 1, 300)
    whole = sig.paired_bootstrap(a, b)
    monkeypatch.setattr(sig, "CHUNK_ELEMENTS", 300 * 7)  # 7 resamples per chunk
    chunked = sig.paired_bootstrap(a, b)
    assert whole is not None and chunked is not None
    assert abs(whole - chunked) < 0.05  # other draws, same test: p agrees to Monte-Carlo error
