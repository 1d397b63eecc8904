"""Throughput of the weight-free metric suite (images/s at 256x256).

Compares (suite) ``colorbench.evaluation.scoring.score_dirs`` on a folder of predictions vs ground
truths, (a) a straightforward per-image scikit-image/numpy loop computing the same metrics,
(b) decoding the same PNG pairs only. Example:

    .venv/bin/python benchmarks/perf/metrics.py --data ../shared/data/imagenet-sample --n 64
    .venv/bin/python benchmarks/perf/metrics.py --profile --n 32   # per-metric ms/image
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

METRICS = ["mse", "cpsnr", "ssim", "uiqi", "colorfulness", "delta_colorfulness", "deltae2000", "cnr", "ccar", "tar"]


def prepare(src: Path, n: int, size: int, out: Path) -> tuple[Path, Path]:
    """Centre-crop/resize n photos to size², write gt and a desaturated+shifted pred as PNG."""
    files = sorted(p for p in src.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))[:n]
    pred_dir, gt_dir = out / "pred", out / "gt"
    pred_dir.mkdir(parents=True)
    gt_dir.mkdir(parents=True)
    for f in files:
        im = Image.open(f).convert("RGB")
        s = min(im.size)
        im = im.crop(((im.width - s) // 2, (im.height - s) // 2, (im.width + s) // 2, (im.height + s) // 2))
        gt = np.asarray(im.resize((size, size), Image.Resampling.BICUBIC))
        gray = gt.astype(np.float64) @ [0.299, 0.587, 0.114]
        pred = np.clip(0.5 * gt + 0.5 * gray[..., None] + [8, 0, -8], 0, 255).astype(np.uint8)
        Image.fromarray(gt).save(gt_dir / f"{f.stem}.png")
        Image.fromarray(pred).save(pred_dir / f"{f.stem}.png")
    return pred_dir, gt_dir


def decode_only(pred_dir: Path, gt_dir: Path, batch_size: int, workers: int) -> int:
    """What ``score`` does except the metrics: match files, decode both PNGs to uint8 tensors
    in the same DataLoader (same workers), stack each batch."""
    from colorbench.evaluation.scoring import PairDataset, match_files

    loader = torch.utils.data.DataLoader(PairDataset(match_files(pred_dir, gt_dir).pairs, False),
                                         batch_size=batch_size, num_workers=workers, collate_fn=lambda x: x)
    n = 0
    for items in loader:
        torch.stack([it.pred for it in items]), torch.stack([it.rgb for it in items])
        n += len(items)
    return n


def per_image_loop(pred_dir: Path, gt_dir: Path) -> int:
    """The straightforward way: decode, then scikit-image / numpy per image."""
    from skimage.color import deltaE_ciede2000, rgb2lab
    from skimage.metrics import structural_similarity

    def cf(x: np.ndarray) -> float:
        rg, yb = x[..., 0] - x[..., 1], 0.5 * (x[..., 0] + x[..., 1]) - x[..., 2]
        return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))

    def classes(lab: np.ndarray) -> np.ndarray:
        ia = np.clip(np.floor((lab[..., 1] + 108) / 6), 0, 35).astype(int)
        ib = np.clip(np.floor((lab[..., 2] + 108) / 6), 0, 35).astype(int)
        return ib * 36 + ia

    def uiqi(p: np.ndarray, g: np.ndarray) -> float:
        qs = []
        for c in range(3):
            x = np.lib.stride_tricks.sliding_window_view(g[..., c], (8, 8)).reshape(-1, 64)
            y = np.lib.stride_tricks.sliding_window_view(p[..., c], (8, 8)).reshape(-1, 64)
            mx, my = x.mean(1), y.mean(1)
            vx, vy = x.var(1), y.var(1)
            cxy = (x * y).mean(1) - mx * my
            dv, dm = vx + vy, mx**2 + my**2
            q = np.where(dv * dm != 0, 4 * cxy * mx * my / np.where(dv * dm != 0, dv * dm, 1),
                         np.where(dm != 0, 2 * mx * my / np.where(dm != 0, dm, 1), 1.0))
            qs.append(q.mean())
        return float(np.mean(qs))

    n = 0
    for p in sorted(pred_dir.iterdir()):
        pu = np.asarray(Image.open(p).convert("RGB"))
        gu = np.asarray(Image.open(gt_dir / p.name).convert("RGB"))
        pf, gf = pu.astype(np.float64), gu.astype(np.float64)
        err = np.mean((pf - gf) ** 2)
        _ = err / 255**2, 10 * np.log10(255**2 / err) if err else np.inf
        structural_similarity(gu, pu, channel_axis=-1, data_range=255, gaussian_weights=True, sigma=1.5,
                              use_sample_covariance=False)
        uiqi(pf, gf)
        cf(pf) - cf(gf)
        lp, lg = rgb2lab(pu), rgb2lab(gu)
        deltaE_ciede2000(lg, lp).mean()
        cp, cg = classes(lp), classes(lg)
        len(np.unique(cp)) / len(np.unique(cg)), 100 * len(np.unique(cp)) / 1296, 100 * np.mean(cp == cg)
        n += 1
    return n


def suite(pred_dir: Path, gt_dir: Path, out: Path, batch_size: int, workers: int) -> int:
    from colorbench.evaluation.scoring import score_dirs
    from colorbench.evaluation.selection import resolve_metrics
    from colorbench.plugin.manager import load
    from colorbench.reporting import Reporter

    specs, _ = resolve_metrics(load(), METRICS)
    summary = score_dirs(pred_dir, gt_dir, specs, out, batch_size=batch_size, workers=workers,
                         reporter=Reporter(quiet=True))
    return int(summary[0]["n"])


def profile(n: int, size: int, batch_size: int, repeats: int) -> None:
    """Per-metric cost (ms per image) on random-noise pairs: Lab of pred+gt first (shared by
    deltae2000/cnr/ccar/tar), then each metric on a batch whose Lab is already cached.
    Rounds are interleaved (every metric once per round); the median round is reported."""
    from statistics import median

    from colorbench.evaluation.batch import MetricBatch
    from colorbench.plugin.manager import load

    torch.manual_seed(0)
    gt = torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8)
    pred = (gt.int() + torch.randint(-20, 20, gt.shape)).clamp(0, 255).to(torch.uint8)
    regs = load()
    fns = {m: regs.metrics.get(m).build() for m in METRICS}
    lab = "pred_lab32" if hasattr(MetricBatch, "pred_lab32") else "pred_lab"
    times: dict[str, list[float]] = {k: [] for k in ["lab (pred+gt)", *METRICS, "suite total"]}
    for _ in range(repeats):
        total = 0.0
        for k in range(0, n, batch_size):
            b = MetricBatch(pred[k:k + batch_size], gt[k:k + batch_size])
            t0 = time.perf_counter()
            getattr(b, lab), getattr(b, lab.replace("pred", "gt"))
            times["lab (pred+gt)"].append(time.perf_counter() - t0)
            for m in METRICS:
                b._cache.pop("squared_error_255", None)  # so mse and cpsnr are each timed in full
                t1 = time.perf_counter()
                fns[m](b)
                times[m].append(time.perf_counter() - t1)
            b2 = MetricBatch(pred[k:k + batch_size], gt[k:k + batch_size])
            t2 = time.perf_counter()
            for m in METRICS:
                fns[m](b2)
            total += time.perf_counter() - t2
        times["suite total"].append(total / (n // batch_size))
    per = batch_size
    for name, ts in times.items():
        print(f"{name:22s} {median(ts) / per * 1000:8.2f} ms/image")


def timed(fn: Any, *args: Any) -> tuple[float, int]:
    t0 = time.perf_counter()
    n = fn(*args)
    return time.perf_counter() - t0, n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path(__file__).parents[3] / "shared" / "data" / "imagenet-sample")
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3, help="interleaved rounds; the median per method is reported")
    ap.add_argument("--workers", type=int, default=2, help="DataLoader workers for the parallel rows")
    ap.add_argument("--profile", action="store_true", help="per-metric ms/image on random pairs instead")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average {os.getloadavg()}")
    if args.profile:
        profile(args.n, args.size, args.batch_size, args.repeats)
        return
    with tempfile.TemporaryDirectory() as tmp:
        pred_dir, gt_dir = prepare(args.data, args.n, args.size, Path(tmp))
        out, bs, w = Path(tmp) / "out", args.batch_size, args.workers
        methods = {
            "decode only, serial": (decode_only, (pred_dir, gt_dir, bs, 0)),
            "colorbench score, serial": (suite, (pred_dir, gt_dir, out, bs, 0)),
            f"decode only, {w} workers": (decode_only, (pred_dir, gt_dir, bs, w)),
            f"colorbench score, {w} workers": (suite, (pred_dir, gt_dir, out, bs, w)),
            "per-image skimage/numpy loop": (per_image_loop, (pred_dir, gt_dir)),
        }
        times: dict[str, list[float]] = {k: [] for k in methods}
        n = 0
        for _ in range(args.repeats):  # interleaved rounds; median per method
            for name, (fn, fargs) in methods.items():
                dt, n = timed(fn, *fargs)
                times[name].append(dt)
    from statistics import median

    ips = {k: n / median(v) for k, v in times.items()}
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"{torch.get_num_threads()} torch threads, torch {torch.__version__}; {n} images "
          f"{args.size}x{args.size} from {args.data}; median of {args.repeats} interleaved rounds; "
          f"load average after: {os.getloadavg()}")
    for name, v in ips.items():
        print(f"{name:32s} {v:8.1f} images/s")
    loop = ips["per-image skimage/numpy loop"]
    print(f"speed-up over the per-image loop: serial {ips['colorbench score, serial'] / loop:.2f}x, "
          f"{w} workers {ips[f'colorbench score, {w} workers'] / loop:.2f}x (goal >= 5x)")
    print(f"scoring time / decoding time:     serial {ips['decode only, serial'] / ips['colorbench score, serial']:.2f}x, "
          f"{w} workers {ips[f'decode only, {w} workers'] / ips[f'colorbench score, {w} workers']:.2f}x (goal <= 2x)")


if __name__ == "__main__":
    main()
