"""``folder``: every image under a directory tree.

ids are paths relative to the root without the extension, with ``/`` separators (two
files that differ only in extension keep it, e.g. ``a.jpg`` and ``a.png``). Files are
listed in sorted order; a file with an image extension that fails to decode becomes a
failed row, not an error of the whole dataset.

Splits: without a split (the default of ``run``), every image is used. ``train``, ``val``
and ``test`` are a seeded hash split: an image goes to ``val`` or ``test`` when
sha256("<split_seed>:<id>") falls in the ``val_fraction`` or ``test_fraction`` share
(default 10% each), else to ``train``. Adding images never moves existing ones.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from colorbench.errors import DatasetError
from colorbench.evaluation.images import IMAGE_EXTENSIONS, list_image_files, load_rgb
from colorbench.plugin.specs import Sample

SPLITS = ("all", "train", "val", "test")


def split_of(image_id: str, seed: int, val_fraction: float, test_fraction: float) -> str:
    u = int(hashlib.sha256(f"{seed}:{image_id}".encode()).hexdigest()[:12], 16) / 16**12
    if u < test_fraction:
        return "test"
    if u < test_fraction + val_fraction:
        return "val"
    return "train"


class Folder:
    def __init__(self, split: str | None = None, root: Path | str | None = None,
                 val_fraction: float = 0.1, test_fraction: float = 0.1, split_seed: int = 0):
        if root is None:
            raise DatasetError("dataset 'folder' needs a directory: pass the directory itself, e.g. --datasets ./my_photos")
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetError(f"folder dataset: {self.root} is not a directory")
        split = split or "all"
        if split not in SPLITS:
            raise DatasetError(f"folder dataset {self.root}: unknown split {split!r}; choose one of {', '.join(SPLITS)}")
        ids, files = list_image_files(self.root)
        if not files:
            exts = " ".join(sorted(IMAGE_EXTENSIONS))
            raise DatasetError(f"folder dataset: no images under {self.root} (looked for {exts})")
        if split != "all":
            keep = [k for k, i in enumerate(ids) if split_of(i, split_seed, val_fraction, test_fraction) == split]
            ids, files = [ids[k] for k in keep], [files[k] for k in keep]
        self.ids, self.files, self.split = ids, files, split

    def __len__(self) -> int:
        return len(self.ids)

    def load(self, index: int) -> Sample:
        path = self.files[index]
        return Sample(id=self.ids[index], image=load_rgb(path), path=str(path))
