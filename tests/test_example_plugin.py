"""The plugin-author guide: every hook documented, and the example plugin works when
installed with pip, exactly as docs/plugins.md says."""

from __future__ import annotations

import csv
import inspect
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from colorbench.plugin import hookspecs
from colorbench.plugin import manager as plugins

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "docs" / "example_plugin"
GUIDE = ROOT / "docs" / "plugins.md"


def _hook_names() -> list[str]:
    return [n for n, f in inspect.getmembers(hookspecs, inspect.isfunction) if n.startswith("register_")]


def test_every_hook_has_a_heading_with_its_signature() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    names = _hook_names()
    assert len(names) == 4
    for name in names:
        params = ", ".join(inspect.signature(getattr(hookspecs, name)).parameters)
        assert f"\n## {name}({params})\n" in text, f"docs/plugins.md lacks a '## {name}({params})' heading"


def _fake_distribution(tmp: Path) -> Path:
    """Register the example through a real entry point without pip: a dist-info on sys.path."""
    site = tmp / "site"
    site.mkdir()
    shutil.copy(EXAMPLE / "colorbench_sepia.py", site)
    info = site / "colorbench_sepia-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: colorbench-sepia\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text("[colorbench]\nsepia = colorbench_sepia\n")
    return site


def test_example_plugin_loads_through_the_entry_point_group(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(_fake_distribution(tmp_path)))
    regs = plugins.load()
    info = {p.name: p for p in regs.plugins}["sepia"]
    assert info.error is None and info.version == "0.1.0"
    assert info.hooks == ["register_colorizers", "register_metrics"]
    from colorbench.models.factory import create_colorizer

    model = create_colorizer(regs, "sepia", options={"strength": "0.5"})
    assert regs.colorizers.get("sepia-light").variant_of == "sepia"
    import torch

    ab = model.colorize(torch.full((2, 1, 8, 8), 50.0))
    assert ab.shape == (2, 2, 8, 8)
    assert torch.allclose(ab[:, 0], torch.tensor(4.0)) and torch.allclose(ab[:, 1], torch.tensor(10.0))
    assert regs.metrics.get("mean_chroma").higher_is_better


def test_example_plugin_installed_with_pip_runs_beside_gray(tmp_path: Path) -> None:
    target = tmp_path / "target"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(EXAMPLE)],
        check=True, capture_output=True, text=True,
    )
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(photos / f"p{i}.png")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "colorbench", "run", "--models", "sepia,gray", "--datasets", str(photos),
           "--metrics", "cpsnr,mean_chroma", "--out", str(tmp_path / "runs"), "--name", "t", "--quiet"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    with open(tmp_path / "runs" / "t" / "summary.csv", newline="") as f:
        rows = {r["model"]: r for r in csv.DictReader(f)}
    assert set(rows) == {"sepia", "gray"}
    assert rows["sepia"]["n"] == "3" and rows["sepia"]["dataset"] == "photos"
    # the sepia tone is visible in the chroma of its outputs; gray has none
    assert float(rows["sepia"]["mean_chroma"]) > 5.0 > float(rows["gray"]["mean_chroma"])
