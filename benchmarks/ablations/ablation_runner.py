"""Training and evaluating the arms through the colorbench CLI, resumably, with a record
of each arm (commands, commit, machine, times) in benchmarks/ablations/records/."""

from __future__ import annotations

import hashlib
import os
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ablation_claims import Arm, Claim, Claims, substitute

from colorbench.evaluation.suite_files import expand_vars
from colorbench.results import read_json, write_json
from colorbench.results.provenance import git_commit, now

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: make_leaderboards
from make_leaderboards import cpu_name

LOG_TAIL = 5  # lines of a failed command's log shown and recorded


@dataclass
class Layout:
    """Where everything goes: ``root`` is the project root (the commands' working directory)."""

    root: Path
    runs: Path
    records: Path
    results: Path
    page: Path

    def train_dir(self, arm: Arm) -> Path:
        return self.runs / arm.claim / arm.name

    def eval_parent(self, claim: str) -> Path:
        return self.runs / claim / "eval"

    def eval_dir(self, claim: str, arm: str) -> Path:
        return self.eval_parent(claim) / arm

    def record(self, arm: Arm) -> Path:
        return self.records / arm.claim / f"{arm.name}.json"

    def log(self, arm: Arm, stage: str) -> Path:
        return self.runs / arm.claim / "logs" / f"{arm.name}-{stage}.log"

    def rel(self, path: Path) -> str:
        """``path`` relative to the project root when inside it (what files and pages show)."""
        try:
            return Path(path).resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return str(path)


def machine(threads: Any = None) -> dict[str, Any]:
    """Platform, CPU, cores, torch version and training threads of this machine."""
    import torch

    return {"platform": platform.platform(), "cpu": cpu_name(), "cores": os.cpu_count(),
            "torch": torch.__version__, "threads": threads}


def load_average() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def uncommitted(root: Path) -> bool | None:
    """Whether tracked files differ from the commit (None outside a git checkout)."""
    try:
        out = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                             capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return bool(out.stdout.strip()) if out.returncode == 0 else None


