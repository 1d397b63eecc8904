"""Weights as data (timm's pretrained configs, torchvision's weight enums): every file
colorbench loads — shipped colorizer checkpoints, metric backbones, SAM, pretrained
encoders — is a ``Weights`` record with its file name, sha256, source URL, licence and size.

``locate`` finds the file (shipped inside a package, else ``$TORCH_HOME/hub/checkpoints``),
``verify`` checks its hash, ``ensure`` does both and downloads a missing file when a
network is there (``download``; ``colorbench weights download`` shows its progress). A file whose hash differs is never loaded: one line names the file, the
expected and the actual hash.
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from colorbench.errors import WeightsHashError, WeightsUnavailableError
from colorbench.models.checkpoints import torch_hub_dir

OFFLINE_ENV = "COLORBENCH_OFFLINE"
CHUNK = 1 << 20
MIN_PREFIX = 8  # torchvision's file names carry the first 8 hex digits of the sha256
HEX = frozenset("0123456789abcdef")


def file_digests(path: str | Path, md5: bool = False, chunk: int = 1 << 20) -> tuple[str, str]:
    """(sha256, md5) hex digests of a file in one read; md5 is "" unless asked for."""
    h, m = hashlib.sha256(), (hashlib.md5(usedforsecurity=False) if md5 else None)
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
            if m is not None:
                m.update(block)
    return h.hexdigest(), (m.hexdigest() if m is not None else "")


@dataclass(frozen=True)
class Weights:
    """One weights file described as data.

    ``sha256`` is the full hex digest, or a prefix of at least 8 hex digits where the
    publisher gives only that (torchvision names its files ``<arch>-<sha256[:8]>.pth`` and
    torch.hub checks that prefix). ``md5``: the full md5 where a publisher gives only that
    (Segment Anything); then ``sha256`` may be "" and the md5 is what is checked. ``path``:
    the file shipped inside a package; otherwise the file lives in the torch hub cache
    under ``file``.
    """

    name: str
    file: str
    sha256: str
    url: str | None = None
    licence: str = ""
    training: str = ""  # the command and data that produced them
    path: Path | None = None
    size: int | None = None  # bytes, when known
    description: str = ""  # what they are, for messages (e.g. "LPIPS AlexNet trunk")
    md5: str = ""  # full md5, only where the publisher gives no sha256

    def __post_init__(self) -> None:
        digest, md5 = self.sha256.lower(), self.md5.lower()
        if (digest or not md5) and (len(digest) < MIN_PREFIX or not set(digest) <= HEX):
            raise ValueError(f"weights {self.name}: sha256 {self.sha256!r} must be at least "
                             f"{MIN_PREFIX} hex digits")
        if md5 and (len(md5) != 32 or not set(md5) <= HEX):
            raise ValueError(f"weights {self.name}: md5 {self.md5!r} must be 32 hex digits")

    @property
    def cache_path(self) -> Path:
        """Where the torch hub cache keeps this file (``$TORCH_HOME/hub/checkpoints``)."""
        return torch_hub_dir() / self.file

    def locate(self) -> Path | None:
        """The shipped file, else the cached one; None when neither exists (no hash check)."""
        for candidate in (self.path, self.cache_path):
            if candidate is not None and Path(candidate).is_file():
                return Path(candidate)
        return None

    def _mismatch(self, path: str | Path) -> tuple[str, str | None]:
        """The file's sha256 and, when its sha256 (prefix) or md5 is not the declared one,
        what differs ("sha256 X, expected Y"); else None."""
        digest, md5 = file_digests(path, md5=bool(self.md5))
        if self.sha256 and not digest.startswith(self.sha256.lower()):
            return digest, f"sha256 {digest}, expected {self.sha256}"
        if self.md5 and md5 != self.md5.lower():
            return digest, f"md5 {md5}, expected {self.md5}"
        return digest, None

    def verify(self, path: str | Path) -> str:
        """The file's sha256; WeightsHashError (one line) when its sha256 (prefix) or md5 is
        not the declared one."""
        digest, bad = self._mismatch(path)
        if bad is not None:
            where = "reinstall colorbench" if self.path is not None and Path(path) == self.path else (
                f"delete it and download {self.url} again" if self.url else "delete it and restore the original")
            raise WeightsHashError(
                f"weights {self.name}: {path} has {bad}; "
                f"the file is damaged or not the declared one, so it is not loaded ({where})")
        return digest

    def fetch_hint(self) -> str:
        """How to get the file: ``colorbench weights download NAME`` (or the URL) and the
        cache folder to put it in."""
        folder = f"{torch_hub_dir()} (or set TORCH_HOME)"
        if self.url:
            return f"run 'colorbench weights download {self.name}' or download {self.url} into {folder}"
        return f"put {self.file} in {folder}"

    def missing_message(self, reason: str) -> str:
        """One line: the file, why it is missing, its URL and the directory it goes in."""
        what = f"{self.description} weights" if self.description else f"weights {self.name}:"
        return f"{what} {self.file} not found ({reason}); {self.fetch_hint()}"

    def ensure(self, download: bool = True) -> Path:
        """The located and verified file, downloading it into the cache first when it is
        missing, a URL is declared and the network allows (not with $COLORBENCH_OFFLINE=1).
        Raises WeightsUnavailableError (missing) or WeightsHashError (wrong file)."""
        path = self.locate()
        if path is None:
            if not (download and self.url):
                raise WeightsUnavailableError(self.missing_message("not shipped or cached"))
            path = self.download()
        self.verify(path)
        return path

    def download(self, progress: Callable[[int, int | None], None] | None = None,
                 timeout: float = 30.0) -> Path:
        """Fetch ``url`` into ``cache_path`` (a temporary file, hash-checked, then renamed, so a
        wrong or partial file is never left where a run would find it). ``progress(done,
        total)`` is called per chunk (``total``: None when the server gives no length).
        Raises WeightsUnavailableError (no URL, $COLORBENCH_OFFLINE, network) or
        WeightsHashError."""
        if not self.url:
            raise WeightsUnavailableError(self.missing_message("no download URL declared"))
        if offline():
            raise WeightsUnavailableError(self.missing_message(f"{OFFLINE_ENV} is set"))
        target = self.cache_path
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
        try:
            with urllib.request.urlopen(self.url, timeout=timeout) as response, open(tmp, "wb") as out:
                length = response.headers.get("Content-Length")
                total, done = (int(length) if length else None), 0
                while block := response.read(CHUNK):
                    out.write(block)
                    done += len(block)
                    if progress is not None:
                        progress(done, total)
        except BaseException as exc:  # Ctrl-C too: no partial file stays behind
            tmp.unlink(missing_ok=True)
            if not isinstance(exc, Exception):
                raise
            raise WeightsUnavailableError(self.missing_message(f"download failed: {_reason(exc)}")) from None
        _, bad = self._mismatch(tmp)
        if bad is not None:
            tmp.unlink(missing_ok=True)
            raise WeightsHashError(f"weights {self.name}: the file downloaded from {self.url} has {bad}; "
                                   "it is not the declared one, so it was not kept")
        os.replace(tmp, target)
        return target


def offline() -> bool:
    """True when $COLORBENCH_OFFLINE forbids downloads (set and not 0)."""
    return os.environ.get(OFFLINE_ENV, "").strip() not in ("", "0")


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


TORCHVISION_URL = "https://download.pytorch.org/models/{}"
TORCHVISION_LICENCE = "BSD-3-Clause (torchvision)"


def torchvision_weights(file: str, description: str, training: str = "ImageNet-1k classification (torchvision)") -> Weights:
    """A torchvision file as ``Weights``: its download.pytorch.org URL, the sha256 prefix its
    name carries (``<arch>-<sha256[:8]>.pth``), torchvision's licence."""
    stem = file.rsplit(".", 1)[0]
    return Weights(name=stem.rsplit("-", 1)[0], file=file, sha256=stem.rsplit("-", 1)[1],
                   url=TORCHVISION_URL.format(file), licence=TORCHVISION_LICENCE, training=training,
                   description=description)
