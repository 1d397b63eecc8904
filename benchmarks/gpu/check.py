"""The GPU check: prove every CUDA path and write GPU-run leaderboards, in one command.

    bash benchmarks/gpu/run.sh OUT_DIR                    # on the GPU machine (installs, then this)
    python benchmarks/gpu/check.py --bundle benchmarks/gpu/_bundle --out OUT_DIR [--smoke]

Steps, in order (each is recorded as pass/fail/skip with its time; a failing step never
stops the others; every subprocess gets what is left of the deadline):

  env            versions, the device, bf16 support, the bundled packages import, no plugin fails
  eval-device    the cpu-real suite (held-out splits, weight-free metrics) x the shipped models
  decode         run's input pipeline on the bundled JPEGs: CPU workers vs --decode-device (decode_bench.py)
  parity-cpu     the same on the CPU (--parity-limit images per dataset): per-image metrics
                 within the DEFAULT tolerance of the device's (check_parity.py)
  parity-strict  the device again with TF32 off (no_tf32.py; autocast is off in fp32):
                 within the STRICT tolerance of the CPU's
  eval-bf16      the device under --precision bf16 (autocast reaches every colorizer)
  torchrun       2 processes (NCCL on CUDA, gloo on the CPU) against the one-process rows
  gpu-tests      pytest -m gpu tests/test_cuda_paths.py
  train-MODEL    every trainable model, paper config, bf16, for a time budget (check_train.py)
  eval-trained   the cpu-real suite x the models just trained
  leaderboard    colorbench leaderboard of both evaluation runs into OUT_DIR

then OUT_DIR/README.md, OUT_DIR/perf.md and OUT_DIR/gpu_check.json (check_report.py); exit
status 1 when a step failed. ``--smoke`` runs the same on the CPU with tiny sizes, budgets
and the models' test configs (tests/test_gpu_bench.py).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import check_report
import check_steps
import check_train
from check_core import Check, Outcome

ROOT = Path(__file__).resolve().parents[2]


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bundle", type=Path, default=ROOT / "benchmarks" / "gpu" / "_bundle",
                    help="what prepare.py built (data/, wheels/)")
    ap.add_argument("--out", type=Path, required=True, help="leaderboards and figures (commit as leaderboards/gpu/)")
    ap.add_argument("--work", type=Path, default=ROOT / "runs" / "gpu-check",
                    help="scratch: run directories, checkpoints, logs (emptied first)")
    ap.add_argument("--smoke", action="store_true", help="the CPU rehearsal: tiny sizes and budgets")
    ap.add_argument("--device", default=None, help="default: cuda (cpu with --smoke)")
    ap.add_argument("--deadline", type=float, default=None, help="seconds for everything (default 500; smoke 1800)")
    ap.add_argument("--train-seconds", type=float, default=None, help="training steps per model (default 30; smoke 2)")
    ap.add_argument("--train-overhead", type=float, default=None,
                    help="first guess of a model's start-up, data preparation and probe (default 40; smoke 30)")
    ap.add_argument("--probe-steps", type=int, default=None, help="default 16; smoke 4")
    ap.add_argument("--models", default=None, help="trainable models to train (default: every one)")
    ap.add_argument("--workers", type=int, default=None, help="DataLoader workers (default 12; smoke 0)")
    ap.add_argument("--parity-limit", type=int, default=None, help="images per dataset of the parity runs (default 16; smoke 2)")
    ap.add_argument("--peak-tflops", type=float, default=790.0, help="bf16 dense peak of the device (H200: ~790)")
    ap.add_argument("--skip", default="", help="comma-separated step names to skip")
    args = ap.parse_args(argv)
    smoke = args.smoke
    for key, gpu, cpu in (("device", "cuda", "cpu"), ("deadline", 500.0, 1800.0), ("train_seconds", 30.0, 2.0),
                          ("train_overhead", 40.0, 30.0), ("probe_steps", 16, 4), ("workers", 12, 0),
                          ("parity_limit", 16, 2)):
        if getattr(args, key) is None:
            setattr(args, key, cpu if smoke else gpu)
    return args


MARKER = ".colorbench-gpu-check"  # what makes a --work folder safe to empty


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    check = Check(args)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a stopped check ends its subprocess too
    os.chdir(ROOT)  # every subprocess runs from the checkout, paths relative to it
    if check.work.exists() and any(check.work.iterdir()) and not (check.work / MARKER).exists():
        print(f"error: --work {check.work} is not empty and not a GPU check's scratch folder; "
              "give another --work", file=sys.stderr)
        return 2
    shutil.rmtree(check.work, ignore_errors=True)
    check.work.mkdir(parents=True)
    (check.work / MARKER).touch()
    check.out.mkdir(parents=True, exist_ok=True)
    skip = {s for s in args.skip.split(",") if s}
    models = check_train.trainable(args.models)
    check.shared["models"] = models
    plan: list[tuple[str, Any, tuple[Any, ...]]] = [
        ("env", check_steps.env, ()),
        ("eval-device", check_steps.eval_device, ()),
        ("decode", check_steps.decode, ()),
        ("parity-cpu", check_steps.parity_cpu, ()),
        ("parity-strict", check_steps.parity_strict, ()),
        ("eval-bf16", check_steps.eval_bf16, ()),
        ("torchrun", check_steps.torchrun, ()),
        ("gpu-tests", check_steps.gpu_tests, ()),
        *((f"train-{m}", check_train.train_model, (m, models)) for m in models),
        ("eval-trained", check_steps.eval_trained, ()),
        ("leaderboard", check_steps.leaderboard, ()),
    ]
    print(f"GPU check: {len(plan)} steps, device {args.device}, deadline {args.deadline:.0f} s, "
          f"work {check.work}, out {check.out}", flush=True)
    try:
        for name, fn, extra in plan:
            if name in skip:
                check.run(name, lambda c: Outcome("skip", "--skip"))
            else:
                check.run(name, fn, *extra)
    finally:  # also when stopped: the steps so far are reported
        stopped = len(check.steps) < len(plan)
        failed = [s["name"] for s in check.steps if s["status"] == "fail"] + (["(stopped)"] if stopped else [])
        check_report.write(check, failed)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
