"""Inference exports keep the checkpoint's ``training_data`` record, so that a router can
check the overlap of its labelling images with what an exported member was trained on."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from colorbench.models.checkpoints import load_checkpoint, save_checkpoint

RECORD = {"dataset": "imagenet-sample", "split": "train", "count": 2, "ids_sha256": "ab" * 32,
          "ids": ["a", "b"]}


def _gan_state() -> dict:
    return {"config": {}, "step": 3, "generator": {"w": torch.zeros(2)}}


def _semantic_state() -> dict:
    return {"config": {}, "step": 3, "classes": ["sky"], "pseudo": None,
            "segmenter": {"w": torch.zeros(2)}, "colorizer": {"w": torch.zeros(2)}}


@pytest.mark.parametrize("plugin", ["gan", "semantic"])
def test_export_keeps_training_data(tmp_path: Path, plugin: str) -> None:
    if plugin == "gan":
        from colorbench_gan.colorizer import export_generator as export
        state = _gan_state()
    else:
        from colorbench_semantic.colorizer import export
        state = _semantic_state()
    src = save_checkpoint({**state, "training_data": RECORD}, tmp_path / "train.pt")
    out = load_checkpoint(export(src, tmp_path / "out.pt"))
    assert out["training_data"] == RECORD
