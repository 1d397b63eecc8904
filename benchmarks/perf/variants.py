"""Before/after variants for the perf benchmarks, measured in one interleaved run.

Each measurement runs in a fresh process on the code of one checkout: this one, or the one
given with ``--before DIR`` (e.g. ``git worktree add --detach DIR main`` at the branch
point), through ``PYTHONPATH=DIR:DIR/plugins``. The process prints one JSON line last.
``peak_rss`` polls a command's memory (Linux ``/proc``): the main process's peak RSS and the
peak of the summed PSS over its process tree (DataLoader workers included; pages the forked
workers share with the main process counted once).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from statistics import median
from typing import Any

HERE = Path(__file__).resolve().parents[2]  # this checkout


def code_env(code: Path | None, threads: int | None = None) -> dict[str, str]:
    """The environment that runs ``code`` (None: this checkout) with ``threads`` OpenMP threads."""
    root = (code or HERE).resolve()
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{root / 'plugins'}"}
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    return env


def measure(code: Path | None, script: Path, args: list[str], threads: int | None = None) -> dict[str, Any]:
    """Run ``script args`` on ``code``; its last stdout line, parsed as JSON."""
    done = subprocess.run([sys.executable, str(script), *args], env=code_env(code, threads),
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{script.name} {' '.join(args)} on {code or HERE} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


class Clock:
    """Since ``start``: wall seconds, this process's CPU seconds and those of its children
    that have been waited for (the DataLoader workers, once the loader is exhausted)."""

    def __init__(self) -> None:
        self.start()

    def start(self) -> None:
        self._t0 = (time.perf_counter(), time.process_time(), self._children())

    @staticmethod
    def _children() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    def stop(self) -> dict[str, float]:
        wall, cpu, kids = self._t0
        return {"seconds": time.perf_counter() - wall, "main_cpu": time.process_time() - cpu,
                "workers_cpu": self._children() - kids}


def link_first(files: list[Path], n: int, folder: Path) -> Path:
    """``folder`` with symlinks to the first ``n`` files, named by their position."""
    folder.mkdir(parents=True)
    for k, f in enumerate(files[:n]):
        (folder / f"{k:05d}{f.suffix.lower()}").symlink_to(f.resolve())
    return folder


def emit(**values: Any) -> None:
    """The JSON line a measurement process ends with."""
    print(json.dumps(values), flush=True)


def _kib(pid: int, field: str, table: str = "status") -> int:
    """``field`` (kB) of ``/proc/PID/<table>``; 0 once the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/{table}").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return out


def peak_rss(cmd: list[str], env: dict[str, str], every: float = 0.05) -> dict[str, float]:
    """Run ``cmd``; its peak memory (MiB): the main process's RSS high-water mark and the peak
    of the PSS summed over the process tree, sampled every ``every`` seconds; its wall time."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    main = tree = 0
    while proc.poll() is None:
        main = max(main, _kib(proc.pid, "VmHWM"))
        tree = max(tree, sum(_kib(p, "Pss", "smaps_rollup") for p in _tree(proc.pid)))
        time.sleep(every)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr.read()[-3000:] if proc.stderr else ''}")
    return {"main_mib": main / 1024, "tree_mib": tree / 1024, "seconds": time.perf_counter() - t0}


def medians(rounds: dict[str, list[dict[str, float]]], images: dict[str, int]) -> dict[str, dict[str, float]]:
    """Per variant, the median over rounds of its images/s (wall) and of its CPU ms per image
    (main process, finished workers, both); printed as a markdown table."""
    out: dict[str, dict[str, float]] = {}
    print("| variant | images/s | main CPU ms/image | workers CPU ms/image | total CPU ms/image |")
    print("|---|---:|---:|---:|---:|")
    for label, runs in rounds.items():
        n = images[label]
        m = {"ips": n / median(r["seconds"] for r in runs),
             "main": 1e3 * median(r["main_cpu"] for r in runs) / n,
             "workers": 1e3 * median(r["workers_cpu"] for r in runs) / n,
             "cpu": 1e3 * median(r["main_cpu"] + r["workers_cpu"] for r in runs) / n}
        out[label] = m
        print(f"| {label} | {m['ips']:.1f} | {m['main']:.2f} | {m['workers']:.2f} | {m['cpu']:.2f} |")
    return out
