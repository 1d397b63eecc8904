"""``ade20k``: ADE20K scene parsing, the MIT Scene Parsing Benchmark release (SceneParsing 2016).

Layout (ADEChallengeData2016.zip; ``<root>`` may be the unzipped folder itself or hold it)::

    <root>/ADEChallengeData2016/images/validation/ADE_val_00000001.jpg       split val (2,000)
    <root>/ADEChallengeData2016/annotations/validation/ADE_val_00000001.png
    <root>/ADEChallengeData2016/images/training/ADE_train_00000001.jpg       split train (20,210)
    <root>/ADEChallengeData2016/annotations/training/ADE_train_00000001.png
    <root>/ADEChallengeData2016/objectInfo150.txt                            optional: class names

``val`` is the default (the test release has no public annotations). ids are the file
stems, sorted. ``semantic`` is the annotation PNG as stored: uint8 0 = other/unlabeled,
1..150 = the classes of ``objectInfo150.txt``. An image without its PNG (or with
``annotations/`` absent) has ``semantic=None``; a PNG whose size differs from the image
fails that image.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

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

NAME = "ade20k"
SPLITS = ("val", "train")
FOLDERS = {"val": "validation", "train": "training"}
INNER = "ADEChallengeData2016"


def _expected(split: str) -> list[str]:
    f = FOLDERS[split]
    return [f"<root>/{INNER}/images/{f}/*.jpg", f"<root>/{INNER}/annotations/{f}/*.png (semantic maps)"]


def read_annotation(path: Path) -> np.ndarray:
    """An ADE20K label PNG as uint8 [H, W] class ids (no colour conversion)."""
    try:
        with Image.open(path) as img:
            if img.mode not in ("L", "P"):
                raise DatasetError(f"{path}: annotation mode {img.mode}, expected an 8-bit label image")
            return np.asarray(img, dtype=np.uint8).copy()
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read annotation ({exc})") from None


class ADE20K:
    files = property(lambda self: self.paths)  # the file of each id: resume notices changed images

    def __init__(self, split: str | None = None, root: Path | str | None = None):
        self.split = check_split(NAME, split, SPLITS, "val")
        self.root = require_root(NAME, root, _expected(self.split))
        base = self.root / INNER if (self.root / INNER).is_dir() else self.root
        images = base / "images" / FOLDERS[self.split]
        if not images.is_dir():
            raise layout_error(NAME, self.root, _expected(self.split), describe(base))
        self.paths = image_files(images)
        if not self.paths:
            raise layout_error(NAME, self.root, _expected(self.split), describe(images), problem="no images")
        self.ids = [p.stem for p in self.paths]
        annotations = base / "annotations" / FOLDERS[self.split]
        if not annotations.is_dir():
            warn(f"dataset 'ade20k': {annotations} not found; samples have no semantic maps")
        self.annotations = [annotations / f"{i}.png" for i in self.ids]
        self.classes = self._classes(base / "objectInfo150.txt")

    @staticmethod
    def _classes(path: Path) -> dict[int, str]:
        out = {0: "other"}
        if path.is_file():  # "Idx Ratio Train Val Name" then "1 0.1576 11664 1172 wall"
            for line in path.read_text().splitlines()[1:]:
                parts = line.split(None, 4)
                if len(parts) == 5 and parts[0].isdigit():
                    out[int(parts[0])] = parts[4].split(";")[0].strip()
        return out

    def __len__(self) -> int:
        return len(self.ids)

    def load(self, index: int) -> Sample:
        path, ann = self.paths[index], self.annotations[index]
        image = load_rgb(path)
        semantic = read_annotation(ann) if ann.is_file() else None
        if semantic is not None and semantic.shape != image.shape[:2]:
            raise DatasetError(f"{ann}: annotation is {semantic.shape[1]}x{semantic.shape[0]}, "
                               f"image is {image.shape[1]}x{image.shape[0]}")
        return Sample(id=self.ids[index], image=image, semantic=semantic, path=str(path))
