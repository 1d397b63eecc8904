"""The GPU check's runner: steps with outcomes, one deadline, subprocesses with logs."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
MIN_START = 5.0  # seconds: a subprocess given less is not started (it could not finish)


def within_root(path: Path) -> Path:
    """``path`` relative to the checkout when it lies inside it, else absolute."""
    path = path.resolve()
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


@dataclass
class Outcome:
    """What a step found: ``status`` pass, fail or skip; one line; figures for the JSON."""

    status: str
    detail: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Proc:
    rc: int
    seconds: float
    log: Path
    timed_out: bool

    def last_line(self) -> str:
        lines = self.log.read_text(errors="replace").strip().splitlines() if self.log.exists() else []
        return lines[-1] if lines else ""

    def tail(self, n: int = 400) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return " ".join(text[-n:].split())


class Check:
    """Runs the steps against one deadline and keeps their outcomes."""

    def __init__(self, args: argparse.Namespace):
        self.args, self.t0 = args, time.perf_counter()
        self.smoke, self.device = args.smoke, args.device
        # paths under the checkout stay relative (subprocesses run from it), so that the commands
        # recorded in run.json and shown on the leaderboard pages name no machine's folders
        self.bundle, self.out, self.work = within_root(args.bundle), args.out.resolve(), within_root(args.work)
        self.steps: list[dict[str, Any]] = []
        self.shared: dict[str, Any] = {}  # what later steps read from earlier ones
        self.env = {**os.environ, "COLORBENCH_DATA": str(self.bundle / "data"), "COLORBENCH_OFFLINE": "1",
                    "PYTHONUNBUFFERED": "1"}
        if self.smoke:
            self.env["OMP_NUM_THREADS"] = self.env.get("OMP_NUM_THREADS", "1")

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def left(self) -> float:
        return self.args.deadline - self.elapsed()

    def run(self, name: str, fn: Any, *args: Any) -> Outcome:
        """One step; an exception is a failed step, never the end of the check."""
        t = time.perf_counter()
        try:
            outcome = fn(self, *args)
        except Exception as exc:  # a broken step is reported and the rest runs
            outcome = Outcome("fail", f"{type(exc).__name__}: {exc}")
        seconds = time.perf_counter() - t
        self.steps.append({"name": name, "status": outcome.status, "seconds": round(seconds, 2),
                           "detail": outcome.detail, "data": outcome.data})
        print(f"[{self.elapsed():6.1f} s] {outcome.status.upper():4} {name} ({seconds:.1f} s): {outcome.detail}",
              flush=True)
        return outcome

    def sh(self, name: str, cmd: list[str], timeout: float) -> Proc:
        """``cmd`` from the project root, output to WORK/logs/NAME.log; killed (its whole
        process group, torchrun's children included) after ``timeout`` seconds; not started
        when less than MIN_START seconds are left for it."""
        log = self.work / "logs" / f"{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        with open(log, "w") as f:
            f.write("+ " + " ".join(cmd) + "\n")
            if timeout < MIN_START:
                f.write(f"not started: {max(timeout, 0):.0f} s left for it before the deadline\n")
                return Proc(-1, 0.0, log, True)
            f.flush()
            proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=f, stderr=subprocess.STDOUT,
                                    start_new_session=True)
            try:
                rc, timed_out = proc.wait(timeout=timeout), False
            except subprocess.TimeoutExpired:
                rc, timed_out = None, True
            finally:  # timed out, or this process is being stopped: end the group this Popen started
                if proc.poll() is None:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
            rc = proc.returncode if rc is None else rc
        return Proc(rc, time.perf_counter() - t, log, timed_out)

    def timeout(self, cap: float, reserve: float) -> float:
        """Seconds a step may take: ``cap``, or what is left before the deadline once
        ``reserve`` seconds are kept for the steps after it."""
        return min(cap, self.left() - reserve)
