"""ccc inference export (``python -m colorbench_ccc.model TRAIN OUT [--half]``): optimizer and
RNG states dropped, the training-data record kept, and the export colorizes as the checkpoint."""

from __future__ import annotations

from pathlib import Path

import torch
from colorbench_ccc.classes import ClassSet
from colorbench_ccc.model import build_net, export, load_colorizer
from colorbench_ccc.plugin import CONFIGS, TEST_OVERRIDES

from colorbench.models.checkpoints import load_checkpoint, save_checkpoint

RECORD = {"dataset": "imagenet-sample", "split": "train", "count": 2, "ids_sha256": "ab" * 32, "ids": ["a", "b"]}


def _train_checkpoint(path: Path) -> Path:
    torch.manual_seed(0)
    config = {**CONFIGS["tiny"], **TEST_OVERRIDES}
    classes = ClassSet.full()
    net = build_net(config, classes.n)
    return save_checkpoint({"model": net.state_dict(), "classes": classes.to_state(), "config": config, "step": 7,
                            "training_data": RECORD, "optimizers": {"adam": {"state": {}}}, "rng": {"torch": 1}},
                           path)


def test_export_strips_training_state_and_colorizes_the_same(tmp_path: Path) -> None:
    src = _train_checkpoint(tmp_path / "train.pt")
    out = load_checkpoint(export(src, tmp_path / "ccc.pt"))
    assert sorted(out) == ["classes", "config", "model", "step", "training_data"]
    assert out["step"] == 7 and out["training_data"] == RECORD
    L = torch.rand(2, 1, 32, 32) * 100
    with torch.no_grad():
        a = load_colorizer(src, torch.device("cpu")).colorize(L)
        b = load_colorizer(tmp_path / "ccc.pt", torch.device("cpu")).colorize(L)
    assert torch.equal(a, b)


def test_export_half_stores_float16(tmp_path: Path) -> None:
    src = _train_checkpoint(tmp_path / "train.pt")
    out = load_checkpoint(export(src, tmp_path / "ccc16.pt", half=True))
    floats = [v for v in out["model"].values() if v.is_floating_point()]
    assert floats and all(v.dtype == torch.float16 for v in floats)
    assert (tmp_path / "ccc16.pt").stat().st_size < src.stat().st_size * 0.75
