"""``coco``: COCO 2017 images, with per-pixel semantic maps when annotations are present.

Layout (the official downloads, unzipped side by side)::

    <root>/val2017/000000000139.jpg ...               split test  (val2017.zip, 5,000)
    <root>/train2017/000000000009.jpg ...             split train (train2017.zip, 118,287)
    <root>/annotations/instances_val2017.json         optional: things (annotations_trainval2017.zip)
    <root>/annotations/stuff_val2017.json             optional: stuff (stuff_annotations_trainval2017.zip)

``<root>/images/val2017/`` (and ``images/train2017/``) is accepted as well.

ids are the file stems (``000000000139``), in sorted order. When the split's instances
json exists, each sample carries ``semantic`` (int32 [H, W]) built with pycocotools:

- ``class_ids=coco`` (default): 0 = unlabeled, otherwise the COCO category id as given
  (things 1..90 with gaps, stuff 92..182): the COCO-Stuff label-map convention.
- ``class_ids=contiguous``: 0 = unlabeled, then 1..K over the categories of the loaded
  json files sorted by id (things 1..80, then stuff 81..171 when stuff is loaded).

Stuff regions are painted first, then thing instances in decreasing area (so a small
object lying on a large one stays visible); crowd regions (RLE) count like instances.
The stuff class 183 "other" (thing pixels in COCO-Stuff) is skipped: those pixels take
their thing class, or stay 0. ``stuff=false`` ignores the stuff json; ``semantic=false``
skips annotations entirely. An image absent from the json, or whose json size differs
from the decoded image, gets ``semantic=None``; an image listed without annotations is 0.
An annotation pycocotools cannot decode gives that image ``semantic=None`` (one warning
line), never a failed row: the colorization scores do not depend on it.
``classes`` maps each semantic value to its category name.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import numpy as np

from colorbench.errors import DatasetError
from colorbench.evaluation.images import load_rgb
from colorbench.plugin.specs import Sample
from colorbench_datasets.layout import (
    check_split,
    describe,
    image_files,
    layout_error,
    require_root,
    warn,
)

NAME = "coco"
SPLITS = ("test", "train")
FOLDERS = {"test": "val2017", "train": "train2017"}
STUFF_OTHER = 183
CLASS_IDS = ("coco", "contiguous")


def _expected(folder: str) -> list[str]:
    return [
        f"<root>/{folder}/*.jpg",
        f"optional <root>/annotations/instances_{folder}.json and stuff_{folder}.json for semantic maps",
    ]


def _load_json(root: Path, path: Path, folder: str) -> Any:
    from pycocotools.coco import COCO

    try:
        with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
            api = COCO(str(path))
    except (OSError, ValueError, KeyError, TypeError, AssertionError) as exc:
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise layout_error(NAME, root, _expected(folder), f"{path.name} is not a COCO annotation file ({reason})",
                           problem="malformed annotations") from None
    if not isinstance(api.dataset, dict) or "images" not in api.dataset:
        raise layout_error(NAME, root, _expected(folder), f"{path.name} has no 'images' list",
                           problem="malformed annotations")
    return api


class Coco:
    files = property(lambda self: self.paths)  # the file of each id: resume notices changed images

    def __init__(self, split: str | None = None, root: Path | str | None = None,
                 semantic: bool = True, stuff: bool = True, class_ids: str = "coco"):
        self.split = check_split(NAME, split, SPLITS, "test")
        if class_ids not in CLASS_IDS:
            raise DatasetError(f"dataset 'coco': class_ids={class_ids!r}; choose one of {', '.join(CLASS_IDS)}")
        folder = FOLDERS[self.split]
        self.root = require_root(NAME, root, _expected(folder))
        images = self.root / folder
        if not images.is_dir() and (self.root / "images" / folder).is_dir():
            images = self.root / "images" / folder  # the common <root>/images/val2017 variant
        if not images.is_dir():
            raise layout_error(NAME, self.root, _expected(folder), describe(self.root))
        self.paths = image_files(images)
        if not self.paths:
            raise layout_error(NAME, self.root, _expected(folder), describe(images), problem="no images")
        self.ids = [p.stem for p in self.paths]
        self.apis: list[Any] = []
        self.classes: dict[int, str] = {}
        self._remap: dict[int, int] | None = None
        self._warned = False
        ann = self.root / "annotations"
        if semantic and (ann / f"instances_{folder}.json").is_file():
            files = [ann / f"instances_{folder}.json"]
            if stuff and (ann / f"stuff_{folder}.json").is_file():
                files.insert(0, ann / f"stuff_{folder}.json")  # painted first, under things
            self.apis = [_load_json(self.root, f, folder) for f in files]
            self._set_classes(class_ids)
        by_name = {}
        for api in self.apis:
            for info in api.imgs.values():
                by_name.setdefault(Path(str(info.get("file_name", ""))).stem, info["id"])
        self.image_ids = [by_name.get(i) for i in self.ids]

    def _set_classes(self, class_ids: str) -> None:
        cats = {c["id"]: c["name"] for api in self.apis for c in api.dataset.get("categories", [])
                if c["id"] != STUFF_OTHER}
        if class_ids == "contiguous":
            self._remap = {cid: k for k, cid in enumerate(sorted(cats), start=1)}
            self.classes = {0: "unlabeled", **{self._remap[c]: cats[c] for c in sorted(cats)}}
        else:
            self.classes = {0: "unlabeled", **dict(sorted(cats.items()))}

    def __len__(self) -> int:
        return len(self.ids)

    def semantic_map(self, index: int, shape: tuple[int, int]) -> np.ndarray | None:
        """The class map of image ``index`` at ``shape`` (H, W), or None when unknown."""
        image_id = self.image_ids[index]
        if image_id is None or not self.apis:
            return None
        out = np.zeros(shape, dtype=np.int32)
        for api in self.apis:
            info = api.imgs.get(image_id)
            if info is None:
                continue
            if (int(info["height"]), int(info["width"])) != shape:
                return None
            anns = [a for a in api.imgToAnns.get(image_id, [])
                    if a.get("category_id") != STUFF_OTHER and a.get("segmentation")]
            for a in sorted(anns, key=lambda a: -float(a.get("area", 0.0))):
                mask = api.annToMask(a).astype(bool)
                cid = int(a["category_id"])
                out[mask] = self._remap.get(cid, 0) if self._remap is not None else cid
        return out

    def load(self, index: int) -> Sample:
        path = self.paths[index]
        image = load_rgb(path)
        try:
            semantic = self.semantic_map(index, image.shape[:2])
        except Exception as exc:  # a broken annotation must not cost the image its scores
            semantic = None
            if not self._warned:
                self._warned = True
                reason = " ".join(str(exc).split())[:200] or type(exc).__name__
                warn(f"dataset 'coco': cannot build the semantic map of {self.ids[index]} ({reason}); "
                     "images with broken annotations get semantic=None")
        return Sample(id=self.ids[index], image=image, semantic=semantic, path=str(path))
