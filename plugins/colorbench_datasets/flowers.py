"""``flowers``: Oxford 102 Category Flower Dataset (Nilsback & Zisserman 2008).

Layout (the official downloads, also torchvision's ``Flowers102`` folder ``flowers-102/``)::

    <root>/jpg/image_00001.jpg ... image_08189.jpg   (102flowers.tgz)
    <root>/imagelabels.mat                            ('labels': 1..102 per image)
    <root>/setid.mat                                  ('trnid', 'valid', 'tstid': 1-based)

Splits ``train``/``val``/``test`` are the image numbers in ``trnid``/``valid``/``tstid``
(1,020 / 1,020 / 6,149), listed in increasing image number. ids are the file stems
(``image_00001``); labels are 0-based (``imagelabels - 1``, torchvision's convention).
With ``jpg/`` but no ``setid.mat``, one warning line says so and every image is ``test``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from colorbench.errors import DatasetError
from colorbench.evaluation.images import load_rgb
from colorbench.plugin.specs import Sample
from colorbench_datasets.layout import (
    SOURCES,
    check_split,
    describe,
    image_files,
    layout_error,
    require_root,
    warn,
)

NAME = "flowers"
SPLITS = ("test", "train", "val")
SETID_KEYS = {"train": "trnid", "val": "valid", "test": "tstid"}
EXPECTED = (
    "<root>/jpg/image_NNNNN.jpg (102flowers.tgz)",
    "<root>/setid.mat (splits trnid/valid/tstid)",
    "<root>/imagelabels.mat (labels)",
)


def _load_mat(root: Path, path: Path, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    from scipy.io import loadmat

    try:
        mat = loadmat(path)
    except Exception as exc:
        raise layout_error(NAME, root, EXPECTED, f"{path.name} is not a readable .mat file ({exc})",
                           problem="malformed file") from None
    missing = [k for k in keys if k not in mat]
    if missing:
        present = ", ".join(k for k in mat if not k.startswith("__")) or "no variables"
        raise layout_error(NAME, root, EXPECTED, f"{path.name} lacks {', '.join(missing)} (has {present})",
                           problem="malformed file")
    return {k: np.asarray(mat[k]).astype(np.int64).ravel() for k in keys}


class Flowers:
    files = property(lambda self: self.paths)  # the file of each id: resume notices changed images

    def __init__(self, split: str | None = None, root: Path | str | None = None):
        self.root = require_root(NAME, root, EXPECTED)
        self.split = check_split(NAME, split, SPLITS, "test")
        jpg = self.root / "jpg"
        if not jpg.is_dir():
            raise layout_error(NAME, self.root, EXPECTED, describe(self.root))
        files = {p.stem: p for p in image_files(jpg)}
        if not files:
            raise layout_error(NAME, self.root, EXPECTED, describe(jpg), problem="no images")
        labels: dict[int, int] = {}
        if (self.root / "imagelabels.mat").is_file():
            values = _load_mat(self.root, self.root / "imagelabels.mat", ("labels",))["labels"]
            labels = {n: int(v) - 1 for n, v in enumerate(values, start=1)}
        setid = self.root / "setid.mat"
        if setid.is_file():
            numbers = sorted(set(_load_mat(self.root, setid, (SETID_KEYS[self.split],))[SETID_KEYS[self.split]]))
            stems = [f"image_{n:05d}" for n in numbers]
            missing = [s for s in stems if s not in files]
            if missing:
                raise layout_error(
                    NAME, self.root, EXPECTED,
                    f"setid.mat lists {len(missing)} {self.split} images absent from jpg/, e.g. {missing[0]}.jpg",
                    problem="incomplete download",
                )
            self.paths = [files[s] for s in stems]
        elif self.split == "test":
            warn(f"dataset 'flowers': {setid} not found, so the official splits are unknown; "
                 f"using all {len(files)} images in jpg/ as split 'test'")
            self.paths = list(files.values())
        else:
            raise DatasetError(
                f"dataset 'flowers': split {self.split!r} needs {setid} (trnid/valid/tstid); "
                f"found only jpg/. Download setid.mat from {SOURCES[NAME].homepage}"
            )
        self.ids = [p.stem for p in self.paths]
        self.labels = [labels.get(_number(i)) for i in self.ids]

    def __len__(self) -> int:
        return len(self.ids)

    def load(self, index: int) -> Sample:
        path = self.paths[index]
        return Sample(id=self.ids[index], image=load_rgb(path), label=self.labels[index], path=str(path))


def _number(stem: str) -> int:
    try:
        return int(stem.rsplit("_", 1)[-1])
    except ValueError:
        return -1
