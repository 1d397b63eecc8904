"""Throughput of the weight-free metric suite (images/s at 256x256), the issue's targets.

In one interleaved run, each measurement in a fresh process (``variants.py``): decoding the
PNG pairs only (what ``score`` does without the metrics: match, decode both files in the same
DataLoader with the same workers, stack), ``colorbench score`` with the ten weight-free
metrics (``score_dirs``) on this checkout and, with ``--before DIR``, on another checkout,
serially and with W workers (the default: min(2, CPUs)); and a per-image scikit-image/numpy
loop. Ratios: score / decode-only (goal <= 1.5, serial and W workers), loop time / suite
time (goal >= 20). Every score variant's per_image.csv must equal the first's (checked).

    .venv/bin/python benchmarks/perf/metrics.py --data ../shared/data/imagenet-sample --n 192 --before BEFORE
    .venv/bin/python benchmarks/perf/metrics.py --profile --n 32   # per-metric ms/image
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from variants import Clock, emit, link_first, measure, medians

from colorbench.results import read_rows

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


def decode_only(pred_dir: Path, gt_dir: Path, batch_size: int, workers: int) -> dict[str, float]:
    """What ``score`` does except the metrics: match files, decode both PNGs to uint8 tensors
    in the same DataLoader (same workers), stack each batch."""
    from colorbench.evaluation.scoring import PairDataset, match_files

    loader = torch.utils.data.DataLoader(PairDataset(match_files(pred_dir, gt_dir).pairs, False),
                                         batch_size=batch_size, num_workers=workers, collate_fn=lambda x: x)
    clock = Clock()
    for items in loader:
        torch.stack([it.pred for it in items]), torch.stack([it.rgb for it in items])
    return clock.stop()


def per_image_loop(pred_dir: Path, gt_dir: Path, n: int) -> dict[str, float]:
    """The straightforward way: decode, then scikit-image / numpy per image (the first n)."""
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

    clock = Clock()
    for p in sorted(pred_dir.iterdir())[:n]:
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
    return clock.stop()


def suite(pred_dir: Path, gt_dir: Path, out: Path, batch_size: int, workers: int) -> dict[str, float]:
    """Seconds of ``score_dirs`` with the ten metrics (plugins loaded before the clock starts)."""
    from colorbench.evaluation.scoring import score_dirs
    from colorbench.evaluation.selection import resolve_metrics
    from colorbench.plugin.manager import load
    from colorbench.reporting import Reporter

    specs, _ = resolve_metrics(load(), METRICS)
    clock = Clock()
    score_dirs(pred_dir, gt_dir, specs, out, batch_size=batch_size, workers=workers, reporter=Reporter(quiet=True))
    return clock.stop()


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


def one(args: argparse.Namespace) -> None:
    """One measurement in this process (``--one``): wall and CPU times as the last JSON line,
    after the same call on 4 pairs (lazy imports and first-call costs out of the figures)."""
    def call(pred: Path, gt: Path, out: Path) -> dict[str, float]:
        if args.one == "decode":
            return decode_only(pred, gt, args.batch_size, args.workers)
        if args.one == "score":
            return suite(pred, gt, out, args.batch_size, args.workers)
        return per_image_loop(pred, gt, args.loop_n)

    with tempfile.TemporaryDirectory() as tmp:
        call(*(link_first(sorted(d.iterdir()), 4, Path(tmp) / d.name) for d in (args.pred, args.gt)),
             Path(tmp) / "out")
    emit(**call(args.pred, args.gt, args.out))


def compare(tmp: Path, args: argparse.Namespace) -> None:
    """Every variant once per round, rounds interleaved; medians, ratios, rows checked equal."""
    pred_dir, gt_dir = prepare(args.data, args.n, args.size, tmp)
    n, w = len(list(gt_dir.iterdir())), args.workers
    codes = [("after", None)] + ([("before", args.before)] if args.before else [])
    variants: list[tuple[str, Path | None, str, int]] = []
    for workers in (0, w):
        variants.append((f"decode only, W={workers}", None, "decode", workers))
        variants += [(f"score ({c}), W={workers}", code, "score", workers) for c, code in codes]
    variants.append(("per-image skimage loop", None, "loop", 0))
    rounds: dict[str, list[dict[str, float]]] = {v[0]: [] for v in variants}
    for _ in range(args.repeats):
        for label, code, what, workers in variants:
            out = tmp / label.replace(" ", "_").replace(",", "").replace("(", "").replace(")", "")
            shutil.rmtree(out, ignore_errors=True)
            cli = ["--one", what, "--pred", str(pred_dir), "--gt", str(gt_dir), "--out", str(out),
                   "--workers", str(workers), "--batch-size", str(args.batch_size), "--loop-n", str(args.loop_n),
                   *(["--threads", str(args.threads)] if args.threads else [])]
            rounds[label].append(measure(code, Path(__file__), cli))
    scored = sorted(tmp.glob("score_*"))
    first = read_rows(scored[0] / "per_image.csv")[1]
    for other in scored[1:]:
        assert read_rows(other / "per_image.csv")[1] == first, f"{other.name}: rows differ from {scored[0].name}"
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
          f"threads {args.threads or 'default'}; {n} pairs {args.size}x{args.size} from {args.data}; median of "
          f"{args.repeats} interleaved rounds; load average after: {os.getloadavg()}; rows of {len(scored)} score "
          "variants identical\n")
    m = medians(rounds, {k: args.loop_n if k.startswith("per-image") else n for k in rounds})
    print(f"\n| code | score/decode, serial | score/decode, W={w} | score/decode CPU, W={w} | suite/loop, serial "
          f"| suite/loop, W={w} |\n|---|---:|---:|---:|---:|---:|")
    loop = m["per-image skimage loop"]["ips"]
    dec0, decw = m["decode only, W=0"], m[f"decode only, W={w}"]
    for c, _ in codes:
        s0, sw = m[f"score ({c}), W=0"], m[f"score ({c}), W={w}"]
        print(f"| {c} | {dec0['ips'] / s0['ips']:.2f} | {decw['ips'] / sw['ips']:.2f} | {sw['cpu'] / decw['cpu']:.2f} "
              f"| {s0['ips'] / loop:.1f} | {sw['ips'] / loop:.1f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path(__file__).parents[3] / "shared" / "data" / "imagenet-sample")
    ap.add_argument("--n", type=int, default=192)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3, help="interleaved rounds; the median per method is reported")
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), help="W: the default workers")
    ap.add_argument("--before", type=Path, default=None, help="a checkout of the code to compare with")
    ap.add_argument("--loop-n", type=int, default=48, help="images the per-image loop scores")
    ap.add_argument("--profile", action="store_true", help="per-metric ms/image on random pairs instead")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    ap.add_argument("--one", choices=("decode", "score", "loop"), help=argparse.SUPPRESS)
    ap.add_argument("--pred", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--gt", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.one:
        one(args)
    elif args.profile:
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average {os.getloadavg()}")
        profile(args.n, args.size, args.batch_size, args.repeats)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            compare(Path(tmp), args)


if __name__ == "__main__":
    main()
