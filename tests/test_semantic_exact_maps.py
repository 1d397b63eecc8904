"""semantic ``exact_maps``: a dataset's own maps replace GridNet's by image id (the exact-map
evaluation of the instance-norm ablation), a missing id and a malformed value are one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from colorbench_datasets.shapes import Shapes
from colorbench_semantic.colorizer import load_networks
from colorbench_semantic.exact_maps import parse
from colorbench_semantic.model import normalize_L, normalize_labels
from colorbench_semantic.plugin import CONFIGS
from colorbench_semantic.train import train

from colorbench.errors import ColorbenchError
from colorbench.models.factory import create_colorizer
from colorbench.plugin import manager
from colorbench.training import TrainContext

SMALL = {"size": 32, "scale": 36, "width": 0.125, "seg_width": 0.25, "workers": 0, "val_images": 0,
         "log_every": 5, "save_every": 1000, "threads": 1, "steps": 2, "seg_steps": 1, "batch_size": 4}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sem")
    train(TrainContext(dataset=Shapes("train", size=32, n_images=8), config={**CONFIGS["tiny"], **SMALL},
                       out_dir=out, device=torch.device("cpu")))
    return out / "checkpoint.pt"


def test_exact_maps_are_the_datasets_own(checkpoint: Path) -> None:
    regs = manager.load()
    test = Shapes("test", size=32, n_images=3)
    samples = [test.load(i) for i in range(3)]
    L = torch.rand(2, 1, 32, 32) * 100
    ids = [samples[2].id, samples[0].id]
    exact = create_colorizer(regs, "semantic", checkpoint, options={"exact_maps": "shapes:test:size=32:n_images=3"})
    auto = create_colorizer(regs, "semantic", checkpoint)
    with torch.no_grad():
        ab, info = exact.colorize_with_info(L, ids)
        ab_auto, info_auto = auto.colorize_with_info(L, ids)
        nets = load_networks(checkpoint)
        truth = torch.stack([torch.from_numpy(samples[k].semantic).long() for k in (2, 0)])
        direct = nets["colorizer"](normalize_L(L), normalize_labels(truth, 5)) * 110
    assert info == {"semantic_map": ["exact", "exact"]} and info_auto == {"semantic_map": ["predicted", "predicted"]}
    assert torch.allclose(ab, direct, atol=1e-4)
    assert not torch.allclose(ab, ab_auto, atol=1e-3)
    assert (exact.last_maps[ids[0]] == samples[2].semantic).all()
    with pytest.raises(ColorbenchError, match="no map for image 'test-00007'"):
        exact.colorize_with_info(L[:1], ["test-00007"])


def test_exact_maps_value_parsing() -> None:
    assert parse("shapes") == ("shapes", None, {})
    assert parse("shapes:test:n_images=128:size=64") == ("shapes", "test", {"n_images": "128", "size": "64"})
    with pytest.raises(ColorbenchError, match="'n_images' is not KEY=VALUE"):
        parse("shapes:test:n_images")
    with pytest.raises(ColorbenchError, match="no dataset name"):
        parse(":test")


def test_exact_maps_need_a_dataset_with_maps(checkpoint: Path, tmp_path: Path) -> None:
    from conftest import make_folder

    make_folder(tmp_path / "photos", 2)
    with pytest.raises(ColorbenchError, match="has no semantic map"):
        create_colorizer(manager.load(), "semantic", checkpoint, options={"exact_maps": str(tmp_path / "photos")})
