"""How much ``colorbench run --models gray`` costs on top of decoding the images.

In one interleaved run, each measurement in a fresh process (``variants.py``):
  decode      : colorbench.evaluation.images.load_rgb over every file (decode + convert to RGB8)
  decode W    : the same through a DataLoader with W workers (as ``run`` decodes)
  run         : ``run --models gray --metrics mse,cpsnr`` (``--metrics`` to change), serially
                and with W workers (the default: min(2, CPUs)), on this checkout and, with
                ``--before DIR``, on another checkout
and prints a markdown table and the ratios run/decode (goal: <= 2 with W workers).
``--ipc`` instead measures what a second stage would cost: handing each image's (L*, a*b*,
ground truth) to another process and the rebuilt uint8 prediction back, against the
rebuild and the metrics done in place.

Usage: .venv/bin/python benchmarks/perf/run_overhead.py [IMAGE_DIR] [--repeat 3] [--before DIR]
(default IMAGE_DIR: ../shared/data/imagenet-sample)
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import torch
from variants import Clock, emit, link_first, measure, medians

from colorbench.evaluation.images import list_image_files, load_rgb

DEFAULT = Path(__file__).resolve().parents[3] / "shared" / "data" / "imagenet-sample"


class _Decode(torch.utils.data.Dataset):
    def __init__(self, files: list[Path]):
        self.files = files

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[int, ...]:
        return load_rgb(self.files[i]).shape


def decode(files: list[Path], workers: int) -> dict[str, float]:
    """Seconds to decode every file, in this process or through W DataLoader workers."""
    clock = Clock()
    if workers == 0:
        for f in files:
            load_rgb(f)
    else:
        loader = torch.utils.data.DataLoader(_Decode(files), batch_size=16, num_workers=workers,
                                             collate_fn=lambda x: x, prefetch_factor=4)
        for _ in loader:
            pass
    return clock.stop()


def run_gray(folder: Path, workers: int, metrics: list[str]) -> dict[str, float]:
    """Seconds of one ``Runner.run`` (plugins loaded before the clock starts)."""
    from colorbench.evaluation.runner import RunConfig, Runner
    from colorbench.plugin import manager as plugins
    from colorbench.reporting import Reporter

    regs = plugins.load()
    out = Path(tempfile.mkdtemp())
    try:
        cfg = RunConfig(models=["gray"], datasets=[str(folder)], metrics=metrics,
                        workers=workers, out=str(out), name="bench", batch_size=16)
        clock = Clock()
        Runner(cfg, regs, Reporter(quiet=True)).run()
        return clock.stop()
    finally:
        shutil.rmtree(out)


def _stage(inbox: torch.multiprocessing.Queue, outbox: torch.multiprocessing.Queue) -> None:
    """The second stage: rebuild each (L*, a*b*) it gets; ``echo`` jobs come back as they are."""
    from colorbench.evaluation.protocol import rebuild

    torch.set_num_threads(1)
    while (job := inbox.get()) is not None:
        echo, L, ab, gt = job
        outbox.put((L if echo else rebuild(L, ab), gt))


def ipc(n: int, size: int) -> None:
    """ms per image: rebuild + squared error in place, against the main process's cost of
    handing (L*, a*b*, gt) to a second process and taking a uint8 image back (echo: the
    hand-over alone; main-process CPU time and wall time)."""
    from colorbench.evaluation.protocol import lightness, rebuild

    torch.set_num_threads(1)
    gt = torch.randint(0, 256, (1, 3, size, size), dtype=torch.uint8)
    L, ab = lightness(gt), torch.randn(1, 2, size, size) * 20
    t0 = time.perf_counter()
    for _ in range(n):
        pred = rebuild(L, ab)
        diff = pred.int() - gt.int()
        (diff * diff).sum()
    local = time.perf_counter() - t0
    ctx = torch.multiprocessing.get_context("fork")
    inbox, outbox = ctx.Queue(), ctx.Queue()
    proc = ctx.Process(target=_stage, args=(inbox, outbox))
    proc.start()
    inbox.put((True, L, ab, gt)), outbox.get()  # warm
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(n):
        inbox.put((True, L.clone(), ab.clone(), gt.clone()))
        outbox.get()
    trip, cpu = time.perf_counter() - t0, time.process_time() - c0
    inbox.put(None)
    proc.join()
    print(f"{size}x{size}, {n} images, 1 thread: rebuild + squared error in place {local / n * 1e3:.2f} ms/image; "
          f"hand-over to a second process and back: {cpu / n * 1e3:.2f} ms/image of main-process CPU, "
          f"{trip / n * 1e3:.2f} ms wall; load average {os.getloadavg()}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("folder", nargs="?", type=Path, default=DEFAULT)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--metrics", default="mse,cpsnr")
    ap.add_argument("--before", type=Path, default=None, help="a checkout of the code to compare with")
    ap.add_argument("--threads", type=int, default=None, help="OMP_NUM_THREADS of the measured processes")
    ap.add_argument("--ipc", action="store_true", help="measure a second stage's round trip instead")
    ap.add_argument("--one", choices=("decode", "run"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.ipc:
        ipc(200, 256)
        return
    _, files = list_image_files(args.folder)
    if args.one:  # after the same call on 4 images (lazy imports and first-call costs out of the figures)
        def call(folder: Path, chosen: list[Path]) -> dict[str, float]:
            return (decode(chosen, args.workers) if args.one == "decode"
                    else run_gray(folder, args.workers, args.metrics.split(",")))

        with tempfile.TemporaryDirectory() as tmp:
            few = link_first(files, 4, Path(tmp) / "few")
            call(few, sorted(few.iterdir()))
        emit(**call(args.folder, files))
        return
    decode(files[:50], 0)  # warm the page cache
    w = args.workers
    codes = [("after", None)] + ([("before", args.before)] if args.before else [])
    variants = [(f"decode, W={k}", None, "decode", k) for k in (0, w)]
    variants += [(f"run ({c}), W={k}", code, "run", k) for k in (0, w) for c, code in codes]
    rounds: dict[str, list[dict[str, float]]] = {v[0]: [] for v in variants}
    for _ in range(args.repeat):  # interleaved, so drift affects every variant alike
        for label, code, what, k in variants:
            cli = [str(args.folder), "--one", what, "--workers", str(k), "--metrics", args.metrics]
            rounds[label].append(measure(code, Path(__file__), cli, args.threads))
    n = len(files)
    print(f"{n} images from {args.folder}; {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, torch {torch.__version__}, threads {args.threads or 'default'}, W={w}, "
          f"metrics {args.metrics}, median of {args.repeat} interleaved rounds; load average after "
          f"{os.getloadavg()}\n")
    m = medians(rounds, dict.fromkeys(rounds, n))
    print(f"\n| code | run/decode, serial | run/decode, W={w} | run/decode CPU, W={w} |\n|---|---:|---:|---:|")
    for c, _ in codes:
        r0, rw = m[f"run ({c}), W=0"], m[f"run ({c}), W={w}"]
        print(f"| {c} | {m['decode, W=0']['ips'] / r0['ips']:.2f} | {m[f'decode, W={w}']['ips'] / rw['ips']:.2f} "
              f"| {rw['cpu'] / m[f'decode, W={w}']['cpu']:.2f} |")

if __name__ == "__main__":
    main()
