"""``colorbench check-plugin NAME``: the shipped contract run against one plugin, here the
docs' example plugin, a broken one and a dataset that needs a root (via its test_fixture)."""

from __future__ import annotations

import importlib.util
import types
from pathlib import Path

import numpy as np
import torch

from colorbench import ColorizerSpec, DatasetSpec, MetricSpec, Sample, hookimpl

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "example_plugin" / "colorbench_sepia.py"


def _example():
    spec = importlib.util.spec_from_file_location("colorbench_sepia", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_docs_example_plugin_passes_every_check(cli):
    cli.add_plugin("sepia", _example())
    result = cli("check-plugin", "sepia")
    out = result.output
    for name in ("sepia", "sepia-light", "mean_chroma"):
        assert f"│ {name} " in out
    assert out.strip().endswith("10 passed, 0 failed, 0 skipped")  # 2 colorizers x 3 checks, 1 metric x 4


class _Folder:
    def __init__(self, root: Path):
        self.files = sorted(root.glob("*.npy"))
        self.ids = [p.stem for p in self.files]

    def load(self, i: int) -> Sample:
        return Sample(self.ids[i], np.load(self.files[i]))


def _broken_and_rooted():
    def fixture(root: Path) -> None:
        for k in range(3):
            np.save(root / f"img{k}.npy", np.full((16, 16, 3), 40 * k, np.uint8))

    @hookimpl
    def register_colorizers(register):
        class Wrong:
            def colorize(self, L):
                return torch.zeros(L.shape[0], 3, *L.shape[2:])  # three channels: broken

        register(ColorizerSpec(name="wrong", factory=lambda **kw: Wrong(), description="returns 3 channels"))

    @hookimpl
    def register_metrics(register):
        register(MetricSpec(name="half", fn=lambda b: torch.zeros(b.pred.shape[0] // 2 + 1), description="x"))

    @hookimpl
    def register_datasets(register):
        register(DatasetSpec(name="rooted", factory=lambda split, root, **kw: _Folder(root), needs_root=True,
                             description="npy files", test_fixture=fixture))

    return types.SimpleNamespace(register_colorizers=register_colorizers, register_metrics=register_metrics,
                                 register_datasets=register_datasets)


def test_a_broken_plugin_fails_and_a_rooted_dataset_runs_on_its_fixture(cli):
    cli.add_plugin("broken", _broken_and_rooted())
    result = cli("check-plugin", "broken", ok=False)
    assert result.exit_code == 1
    rows = {tuple(c.strip() for c in line.split("│")[1:4]): line for line in result.output.splitlines()
            if line.startswith("│")}
    assert "failed" in rows[("colorizer", "wrong", "maps L to a*b*")]
    assert "failed" in rows[("metric", "half", "one value per image in range")]
    assert "passed" in rows[("dataset", "rooted", "ids and samples")]
    assert "passed" in rows[("dataset", "rooted", "deterministic")]


def test_an_unknown_plugin_is_one_line(cli):
    result = cli("check-plugin", "nope", ok=False)
    assert result.exit_code == 2 and "check-plugin nope: no such plugin" in result.output
