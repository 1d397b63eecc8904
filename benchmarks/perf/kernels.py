"""Per-image cost of the colour and metric kernels, ms per image, before vs after a change.

"Before" is the same modules as they are at the git revision ``--before`` (loaded from
``git show`` into throwaway modules, nothing checked out), "after" the working tree; both
run on the same images, one torch thread, rounds interleaved, the median of the rounds kept.
The table also gives the largest difference between the two outputs (0 = bit-identical).
Example (from the project root):

    .venv/bin/python benchmarks/perf/kernels.py --data ../shared/data/imagenet-sample --before cb50127
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import subprocess
import sys
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "plugins")]

SOURCES = {  # module name -> file, for the "before" copies
    "lab": "colorbench/color/lab.py",
    "protocol": "colorbench/evaluation/protocol.py",
    "structural": "plugins/colorbench_metrics_pixel/structural.py",
    "ssim_uniform": "plugins/colorbench_metrics_pixel/ssim_uniform.py",
    "color": "plugins/colorbench_metrics_color/functional.py",
}


@contextlib.contextmanager
def _shadow(name: str, module: types.ModuleType) -> Iterator[None]:
    saved = sys.modules.get(name)
    sys.modules[name] = module
    try:
        yield
    finally:
        if saved is None:
            del sys.modules[name]
        else:
            sys.modules[name] = saved


def _module(name: str, source: str, shadow: dict[str, types.ModuleType] | None = None) -> types.ModuleType:
    module = types.ModuleType(f"before_{name}")
    with contextlib.ExitStack() as stack:
        for dotted, replacement in (shadow or {}).items():
            stack.enter_context(_shadow(dotted, replacement))
        exec(compile(source, f"<before {name}>", "exec"), module.__dict__)
    return module


def load_modules(rev: str | None) -> dict[str, types.ModuleType]:
    """The kernel modules at git revision ``rev`` (None: the working tree)."""
    if rev is None:
        import colorbench_metrics_color.functional as color
        import colorbench_metrics_pixel.ssim_uniform as ssim_uniform
        import colorbench_metrics_pixel.structural as structural

        import colorbench.color.lab as lab
        import colorbench.evaluation.protocol as protocol

        return {"lab": lab, "protocol": protocol, "structural": structural, "ssim_uniform": ssim_uniform,
                "color": color}

    def show(path: str) -> str:
        return subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:{path}"], check=True,
                              capture_output=True, text=True).stdout

    mods = {name: _module(name, show(path)) for name, path in SOURCES.items() if name != "protocol"}
    color_pkg = types.ModuleType("before_color_pkg")
    color_pkg.__dict__.update({k: v for k, v in vars(mods["lab"]).items() if not k.startswith("__")})
    mods["protocol"] = _module("protocol", show(SOURCES["protocol"]), {"colorbench.color": color_pkg})
    return mods


def photos(data: Path | None, n: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """n ground truths (centre-cropped to size²) and desaturated, shifted predictions, uint8
    [n, 3, size, size]; random noise pairs when no folder is given."""
    if data is None:
        g = torch.Generator().manual_seed(0)
        gt = torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=g)
        noise = torch.randint(-20, 21, gt.shape, generator=g)
        return (gt.to(torch.int32) + noise).clamp(0, 255).to(torch.uint8), gt
    from colorbench.evaluation.images import list_image_files, load_rgb
    from colorbench.evaluation.protocol import resize

    files = list_image_files(data)[1][:n]
    gts = [resize(load_rgb(f), size, "crop") for f in files]
    preds = []
    for gt in gts:
        gray = gt.astype(np.float64) @ [0.299, 0.587, 0.114]
        preds.append(np.clip(0.5 * gt + 0.5 * gray[..., None] + [8, 0, -8], 0, 255).astype(np.uint8))

    def stack(images: list[np.ndarray]) -> torch.Tensor:
        return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()

    return stack(preds), stack(gts)


def kernels(m: dict[str, types.ModuleType], pred: torch.Tensor, gt: torch.Tensor) -> dict[str, Callable[[], Any]]:
    """The timed calls, each over the whole batch, as the evaluation makes them."""
    lab, protocol = m["lab"], m["protocol"]
    L = protocol.lightness(gt)
    ab = lab.rgb8_to_lab(pred)[:, 1:]
    lab_gt, lab_pred = lab.rgb8_to_lab(gt), lab.rgb8_to_lab(pred)
    return {
        "L* of the input (protocol.lightness)": lambda: protocol.lightness(gt),
        "Lab->sRGB8 rebuild (protocol.rebuild)": lambda: protocol.rebuild(L, ab),
        "sRGB8->Lab float32, pred + gt (rgb8_to_lab)": lambda: torch.cat((lab.rgb8_to_lab(pred), lab.rgb8_to_lab(gt))),
        "ssim (Gaussian, 11 taps)": lambda: m["structural"].ssim(pred, gt),
        "ssim_skimage (uniform 7x7)": lambda: m["ssim_uniform"].ssim_skimage(pred, gt),
        "uiqi (8x8)": lambda: m["structural"].uiqi(pred, gt),
        "CIEDE2000 mean (float32 Lab)": lambda: m["color"].mean_ciede2000(lab_gt, lab_pred),
    }


def _max_diff(a: Any, b: Any) -> float:
    return float((a.to(torch.float64) - b.to(torch.float64)).abs().max())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, help="folder of photos (default: random noise pairs)")
    ap.add_argument("--before", help="git revision to compare with (default: the working tree alone)")
    ap.add_argument("--n", type=int, default=32, help="images (default 32)")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(1)
    pred, gt = photos(args.data, args.n, args.size)
    versions = {"after": kernels(load_modules(None), pred, gt)}
    if args.before:
        versions = {"before": kernels(load_modules(args.before), pred, gt), **versions}
    times: dict[str, dict[str, list[float]]] = {v: {k: [] for k in ks} for v, ks in versions.items()}
    outputs = {v: {k: f() for k, f in ks.items()} for v, ks in versions.items()}  # also warms up
    for _ in range(args.rounds):
        for name in versions["after"]:
            for v, ks in versions.items():
                t0 = time.perf_counter()
                ks[name]()
                times[v][name].append((time.perf_counter() - t0) / len(gt) * 1e3)
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, 1 thread; "
          f"load average at the end {os.getloadavg()[0]:.2f}; {len(gt)} images {args.size}x{args.size}, "
          f"{args.data.name if args.data else 'random noise'}; median of {args.rounds} rounds\n")
    if "before" in versions:
        print("| kernel | before (ms/img) | after (ms/img) | speed-up | max |after - before| |")
        print("|---|---:|---:|---:|---:|")
    else:
        print("| kernel | ms/img |\n|---|---:|")
    for name in versions["after"]:
        after = statistics.median(times["after"][name])
        if "before" not in versions:
            print(f"| {name} | {after:.3f} |")
            continue
        before = statistics.median(times["before"][name])
        diff = _max_diff(outputs["after"][name], outputs["before"][name])
        print(f"| {name} | {before:.3f} | {after:.3f} | {before / after:.2f}x | {diff:.2g} |")


if __name__ == "__main__":
    main()
