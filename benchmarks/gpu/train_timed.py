"""Train one colorizer for a time budget with `colorbench train` and measure every stage.

    python benchmarks/gpu/train_timed.py MODEL --budget 30 --probe-steps 16 --out DIR \\
        --report DIR/timing.json [--probe-set KEY=VALUE ...] -- <colorbench train options>

1. probe: ``colorbench train MODEL <options> --steps P --val-split '' --out DIR/probe``
   (plus ``--probe-set``s, e.g. a smaller labelling set): how long a step of each stage takes;
2. N = the steps that fill ``--budget`` seconds at those step times (the trainer splits N
   over its stages as it splits any ``--steps``);
3. main: ``colorbench train MODEL <options> --steps N --out DIR/train``, the model the check
   evaluates.

Both run in this process through the CLI. ``Trainer.fit`` (the one loop's public entry) is
wrapped so that every Stage's step function is timed (CUDA-synchronised; the loop itself
synchronises once per step when it reads the loss), one step per stage runs under
``torch.utils.flop_counter.FlopCounterMode`` (forward, backward and optimizer as the loop
runs them; matmul/conv/attention FLOPs) and the stage's peak of
``torch.cuda.max_memory_allocated`` is kept. Nothing of the trainers changes.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

WARMUP = 2  # steps per stage left out of the timings (allocator, cuBLAS/cuDNN set-up)


@dataclasses.dataclass
class StageRecord:
    """Raw timings of one stage: step starts/ends (perf_counter), images per step."""

    name: str
    planned: int
    flop_index: int | None
    starts: list[float] = dataclasses.field(default_factory=list)
    ends: list[float] = dataclasses.field(default_factory=list)
    images: int = 0
    flops: int | None = None
    peak_bytes: int | None = None

    def summary(self, peak_tflops: float | None) -> dict[str, Any]:
        """Steady-state figures: mean step interval (start to next start: data wait
        included) and median compute time, over the steps after the warm-up."""
        n = len(self.starts)
        if n == 0:
            return {"stage": self.name, "steps": 0}
        intervals = [b - a for a, b in zip(self.starts, self.starts[1:], strict=False)]
        intervals.append(self.ends[-1] - self.starts[-1])
        durations = [e - s for s, e in zip(self.starts, self.ends, strict=True)]
        others = [i for i in range(n) if i != self.flop_index] or [n - 1]
        keep = [i for i in others if i >= WARMUP] or others[-1:]
        step_s = statistics.fmean(intervals[i] for i in keep)
        compute_s = statistics.median(durations[i] for i in keep)
        tflops = self.flops / step_s / 1e12 if self.flops else None
        return {"stage": self.name, "steps": n, "timed_steps": len(keep), "images_per_step": self.images,
                "step_ms": 1e3 * step_s, "compute_ms": 1e3 * compute_s, "images_per_s": self.images / step_s,
                "flops_per_step": self.flops, "tflops": tflops,
                "tflops_compute": self.flops / compute_s / 1e12 if self.flops else None,
                "mfu": tflops / peak_tflops if tflops is not None and peak_tflops else None,
                "peak_mem_gib": self.peak_bytes / 2**30 if self.peak_bytes is not None else None,
                "wall_s": self.ends[-1] - self.starts[0]}


class Recorder:
    """Wraps the stages of every ``Trainer.fit`` call made while it is installed."""

    def __init__(self) -> None:
        self.count_flops, self.stages = False, []  # type: ignore[var-annotated]

    def begin(self, count_flops: bool) -> None:
        """Record the next run afresh (``count_flops``: one step per stage is counted)."""
        self.count_flops, self.stages = count_flops, []

    def install(self) -> None:
        from colorbench.training.loop import Trainer

        original = Trainer.fit
        recorder = self

        def fit(trainer: Any, stages: Any, validate: Any = None) -> None:
            return original(trainer, [recorder.wrap(s) for s in stages], validate)

        Trainer.fit = fit  # type: ignore[method-assign]

    def wrap(self, stage: Any) -> Any:
        flop_index = min(WARMUP, max(stage.steps - 1, 0)) if self.count_flops else None
        rec = StageRecord(stage.name, int(stage.steps), flop_index)
        self.stages.append(rec)
        step = stage.step

        def timed(t: Any, batch: dict[str, Any]) -> Any:
            cuda = t.device.type == "cuda"
            if cuda:
                torch.cuda.synchronize(t.device)
                if not rec.starts:
                    torch.cuda.reset_peak_memory_stats(t.device)
            rec.starts.append(time.perf_counter())
            if len(rec.starts) - 1 == rec.flop_index:
                from torch.utils.flop_counter import FlopCounterMode

                with FlopCounterMode(display=False) as counter:
                    out = step(t, batch)
                rec.flops = int(counter.get_total_flops())
            else:
                out = step(t, batch)
            if cuda:
                torch.cuda.synchronize(t.device)
                rec.peak_bytes = max(rec.peak_bytes or 0, torch.cuda.max_memory_allocated(t.device))
            rec.ends.append(time.perf_counter())
            rec.images = next((int(v.shape[0]) for v in batch.values() if isinstance(v, torch.Tensor)), 0)
            return out

        return dataclasses.replace(stage, step=timed)


def train(model: str, options: list[str], steps: int, out: Path) -> tuple[int, float]:
    """``colorbench train`` in this process; (exit status, seconds)."""
    from colorbench.cli import app

    t0 = time.perf_counter()
    try:
        code = app(["train", model, *options, "--steps", str(steps), "--out", str(out)], standalone_mode=False)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    return int(code or 0), time.perf_counter() - t0


def steps_for(budget: float, probe: list[dict[str, Any]], floor: int, ceiling: int) -> int:
    """Steps whose time at the probe's per-stage step times (weighted by the probe's own
    split of its steps over the stages) is ``budget`` seconds."""
    timed = [s for s in probe if s.get("steps")]
    total = sum(s["steps"] for s in timed)
    if not total:
        return floor
    per_step = sum(s["step_ms"] / 1e3 * s["steps"] for s in timed) / total
    return max(floor, min(ceiling, int(budget / per_step)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--budget", type=float, required=True, help="seconds of training steps in the main run")
    ap.add_argument("--probe-steps", type=int, default=16)
    ap.add_argument("--probe-set", action="append", default=[], help="extra --set of the probe only")
    ap.add_argument("--max-steps", type=int, default=100_000)
    ap.add_argument("--peak-tflops", type=float, default=None, help="the device's bf16 dense peak")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--report", type=Path, required=True)
    argv = list(sys.argv[1:] if argv is None else argv)
    cut = argv.index("--") if "--" in argv else len(argv)
    args, options = ap.parse_args(argv[:cut]), argv[cut + 1:]  # after --: colorbench train options
    report: dict[str, Any] = {"model": args.model, "budget_s": args.budget, "options": options}
    recorder = Recorder()
    recorder.install()
    recorder.begin(count_flops=False)
    probe_opts = [*options, "--val-split", "", *(a for s in args.probe_set for a in ("--set", s))]
    code, seconds = train(args.model, probe_opts, args.probe_steps, args.out / "probe")
    report["probe"] = {"status": code, "seconds": seconds, "steps": args.probe_steps,
                       "stages": [r.summary(None) for r in recorder.stages]}
    if code == 0:
        steps = steps_for(args.budget, report["probe"]["stages"], args.probe_steps, args.max_steps)
        gc.collect()  # the probe's models and optimizers leave no memory to the main run's peak
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        recorder.begin(count_flops=True)
        code, seconds = train(args.model, options, steps, args.out / "train")
        stages = [r.summary(args.peak_tflops) for r in recorder.stages]
        report["train"] = {"status": code, "seconds": seconds, "steps": steps, "stages": stages,
                           "checkpoint": str(args.out / "train"),
                           "train_s": sum(s.get("wall_s", 0.0) for s in stages)}
    report["status"] = code
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, indent=2) + "\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
