"""``celeba``: CelebFaces Attributes, aligned and cropped faces (Liu et al. 2015).

Layout (the official Google Drive folders, also torchvision's ``CelebA`` root ``celeba/``)::

    <root>/img_align_celeba/000001.jpg ... 202599.jpg   (img_align_celeba.zip)
    <root>/list_eval_partition.txt                       "000001.jpg 0" (Eval/)

The Kaggle copy (``img_align_celeba/img_align_celeba/`` and ``list_eval_partition.csv``
with an ``image_id,partition`` header) is accepted too. Splits follow the partition
file: 0 = ``train`` (162,770), 1 = ``val`` (19,867), 2 = ``test`` (19,962, the default).
ids are the file stems (``182638``), sorted. There are no labels.
"""

from __future__ import annotations

from pathlib import Path

from colorbench.evaluation.images import load_rgb
from colorbench.plugin.specs import Sample
from colorbench_datasets.layout import (
    check_present,
    check_split,
    describe,
    layout_error,
    read_list,
    require_root,
)

NAME = "celeba"
SPLITS = ("test", "train", "val")
PARTITION = {"train": "0", "val": "1", "test": "2"}
EXPECTED = ("<root>/img_align_celeba/NNNNNN.jpg", "<root>/list_eval_partition.txt ('FILE 0|1|2')")


def _partition_rows(root: Path) -> tuple[str, list[list[str]]]:
    txt, csv = root / "list_eval_partition.txt", root / "list_eval_partition.csv"
    if txt.is_file():
        return txt.name, read_list(txt)
    if csv.is_file():
        rows = [line.replace(",", " ").split() for line in csv.read_text().splitlines() if line.strip()]
        return csv.name, rows[1:] if rows and rows[0][0] == "image_id" else rows
    raise layout_error(NAME, root, EXPECTED, describe(root), problem="partition file missing")


class CelebA:
    files = property(lambda self: self.paths)  # the file of each id: resume notices changed images

    def __init__(self, split: str | None = None, root: Path | str | None = None):
        self.split = check_split(NAME, split, SPLITS, "test")
        self.root = require_root(NAME, root, EXPECTED)
        images = self.root / "img_align_celeba"
        if (images / "img_align_celeba").is_dir():  # the Kaggle zip nests the folder
            images = images / "img_align_celeba"
        if not images.is_dir():
            raise layout_error(NAME, self.root, EXPECTED, describe(self.root))
        listing, rows = _partition_rows(self.root)
        for k, row in enumerate(rows, start=1):
            if len(row) != 2 or row[1] not in ("0", "1", "2"):
                raise layout_error(NAME, self.root, EXPECTED, f"{listing} line {k} is {' '.join(row)!r}",
                                   problem="malformed partition file")
        names = sorted(r[0] for r in rows if r[1] == PARTITION[self.split])
        if not names:
            raise layout_error(NAME, self.root, EXPECTED, f"{listing} has no split {self.split}",
                               problem="empty split")
        check_present(NAME, self.root, images, names, listing)
        self.paths = [images / n for n in names]
        self.ids = [Path(n).stem for n in names]

    def __len__(self) -> int:
        return len(self.ids)

    def load(self, index: int) -> Sample:
        path = self.paths[index]
        return Sample(id=self.ids[index], image=load_rgb(path), path=str(path))
