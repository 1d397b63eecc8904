"""Where a pair's images come from, for resume: the dataset's resolved root (in the pair
fingerprint) and, per image, its file's size and modification time (in per_image.csv's
``source`` column), so that a rerun recomputes exactly the rows whose images changed.

A dataset lists its files by an optional ``files`` attribute (one path per id, in the order
of ``ids``; the built-in file-based datasets have it). Datasets without files (embedded or
generated ones) have no per-image source: their rows change only with the fingerprint.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def resolved_root(root: Path | None) -> str | None:
    """The absolute, symlink-free form of a dataset root (None for datasets without one)."""
    return None if root is None else str(Path(root).expanduser().resolve())


def file_signature(path: str | Path) -> str:
    """``size:mtime_ns`` of a file; empty when it cannot be read (the loader reports why)."""
    try:
        st = os.stat(path)
    except OSError:
        return ""
    return f"{st.st_size}:{st.st_mtime_ns}"


def image_sources(dataset: Any, ids: Sequence[str]) -> dict[str, str]:
    """image_id -> signature of its file for the first ``len(ids)`` images of ``dataset``;
    empty when the dataset does not list its files."""
    files = getattr(dataset, "files", None)  # optional part of the Dataset protocol
    if files is None or len(files) < len(ids):
        return {}
    return {image_id: file_signature(files[k]) for k, image_id in enumerate(ids)}
