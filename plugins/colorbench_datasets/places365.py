"""``places365``: Places365-Standard (Zhou et al. 2018), the small 256x256 images.

Layout (the official downloads, also torchvision's ``Places365(small=True)`` root)::

    <root>/val_256/Places365_val_00000001.jpg ...     split val (val_256.tar, 36,500)
    <root>/places365_val.txt                          "Places365_val_00000001.jpg 165" (filelist tar)
    <root>/data_256/a/airfield/00000001.jpg ...       split train (train_256_places365standard.tar)
    <root>/places365_train_standard.txt               "/a/airfield/00000001.jpg 0"
    <root>/test_256/Places365_test_00000001.jpg ...   split test (test_256.tar, 328,500, no labels)
    <root>/categories_places365.txt                   optional: "/a/airfield 0" (class names)

``val`` (the default; what colorization papers report as Places365 "test") lists the
images of ``places365_val.txt`` with their labels (0..364); without the list file, every
image in ``val_256/`` is used without labels (one warning line). ``train`` needs its list
file. ``test`` is every image in ``test_256/`` (labels are not public). ids are the paths
relative to the image folder without extension; order is sorted by id.
"""

from __future__ import annotations

from pathlib import Path

from colorbench.errors import DatasetError
from colorbench.evaluation.images import load_rgb
from colorbench.plugin.specs import Sample
from colorbench.results.names import check_image_id
from colorbench_datasets.layout import (
    check_present,
    check_split,
    describe,
    image_files,
    layout_error,
    read_list,
    require_root,
    warn,
)

NAME = "places365"
SPLITS = ("val", "train", "test")
LAYOUT = {  # split -> (image folder, list file)
    "val": ("val_256", "places365_val.txt"),
    "train": ("data_256", "places365_train_standard.txt"),
    "test": ("test_256", None),
}


def _expected(split: str) -> list[str]:
    folder, listing = LAYOUT[split]
    out = [f"<root>/{folder}/"]
    if listing:
        out.append(f"<root>/{listing}")
    return out


class Places365:
    files = property(lambda self: self.paths)  # the file of each id: resume notices changed images

    def __init__(self, split: str | None = None, root: Path | str | None = None):
        self.split = check_split(NAME, split, SPLITS, "val")
        folder, listing = LAYOUT[self.split]
        self.root = require_root(NAME, root, _expected(self.split))
        images = self.root / folder
        if not images.is_dir():
            raise layout_error(NAME, self.root, _expected(self.split), describe(self.root))
        labels: dict[str, int | None] = {}
        list_path = self.root / listing if listing else None
        if list_path is not None and list_path.is_file():
            for k, row in enumerate(read_list(list_path), start=1):
                if len(row) != 2 or not row[1].isdigit():
                    raise layout_error(NAME, self.root, _expected(self.split),
                                       f"{listing} line {k} is {' '.join(row)!r}, not 'FILE LABEL'",
                                       problem="malformed list file")
                # an entry with ../ would read, and save images, outside the dataset root
                labels[check_image_id(row[0].lstrip("/"), f"{list_path} line {k}")] = int(row[1])
            if self.split == "val":
                check_present(NAME, self.root, images, sorted(labels), listing or "")
        elif self.split == "train":
            raise layout_error(NAME, self.root, _expected("train"), describe(self.root),
                               problem="train list missing")
        else:
            if list_path is not None:
                warn(f"dataset 'places365': {list_path} not found; using every image in "
                     f"{images} without labels")
            labels = {p.name: None for p in image_files(images)}
        if not labels:
            raise layout_error(NAME, self.root, _expected(self.split), describe(images), problem="no images")
        rel = sorted(labels, key=lambda r: Path(r).with_suffix("").as_posix())
        self.paths = [images / r for r in rel]
        self.ids = [Path(r).with_suffix("").as_posix() for r in rel]
        self.labels = [labels[r] for r in rel]
        if len(set(self.ids)) != len(self.ids):
            raise DatasetError(f"dataset 'places365': {listing} names a file twice")
        self.classes = self._classes()

    def _classes(self) -> dict[int, str]:
        path = self.root / "categories_places365.txt"
        if not path.is_file():
            return {}
        return {int(row[1]): row[0] for row in read_list(path) if len(row) == 2 and row[1].isdigit()}

    def __len__(self) -> int:
        return len(self.ids)

    def load(self, index: int) -> Sample:
        path = self.paths[index]
        return Sample(id=self.ids[index], image=load_rgb(path), label=self.labels[index], path=str(path))
