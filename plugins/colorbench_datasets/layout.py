"""What the standard datasets share: where each comes from, and checking its folder.

``SOURCES`` is imported by ``plugin.py`` (specs) and by the dataset modules (error
messages), so it stays free of heavy imports. Every problem with a root becomes one
``DatasetError`` line saying what was expected (exact sub-paths), what was found and
where the data comes from (official URL and licence).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from colorbench.errors import DatasetError
from colorbench.evaluation.images import is_image_file

log = logging.getLogger("colorbench.datasets")


@dataclass(frozen=True)
class Source:
    homepage: str
    licence: str
    root_names: tuple[str, ...] = ()  # other accepted folder names under the data root


SOURCES: dict[str, Source] = {
    "coco": Source(
        "https://cocodataset.org/#download",
        "annotations CC BY 4.0; images under their Flickr licences (COCO terms of use)",
        ("coco2017", "COCO"),
    ),
    "flowers": Source(
        "https://www.robots.ox.ac.uk/~vgg/data/flowers/102/",
        "research use (Visual Geometry Group, University of Oxford)",
        ("flowers-102", "flowers102", "oxford-102"),
    ),
    "places365": Source(
        "http://places2.csail.mit.edu/download.html",
        "research and education only (Places365 terms of use, MIT CSAIL)",
        ("places365_standard", "places"),
    ),
    "imagenet": Source(
        "https://image-net.org/download.php (ILSVRC2012_img_val.tar)",
        "ImageNet terms of access: non-commercial research and education only",
        ("ILSVRC2012", "imagenet-1k", "imagenet1k"),
    ),
    "celeba": Source(
        "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html",
        "non-commercial research only (CelebA agreement, CUHK)",
        ("CelebA",),
    ),
    "ade20k": Source(
        "http://sceneparsing.csail.mit.edu/ (ADEChallengeData2016.zip)",
        "BSD-3-Clause code; images under the ADE20K terms (research use)",
        ("ADEChallengeData2016", "ADE20K"),
    ),
}


def describe(path: Path, limit: int = 6) -> str:
    """What is at ``path``, in a few words: missing, a file, empty, or its first entries."""
    if not path.exists():
        return f"{path} does not exist"
    if not path.is_dir():
        return f"{path} is a file, not a directory"
    try:
        names = sorted(os.listdir(path))
    except OSError as exc:
        return f"{path} cannot be listed ({exc.strerror})"
    if not names:
        return f"{path} is empty"
    shown = [n + "/" if (path / n).is_dir() else n for n in names[:limit]]
    more = f", ... ({len(names)} entries)" if len(names) > limit else ""
    return f"{path} holds {', '.join(shown)}{more}"


def layout_error(name: str, root: Path | None, expected: Iterable[str], found: str,
                 problem: str = "layout not found") -> DatasetError:
    """One line: dataset, problem, expected paths, what was found, where to get it.

    ``<root>`` in an expected path is replaced by the dataset folder."""
    src = SOURCES[name]
    also = ""
    if root is not None and src.root_names:
        alts = ", ".join(str(root.parent / n) for n in src.root_names)
        also = f" (the folder may also be named {alts})"
    where = str(root) if root is not None else f"<data-root>/{name}"
    paths = "; ".join(e.replace("<root>", where) for e in expected)
    return DatasetError(
        f"dataset {name!r}: {problem} at {where}{also}. Expected: {paths}. "
        f"Found: {found}. Download: {src.homepage} (licence: {src.licence})."
    )


def require_root(name: str, root: Path | str | None, expected: Sequence[str]) -> Path:
    """The dataset root as a directory, or the one-line error naming the expected paths."""
    if root is None:
        raise layout_error(name, None, expected, "no --data-root or $COLORBENCH_DATA given",
                           problem="no data root")
    path = Path(root)
    if not path.is_dir():
        raise layout_error(name, path, expected, describe(path), problem="folder missing")
    return path


def check_split(name: str, split: str | None, splits: Sequence[str], default: str) -> str:
    split = split or default
    if split not in splits:
        raise DatasetError(f"dataset {name!r}: unknown split {split!r}; choose one of {', '.join(splits)}")
    return split


def image_files(directory: Path) -> list[Path]:
    """Image files directly inside ``directory``, sorted by name."""
    with os.scandir(directory) as it:
        files = [Path(e.path) for e in it if e.is_file() and is_image_file(Path(e.name))]
    return sorted(files, key=lambda p: p.name)


def read_list(path: Path) -> list[list[str]]:
    """Whitespace-split non-empty lines of a text list (Places365, CelebA, ctest10k)."""
    with open(path, encoding="utf-8") as fh:
        return [line.split() for line in fh if line.strip()]


def check_present(name: str, root: Path, directory: Path, wanted: Sequence[str], listing: str) -> None:
    """Raise when files named in a list file are missing from ``directory``."""
    have = set(os.listdir(directory))
    missing = [w for w in wanted if w not in have]
    if missing:
        raise layout_error(
            name, root, [f"every file named in {listing} inside {directory}"],
            f"{len(missing)} of {len(wanted)} missing, e.g. {', '.join(missing[:3])}",
            problem="incomplete download",
        )


def warn(message: str) -> None:
    """One warning line on stderr (logging's last-resort handler when none is set up)."""
    log.warning(message)
