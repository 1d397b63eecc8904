"""One pass over a dataset for every model of a run, against one pass per (dataset, model).

Measures, in one process and one session, on the same images and with the same settings:
  one pass : `colorbench run --models m1,...,mN` as it is (each image decoded once for all)
  per pair : the same run with every pair in a pass of its own (the engine before one-pass
             evaluation: each image decoded once per model)
with N copies of the ``gray`` baseline under different names (no weights needed), rounds
interleaved, and prints a markdown table with the medians, the images decoded per image and
the ratio. Decodes are counted as the items the run's loaders are asked for.

Usage: .venv/bin/python benchmarks/perf/onepass.py [IMAGE_DIR] [--models 3] [--repeat 3]
       [--workers 2] [--limit N] [--metrics mse,cpsnr]
(default IMAGE_DIR: ../shared/data/imagenet-sample)
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from colorbench import ColorizerSpec, hookimpl
from colorbench.evaluation import runner as runner_module
from colorbench.evaluation.images import list_image_files
from colorbench.evaluation.runner import RunConfig, Runner
from colorbench.plugin import manager as plugins
from colorbench.reporting import Reporter

DEFAULT = Path(__file__).resolve().parents[3] / "shared" / "data" / "imagenet-sample"
decoded = [0]  # items the run's loaders were asked for


class PerPair(Runner):
    """The run engine with one pass per (dataset, model) pair, as before one-pass evaluation."""

    def _run_dataset(self, ds_name: str, proto: Any, dataset: Any, planned: list[Any], writer: Any,
                     columns: list[str]) -> None:
        for pair in planned:
            super()._run_dataset(ds_name, proto, dataset, [pair], writer, columns)


class GrayCopies:
    """``gray-2`` ... ``gray-N``: the gray baseline under other names."""

    def __init__(self, regs: plugins.Registries, n: int):
        self.spec, self.n = regs.colorizers.get("gray"), n

    @hookimpl
    def register_colorizers(self, register: Any) -> None:
        for k in range(2, self.n + 1):
            register(ColorizerSpec(name=f"gray-{k}", factory=self.spec.factory, description="gray, renamed",
                                   needs_weights=False))


def counting_loader(make: Any) -> Any:
    def make_counted(dataset: Any, indices: Any, **kw: Any) -> Any:
        decoded[0] += len(indices)
        return make(dataset, indices, **kw)
    return make_counted


def timed(engine: type[Runner], cfg: dict[str, Any], regs: plugins.Registries) -> tuple[float, int]:
    """Seconds of one run and the images its loaders decoded."""
    out = Path(tempfile.mkdtemp())
    decoded[0] = 0
    try:
        t0 = time.perf_counter()
        result = engine(RunConfig(**cfg, out=str(out), name="bench"), regs, Reporter(quiet=True)).run()
        seconds = time.perf_counter() - t0
        if result.errors:
            raise SystemExit(f"run failed: {result.errors}")
        return seconds, decoded[0]
    finally:
        shutil.rmtree(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("folder", nargs="?", type=Path, default=DEFAULT)
    ap.add_argument("--models", type=int, default=3, help="copies of gray in the run")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--metrics", default="mse,cpsnr")
    args = ap.parse_args()
    _, files = list_image_files(args.folder)
    n = len(files) if args.limit is None else min(args.limit, len(files))
    base = plugins.load()
    regs = plugins.load(extra_plugins=[("gray-copies", GrayCopies(base, args.models))])
    models = ["gray", *[f"gray-{k}" for k in range(2, args.models + 1)]]
    cfg = dict(models=models, datasets=[str(args.folder)], metrics=args.metrics.split(","),
               workers=args.workers, batch_size=16, limit=args.limit)
    runner_module.make_loader = counting_loader(runner_module.make_loader)
    engines = {"per pair": PerPair, "one pass": Runner}
    times: dict[str, list[float]] = {k: [] for k in engines}
    decodes: dict[str, int] = {}
    timed(Runner, {**cfg, "limit": 16}, regs)  # warm imports and the page cache
    for _ in range(args.repeat):  # interleaved, so drift affects every variant alike
        for name, engine in engines.items():
            seconds, decodes[name] = timed(engine, cfg, regs)
            times[name].append(seconds)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{n} images from {args.folder.name}, {len(models)} models ({','.join(models)}), metrics "
          f"{args.metrics}; {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch "
          f"{torch.__version__}, W={args.workers}, median of {args.repeat} (rounds: "
          + "; ".join(f"{k} " + " ".join(f"{t:.1f}" for t in v) for k, v in times.items()) + ")\n")
    print("| engine | seconds | image-model pairs/s | decodes per image |\n|---|---:|---:|---:|")
    for k, v in med.items():
        print(f"| {k} | {v:.2f} | {n * len(models) / v:.0f} | {decodes[k] / n:.2f} |")
    print(f"\nper pair / one pass = {med['per pair'] / med['one pass']:.2f}")


if __name__ == "__main__":
    main()
