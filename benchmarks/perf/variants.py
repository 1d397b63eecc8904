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
import subprocess
import sys
import time
from pathlib import Path
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
