"""The GPU check's training steps: every trainable colorizer with its ``paper`` config (the
paper's architecture and resolution) in bf16 on the bundle's imagenet-sample train split,
for a time budget (train_timed.py: a short probe, then the steps that fill the budget).

The budget of each model is ``--train-seconds``, or less when the deadline is near: what is
left (less RESERVE_AFTER_TRAINING for the evaluation and leaderboard after training) is
shared by the models still to train, less each one's start-up, data preparation and probe
(``--train-overhead`` at first, then the largest measured so far)."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

from check_core import Check, Outcome

RESERVE_PER_MODEL = 40.0  # what evaluation steps before training leave for each model
RESERVE_AFTER_TRAINING = 75.0  # eval-trained (5 models x the held-out sets) and leaderboard
# What the check changes in each paper config (colorbench train --set) and why:
COMMON_SETS: dict[str, Any] = {"save_every": 0, "val_every": 0}  # checkpoint/validate at each stage's end only
MODEL_SETS: dict[str, dict[str, Any]] = {
    "ccc": {"val_images": 64},  # paper 500: validation is not what is measured
    "gan": {"val_images": 64, "pretrained_encoder": False},  # paper 256; the offline machine lacks the ImageNet file
    "profile": {"val_images": 64},
    "router": {"label_workers": None},  # None: --workers (the labelling run decodes in parallel)
    "semantic": {"labels": "pseudo", "val_images": 32},  # image folders have no semantic maps
}
# The probe only measures step times: a smaller data preparation will do.
PROBE_SETS: dict[str, dict[str, Any]] = {"ccc": {"fit_images": 64}, "router": {"label_limit": 64},
                                         "semantic": {"pseudo_fit_images": 32}}


def trainable(names: str | None) -> list[str]:
    """The registered colorizers that train (``names``: a comma-separated subset)."""
    from colorbench.plugin import manager as plugins

    every = [s.name for s in plugins.load().colorizers if s.trainable]
    if not names:
        return every
    wanted = [n for n in names.split(",") if n]
    unknown = [n for n in wanted if n not in every]
    if unknown:
        raise SystemExit(f"--models {','.join(unknown)}: not trainable (trainable: {', '.join(every)})")
    return wanted


def test_config_file(model: str, path: Path) -> Path:
    """The model's test variant (the contract tests' ``test_config`` + ``test_overrides``) as
    a ``colorbench train --config`` YAML file."""
    import yaml

    from colorbench.plugin import manager as plugins

    spec = plugins.load().colorizers.get(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"base": spec.test_config, **dict(spec.test_overrides)}))
    return path


def _config(check: Check, model: str) -> str:
    """``paper``; with --smoke the model's test variant."""
    return str(test_config_file(model, check.work / "configs" / f"{model}.yaml")) if check.smoke else "paper"


def _sets(check: Check, table: dict[str, Any]) -> list[str]:
    out = []
    for key, value in table.items():
        if value is None and key == "label_workers":
            value = check.args.workers
        if key == "val_images" and check.smoke:
            value = 2
        text = str(value).lower() if isinstance(value, bool) else value  # --set reads true/false
        out += ["--set", f"{key}={text}"]
    return out


def command(check: Check, model: str, budget: float) -> list[str]:
    out = check.work / "train" / model
    probe = [] if check.smoke else [a for k, v in PROBE_SETS.get(model, {}).items() for a in ("--probe-set", f"{k}={v}")]
    peak = [] if check.smoke else ["--peak-tflops", str(check.args.peak_tflops)]
    return [sys.executable, str(Path(__file__).with_name("train_timed.py")), model, "--budget", f"{budget:.1f}",
            "--probe-steps", str(check.args.probe_steps), "--out", str(out), "--report", str(out / "timing.json"),
            *peak, *probe, "--", "--dataset", str(check.bundle / "data" / "imagenet-sample"),
            "--config", _config(check, model), "--precision", "bf16", "--device", check.device,
            "--workers", str(check.args.workers), *_sets(check, {**COMMON_SETS, **MODEL_SETS.get(model, {})})]


def _last_log_row(train_dir: Path) -> dict[str, str]:
    import csv

    path = train_dir / "train_log.csv"
    if not path.exists():
        return {}
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return rows[-1] if rows else {}


def _problems(report: dict[str, Any], train_dir: Path) -> list[str]:
    """What makes a finished training run unconvincing."""
    problems = []
    for s in report.get("train", {}).get("stages", []):
        if not s.get("steps") or not (s.get("images_per_s") or 0) > 0:
            problems.append(f"stage {s['stage']}: no timed steps")
        if not (s.get("flops_per_step") or 0) > 0:
            problems.append(f"stage {s['stage']}: no FLOPs counted")
    row = _last_log_row(train_dir)
    bad = [k for k, v in row.items() if k not in ("stage", "step", "epoch") and v and not math.isfinite(float(v))]
    if not row:
        problems.append("no train_log.csv row")
    if bad:
        problems.append(f"non-finite {', '.join(bad)} in the last train_log.csv row")
    config = json.loads((train_dir / "config.json").read_text()) if (train_dir / "config.json").exists() else {}
    if config.get("precision") != "bf16":
        problems.append(f"trained in {config.get('precision')}, not bf16")
    return problems


def train_model(check: Check, model: str, models: list[str]) -> Outcome:
    remaining = len(models) - models.index(model)
    left = check.left() - RESERVE_AFTER_TRAINING
    overhead = check.shared.get("train_overhead", check.args.train_overhead)
    budget = min(check.args.train_seconds, left / remaining - overhead)
    if budget < (0.5 if check.smoke else 3.0):
        return Outcome("fail", f"no time left: {left:.0f} s for {remaining} model(s) of ~{overhead:.0f} s overhead")
    cap = budget + 3 * overhead + 30
    proc = check.sh(f"train-{model}", command(check, model, budget),
                    check.timeout(cap, RESERVE_AFTER_TRAINING + (remaining - 1) * RESERVE_PER_MODEL))
    out = check.work / "train" / model
    report = json.loads((out / "timing.json").read_text()) if (out / "timing.json").exists() else {}
    data = {"budget_s": budget, "seconds": proc.seconds, "report": report}
    if proc.rc != 0 or report.get("status") != 0 or "train" not in report:
        why = "timed out" if proc.timed_out else f"exit {proc.rc}"
        return Outcome("fail", f"{why}: {proc.tail()}", data)
    train = report["train"]
    measured = proc.seconds - train["train_s"]
    check.shared["train_overhead"] = max(measured, check.shared.get("train_overhead", 0.0))
    problems = _problems(report, out / "train")
    if not problems:
        check.shared.setdefault("trained", {})[model] = train["checkpoint"]
    stages = "; ".join(f"{s['stage']} {s['images_per_s']:.0f} img/s" + (f" {s['tflops']:.3g} TFLOP/s" if s.get("tflops") else "")
                       + (f" {s['peak_mem_gib']:.1f} GiB" if s.get("peak_mem_gib") is not None else "")
                       for s in train["stages"] if s.get("steps"))
    detail = f"{train['steps']} steps, {train['train_s']:.1f} s of steps (budget {budget:.0f} s); {stages}"
    return Outcome("fail" if problems else "pass", "; ".join(problems) or detail, data)
