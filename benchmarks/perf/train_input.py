"""The training input pipeline: how many items per second one worker prepares, and how many
batches per second the one training loop's DataLoader delivers.

Measures, in one process and one session, on the same photos:
  per worker : ColorPairs(train=True) items in the main process (decode, random square
               crop, bicubic resize to S, flip, sRGB -> L*a*b*) at S = 224, 256, 352 —
               the work one DataLoader worker does per item
  loop       : batches/s from colorbench.training.sampling.make_loader (the loader every
               trainer uses: ShardedBatches, KeyedItems seeding, persistent workers,
               prefetch) at S = 256 with W = 0, 1, 2, ... workers, after a warm-up batch
and prints markdown tables. Rounds are interleaved; medians are reported.

Usage: .venv/bin/python benchmarks/perf/train_input.py [IMAGE_DIR] [--n 256] [--batch 16]
       [--repeat 3] [--workers 0,1,2] (default IMAGE_DIR: ../shared/data/imagenet-sample)
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import torch

from colorbench.training import ColorPairs
from colorbench.training.sampling import ShardedBatches, make_loader

DEFAULT = Path(__file__).resolve().parents[3] / "shared" / "data" / "imagenet-sample"
SIZES = (224, 256, 352)


def folder(root: Path, n: int) -> object:
    from colorbench_datasets.folder import Folder

    ds = Folder(root=root)
    ds.ids = ds.ids[:n]
    return ds


def items_per_second(dataset: object, size: int) -> float:
    pairs = ColorPairs(dataset, size, train=True, seed=0)  # type: ignore[arg-type]
    t0 = time.perf_counter()
    for i in range(len(pairs)):
        pairs[i]
    return len(pairs) / (time.perf_counter() - t0)


def batches_per_second(dataset: object, size: int, batch: int, workers: int) -> float:
    pairs = ColorPairs(dataset, size, train=True, seed=0)  # type: ignore[arg-type]
    steps = len(pairs) // batch
    loader = make_loader(pairs, ShardedBatches(len(pairs), batch, 0, 1, seed=0), workers, pin=False, prefetch=4)
    it = iter(loader)
    next(it)  # start-up (worker processes) is paid once per run, not per batch
    t0 = time.perf_counter()
    for _ in range(steps - 1):
        next(it)
    rate = (steps - 1) / (time.perf_counter() - t0)
    del it, loader
    return rate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", nargs="?", type=Path, default=DEFAULT)
    ap.add_argument("--n", type=int, default=256, help="images per measurement")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", default="0,1,2", help="comma-separated worker counts for the loop table")
    ap.add_argument("--threads", type=int, default=1, help="torch threads in the main process")
    args = ap.parse_args()
    if not args.data.is_dir():
        raise SystemExit(f"{args.data}: no such image folder; pass the folder of photos to read")
    torch.set_num_threads(args.threads)
    ds = folder(args.data, args.n)
    workers = [int(w) for w in args.workers.split(",")]
    per: dict[int, list[float]] = {s: [] for s in SIZES}
    loop: dict[int, list[float]] = {w: [] for w in workers}
    for _ in range(args.repeat):
        for s in SIZES:
            per[s].append(items_per_second(ds, s))
        for w in workers:
            loop[w].append(batches_per_second(ds, 256, args.batch, w))
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
          f"load average {os.getloadavg()[0]:.1f}; {len(ds.ids)} images from {args.data.name}; "
          f"medians of {args.repeat}\n")
    print("| size | items/s per worker | ms per item |\n|---:|---:|---:|")
    for s in SIZES:
        m = statistics.median(per[s])
        print(f"| {s} | {m:.0f} | {1000 / m:.2f} |")
    print(f"\n| workers | batches/s (batch {args.batch}, 256 px) | images/s |\n|---:|---:|---:|")
    for w in workers:
        m = statistics.median(loop[w])
        print(f"| {w} | {m:.1f} | {m * args.batch:.0f} |")


if __name__ == "__main__":
    main()
