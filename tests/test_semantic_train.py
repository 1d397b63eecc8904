"""semantic training: the colorizer learns from the map (true map beats a blank map and gray
on shapes), resume is exact, datasets without maps are a clear error, map override via files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from colorbench_datasets.shapes import Shapes
from colorbench_semantic.colorizer import SemanticColorizer, load_networks, save_map
from colorbench_semantic.model import normalize_ab, normalize_L, normalize_labels
from colorbench_semantic.plugin import CONFIGS
from colorbench_semantic.train import SemanticPairs, train

from colorbench.errors import ColorbenchError
from colorbench.models.checkpoints import load_checkpoint
from colorbench.training import TrainContext

SMALL = {"size": 32, "scale": 36, "width": 0.125, "seg_width": 0.25, "workers": 0, "val_images": 0,
         "log_every": 5, "save_every": 1000, "threads": 1}


def _train(out: Path, dataset: Any, resume: bool = False, **over: Any) -> dict[str, Any]:
    cfg = {**CONFIGS["tiny"], **SMALL, **over}
    train(TrainContext(dataset=dataset, config=cfg, out_dir=out, device=torch.device("cpu"), resume=resume))
    return load_checkpoint(out / "checkpoint.pt")


def test_colorizer_uses_the_true_map_and_beats_gray(tmp_path: Path) -> None:
    """Trained on (gray, true map): on the objects (map > 0), given the true map it beats the
    same network given a blank map, and beats gray (a*=b*=0), on the images it trained on."""
    data = Shapes("train", size=32, n_images=16)
    state = _train(tmp_path, data, stage="colorizer", steps=50, lr=3e-3, batch_size=8, width=0.25, vflip=False)
    col = load_networks(tmp_path / "checkpoint.pt")["colorizer"].eval()
    pairs = SemanticPairs(data, 32, 36, train=False)
    batch = [pairs[i] for i in range(len(data))]
    L = normalize_L(torch.stack([b["L"] for b in batch]))
    ab = normalize_ab(torch.stack([b["ab"] for b in batch]))
    sem = torch.stack([b["semantic"] for b in batch])
    n = int(state["config"]["n_classes"])
    assert n == 5 and state["classes"][1] == "disc"
    objects = (sem > 0)[:, None].expand_as(ab)
    with torch.no_grad():
        true_err = float((col(L, normalize_labels(sem, n)) - ab).abs()[objects].mean())
        blank_err = float((col(L, normalize_labels(torch.zeros_like(sem), n)) - ab).abs()[objects].mean())
    gray_err = float(ab.abs()[objects].mean())
    assert true_err < 0.75 * blank_err, (true_err, blank_err)
    assert true_err < 0.7 * gray_err, (true_err, gray_err)


def test_segmenter_learns_and_resume_is_exact(tmp_path: Path) -> None:
    data = Shapes("train", size=32, n_images=16)
    full = _train(tmp_path / "full", data, steps=6, seg_steps=3, batch_size=4)
    _train(tmp_path / "part", data, steps=4, seg_steps=3, batch_size=4)
    part = _train(tmp_path / "part", data, resume=True, steps=6, seg_steps=3, batch_size=4)
    assert part["step"] == full["step"] == 6 and part["boundary"] == 3
    for key in ("segmenter", "colorizer"):
        for k, v in full[key].items():
            assert torch.equal(v, part[key][k]), (key, k)
    rows = (tmp_path / "part" / "train_log.csv").read_text().splitlines()
    # rows of the first run up to its checkpoint (steps 3, 4), then the resumed run's (5, 6)
    assert [r.split(",")[:3:2] for r in rows[1:]] == [["3", "segmenter"], ["4", "colorizer"],
                                                      ["5", "colorizer"], ["6", "colorizer"]]


def test_segmenter_loss_falls(tmp_path: Path) -> None:
    data = Shapes("train", size=32, n_images=16)
    _train(tmp_path, data, stage="segmenter", steps=40, lr=3e-3, batch_size=8, log_every=10)
    rows = (tmp_path / "train_log.csv").read_text().splitlines()[1:]
    losses = [float(r.split(",")[4]) for r in rows]
    assert losses[-1] < 0.8 * losses[0], losses


def test_dataset_without_maps_is_a_clear_error(tmp_path: Path) -> None:
    class NoMaps:
        ids = ("a", "b")

        def load(self, i: int) -> Any:
            from colorbench.plugin.specs import Sample

            return Sample(id=self.ids[i], image=np.zeros((8, 8, 3), np.uint8))

    with pytest.raises(ColorbenchError, match=r"no semantic maps.*labels=pseudo"):
        _train(tmp_path, NoMaps(), steps=1)


def test_pseudo_labels_train_and_are_stored(tmp_path: Path) -> None:
    data = Shapes("train", size=32, n_images=8)  # its maps are ignored with labels=pseudo

    class Gray:
        ids = data.ids

        def load(self, i: int) -> Any:
            s = data.load(i)
            s.semantic = None
            return s

    state = _train(tmp_path, Gray(), labels="pseudo", pseudo_classes=3, pseudo_area=32, steps=2,
                   seg_steps=1, batch_size=4)
    assert len(state["pseudo"]["centres"]) == 3 and state["config"]["n_classes"] == 3
    nets = load_networks(tmp_path / "checkpoint.pt")
    c = SemanticColorizer(nets["segmenter"], nets["colorizer"], nets["config"], torch.device("cpu"),
                          nets["classes"], labeler=nets["labeler"], maps="pseudo", size=32)
    ab, info = c.colorize_with_info(torch.rand(1, 1, 40, 24) * 100, ["x"])
    assert ab.shape == (1, 2, 40, 24) and info == {"semantic_map": ["pseudo"]}


def test_map_override_from_files(tmp_path: Path) -> None:
    data = Shapes("train", size=32, n_images=8)
    _train(tmp_path / "ck", data, steps=2, seg_steps=1, batch_size=4)
    nets = load_networks(tmp_path / "ck" / "checkpoint.pt")
    maps = tmp_path / "maps"
    save_map(np.full((48, 48), 3), maps / "a.png")  # any size: resized (nearest) to the model's
    args = (nets["segmenter"], nets["colorizer"], nets["config"], torch.device("cpu"), nets["classes"])
    auto, edited = SemanticColorizer(*args, size=32), SemanticColorizer(*args, semantic_maps=maps, size=32)
    L = torch.rand(2, 1, 32, 32) * 100
    with torch.no_grad():
        ab_auto, _ = auto.colorize_with_info(L, ["a", "b"])
        ab_edit, info = edited.colorize_with_info(L, ["a", "b"])
        direct = nets["colorizer"](normalize_L(L[:1]), normalize_labels(torch.full((1, 32, 32), 3), 5)) * 110
    assert info == {"semantic_map": ["file", "predicted"]}
    assert torch.allclose(ab_edit[:1], direct, atol=1e-4)
    assert torch.equal(ab_edit[1:], ab_auto[1:]) and not torch.allclose(ab_edit[:1], ab_auto[:1])
    assert (edited.last_maps["a"] == 3).all()
    with pytest.raises(ColorbenchError, match="not a directory"):
        SemanticColorizer(*args, semantic_maps=tmp_path / "missing")
