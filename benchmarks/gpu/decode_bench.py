"""Images/s of ``run``'s input pipeline on the bundled JPEGs: CPU-worker decoding (Pillow,
the default) against ``--decode-device cuda`` (workers read bytes, nvJPEG decodes the batch).

Each path iterates the loader ``run`` builds (decode, protocol crop + resize to 256, L*),
CUDA-synchronised per batch, best of ``--rounds`` interleaved rounds after one warm-up pass;
the JSON also gives how far the device's pixels are from Pillow's. The GPU check runs it as
its ``decode`` step; by hand, from the project root:

    PYTHONPATH=.:plugins python benchmarks/gpu/decode_bench.py benchmarks/gpu/_bundle/data/imagenet-sample --out decode.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "plugins")]


def _pass(build: Any, ds: Any, n: int, device: torch.device, args: argparse.Namespace) -> tuple[float, list[Any]]:
    loader = build(ds, range(n), size=args.size, mode="crop", batch_size=args.batch_size, workers=args.workers,
                   pin_memory=device.type == "cuda")
    t0 = time.perf_counter()
    items = []
    for batch in loader:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        items += batch
    return n / (time.perf_counter() - t0), items


def measure(folder: Path, device: torch.device, args: argparse.Namespace) -> dict[str, Any]:
    """images/s of both paths on ``folder`` and the largest pixel difference between them."""
    from colorbench_datasets.folder import Folder

    from colorbench.evaluation.device_decode import device_loader
    from colorbench.evaluation.loader import make_loader

    ds = Folder(root=folder)
    n = min(len(ds.ids), args.limit) if args.limit else len(ds.ids)
    paths = {"cpu": make_loader, "device": device_loader(device)}
    speed: dict[str, list[float]] = {k: [] for k in paths}
    items: dict[str, list[Any]] = {}
    for k, build in paths.items():  # warm-up: worker start, nvJPEG handles, CUDA kernels
        _, items[k] = _pass(build, ds, n, device, args)
    for _ in range(args.rounds):
        for k, build in paths.items():
            speed[k].append(_pass(build, ds, n, device, args)[0])
    worst, differing, total = 0, 0, 0
    for a, b in zip(items["cpu"], items["device"], strict=True):
        if a.rgb is None or b.rgb is None:
            continue
        d = (a.rgb.to(torch.int16) - b.rgb.to(device="cpu", dtype=torch.int16)).abs()
        worst, differing, total = max(worst, int(d.max())), differing + int((d > 0).sum()), total + d.numel()
    failed = {k: sum(it.error is not None for it in v) for k, v in items.items()}
    return {"dataset": folder.name, "images": n, "cpu_images_per_s": max(speed["cpu"]),
            "device_images_per_s": max(speed["device"]), "ratio": max(speed["device"]) / max(speed["cpu"]),
            "max_level_diff": worst, "differing_fraction": differing / max(total, 1), "failed": failed}


def table(rows: list[dict[str, Any]], workers: int) -> list[str]:
    """The markdown table of ``measure`` rows (for perf.md)."""
    lines = [f"| data | images | CPU decode, {workers} workers (img/s) | --decode-device cuda (img/s) | ratio | "
             "max level diff | share of pixels differing |", "|---|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['dataset']} | {r['images']} | {r['cpu_images_per_s']:.0f} | {r['device_images_per_s']:.0f} | "
              f"{r['ratio']:.2f}x | {r['max_level_diff']} | {r['differing_fraction']:.2g} |" for r in rows]
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", type=Path, nargs="+", help="folders of JPEGs")
    ap.add_argument("--device", default="cuda", help="cuda (cpu: the same code with torchvision's CPU decoder)")
    ap.add_argument("--workers", type=int, default=12)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--limit", type=int, default=None, help="first N images of each folder")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", type=Path, required=True, help="JSON file of the results")
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cpu":
        torch.set_num_threads(1)  # as run's main process with workers on the CPU
    rows = [measure(f, device, args) for f in args.folders]
    args.out.write_text(json.dumps({"device": str(device), "workers": args.workers, "rows": rows}, indent=1))
    print("\n".join(table(rows, args.workers)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
