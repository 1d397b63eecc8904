"""``imagenet``: ILSVRC 2012 (ImageNet-1k) validation images, with the colorization protocols.

Layout: the 50,000 validation JPEGs, flat (as in ILSVRC2012_img_val.tar) or in synset
folders (torchvision's ``ImageNet`` root, ``valprep.sh``), in the first of these folders::

    <root>/val/ILSVRC2012_val_00000001.JPEG   or  <root>/val/n01751748/ILSVRC2012_val_00000001.JPEG
    <root>/ILSVRC2012_img_val/ILSVRC2012_val_00000001.JPEG
    <root>/ILSVRC/Data/CLS-LOC/val/...        (the Kaggle copy)
    <root>/train/n01440764/*.JPEG             optional: split train (synset folders)
    <root>/ctest10k.txt                       optional: the published ctest10k file list

ids are the file stems (``ILSVRC2012_val_00000001``); every split is sorted by file name,
whatever the folder layout. With synset folders the label is the WordNet id (``n01751748``).

Splits (protocols):
- ``val``: all validation images found (50,000 in the full download).
- ``val5k``: the first 5,000 by sorted file name (``ILSVRC2012_val_00000001`` ..
  ``ILSVRC2012_val_00005000``), the "ImageNet val5k" test set of DDColor/ColorFormer.
- ``ctest10k`` (Larsson et al. 2016, used by Zhang et al. 2016/2017): when
  ``<root>/ctest10k.txt`` exists, exactly the files it lists (first token of each line,
  directory ignored). Otherwise the 10,000 images at 0-based positions 25274..35273 of the
  sorted validation names (``ILSVRC2012_val_00025275`` .. ``ILSVRC2012_val_00035274``);
  see docs/datasets.md for why this approximates the published list.
- ``train``: every image under the training synset folders.
Protocol splits fail with one line when any of their files is missing.
"""

from __future__ import annotations

import os
from pathlib import Path

from colorbench.errors import DatasetError
from colorbench.evaluation.images import is_image_file, load_rgb
from colorbench.plugin.specs import Sample
from colorbench_datasets.layout import check_split, describe, layout_error, read_list, require_root

NAME = "imagenet"
SPLITS = ("val", "val5k", "ctest10k", "train")
VAL_DIRS = ("val", "ILSVRC2012_img_val", "ILSVRC/Data/CLS-LOC/val")
TRAIN_DIRS = ("train", "ILSVRC2012_img_train", "ILSVRC/Data/CLS-LOC/train")
CTEST10K_START, CTEST10K_COUNT = 25274, 10_000
VAL5K_COUNT = 5_000
CTEST10K_LIST = "ctest10k.txt"


def val_name(position: int) -> str:
    """File stem of the validation image at 0-based ``position`` of the sorted names."""
    return f"ILSVRC2012_val_{position + 1:08d}"


def protocol_stems(split: str) -> list[str] | None:
    """The fixed stems of a position-defined protocol (None for val/train)."""
    if split == "val5k":
        return [val_name(k) for k in range(VAL5K_COUNT)]
    if split == "ctest10k":
        return [val_name(k) for k in range(CTEST10K_START, CTEST10K_START + CTEST10K_COUNT)]
    return None


def _expected(split: str) -> list[str]:
    dirs = TRAIN_DIRS if split == "train" else VAL_DIRS
    what = "<synset>/*.JPEG" if split == "train" else "ILSVRC2012_val_NNNNNNNN.JPEG (flat or in <synset>/ folders)"
    return [" or ".join(f"<root>/{d}/" for d in dirs) + f" holding {what}"]


def _scan(directory: Path) -> dict[str, tuple[Path, str | None]]:
    """stem -> (path, synset or None) for images directly inside or one folder down."""
    out: dict[str, tuple[Path, str | None]] = {}
    with os.scandir(directory) as it:
        entries = sorted(it, key=lambda e: e.name)
    for e in entries:
        if e.is_dir():
            with os.scandir(e.path) as sub:
                found = [(Path(s.path), e.name) for s in sub if s.is_file() and is_image_file(Path(s.name))]
        elif e.is_file() and is_image_file(Path(e.name)):
            found = [(Path(e.path), None)]
        else:
            continue
        for path, synset in found:
            if path.stem in out:
                raise DatasetError(f"dataset 'imagenet': {path.name} appears twice ({out[path.stem][0]} and {path})")
            out[path.stem] = (path, synset)
    return out


class ImageNet:
    files = property(lambda self: self.paths)  # the file of each id: resume notices changed images

    def __init__(self, split: str | None = None, root: Path | str | None = None):
        self.split = check_split(NAME, split, SPLITS, "val")
        self.root = require_root(NAME, root, _expected(self.split))
        dirs = TRAIN_DIRS if self.split == "train" else VAL_DIRS
        folder = next((self.root / d for d in dirs if (self.root / d).is_dir()), None)
        if folder is None:
            raise layout_error(NAME, self.root, _expected(self.split), describe(self.root))
        files = _scan(folder)
        if not files:
            raise layout_error(NAME, self.root, _expected(self.split), describe(folder), problem="no images")
        self.source = "folder"
        stems = protocol_stems(self.split)
        if self.split == "ctest10k" and (self.root / CTEST10K_LIST).is_file():
            stems = [Path(row[0]).stem for row in read_list(self.root / CTEST10K_LIST)]
            self.source = str(self.root / CTEST10K_LIST)
        elif stems is not None:
            self.source = "positions"
        if stems is None:
            stems = sorted(files)
        missing = [s for s in stems if s not in files]
        if missing:
            raise layout_error(
                NAME, self.root, _expected(self.split),
                f"{len(missing)} of the {len(stems)} {self.split} images missing from {folder}, "
                f"e.g. {missing[0]} ({len(files)} images there)",
                problem="incomplete validation set",
            )
        stems = sorted(set(stems))
        self.ids = stems
        self.paths = [files[s][0] for s in stems]
        self.labels = [files[s][1] for s in stems]

    def __len__(self) -> int:
        return len(self.ids)

    def load(self, index: int) -> Sample:
        path = self.paths[index]
        return Sample(id=self.ids[index], image=load_rgb(path), label=self.labels[index], path=str(path))
