"""Names that become paths inside a run directory: the run's name (a suite's ``name``),
dataset and model names, and image ids (``outputs/<dataset>/<model>/<id>.png``). Each is
checked before anything is written, so that no name reaches outside the run directory."""

from __future__ import annotations

from colorbench.errors import ColorbenchError


def _problem(part: str) -> str | None:
    if part == "":
        return "an empty path component"
    if part in (".", ".."):
        return f"the path component {part!r}"
    return None


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: a file name's undecodable bytes
        return False
    return True


def check_name(name: str, what: str) -> str:
    """``name`` when it is one plain path component (no separator, ``.``/``..``, NUL,
    absolute path or non-UTF-8 bytes: names reach summaries and leaderboards, which are
    UTF-8); else one ColorbenchError naming ``what``."""
    why = ("a NUL byte" if "\0" in name else "a path separator" if "/" in name or "\\" in name
           else "bytes that are not UTF-8" if not _is_utf8(name) else _problem(name))
    if why:
        raise ColorbenchError(f"{what} {name!r}: contains {why}; use a plain name (letters, digits, -, _, .)")
    return name


def check_image_id(image_id: str, where: str) -> str:
    """``image_id`` when it is a relative posix path that stays below its folder (no NUL,
    backslash, absolute path, ``.``/``..`` or empty component); else one ColorbenchError."""
    why = ("a NUL byte" if "\0" in image_id else "a backslash" if "\\" in image_id
           else "an absolute path" if image_id.startswith("/")
           else next(filter(None, map(_problem, image_id.split("/"))), None))
    if why:
        raise ColorbenchError(f"{where}: image id {image_id!r} contains {why}, which could write outside "
                              "the run directory; fix the dataset's file list")
    return image_id


def check_dataset(name: str, ids: list[str]) -> None:
    """One ColorbenchError unless the dataset's name and every id are safe paths and the
    ids are unique (rows are keyed on them)."""
    check_name(name, "dataset name")
    for image_id in ids:
        check_image_id(image_id, f"dataset {name!r}")
    if len(set(ids)) != len(ids):
        raise ColorbenchError(f"dataset {name!r}: image ids are not unique; rows could not be keyed")
