"""What a training run learned from: the dataset, split and image ids, recorded in every
checkpoint (``training_data``) so that a later consumer can check it never evaluates or
labels on those images (the ``router`` refuses labels from its members' training images)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from colorbench.results.provenance import ids_sha256

IDS_LIMIT = 200_000  # ids stored verbatim up to this many (beyond: count and hash only)


def dataset_label(name: str | None) -> str | None:
    """A registered dataset's name, or a folder's last component (an absolute path of this
    machine is never recorded)."""
    if not name:
        return None
    return Path(name).name if ("/" in name or "\\" in name) else name


def training_data(dataset_name: str | None, split: str | None, ids: Sequence[str]) -> dict[str, Any]:
    """The ``training_data`` record: dataset, split, image count, ids hash, ids (when few enough)."""
    ids = [str(i) for i in ids]
    return {"dataset": dataset_label(dataset_name), "split": split, "n_images": len(ids),
            "ids_sha256": ids_sha256(ids), "ids": ids if len(ids) <= IDS_LIMIT else None}
