"""The built-in datasets of the core issue: samples, shapes, folder (ids, splits, options)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import load_regs, make_folder

from colorbench.errors import ColorbenchError, DatasetError
from colorbench.evaluation.selection import resolve_datasets


def test_samples_has_the_eight_bundled_photos() -> None:
    ds = load_regs().datasets.get("samples").factory(split=None, root=None)
    assert ds.ids == ["astronaut", "chelsea", "coffee", "rocket", "motorcycle_left",
                      "hubble_deep_field", "china", "flower"]
    img = ds.load(0).image
    assert img.shape == (512, 512, 3) and img.dtype == np.uint8
    with pytest.raises(DatasetError, match="only the split 'test'"):
        load_regs().datasets.get("samples").factory(split="train", root=None)


def test_shapes_deterministic_per_seed_with_semantic_maps() -> None:
    spec = load_regs().datasets.get("shapes")
    a = spec.factory(split="train", root=None, size=32, n_images=3, seed=1)
    b = spec.factory(split="train", root=None, size=32, n_images=3, seed=1)
    c = spec.factory(split="train", root=None, size=32, n_images=3, seed=2)
    assert a.ids == ["train-00000", "train-00001", "train-00002"]
    s = a.load(1)
    assert s.image.shape == (32, 32, 3) and s.semantic.shape == (32, 32)
    assert set(np.unique(s.semantic)) <= {0, 1, 2, 3, 4} and (s.semantic > 0).any()
    assert np.array_equal(s.image, b.load(1).image)
    assert not np.array_equal(s.image, c.load(1).image)
    test = spec.factory(split="test", root=None, size=32, n_images=3, seed=1)
    assert not np.array_equal(s.image, test.load(1).image)
    assert len(spec.factory(split="val", root=None)) == 32
    with pytest.raises(DatasetError, match="unknown split"):
        spec.factory(split="dev", root=None)


def test_folder_ids_and_hash_splits(tmp_path: Path) -> None:
    from colorbench_datasets.folder import Folder

    root = make_folder(tmp_path / "f", 40, size=(12, 10))
    make_folder(root / "sub", 2, size=(12, 10))
    everything = Folder(root=root)
    assert len(everything) == 42 and "sub/img001" in everything.ids
    parts = {s: Folder(split=s, root=root).ids for s in ("train", "val", "test")}
    assert sorted(i for ids in parts.values() for i in ids) == sorted(everything.ids)
    assert parts["train"] and len(parts["train"]) > len(parts["test"])
    # adding images never moves existing ones
    make_folder(root / "more", 10, size=(12, 10))
    for s, ids in parts.items():
        assert set(ids) <= set(Folder(split=s, root=root).ids)
    other_seed = Folder(split="test", root=root, split_seed=7).ids
    assert set(other_seed) != set(Folder(split="test", root=root).ids)
    with pytest.raises(DatasetError, match="unknown split"):
        Folder(split="dev", root=root)


def test_folder_missing_or_empty(tmp_path: Path) -> None:
    from colorbench_datasets.folder import Folder

    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no images under"):
        Folder(root=tmp_path / "empty")
    with pytest.raises(DatasetError, match="not a directory"):
        Folder(root=tmp_path / "missing")


def test_directory_in_datasets_is_a_folder_dataset_named_after_it(tmp_path: Path) -> None:
    make_folder(tmp_path / "holiday", 2)
    (ds,) = resolve_datasets(load_regs(), [str(tmp_path / "holiday")])
    assert ds.name == "holiday" and ds.spec.name == "folder"
    assert ds.build(split=None, data_root=None, options={}).ids == ["img000", "img001"]
    make_folder(tmp_path / "x" / "holiday", 1)
    with pytest.raises(ColorbenchError, match="two entries are named 'holiday'"):
        resolve_datasets(load_regs(), [str(tmp_path / "holiday"), str(tmp_path / "x" / "holiday")])
