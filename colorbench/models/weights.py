"""Weights as data (timm's pretrained configs, torchvision's weight enums): every file
colorbench loads — shipped colorizer checkpoints, metric backbones, SAM, pretrained
encoders — is a ``Weights`` record with its file name, sha256, source URL, licence and size.

``locate`` finds the file (shipped inside a package, else ``$TORCH_HOME/hub/checkpoints``),
``verify`` checks its hash, ``ensure`` does both and downloads a missing file when a
network is there. A file whose hash differs is never loaded: one line names the file, the
expected and the actual hash.
"""

from __future__ import annotations

import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from colorbench.errors import WeightsHashError, WeightsUnavailableError
from colorbench.models.checkpoints import sha256, torch_hub_dir

OFFLINE_ENV = "COLORBENCH_OFFLINE"
MIN_PREFIX = 8  # torchvision's file names carry the first 8 hex digits of the sha256


@dataclass(frozen=True)
class Weights:
    """One weights file described as data.

    ``sha256`` is the full hex digest, or a prefix of at least 8 hex digits where the
    publisher gives only that (torchvision names its files ``<arch>-<sha256[:8]>.pth`` and
    torch.hub checks that prefix). ``path``: the file shipped inside a package; otherwise
    the file lives in the torch hub cache under ``file``.
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

    def __post_init__(self) -> None:
        digest = self.sha256.lower()
        if len(digest) < MIN_PREFIX or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError(f"weights {self.name}: sha256 {self.sha256!r} must be at least "
                             f"{MIN_PREFIX} hex digits")

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
        """The file's sha256; WeightsHashError (one line) when it is not the declared one."""
        digest = sha256(path)
        if not digest.startswith(self.sha256.lower()):
            where = "reinstall colorbench" if self.path is not None and Path(path) == self.path else (
                f"delete it and download {self.url} again" if self.url else "delete it and restore the original")
            raise WeightsHashError(
                f"weights {self.name}: {path} has sha256 {digest}, expected {self.sha256}; "
                f"the file is damaged or not the declared one, so it is not loaded ({where})")
        return digest

    def missing_message(self, reason: str) -> str:
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
