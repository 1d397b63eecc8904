"""Pretrained weights the learned metrics need: where they are cached and how to get them.

Files live in the torch hub cache ``$TORCH_HOME/hub/checkpoints`` (torchvision and
torch-fidelity both use it). Missing files are downloaded when the network allows; offline
(or with ``COLORBENCH_OFFLINE=1``) the metric is unavailable with one line naming the file,
its URL and the directory to put it in.
"""

from __future__ import annotations

import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from colorbench.errors import WeightsUnavailableError
from colorbench.models.checkpoints import torch_hub_dir

OFFLINE_ENV = "COLORBENCH_OFFLINE"


@dataclass(frozen=True)
class CachedWeights:
    what: str
    file: str
    url: str

    @property
    def path(self) -> Path:
        return torch_hub_dir() / self.file

    def message(self, reason: str) -> str:
        return (f"{self.what} weights {self.file} not found ({reason}); download {self.url} "
                f"and put it in {torch_hub_dir()} (or set TORCH_HOME)")

    def ensure(self) -> Path:
        """The cached file, downloading it first when possible; else WeightsUnavailableError."""
        if self.path.is_file():
            return self.path
        if os.environ.get(OFFLINE_ENV, "").strip() not in ("", "0"):
            raise WeightsUnavailableError(self.message(f"{OFFLINE_ENV} is set"))
        try:  # a quick probe so that an offline machine fails in well under a second
            urllib.request.urlopen(urllib.request.Request(self.url, method="HEAD"), timeout=10).close()
        except Exception as exc:
            raise WeightsUnavailableError(self.message(f"offline: {type(exc).__name__}")) from None
        import torch

        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            torch.hub.download_url_to_file(self.url, str(self.path), progress=False)
        except Exception as exc:
            raise WeightsUnavailableError(self.message(f"download failed: {type(exc).__name__}")) from None
        return self.path


ALEXNET = CachedWeights("LPIPS AlexNet (torchvision)", "alexnet-owt-7be5be79.pth",
                        "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth")
VGG16 = CachedWeights("LPIPS VGG-16 (torchvision)", "vgg16-397923af.pth",
                      "https://download.pytorch.org/models/vgg16-397923af.pth")
INCEPTION = CachedWeights(
    "FID/KID Inception-v3 (torch-fidelity, TF 2015-12-05 port)", "weights-inception-2015-12-05-6726825d.pth",
    "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth")
