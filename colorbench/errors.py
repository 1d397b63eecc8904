"""Exceptions whose message is shown to the user as one line."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class ColorbenchError(Exception):
    """A problem the user can fix; the CLI prints ``str(err)`` as one line and exits 2."""


class UnknownNameError(ColorbenchError, KeyError):
    """A colorizer, dataset, metric, segmenter or option name that nothing registered."""

    def __init__(self, kind: str, name: str, known: Iterable[str]):
        self.kind, self.name, self.known = kind, name, sorted(known)
        close = difflib.get_close_matches(name, self.known, n=3, cutoff=0.5)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        listing = ", ".join(self.known) if self.known else "none"
        super().__init__(f"unknown {kind} {name!r}.{hint} Known {kind}s: {listing}.")

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class DuplicateNameError(ColorbenchError):
    """Two plugins registered the same name."""


class ImageError(ColorbenchError):
    """An image that cannot be decoded or is not acceptable (too large, empty)."""


class DatasetError(ColorbenchError):
    """A dataset root that is missing or malformed."""


class WeightsUnavailableError(ColorbenchError):
    """Pretrained weights that are neither shipped, cached nor downloadable."""


class WeightsHashError(WeightsUnavailableError):
    """A weights file whose sha256 is not the declared one: never loaded."""


class ResultWriteError(ColorbenchError):
    """A result file of the run directory could not be written (full disk, permissions):
    the run stops; finished rows stay and a rerun resumes."""

    @classmethod
    def of(cls, path: object, exc: OSError) -> ResultWriteError:
        """The one line for ``exc`` raised while writing ``path``."""
        reason = exc.strerror or " ".join(str(exc).split()) or type(exc).__name__
        return cls(f"cannot write {path}: {reason} (errno {exc.errno}); the run stopped with every "
                   "finished row kept; free space (or fix the permissions) and rerun the same command to resume")
