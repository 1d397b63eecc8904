"""Wall time of one `colorbench run` in 1 process against the same run under
`torchrun --standalone --nproc_per_node N` (sharded evaluation), interleaved rounds; prints
the seconds and the speed-up, and checks the per-image rows are the same.

    .venv/bin/python benchmarks/perf/sharded_eval.py DATASET_DIR --models gray,gan --nproc 2 --rounds 2
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

METRICS = "mse,cpsnr,ssim,uiqi,deltae2000,colorfulness,delta_colorfulness,cnr,ccar,tar,cnr_union,ccar_union"


def _rows(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "per_image.csv", newline="", encoding="utf-8") as f:
        return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(f)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset")
    ap.add_argument("--models", default="gray,gan")
    ap.add_argument("--nproc", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--limit", type=int, default=None)
    a = ap.parse_args()
    out = Path(tempfile.mkdtemp(prefix="sharded-eval-"))
    args = ["run", "--models", a.models, "--datasets", a.dataset, "--metrics", METRICS, "--workers", "0",
            "--device", "cpu", "-q", "--no-resume", "--out", str(out)] + (["--limit", str(a.limit)] if a.limit else [])
    cores = os.cpu_count() or 1
    one = [sys.executable, "-m", "colorbench", *args, "--name", "one"]
    many = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(a.nproc),
            "-m", "colorbench", *args, "--name", "many"]
    env = {**os.environ}
    times: dict[str, list[float]] = {"one": [], "many": []}
    for _ in range(a.rounds):
        for name, cmd, threads in (("one", one, cores), ("many", many, max(1, cores // a.nproc))):
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, env={**env, "OMP_NUM_THREADS": str(threads)}, capture_output=True)
            times[name].append(time.perf_counter() - t0)
    same = _rows(out / "one") == _rows(out / "many")
    t1, tn = statistics.median(times["one"]), statistics.median(times["many"])
    n = len(_rows(out / "one"))
    print(f"rows: {n}; identical rows (but seconds): {same}")
    print(f"1 process ({cores} threads): {t1:.1f} s; {a.nproc} processes ({max(1, cores // a.nproc)} thread each): "
          f"{tn:.1f} s; speed-up {t1 / tn:.2f}x (medians of {a.rounds}; load {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
