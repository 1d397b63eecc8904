"""Resume knows where the images came from: another --data-root, a touched image, another
device type or --precision recompute exactly the rows they change."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import ClassVar

import pytest
import torch
from colorbench_datasets.folder import Folder
from conftest import load_regs, make_folder, write_image

from colorbench import ColorizerSpec, DatasetSpec, hookimpl
from colorbench.evaluation.runner import RunConfig, Runner
from colorbench.reporting import Reporter
from colorbench.results import read_rows


class Recorder:
    """Colorizes with a fixed tint and records which images it was given."""

    seen: ClassVar[list[str]] = []
    dtypes: ClassVar[list[torch.dtype | None]] = []  # the autocast each batch ran under

    def colorize(self, L):
        return self.colorize_with_info(L, [])[0]

    def colorize_with_info(self, L, ids):
        Recorder.seen += ids
        Recorder.dtypes.append(torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else None)
        return torch.cat([(L - 50.0) * 0.5, torch.sin(L / 9.0) * 25.0], dim=1), {}


class Plugin:
    @hookimpl
    def register_colorizers(self, register):
        register(ColorizerSpec(name="rec", factory=lambda **kw: Recorder(), provides_info=True,
                               description="records the ids it colorizes"))

    @hookimpl
    def register_datasets(self, register):
        register(DatasetSpec(name="pics", factory=lambda split=None, root=None, **kw: Folder(root=root),
                             needs_root=True, description="a folder under --data-root"))


def _run(tmp_path: Path, data_root: Path, **kw) -> Path:
    Recorder.seen, Recorder.dtypes = [], []
    cfg = RunConfig(models=["rec"], datasets=["pics", str(tmp_path / "imgs")], metrics=["cpsnr"], size=16,
                    batch_size=2, workers=0, data_root=str(data_root), out=str(tmp_path / "runs"), name="r", **kw)
    return Runner(cfg, load_regs([("rec", Plugin())]), Reporter(quiet=True)).run().run_dir


def _rows(run_dir: Path) -> dict[tuple[str, str], dict[str, str]]:
    return {(r["dataset"], r["image_id"]): r for r in read_rows(run_dir / "per_image.csv")[1]}


@pytest.fixture
def roots(tmp_path: Path) -> tuple[Path, Path]:
    make_folder(tmp_path / "a" / "pics", 3, size=(24, 20))
    make_folder(tmp_path / "imgs", 2, size=(24, 20))
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    write_image(tmp_path / "b" / "pics" / "img001.png", size=(24, 20), seed=99)  # other content
    return tmp_path / "a", tmp_path / "b"


def test_another_data_root_recomputes_exactly_that_datasets_rows(tmp_path: Path, roots) -> None:
    a, b = roots
    first = _rows(_run(tmp_path, a))
    assert sorted(Recorder.seen) == ["img000", "img000", "img001", "img001", "img002"]
    _run(tmp_path, a)
    assert Recorder.seen == []  # nothing changed: nothing colorized
    run_dir = _run(tmp_path, b)
    assert sorted(Recorder.seen) == ["img000", "img001", "img002"]  # pics only, not imgs
    second = _rows(run_dir)
    assert {k: v for k, v in second.items() if k[0] == "imgs"} == {k: v for k, v in first.items() if k[0] == "imgs"}
    assert second[("pics", "img001")]["cpsnr"] != first[("pics", "img001")]["cpsnr"]
    assert second[("pics", "img000")]["cpsnr"] == first[("pics", "img000")]["cpsnr"]
    fp = json.loads((run_dir / "run.json").read_text())["pairs"]["pics/rec"]["fingerprint"]
    assert fp["dataset"]["root"] == str((b / "pics").resolve())


def test_a_touched_or_rewritten_image_is_recomputed_alone(tmp_path: Path, roots) -> None:
    a, _ = roots
    first = _rows(_run(tmp_path, a))
    path = a / "pics" / "img002.png"
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    second = _rows(_run(tmp_path, a))
    assert Recorder.seen == ["img002"]
    assert second[("pics", "img002")]["source"] == f"{st.st_size}:{st.st_mtime_ns + 5_000_000_000}"
    assert second[("pics", "img002")]["cpsnr"] == first[("pics", "img002")]["cpsnr"]  # same pixels
    write_image(a / "pics" / "img000.png", size=(24, 20), seed=42)
    third = _rows(_run(tmp_path, a))
    assert Recorder.seen == ["img000"] and third[("pics", "img000")]["cpsnr"] != first[("pics", "img000")]["cpsnr"]
    assert third[("pics", "img001")] == first[("pics", "img001")]


def test_precision_is_recorded_and_fingerprinted(tmp_path: Path, roots) -> None:
    a, _ = roots
    _run(tmp_path, a)
    assert set(Recorder.dtypes) == {None}  # fp32 by default: no autocast
    run_dir = _run(tmp_path, a, precision="bf16")
    assert len(Recorder.seen) == 5  # every pair recomputed under the new precision
    assert set(Recorder.dtypes) == {torch.bfloat16}
    manifest = json.loads((run_dir / "run.json").read_text())
    assert manifest["precision"] == "bf16" and manifest["config"]["precision"] == "bf16"
    assert {p["fingerprint"]["precision"] for p in manifest["pairs"].values()} == {"bf16"}
    assert {p["fingerprint"]["device"] for p in manifest["pairs"].values()} == {"cpu"}


def test_the_device_type_is_part_of_the_fingerprint(tmp_path: Path, roots, monkeypatch) -> None:
    """A run resumed on another kind of device (here: a CPU run whose manifest says cuda)
    recomputes its rows instead of mixing them."""
    a, _ = roots
    from colorbench.evaluation.resume import digest

    run_dir = _run(tmp_path, a)
    for device, recomputed in (("cpu", 0), ("cuda", 5)):  # the same device type: nothing redone
        manifest = json.loads((run_dir / "run.json").read_text())
        for pair in manifest["pairs"].values():
            pair["fingerprint"]["device"] = device
            pair["config"] = digest(pair["fingerprint"])
        (run_dir / "run.json").write_text(json.dumps(manifest))
        _run(tmp_path, a)
        assert len(Recorder.seen) == recomputed, device


def test_unknown_precision_is_one_clear_error(tmp_path: Path, roots) -> None:
    from colorbench.errors import ColorbenchError

    with pytest.raises(ColorbenchError, match="--precision 'fp8': choose fp32, bf16, fp16"):
        _run(tmp_path, roots[0], precision="fp8")


def test_precision_flag_reaches_the_run(cli, tmp_path: Path, roots) -> None:
    cli.add_plugin("rec", Plugin())
    Recorder.dtypes = []
    cli("run", "--models", "rec", "--datasets", str(tmp_path / "imgs"), "--metrics", "cpsnr", "--size", "16",
        "--workers", "0", "--precision", "bf16", "--out", str(tmp_path / "runs"), "--name", "p", "--quiet")
    assert json.loads((tmp_path / "runs" / "p" / "run.json").read_text())["precision"] == "bf16"
    assert set(Recorder.dtypes) == {torch.bfloat16}
    result = cli("run", "--models", "rec", "--precision", "fp8", "--out", str(tmp_path / "runs"), ok=False)
    assert result.exit_code == 2 and "--precision 'fp8': choose fp32, bf16, fp16" in result.output
