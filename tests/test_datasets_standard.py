"""places365, imagenet, celeba, ade20k: official layouts, splits, protocols, labels, errors."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from colorbench_datasets.ade20k import ADE20K
from colorbench_datasets.celeba import CelebA
from colorbench_datasets.fixtures import jpeg
from colorbench_datasets.imagenet import ImageNet, val_name
from colorbench_datasets.places365 import Places365
from PIL import Image

from colorbench.errors import DatasetError

# ----------------------------------------------------------------------- places365


def make_places(root, n_val=4):
    names = [f"Places365_val_{k:08d}.jpg" for k in range(1, n_val + 1)]
    for k, n in enumerate(names):
        jpeg(root / "val_256" / n, seed=k)
    (root / "places365_val.txt").write_text("".join(f"{n} {10 * k + 3}\n" for k, n in enumerate(names)))
    (root / "categories_places365.txt").write_text("/a/airfield 0\n/a/airplane_cabin 1\n")
    for rel in ("a/airfield/00000002.jpg", "a/airfield/00000001.jpg", "b/bar/00000001.jpg"):
        jpeg(root / "data_256" / rel)
    (root / "places365_train_standard.txt").write_text(
        "/a/airfield/00000001.jpg 0\n/a/airfield/00000002.jpg 0\n/b/bar/00000001.jpg 7\n")
    return root


def test_places365_val_train_and_labels(tmp_path):
    root = make_places(tmp_path / "places365")
    val = Places365(root=root)
    assert val.split == "val" and list(val.ids) == [f"Places365_val_{k:08d}" for k in range(1, 5)]
    assert val.labels == [3, 13, 23, 33] and val.load(1).label == 13
    assert val.classes == {0: "/a/airfield", 1: "/a/airplane_cabin"}
    train = Places365(split="train", root=root)
    assert list(train.ids) == ["a/airfield/00000001", "a/airfield/00000002", "b/bar/00000001"]
    assert train.labels == [0, 0, 7] and train.load(2).image.shape[2] == 3


def test_places365_errors_and_fallback(tmp_path, caplog):
    root = make_places(tmp_path / "places365")
    (root / "val_256" / "Places365_val_00000003.jpg").unlink()
    with pytest.raises(DatasetError, match=r"1 of 4 missing, e.g. Places365_val_00000003.jpg"):
        Places365(root=root)
    (root / "places365_val.txt").unlink()
    with caplog.at_level(logging.WARNING, logger="colorbench.datasets"):
        ds = Places365(root=root)
    assert len(ds) == 3 and ds.labels == [None] * 3 and "places365_val.txt not found" in caplog.text
    with pytest.raises(DatasetError, match=r"Expected: .*/places365/test_256/\. Found: .*holds .*val_256/"):
        Places365(split="test", root=root)
    with pytest.raises(DatasetError) as err:
        Places365(root=tmp_path / "nothing")
    assert "val_256/" in str(err.value) and "places365_val.txt" in str(err.value)
    assert "places2.csail.mit.edu" in str(err.value)


# ------------------------------------------------------------------------ imagenet


def test_imagenet_flat_and_synset_layouts_agree(tmp_path):
    flat, nested = tmp_path / "a", tmp_path / "b"
    for k in (3, 1, 2):
        jpeg(flat / "ILSVRC2012_img_val" / f"{val_name(k)}.JPEG", seed=k)
        jpeg(nested / "val" / f"n0{k}" / f"{val_name(k)}.JPEG", seed=k)
    a, b = ImageNet(root=flat), ImageNet(root=nested)
    assert list(a.ids) == list(b.ids) == ["ILSVRC2012_val_00000002", "ILSVRC2012_val_00000003",
                                          "ILSVRC2012_val_00000004"]
    assert a.labels == [None] * 3 and b.labels == ["n01", "n02", "n03"]
    assert np.array_equal(a.load(0).image, b.load(0).image)


def _empty_val(root, positions):
    (root / "val").mkdir(parents=True, exist_ok=True)
    for k in positions:
        (root / "val" / f"{val_name(k)}.JPEG").touch()


def test_imagenet_val5k_is_first_5000(tmp_path):
    root = tmp_path / "imagenet"
    _empty_val(root, range(5100))
    ds = ImageNet(split="val5k", root=root)
    assert len(ds) == 5000 and ds.ids[0] == "ILSVRC2012_val_00000001" and ds.ids[-1] == "ILSVRC2012_val_00005000"
    (root / "val" / "ILSVRC2012_val_00000042.JPEG").unlink()
    with pytest.raises(DatasetError, match=r"1 of the 5000 val5k images missing.*ILSVRC2012_val_00000042"):
        ImageNet(split="val5k", root=root)


def test_imagenet_ctest10k_positions_and_list_file(tmp_path):
    root = tmp_path / "imagenet"
    _empty_val(root, range(25270, 35280))
    ds = ImageNet(split="ctest10k", root=root)
    assert len(ds) == 10_000 and ds.source == "positions"
    assert ds.ids[0] == "ILSVRC2012_val_00025275" and ds.ids[-1] == "ILSVRC2012_val_00035274"
    (root / "ctest10k.txt").write_text(
        "/data/val/ILSVRC2012_val_00035279.JPEG 1\n/data/val/ILSVRC2012_val_00025271.JPEG 9\n")
    listed = ImageNet(split="ctest10k", root=root)
    assert list(listed.ids) == ["ILSVRC2012_val_00025271", "ILSVRC2012_val_00035279"]
    assert listed.source.endswith("ctest10k.txt")


def test_imagenet_missing_root(tmp_path):
    with pytest.raises(DatasetError) as err:
        ImageNet(root=tmp_path / "imagenet")
    text = str(err.value)
    assert f"{tmp_path}/imagenet/val/" in text and f"{tmp_path}/imagenet/ILSVRC2012_img_val/" in text
    assert "image-net.org" in text and "non-commercial" in text


# -------------------------------------------------------------------------- celeba


def make_celeba(root, csv=False):
    parts = {"000001.jpg": 0, "000002.jpg": 0, "000003.jpg": 1, "000005.jpg": 2, "000004.jpg": 2}
    for k, name in enumerate(parts):
        jpeg(root / "img_align_celeba" / name, seed=k)
    if csv:
        (root / "list_eval_partition.csv").write_text(
            "image_id,partition\n" + "".join(f"{n},{p}\n" for n, p in parts.items()))
    else:
        (root / "list_eval_partition.txt").write_text("".join(f"{n} {p}\n" for n, p in parts.items()))
    return root


@pytest.mark.parametrize("csv", [False, True])
def test_celeba_partitions(tmp_path, csv):
    root = make_celeba(tmp_path / "celeba", csv=csv)
    assert list(CelebA(root=root).ids) == ["000004", "000005"]  # default test = partition 2
    assert list(CelebA(split="train", root=root).ids) == ["000001", "000002"]
    assert list(CelebA(split="val", root=root).ids) == ["000003"]


def test_celeba_errors(tmp_path):
    root = make_celeba(tmp_path / "celeba")
    (root / "list_eval_partition.txt").write_text("000001.jpg 7\n")
    with pytest.raises(DatasetError, match=r"malformed partition file.*line 1 is '000001.jpg 7'"):
        CelebA(root=root)
    (root / "list_eval_partition.txt").unlink()
    with pytest.raises(DatasetError, match=r"partition file missing.*list_eval_partition.txt"):
        CelebA(root=root)
    with pytest.raises(DatasetError, match=r"img_align_celeba/NNNNNN.jpg.*mmlab.ie.cuhk.edu.hk"):
        CelebA(root=tmp_path / "none")


# -------------------------------------------------------------------------- ade20k


def test_ade20k_semantic_maps(tmp_path):
    base = tmp_path / "ade20k" / "ADEChallengeData2016"
    labels = np.zeros((24, 32), dtype=np.uint8)
    labels[:12] = 3
    labels[12:, 16:] = 150
    for k in (2, 1):
        jpeg(base / "images" / "validation" / f"ADE_val_{k:08d}.jpg", seed=k)
    (base / "annotations" / "validation").mkdir(parents=True)
    Image.fromarray(labels).save(base / "annotations" / "validation" / "ADE_val_00000001.png")
    (base / "objectInfo150.txt").write_text("Idx\tRatio\tTrain\tVal\tName\n3\t0.1\t1\t1\tsky\n")
    ds = ADE20K(root=tmp_path / "ade20k")
    assert list(ds.ids) == ["ADE_val_00000001", "ADE_val_00000002"] and ds.classes[3] == "sky"
    assert np.array_equal(ds.load(0).semantic, labels)
    assert ds.load(1).semantic is None  # no annotation PNG
    with pytest.raises(DatasetError, match=r"images/training/\*\.jpg"):
        ADE20K(split="train", root=tmp_path / "ade20k")
    Image.fromarray(labels[:10]).save(base / "annotations" / "validation" / "ADE_val_00000002.png")
    with pytest.raises(DatasetError, match=r"annotation is 32x10, image is 32x24"):
        ds.load(1)
