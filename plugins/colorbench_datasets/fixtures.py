"""Tiny fixtures in the official dataset layouts (JPEGs via Pillow, .mat via scipy, COCO json).

The specs' ``test_fixture`` (``colorbench check-plugin datasets``) and the dataset tests use
them; each builder writes under a directory it is given and returns it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

W, H = 32, 24  # fixture images are W x H


def jpeg(path: Path, seed: int = 0, size: tuple[int, int] = (W, H)) -> Path:
    """A small colourful JPEG (a gradient plus a seed-dependent tint)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(seed)
    tint = rng.integers(40, 215, 3)
    rgb = np.stack([xx * 255 // max(w - 1, 1), yy * 255 // max(h - 1, 1), np.full_like(xx, tint[2])], -1)
    rgb = ((rgb + tint) // 2).astype(np.uint8)
    Image.fromarray(rgb).save(path, quality=95)
    return path


def uncompressed_rle(mask: np.ndarray) -> dict:
    """COCO uncompressed RLE (column-major run lengths, starting with a run of zeros)."""
    flat = mask.astype(np.uint8).flatten(order="F")
    counts, current, run = [], 0, 0
    for v in flat:
        if v != current:
            counts.append(run)
            current, run = v, 0
        run += 1
    counts.append(run)
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": counts}


def compressed_rle(mask: np.ndarray) -> dict:
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": list(rle["size"]), "counts": rle["counts"].decode("ascii")}


def box(y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    m = np.zeros((H, W), dtype=bool)
    m[y0:y1, x0:x1] = True
    return m


# Regions of image 1 (file 000000000001.jpg) in the COCO fixture:
PERSON_POLY = [4.0, 4.0, 14.0, 4.0, 14.0, 14.0, 4.0, 14.0]  # category 1, polygon, area 100
DOG_RLE = box(10, 20, 10, 26)  # category 18, crowd, uncompressed RLE, area 160
ROAD_STUFF = box(16, 24, 0, 32)  # stuff 149, compressed RLE (under the dog)
OTHER_STUFF = box(0, 4, 28, 32)  # stuff 183 "other": skipped


def make_coco(root: Path, n_val: int = 6, n_train: int = 3, annotations: bool = True,
              stuff: bool = True) -> Path:
    """COCO 2017: val2017/, train2017/, annotations/instances_*.json (+ stuff_*.json)."""
    for folder, n, offset in (("val2017", n_val, 1), ("train2017", n_train, 1000)):
        ids = [offset + k for k in range(n)]
        for i in ids:
            jpeg(root / folder / f"{i:012d}.jpg", seed=i)
        if not annotations:
            continue
        # the last image of each split is absent from the json
        images = [{"id": i, "file_name": f"{i:012d}.jpg", "height": H, "width": W} for i in ids[:-1]]
        anns = []
        if folder == "val2017":
            anns = [
                {"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0, "area": 100.0,
                 "bbox": [4, 4, 10, 10], "segmentation": [PERSON_POLY]},
                {"id": 2, "image_id": 1, "category_id": 18, "iscrowd": 1, "area": float(DOG_RLE.sum()),
                 "bbox": [10, 10, 16, 10], "segmentation": uncompressed_rle(DOG_RLE)},
                {"id": 3, "image_id": 2, "category_id": 90, "iscrowd": 0, "area": 16.0,
                 "bbox": [0, 0, 4, 4], "segmentation": [[0.0, 0.0, 4.0, 0.0, 4.0, 4.0, 0.0, 4.0]]},
            ]
        cats = [{"id": 1, "name": "person", "supercategory": "person"},
                {"id": 18, "name": "dog", "supercategory": "animal"},
                {"id": 90, "name": "toothbrush", "supercategory": "indoor"}]
        ann_dir = root / "annotations"
        ann_dir.mkdir(parents=True, exist_ok=True)
        (ann_dir / f"instances_{folder}.json").write_text(json.dumps(
            {"info": {}, "licenses": [], "images": images, "annotations": anns, "categories": cats}))
        if stuff:
            stuff_anns = []
            if folder == "val2017":
                stuff_anns = [
                    {"id": 10, "image_id": 1, "category_id": 149, "iscrowd": 0, "area": float(ROAD_STUFF.sum()),
                     "bbox": [0, 16, 32, 8], "segmentation": compressed_rle(ROAD_STUFF)},
                    {"id": 11, "image_id": 1, "category_id": 183, "iscrowd": 0, "area": 16.0,
                     "bbox": [28, 0, 4, 4], "segmentation": compressed_rle(OTHER_STUFF)},
                ]
            stuff_cats = [{"id": 149, "name": "road", "supercategory": "ground"},
                          {"id": 183, "name": "other", "supercategory": "other"}]
            (ann_dir / f"stuff_{folder}.json").write_text(json.dumps(
                {"info": {}, "licenses": [], "images": images, "annotations": stuff_anns,
                 "categories": stuff_cats}))
    return root


FLOWER_SPLITS = {"trnid": [1, 2], "valid": [3, 4], "tstid": [8, 5, 6, 7, 9, 10]}
FLOWER_LABELS = [77, 77, 3, 3, 102, 1, 50, 50, 2, 9]  # imagelabels.mat, image 1..10 (1-based classes)


def make_flowers(root: Path, mats: bool = True) -> Path:
    """Oxford 102: jpg/image_NNNNN.jpg, imagelabels.mat, setid.mat."""
    from scipy.io import savemat

    for n in range(1, len(FLOWER_LABELS) + 1):
        jpeg(root / "jpg" / f"image_{n:05d}.jpg", seed=100 + n)
    if mats:
        savemat(root / "imagelabels.mat", {"labels": np.array([FLOWER_LABELS], dtype=np.uint8)})
        savemat(root / "setid.mat", {k: np.array([v], dtype=np.uint16) for k, v in FLOWER_SPLITS.items()})
    return root
