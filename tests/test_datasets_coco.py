"""coco: ids, splits, semantic maps from polygons / RLE / stuff, class ids, error text."""

from __future__ import annotations

import numpy as np
import pytest
from colorbench_datasets.coco import Coco
from colorbench_datasets.fixtures import DOG_RLE, OTHER_STUFF, ROAD_STUFF, H, W, make_coco

from colorbench.errors import DatasetError


@pytest.fixture(scope="module")
def coco_root(tmp_path_factory):
    return make_coco(tmp_path_factory.mktemp("data") / "coco")


def test_splits_ids_and_order(coco_root):
    test = Coco(root=coco_root)
    assert test.split == "test"
    assert list(test.ids) == [f"{i:012d}" for i in range(1, 7)]
    train = Coco(split="train", root=coco_root)
    assert list(train.ids) == [f"{i:012d}" for i in range(1000, 1003)]
    sample = test.load(2)
    assert sample.id == "000000000003"
    assert sample.image.dtype == np.uint8 and sample.image.shape == (H, W, 3)
    assert sample.path.endswith("val2017/000000000003.jpg")


def test_semantic_map_things_over_stuff(coco_root):
    sem = Coco(root=coco_root).load(0).semantic
    assert sem is not None and sem.shape == (H, W)
    assert set(np.unique(sem).tolist()) == {0, 1, 18, 149}
    person = sem == 1
    # polygon [4,4]-[14,14]: about 10x10 pixels, drawn over the (larger) crowd RLE dog
    assert 81 <= person.sum() <= 121 and person[7, 7] and person[12, 12]
    assert np.array_equal(sem == 18, DOG_RLE & ~person)
    # stuff lies under both things; 'other' (183) is skipped and stays unlabeled
    assert np.array_equal(sem == 149, ROAD_STUFF & ~DOG_RLE & ~person)
    assert (sem[OTHER_STUFF] == 0).all()


def test_images_without_annotations(coco_root):
    ds = Coco(root=coco_root)
    listed_empty = ds.load(2).semantic  # in the json, no annotations
    assert listed_empty is not None and (listed_empty == 0).all()
    assert ds.load(5).semantic is None  # not in the json at all


def test_contiguous_class_ids(coco_root):
    ds = Coco(root=coco_root, class_ids="contiguous")
    assert ds.classes == {0: "unlabeled", 1: "person", 2: "dog", 3: "toothbrush", 4: "road"}
    sem = ds.load(0).semantic
    assert set(np.unique(sem).tolist()) == {0, 1, 2, 4}
    assert (ds.load(1).semantic[1, 1]) == 3  # category 90 -> 3


def test_coco_ids_and_stuff_off(coco_root):
    ds = Coco(root=coco_root, stuff=False)
    assert ds.classes == {0: "unlabeled", 1: "person", 18: "dog", 90: "toothbrush"}
    sem = ds.load(0).semantic
    assert set(np.unique(sem).tolist()) == {0, 1, 18}
    assert Coco(root=coco_root, semantic=False).load(0).semantic is None


def test_without_annotations_folder(tmp_path):
    root = make_coco(tmp_path / "coco", n_val=2, n_train=1, annotations=False)
    ds = Coco(root=root)
    assert len(ds) == 2 and ds.load(0).semantic is None


def test_missing_root_names_expected_paths(tmp_path):
    with pytest.raises(DatasetError) as err:
        Coco(root=tmp_path / "coco")
    text = str(err.value)
    assert f"{tmp_path / 'coco'}/val2017/*.jpg" in text
    assert "instances_val2017.json" in text
    assert "does not exist" in text and "https://cocodataset.org" in text and "CC BY 4.0" in text
    assert "\n" not in text


def test_malformed_roots(tmp_path):
    root = tmp_path / "coco"
    (root / "images").mkdir(parents=True)
    with pytest.raises(DatasetError, match=r"train2017/\*\.jpg.*Found: .*holds images/"):
        Coco(split="train", root=root)
    make_coco(root, n_val=2, n_train=1)
    (root / "annotations" / "instances_val2017.json").write_text("{not json")
    with pytest.raises(DatasetError, match=r"malformed annotations.*instances_val2017.json"):
        Coco(root=root)
    with pytest.raises(DatasetError, match=r"unknown split 'val'"):
        Coco(split="val", root=root)


def test_broken_annotation_keeps_the_image(tmp_path, caplog):
    import json
    import logging

    root = make_coco(tmp_path / "coco", n_val=3, n_train=1, stuff=False)
    path = root / "annotations" / "instances_val2017.json"
    data = json.loads(path.read_text())
    data["annotations"].append({"id": 9, "image_id": 2, "category_id": 1, "iscrowd": 1, "area": 5.0,
                                "bbox": [0, 0, 1, 1], "segmentation": {"size": [H, W], "counts": "@@garbage"}})
    data["annotations"].append({"id": 8, "image_id": 1, "category_id": 1, "iscrowd": 0, "area": 0.0,
                                "bbox": [0, 0, 0, 0], "segmentation": []})  # empty: skipped
    path.write_text(json.dumps(data))
    ds = Coco(root=root)
    assert ds.load(0).semantic is not None
    with caplog.at_level(logging.WARNING, logger="colorbench.datasets"):
        sample = ds.load(1)
        ds.load(1)
    assert sample.semantic is None and sample.image.shape == (H, W, 3)
    assert len(caplog.records) == 1 and "semantic map of 000000000002" in caplog.text
