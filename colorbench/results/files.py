"""The run directory (docs/run-directory.md): run.json, per_image.csv, summary.csv.

per_image.csv is appended and flushed per batch. A run killed at any moment leaves at most
a partial last line, which the next open drops; rows are keyed on (dataset, model,
image_id), so a resumed run never writes a key twice.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from colorbench.errors import ColorbenchError, ResultWriteError

GT_DIR = "_ground_truth"  # outputs/<dataset>/_ground_truth/<id>.png with --save-images
# status: ok (every metric computed), partial (some metric cells failed: failed_metrics names
# them, error gives their reasons), failed (the image could not be decoded or colorized).
# source: the image file's "size:mtime_ns" when the dataset lists its files (resume compares it)
FIXED_COLUMNS = ("dataset", "model", "image_id", "status", "error", "seconds", "failed_metrics", "source")
STATUSES = ("ok", "partial", "failed")
Key = tuple[str, str, str]
# file names that are not valid UTF-8 (possible on Linux) reach colorbench as str with lone
# surrogates (os.fsdecode); the result files write them back as the original bytes
ERRORS = "surrogateescape"


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename; the temporary file
    is removed when the write fails (a full disk leaves the old file, not a fragment)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8", errors=ERRORS)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _strict(value: Any) -> Any:
    """JSON has no infinities or NaN: write them as "inf"/"-inf" (float() reads them back)
    and null, so strict parsers (jq, JavaScript) accept every file colorbench writes."""
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v) for v in value]
    return value


def write_json(path: Path, data: Any) -> None:
    """``data`` as strict JSON, atomically; an OSError is a ResultWriteError naming ``path``."""
    text = json.dumps(_strict(data), indent=2, sort_keys=False, default=str, allow_nan=False)
    try:
        atomic_write_text(path, text + "\n")
    except OSError as exc:
        raise ResultWriteError.of(path, exc) from None


def read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}


def format_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)  # shortest exact round-trip
    return str(value)


def parse_value(text: str) -> float | None:
    if text == "":
        return None
    return float(text)


def read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """Read a per_image.csv record by record (a quoted field may hold a newline): an
    incomplete last record left by a killed run is ignored, and so is a record whose
    number of fields is not the header's; every complete record is kept. A file that is
    not a per_image.csv at all is one ColorbenchError naming it."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [], []
    text = data.decode("utf-8", errors=ERRORS)
    records: list[list[str]] = []
    try:
        records.extend(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error:  # an unterminated quote: the last record was cut inside a quoted field
        pass
    else:
        if records and not text.endswith(("\n", "\r")):
            records.pop()  # the last record was cut mid-write
    header = records[0] if records else []
    if records and header[:3] != list(FIXED_COLUMNS[:3]):
        raise ColorbenchError(f"{path}: not a colorbench per_image.csv (header {','.join(header[:4])!r}); "
                              "move it away or rerun with --no-resume")
    rows = [dict(zip(header, r, strict=True)) for r in records[1:] if len(r) == len(header)]
    return header, rows


def _ends_with_newline(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            if f.tell() == 0:
                return False
            f.seek(-1, os.SEEK_END)
            return f.read(1) == b"\n"
    except FileNotFoundError:
        return False


class PerImageWriter:
    """Append-only per_image.csv with resume."""

    def __init__(self, path: Path, columns: Sequence[str]):
        self.path = path
        header, rows = read_rows(path)
        self.columns = list(FIXED_COLUMNS) + [c for c in columns if c not in FIXED_COLUMNS]
        for c in header:  # keep columns of earlier runs in the same directory
            if c not in self.columns:
                self.columns.append(c)
        self.rows: dict[Key, dict[str, str]] = {}
        for r in rows:
            self.rows.setdefault((r["dataset"], r["model"], r["image_id"]), r)
        if (header != self.columns or len(self.rows) != len(rows) or not path.exists()
                or not _ends_with_newline(path)):
            self._rewrite()  # also drops a partial last line, which appending would extend
        self._file = open(path, "a", newline="", encoding="utf-8", errors=ERRORS)  # noqa: SIM115
        self._writer = csv.DictWriter(self._file, fieldnames=self.columns, extrasaction="ignore")

    def _rewrite(self) -> None:
        buf = io.StringIO(newline="")
        w = csv.DictWriter(buf, fieldnames=self.columns, extrasaction="ignore", restval="")
        w.writeheader()
        w.writerows(self.rows.values())
        try:
            atomic_write_text(self.path, buf.getvalue())
        except OSError as exc:
            raise ResultWriteError.of(self.path, exc) from None

    def done(self, dataset: str, model: str) -> dict[str, str]:
        """image_id -> recorded ``source`` of the pair's rows."""
        return {k[2]: r.get("source", "") for k, r in self.rows.items() if k[0] == dataset and k[1] == model}

    def drop(self, dataset: str, model: str, ids: Iterable[str] | None = None) -> int:
        """Forget the rows of one (dataset, model) pair (its config changed), or only those of
        ``ids`` (their images changed)."""
        wanted = None if ids is None else set(ids)
        keys = [k for k in self.rows if k[0] == dataset and k[1] == model and (wanted is None or k[2] in wanted)]
        for k in keys:
            del self.rows[k]
        if keys:
            self._reopen()
        return len(keys)

    def order(self, position: Callable[[Key], tuple[int, int] | None]) -> bool:
        """Rewrite the file with rows sorted by ``position(key)`` (rows it gives None stay
        first, in their order): the rows of a run in dataset order, however many processes
        wrote them. Returns whether the order changed."""
        keys = list(self.rows)
        at = {k: position(k) for k in keys}
        ordered = sorted(keys, key=lambda k: (0, *at[k]) if at[k] is not None else (-1, 0, 0))
        if ordered == keys:
            return False
        self.rows = {k: self.rows[k] for k in ordered}
        self._reopen()
        return True

    def _reopen(self) -> None:
        self._file.close()
        self._rewrite()
        self._file = open(self.path, "a", newline="", encoding="utf-8", errors=ERRORS)  # noqa: SIM115
        self._writer = csv.DictWriter(self._file, fieldnames=self.columns, extrasaction="ignore")

    def append(self, rows: Iterable[dict[str, Any]]) -> None:
        """Append the rows of keys not yet written and flush them to disk; an OSError (a full
        disk) is a ResultWriteError: the rows flushed before stay, a cut last line is
        dropped by the next open."""
        try:
            for row in rows:
                key = (row["dataset"], row["model"], row["image_id"])
                if key in self.rows:
                    continue
                text = {c: format_value(row.get(c)) for c in self.columns}
                self._writer.writerow(text)
                self.rows[key] = text
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as exc:
            raise ResultWriteError.of(self.path, exc) from None

    def close(self) -> None:
        self._file.close()