def sha256(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def suite_arg(claims: Claims, claim: Claim, layout: Layout) -> str:
    """The claim's suite: a file beside the claims file when there is one, else as given."""
    beside = claims.path.parent / claim.suite
    return layout.rel(beside) if beside.is_file() else claim.suite


def train_command(claims: Claims, arm: Arm, layout: Layout, out_dirs: dict[str, str]) -> list[str]:
    """``colorbench train`` for a trained arm (``--resume`` once its directory has a checkpoint)."""
    claim = claims.claims[arm.claim]
    t = claim.train
    out = layout.train_dir(arm)
    cmd = ["colorbench", "train", arm.model, "--dataset", str(t["dataset"]), "--split", str(t.get("split", "train")),
           "--seed", str(t.get("seed", 0)), *(substitute(a, out_dirs) for a in arm.train or []),
           "--out", layout.rel(out)]
    return cmd + ["--resume"] * (out / "checkpoint.pt").is_file()


def eval_command(claims: Claims, claim: Claim, arm: Arm, layout: Layout, out_dirs: dict[str, str]) -> list[str]:
    """``colorbench run`` of one model arm on the claim's suite, with the suite's metrics (a
    subset would clash with its metric options), resumed in the same run directory."""
    cmd = ["colorbench", "run", "--models", arm.model]
    checkpoint = out_dirs[arm.key] if arm.train is not None else arm.checkpoint
    if checkpoint:
        cmd += ["--checkpoint", f"{arm.model}={substitute(checkpoint, out_dirs)}"]
    cmd += [*(substitute(a, out_dirs) for a in arm.run), "--benchmark", suite_arg(claims, claim, layout),
            "--out", layout.rel(layout.eval_parent(claim.name)),
            "--name", arm.name, "--resume", "--quiet"]
    return cmd


def executable(cmd: list[str]) -> list[str]:
    """The displayed command as run: this Python's colorbench, ``${VAR}`` expanded."""
    return [sys.executable, "-m", "colorbench", *(expand_vars(a, "claims file") for a in cmd[1:])]


Runner = Callable[[list[str], Path, Path], int]


def subprocess_runner(cmd: list[str], cwd: Path, log: Path) -> int:
    """Run ``cmd`` in ``cwd`` with its output in ``log``; the exit status."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w", encoding="utf-8") as f:
        return subprocess.run(cmd, cwd=cwd, stdout=f, stderr=subprocess.STDOUT, check=False).returncode


def log_tail(log: Path, root: Path) -> str:
    try:
        lines = [ln.strip() for ln in log.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return " | ".join(lines[-LOG_TAIL:]).replace(f"{root.resolve()}/", "")


def last_step(train_dir: Path) -> int | None:
    """The last optimizer step in train_log.csv."""
    import csv

    try:
        with open(train_dir / "train_log.csv", newline="", encoding="utf-8") as f:
            steps = [int(r["step"]) for r in csv.DictReader(f) if r.get("step", "").isdigit()]
    except OSError:
        return None
    return max(steps, default=None)


def finished(entry: dict[str, Any], cmd: list[str], checkpoint_sha256: str) -> bool:
    """The record's training finished with this command (``--resume`` aside) and left this checkpoint."""
    def bare(command: str) -> list[str]:
        return [a for a in shlex.split(command) if a != "--resume"]

    return (entry.get("status") == "ok" and entry.get("checkpoint_sha256") == checkpoint_sha256
            and bare(entry.get("command", "")) == bare(shlex.join(cmd)))


class Engine:
    """Trains and evaluates arms; ``runner`` runs one command (replaced by a fake in tests)."""

    def __init__(self, claims: Claims, layout: Layout, *, runner: Runner = subprocess_runner,
                 dry_run: bool = False, say: Callable[[str], None] = print):
        self.claims, self.layout, self.runner, self.dry_run, self.say = claims, layout, runner, dry_run, say
        self.out_dirs = {a.key: layout.rel(layout.train_dir(a)) for c in claims.claims.values() for a in c.arms.values()}
        self.failed: dict[str, str] = {}  # arm key -> reason
        self.t0 = time.monotonic()

    def progress(self, text: str) -> None:
        m, s = divmod(int(time.monotonic() - self.t0), 60)
        self.say(f"[{m // 60:d}:{m % 60:02d}:{s:02d}] {text}")

    def _blocked(self, arm: Arm) -> str | None:
        bad = [r for r in arm.refs() if r in self.failed]
        return f"needs @{bad[0]}, which failed" if bad else None

    def _run(self, arm: Arm, stage: str, cmd: list[str]) -> dict[str, Any]:
        shown = shlex.join(cmd)
        if self.dry_run:
            self.say(shown)
            return {"command": shown, "status": "dry-run"}
        log = self.layout.log(arm, stage)
        entry: dict[str, Any] = {"command": shown, "log": self.layout.rel(log), "started": now(),
                                 "load_average_start": load_average()}
        t = time.monotonic()
        rc = self.runner(executable(cmd), self.layout.root, log)
        entry.update(finished=now(), wall_s=round(time.monotonic() - t, 1), load_average_end=load_average(),
                     status="ok" if rc == 0 else "failed")
        if rc != 0:
            entry["error"] = f"exit status {rc}: {log_tail(log, self.layout.root)}"
        return entry

    def _record(self, arm: Arm, stage: str, entry: dict[str, Any]) -> None:
        if self.dry_run:
            return
        path = self.layout.record(arm)
        rec = read_json(path) or {"claim": arm.claim, "arm": arm.name, "model": arm.model}
        entry.update(commit=git_commit(self.layout.root), uncommitted_changes=uncommitted(self.layout.root))
        rec[stage] = entry
        rec["commit"] = rec.get("train", entry).get("commit")  # the code the arm was trained (else scored) with
        config = read_json(self.layout.train_dir(arm) / "config.json") if arm.train is not None else {}
        entry["machine"] = machine(config.get("threads"))
        rec["machine"] = rec.get("train", entry).get("machine")
        write_json(path, rec)

    def train(self, arm: Arm) -> None:
        """Train one arm (resuming its directory); a failure is recorded and remembered."""
        if arm.train is None:
            return
        blocked = self._blocked(arm)
        if blocked:
            self.failed[arm.key] = blocked
            self.progress(f"{arm.key}: not trained ({blocked})")
            return
        out = self.layout.train_dir(arm)
        before = sha256(out / "checkpoint.pt")
        cmd = train_command(self.claims, arm, self.layout, self.out_dirs)
        if before and not self.dry_run and finished(read_json(self.layout.record(arm)).get("train", {}), cmd, before):
            self.progress(f"{arm.key}: already trained (recorded, checkpoint unchanged)")
            return  # not even `--resume`: the trainer would rewrite checkpoint.pt and force a re-score
        self.progress(f"{arm.key}: training{' (resuming)' if before else ''}")
        entry = self._run(arm, "train", cmd)
        if entry["status"] == "failed":
            self.failed[arm.key] = entry["error"]
            self.progress(f"{arm.key}: training FAILED ({entry['error']})")
        elif entry["status"] == "ok":
            entry["steps"] = last_step(out)
            entry["checkpoint_sha256"] = sha256(out / "checkpoint.pt")
            old = read_json(self.layout.record(arm)).get("train", {})
            if before == entry["checkpoint_sha256"] and old.get("checkpoint_sha256") == before:
                self.progress(f"{arm.key}: already trained ({entry['steps']} steps)")
                return  # a resumed, finished training: the record keeps the time it took
            if before == entry["checkpoint_sha256"]:
                entry["note"] = "trained before this record was written: wall time is the resume's only"
            elif before:
                entry["note"] = "resumed from an earlier, unfinished training: wall time is this part's only"
            self.progress(f"{arm.key}: trained ({entry['steps']} steps, {entry['wall_s']:.0f} s)")
        self._record(arm, "train", entry)

    def evaluate(self, claim: Claim, arm: Arm) -> None:
        """Score one model arm on the claim's suite, unless the same evaluation already finished."""
        blocked = self._blocked(arm) or (self.failed.get(arm.key) and "its training failed")
        if blocked:
            self.failed.setdefault(f"{arm.key}:eval", blocked)
            self.progress(f"{arm.key}: not evaluated ({blocked})")
            return
        cmd = eval_command(self.claims, claim, arm, self.layout, self.out_dirs)
        used = [arm.key] * (arm.train is not None) + arm.refs()  # its own and every referenced checkpoint
        checkpoints = {k: sha256(self.layout.train_dir(self.claims.arm(k, arm.key)) / "checkpoint.pt") for k in used}
        stamp = self.layout.eval_parent(claim.name) / f"{arm.name}.done.json"
        suite = self.claims.path.parent / claim.suite
        state = {"command": shlex.join(cmd), "checkpoints_sha256": checkpoints, "suite_sha256": sha256(suite)}
        if not self.dry_run and read_json(stamp) == state:
            self.progress(f"{arm.key}: already evaluated")
            return
        self.progress(f"{arm.key}: evaluating")
        entry = self._run(arm, "eval", cmd)
        if entry["status"] == "failed":
            self.failed[f"{arm.key}:eval"] = entry["error"]
            self.progress(f"{arm.key}: evaluation FAILED ({entry['error']})")
        elif entry["status"] == "ok":
            write_json(stamp, state)
            self.progress(f"{arm.key}: evaluated ({entry['wall_s']:.0f} s)")
        self._record(arm, "eval", entry)
