"""A toy plugin and a runner script for the torchrun evaluation tests: a deterministic
random-init colorizer ``toy`` (that can end its process after N batches, to kill a run at a
known point), and FID/KID over a seeded random-init feature extractor (``toy-fid``,
``toy-kid``: torch-fidelity's formulas through the real accumulator)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from colorbench import ColorizerSpec, MetricSpec, hookimpl

EXIT_AFTER = "TOY_EXIT_AFTER"  # the toy colorizer ends its process after this many batches
EXIT_RANK = "TOY_EXIT_RANK"  # ... only on this rank (default: every rank)
WAIT_FOR = "TOY_WAIT_FOR"  # ... once this file holds a row (another rank's shard)
METRICS = ["cpsnr", "ssim", "deltae2000", "cnr_union", "toy-fid", "toy-kid"]


def extractor() -> torch.nn.Module:
    """The same random-init features in every process (seeded), from uint8 images."""
    gen = torch.Generator().manual_seed(0)
    conv = torch.nn.Conv2d(3, 8, 3, stride=2)
    with torch.no_grad():
        conv.weight.copy_(torch.randn(conv.weight.shape, generator=gen) * 0.1)
        conv.bias.zero_()
    body = torch.nn.Sequential(conv, torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(2), torch.nn.Flatten())
    return torch.nn.Sequential(_Scale(), body).eval()


class _Scale(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.float() / 255.0


class Toy:
    """a*b* from L* through a fixed random 1x1 convolution (deterministic, batch-independent)."""

    def __init__(self) -> None:
        self.calls = 0
        rank = os.environ.get(EXIT_RANK)
        self.exit_after = int(os.environ.get(EXIT_AFTER, "0")) if rank in (None, os.environ.get("RANK")) else 0
        gen = torch.Generator().manual_seed(1)
        self.w = torch.randn(2, 1, generator=gen) * 0.6

    def colorize(self, L: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.exit_after and self.calls > self.exit_after:
            _wait_for(os.environ.get(WAIT_FOR))
            os._exit(3)  # a killed process: nothing flushed, nothing cleaned up
        return torch.einsum("ck,bkhw->bchw", self.w.to(L), L - 50.0)


def _wait_for(path: str | None, seconds: float = 60.0) -> None:
    import time

    end = time.monotonic() + seconds
    while path and time.monotonic() < end:
        if Path(path).is_file() and Path(path).read_text().count("\n") >= 2:
            return
        time.sleep(0.05)


def _fidelity(kind: str) -> Any:
    def factory(device: Any = "cpu", **_: Any) -> Any:
        from colorbench_metrics_learned.fidelity import FidelityAccumulator

        return FidelityAccumulator(kind, device=device, extractor=extractor(), weights_name="toy")
    return factory


class Plugin:
    @hookimpl
    def register_colorizers(self, register: Any) -> None:
        register(ColorizerSpec(name="toy", factory=lambda **kw: Toy(), description="random-init toy"))

    @hookimpl
    def register_metrics(self, register: Any) -> None:
        for kind in ("fid", "kid"):
            register(MetricSpec(name=f"toy-{kind}", factory=_fidelity(kind), kind="distribution", provides_info=True,
                                higher_is_better=False, range=(0.0, float("inf")),
                                description=f"{kind} over random-init features (tests)"))


def make_folder(root: Path, n: int = 10, size: int = 40, seed: int = 0) -> Path:
    """``n`` random PNGs of varied colour and width (seeded)."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for k in range(n):
        base = rng.integers(0, 256, 3)
        noise = rng.integers(-60, 60, (size, size + 4 * k, 3))
        Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8)).save(root / f"img{k:02d}.png")
    return root


def run(folder: Path, out: Path, name: str, batch_size: int = 3) -> Any:
    """One run of ``gray`` and ``toy`` on ``folder`` with METRICS (in this process, as every
    torchrun rank does)."""
    from colorbench.evaluation.runner import RunConfig, Runner
    from colorbench.plugin import manager
    from colorbench.reporting import Reporter

    regs = manager.load(extra_plugins=[("toy", Plugin())])
    cfg = RunConfig(models=["gray", "toy"], datasets=[str(folder)], metrics=METRICS, size=32,
                    batch_size=batch_size, workers=0, out=str(out), name=name, device="cpu")
    return Runner(cfg, regs, Reporter(quiet=True)).run()


if __name__ == "__main__":  # python sharded_helpers.py FOLDER OUT NAME (under torchrun or not)
    torch.set_num_threads(1)
    result = run(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3])
    sys.exit(1 if result.errors else 0)
