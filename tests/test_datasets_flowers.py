"""flowers: setid.mat splits, 0-based labels, jpg-only fallback, torchvision folder name, errors."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from colorbench_datasets import plugin
from colorbench_datasets.fixtures import FLOWER_LABELS, make_flowers
from colorbench_datasets.flowers import Flowers

from colorbench.errors import DatasetError
from colorbench.evaluation.selection import resolve_datasets
from colorbench.plugin.manager import load


@pytest.fixture(scope="module")
def flowers_root(tmp_path_factory):
    return make_flowers(tmp_path_factory.mktemp("data") / "flowers")


@pytest.mark.parametrize(("split", "numbers"), [
    ("train", [1, 2]), ("val", [3, 4]), ("test", [5, 6, 7, 8, 9, 10]),
])
def test_splits_follow_setid(flowers_root, split, numbers):
    ds = Flowers(split=split, root=flowers_root)
    assert list(ds.ids) == [f"image_{n:05d}" for n in numbers]  # sorted by image number
    assert ds.labels == [FLOWER_LABELS[n - 1] - 1 for n in numbers]  # 0-based


def test_default_split_is_test_and_samples_decode(flowers_root):
    ds = Flowers(root=flowers_root)
    assert ds.split == "test" and len(ds) == 6
    s = ds.load(0)
    assert s.id == "image_00005" and s.label == 101 and s.image.dtype == np.uint8 and s.image.ndim == 3


def test_only_jpg_uses_everything_as_test_with_one_warning(tmp_path, caplog):
    root = make_flowers(tmp_path / "flowers", mats=False)
    with caplog.at_level(logging.WARNING, logger="colorbench.datasets"):
        ds = Flowers(root=root)
    assert len(ds) == 10 and ds.ids[0] == "image_00001" and ds.labels == [None] * 10
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "setid.mat not found" in lines[0] and "all 10 images" in lines[0]
    with pytest.raises(DatasetError, match=r"split 'train' needs .*setid.mat"):
        Flowers(split="train", root=root)


def test_torchvision_folder_name_is_accepted(tmp_path):
    make_flowers(tmp_path / "flowers-102")
    regs = load(entry_points=False, extra_plugins=[("datasets", plugin)])
    (ds,) = resolve_datasets(regs, ["flowers"])
    assert ds.root(str(tmp_path)) == tmp_path / "flowers-102"
    built = ds.build(split=None, data_root=str(tmp_path), options={})
    assert len(built.ids) == 6


def test_missing_root_message(tmp_path):
    with pytest.raises(DatasetError) as err:
        Flowers(root=tmp_path / "flowers")
    text = str(err.value)
    for part in (f"{tmp_path}/flowers/jpg/image_NNNNN.jpg", f"{tmp_path}/flowers/setid.mat",
                 f"{tmp_path}/flowers/imagelabels.mat", f"{tmp_path}/flowers-102",
                 "does not exist", "https://www.robots.ox.ac.uk/~vgg/data/flowers/102/"):
        assert part in text


def test_malformed_roots(tmp_path):
    from scipy.io import savemat

    root = tmp_path / "flowers"
    (root / "102flowers").mkdir(parents=True)
    with pytest.raises(DatasetError, match=r"Found: .*holds 102flowers/"):
        Flowers(root=root)
    make_flowers(root)
    savemat(root / "setid.mat", {"train": np.array([[1]])})
    with pytest.raises(DatasetError, match=r"setid.mat lacks tstid"):
        Flowers(root=root)
    (root / "setid.mat").write_bytes(b"not a mat file")
    with pytest.raises(DatasetError, match=r"setid.mat is not a readable .mat file"):
        Flowers(root=root)
    make_flowers(root)
    (root / "jpg" / "image_00007.jpg").unlink()
    with pytest.raises(DatasetError, match=r"1 test images absent from jpg/, e.g. image_00007.jpg"):
        Flowers(root=root)
