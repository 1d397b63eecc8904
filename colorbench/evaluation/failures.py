"""Failures made visible: every failed image or metric cell with its full traceback in
``RUN/errors.log``, and per pair one console line per kind of failure with the count and
the first reasons."""

from __future__ import annotations

import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from colorbench.errors import ResultWriteError
from colorbench.results.provenance import now

ERRORS_LOG = "errors.log"
IMAGE = ""  # Failure.metric of a failure of the whole image (decode or colorize)
SHOWN_REASONS = 2


def one_line(exc: BaseException) -> str:
    """An exception as one line: its message, or its type when it has none."""
    return " ".join(str(exc).split()) or type(exc).__name__


@dataclass
class Failure:
    """One failed image (``metric`` = IMAGE) or metric cell (``metric`` = its id)."""

    image_id: str
    message: str
    metric: str = IMAGE
    trace: str | None = None  # the formatted traceback, when there was an exception

    @classmethod
    def of(cls, image_id: str, exc: BaseException, metric: str = IMAGE) -> Failure:
        """The failure an exception stands for, with its formatted traceback."""
        trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return cls(image_id, one_line(exc), metric, trace)


@dataclass
class ErrorLog:
    """Appends failures to ``path`` as they happen and counts them per pair."""

    path: Path
    counts: dict[str, dict[str, list[Failure]]] = field(default_factory=dict)  # pair -> metric -> failures

    def add(self, key: str, failures: Iterable[Failure], count: bool = True) -> None:
        """Log ``failures`` of pair ``key``; ``count=False`` for failures of the whole set
        (a distribution metric), which the console reports on their own."""
        failures = list(failures)
        if not failures:
            return
        by_metric = self.counts.setdefault(key, {})
        lines = []
        for f in failures:
            if count:
                by_metric.setdefault(f.metric, []).append(f)
            what = f"metric {f.metric}" if f.metric else "image"
            lines.append(f"[{now()}] {key} {f.image_id}: {what} failed: {f.message}\n")
            if f.trace:
                lines.append(f.trace if f.trace.endswith("\n") else f.trace + "\n")
            lines.append("\n")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8", errors="surrogateescape") as log:
                log.writelines(lines)
        except OSError as exc:
            raise ResultWriteError.of(self.path, exc) from None

    def pair_lines(self, key: str, n_images: int) -> list[str]:
        """One line per kind of failure of ``key``: count of ``n_images`` and first reasons."""
        out = []
        for metric, failures in self.counts.get(key, {}).items():
            reasons = list(dict.fromkeys(f.message for f in failures))[:SHOWN_REASONS]
            what = (f"metric {metric} failed on {len(failures)} of {n_images} image(s)" if metric
                    else f"{len(failures)} of {n_images} image(s) failed")
            out.append(f"{key}: {what} (first: {'; '.join(reasons)}); tracebacks in {self.path}")
        return out
