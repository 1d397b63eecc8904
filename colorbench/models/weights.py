"""Weights as data (timm's pretrained configs, torchvision's weight enums): every file
colorbench loads — shipped colorizer checkpoints, metric backbones, SAM, pretrained
encoders — is a ``Weights`` record with its file name, sha256, source URL, licence and size.

``locate`` finds the file (shipped inside a package, else ``$TORCH_HOME/hub/checkpoints``),
``verify`` checks its hash, ``ensure`` does both and downloads a missing file when a
network is there. A file whose hash differs is never loaded: one line names the file, the
expected and the actual hash.
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from colorbench.errors import WeightsHashError, WeightsUnavailableError
from colorbench.models.checkpoints import torch_hub_dir

OFFLINE_ENV = "COLORBENCH_OFFLINE"
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

    def verify(self, path: str | Path) -> str:
        """The file's sha256; WeightsHashError (one line) when its sha256 (prefix) or md5 is
        not the declared one."""
        digest, md5 = file_digests(path, md5=bool(self.md5))
        bad = None
        if self.sha256 and not digest.startswith(self.sha256.lower()):
            bad = f"sha256 {digest}, expected {self.sha256}"
        elif self.md5 and md5 != self.md5.lower():
            bad = f"md5 {md5}, expected {self.md5}"
        if bad is not None:
            where = "reinstall colorbench" if self.path is not None and Path(path) == self.path else (
                f"delete it and download {self.url} again" if self.url else "delete it and restore the original")
            raise WeightsHashError(
                f"weights {self.name}: {path} has {bad}; "
                f"the file is damaged or not the declared one, so it is not loaded ({where})")
        return digest

    def missing_message(self, reason: str) -> str:
        """One line: the file, why it is missing, its URL and the directory it goes in."""
        what = f"{self.description} weights" if self.description else f"weights {self.name}:"
        source = f"download {self.url} and put it in {torch_hub_dir()} (or set TORCH_HOME)" if self.url else (
            f"put {self.file} in {torch_hub_dir()} (or set TORCH_HOME)")
        return f"{what} {self.file} not found ({reason}); {source}"

    def ensure(self, download: bool = True) -> Path:
        """The located and verified file, downloading it into the cache first when it is
        missing, a URL is declared and the network allows (not with $COLORBENCH_OFFLINE=1).
        Raises WeightsUnavailableError (missing) or WeightsHashError (wrong file)."""
        path = self.locate()
        if path is None:
            path = self._download() if download else None
            if path is None:
                raise WeightsUnavailableError(self.missing_message("not shipped or cached"))
        self.verify(path)
        return path

    def _download(self) -> Path | None:
        if not self.url:
            return None
        if os.environ.get(OFFLINE_ENV, "").strip() not in ("", "0"):
            raise WeightsUnavailableError(self.missing_message(f"{OFFLINE_ENV} is set"))
        try:  # a quick probe so that an offline machine fails in well under a second
            urllib.request.urlopen(urllib.request.Request(self.url, method="HEAD"), timeout=10).close()
        except Exception as exc:
            raise WeightsUnavailableError(self.missing_message(f"offline: {type(exc).__name__}")) from None
        import torch

        target = self.cache_path
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
        try:
            torch.hub.download_url_to_file(self.url, str(tmp), progress=False)
            self.verify(tmp)  # never leave a wrong file where the next run would find it
            os.replace(tmp, target)
        except WeightsHashError:
            tmp.unlink(missing_ok=True)
            raise
        except Exception as exc:
            tmp.unlink(missing_ok=True)
            raise WeightsUnavailableError(self.missing_message(f"download failed: {type(exc).__name__}")) from None
        return target


TORCHVISION_URL = "https://download.pytorch.org/models/{}"
TORCHVISION_LICENCE = "BSD-3-Clause (torchvision)"


def torchvision_weights(file: str, description: str, training: str = "ImageNet-1k classification (torchvision)") -> Weights:
    """A torchvision file as ``Weights``: its download.pytorch.org URL, the sha256 prefix its
    name carries (``<arch>-<sha256[:8]>.pth``), torchvision's licence."""
    stem = file.rsplit(".", 1)[0]
    return Weights(name=stem.rsplit("-", 1)[0], file=file, sha256=stem.rsplit("-", 1)[1],
                   url=TORCHVISION_URL.format(file), licence=TORCHVISION_LICENCE, training=training,
                   description=description)
