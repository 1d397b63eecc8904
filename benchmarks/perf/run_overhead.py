"""How much the run harness adds on top of decoding the images.

Measures, in one process and one session, on the same images:
  decode      : colorbench.evaluation.images.load_rgb over every file (decode + convert to RGB8)
  decode+w    : the same through a DataLoader with W workers (as `run` decodes)
  run w=0     : `colorbench run --models gray --metrics mse,cpsnr --workers 0`
  run w=W     : the same with W decoding workers (the default)
and prints a markdown table with the ratios run/decode. Goal: < 1.3.

Usage: .venv/bin/python benchmarks/perf/run_overhead.py [IMAGE_DIR] [--repeat 3] [--workers 2]
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

import torch

from colorbench.evaluation.images import list_image_files, load_rgb
from colorbench.evaluation.runner import RunConfig, Runner
from colorbench.plugin import manager as plugins
from colorbench.reporting import Reporter

DEFAULT = Path(__file__).resolve().parents[3] / "shared" / "data" / "imagenet-sample"


class _Decode(torch.utils.data.Dataset):
    def __init__(self, files: list[Path]):
        self.files = files

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[int, ...]:
        return load_rgb(self.files[i]).shape


def decode_serial(files: list[Path]) -> float:
    t0 = time.perf_counter()
    for f in files:
        load_rgb(f)
    return time.perf_counter() - t0


def decode_workers(files: list[Path], workers: int) -> float:
    loader = torch.utils.data.DataLoader(_Decode(files), batch_size=16, num_workers=workers,
                                         collate_fn=lambda x: x, prefetch_factor=4 if workers else None)
    t0 = time.perf_counter()
    for _ in loader:
        pass
    return time.perf_counter() - t0


def run_gray(folder: Path, workers: int, regs: plugins.Registries) -> float:
    out = Path(tempfile.mkdtemp())
    try:
        cfg = RunConfig(models=["gray"], datasets=[str(folder)], metrics=["mse", "cpsnr"],
                        workers=workers, out=str(out), name="bench", batch_size=16)
        t0 = time.perf_counter()
        Runner(cfg, regs, Reporter(quiet=True)).run()
        return time.perf_counter() - t0
    finally:
        shutil.rmtree(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("folder", nargs="?", type=Path, default=DEFAULT)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    args = ap.parse_args()
    _, files = list_image_files(args.folder)
    regs = plugins.load()
    decode_serial(files[:50])  # warm the page cache and imports
    times: dict[str, list[float]] = {k: [] for k in ("decode", "decode+w", "run w=0", "run w=W")}
    for _ in range(args.repeat):  # interleaved, so drift affects every variant alike
        times["decode"].append(decode_serial(files))
        times["decode+w"].append(decode_workers(files, args.workers))
        times["run w=0"].append(run_gray(args.folder, 0, regs))
        times["run w=W"].append(run_gray(args.folder, args.workers, regs))
    med = {k: statistics.median(v) for k, v in times.items()}
    n = len(files)
    print(f"{n} images from {args.folder}; {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"W={args.workers}, median of {args.repeat}\n")
    print("| variant | seconds | images/s |\n|---|---:|---:|")
    for k, v in med.items():
        print(f"| {k} | {v:.2f} | {n / v:.0f} |")
    print(f"\nrun w=0 / decode   = {med['run w=0'] / med['decode']:.2f}")
    print(f"run w=W / decode+w = {med['run w=W'] / med['decode+w']:.2f}")


if __name__ == "__main__":
    main()
