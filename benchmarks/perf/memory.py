"""Peak memory of ``colorbench score`` and ``colorbench run --models gray`` at a small and a
large number of images (goal: the large run's peak within 10% of the small one's).

The first N photos of IMAGE_DIR (sorted; subfolders included) are linked into a flat
temporary folder; ``score`` gets them as predictions and as ground truths (``--resize crop
--size 256 --resize-pred``: the predictions are the photos resized by stretching, so no metric
is trivial) with the ten weight-free metrics; ``run`` gets the folder as its dataset with
``--metrics mse,cpsnr``. Both with the default workers, each in a fresh process polled every
50 ms (``variants.peak_rss``): the main process's peak RSS and the peak PSS summed over the
process tree (DataLoader workers included, shared pages once). ``--before DIR`` adds the same commands on another checkout.

Usage: .venv/bin/python benchmarks/perf/memory.py ../shared/data/flowers-recognition --sizes 200,2000
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
from pathlib import Path

from metrics import METRICS
from variants import code_env, link_first, peak_rss

from colorbench.evaluation.images import list_image_files

DEFAULT = Path(__file__).resolve().parents[3] / "shared" / "data" / "flowers-recognition"


def commands(images: Path, out: Path) -> dict[str, list[str]]:
    """The two measured command lines on the linked ``images``."""
    cb = [sys.executable, "-m", "colorbench"]
    return {
        "score": [*cb, "score", "--pred", str(images), "--gt", str(images), "--metrics", ",".join(METRICS),
                  "--resize", "crop", "--size", "256", "--resize-pred", "--out", str(out / "score"), "--quiet"],
        "run --models gray": [*cb, "run", "--models", "gray", "--datasets", str(images), "--metrics", "mse,cpsnr",
                              "--out", str(out), "--name", "run", "--no-resume", "--quiet"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("folder", nargs="?", type=Path, default=DEFAULT)
    ap.add_argument("--sizes", default="200,2000", help="image counts, comma-separated")
    ap.add_argument("--before", type=Path, default=None, help="a checkout of the code to compare with")
    ap.add_argument("--threads", type=int, default=1, help="OMP_NUM_THREADS of the measured processes")
    args = ap.parse_args()
    _, files = list_image_files(args.folder)
    sizes = [int(s) for s in args.sizes.split(",")]
    codes = [("after", None)] + ([("before", args.before)] if args.before else [])
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {args.threads} thread(s), "
          f"images from {args.folder}; load average before {os.getloadavg()}\n")
    print("| code | command | images | peak RSS, main (MiB) | peak PSS, all processes (MiB) | seconds |")
    print("|---|---|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            images = link_first(files, n, Path(tmp) / f"images{n}")
            for c, code in codes:
                for what, cmd in commands(images, Path(tmp) / f"out-{c}-{n}").items():
                    got = peak_rss(cmd, code_env(code, args.threads))
                    print(f"| {c} | {what} | {n} | {got['main_mib']:.0f} | {got['tree_mib']:.0f} | "
                          f"{got['seconds']:.1f} |", flush=True)
    print(f"\nload average after {os.getloadavg()}")


if __name__ == "__main__":
    main()
