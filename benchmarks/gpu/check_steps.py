"""The GPU check's evaluation steps (training is check_train.py): each takes the Check and
returns an Outcome. Evaluations run the CPU leaderboards' suite (colorbench/benchmarks/cpu-real.yaml)
on the bundle's copy of its held-out images (COLORBENCH_DATA=BUNDLE/data)."""

from __future__ import annotations

import csv
import importlib
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

import check_parity
import check_train
import tomllib
from check_core import ROOT, Check, Outcome, within_root

SUITE = "cpu-real"
# import name -> distribution: the packages the bundle brings (prepare.py) and colorbench's own
BUNDLED = {"lpips": "lpips", "torch_fidelity": "torch-fidelity", "segment_anything": "segment-anything",
           "imblearn": "imbalanced-learn", "pycocotools.mask": "pycocotools", "sklearn_compat": "sklearn-compat"}


def _reserve(check: Check) -> float:
    """Seconds the evaluation steps before training keep for training and what follows."""
    models = len(check.shared.get("models", ()))
    return models * check_train.RESERVE_PER_MODEL + check_train.RESERVE_AFTER_TRAINING


def env(check: Check) -> Outcome:
    import importlib.metadata as md

    import torch

    from colorbench.plugin import manager as plugins

    data: dict[str, Any] = {"python": platform.python_version(), "torch": torch.__version__,
                            "cuda": torch.version.cuda, "device": check.device, "cpus": os.cpu_count(), "packages": {}}
    problems = []
    if check.device.startswith("cuda"):
        if not torch.cuda.is_available():
            problems.append("CUDA is not available")
        else:
            props = torch.cuda.get_device_properties(0)
            data.update(device_name=props.name, capability=f"{props.major}.{props.minor}",
                        memory_gib=round(props.total_memory / 2**30, 1), bf16=torch.cuda.is_bf16_supported(),
                        cudnn=torch.backends.cudnn.version(), gpus=torch.cuda.device_count())
            if not data["bf16"]:
                problems.append("no bfloat16 on this GPU")
    for module, dist in BUNDLED.items():
        try:
            importlib.import_module(module)
            data["packages"][dist] = md.version(dist)
        except Exception as exc:
            problems.append(f"{module}: {type(exc).__name__}: {exc}")
    import colorbench

    data["colorbench"] = str(within_root(Path(colorbench.__file__).parent))
    if Path(data["colorbench"]).is_absolute():
        problems.append(f"colorbench is imported from {data['colorbench']}, not from this checkout")
    regs = plugins.load()
    expected = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]["colorbench"])
    loaded = {p.name for p in regs.plugins if not p.error}
    problems += regs.problems + [f"plugin {n!r} not found (entry points not installed?)" for n in sorted(expected - loaded)]
    data["plugins"] = sorted(loaded)
    detail = f"torch {torch.__version__}, {data.get('device_name', check.device)}, {len(loaded)} plugins"
    return Outcome("fail" if problems else "pass", "; ".join(problems) or detail, data)


def suite_run(check: Check, name: str, device: str, limit: int | None = None, extra: tuple[str, ...] = (),
              launcher: tuple[str, ...] = (sys.executable, "-m", "colorbench")) -> list[str]:
    """The ``colorbench run --benchmark cpu-real`` command into WORK/runs/NAME; the suite saves
    the outputs as PNG (the leaderboards' contact sheets), not wanted for ``--limit`` runs."""
    images = ["--no-save-images"] if limit else []
    if check.smoke:
        limit = limit or 3
    cmd = [*launcher, "run", "--benchmark", SUITE, "--out", str(check.work / "runs"), "--name", name,
           "--device", device, "--quiet", "--workers", str(min(check.args.workers, 8)), *images, *extra]
    cmd += ["--size", "64"] if check.smoke else []
    return cmd + (["--limit", str(limit)] if limit else [])


def run_dir(check: Check, name: str) -> Path:
    return check.work / "runs" / name


def summary(path: Path) -> list[dict[str, Any]]:
    """summary.csv as dicts (numbers as floats)."""
    if not (path / "summary.csv").exists():
        return []
    with open(path / "summary.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [{k: (float(v) if k not in ("dataset", "model") and v not in ("", None) else v or None)
             for k, v in r.items()} for r in rows]


def _evaluate(check: Check, name: str, cmd: list[str], cap: float, reserve: float) -> Outcome:
    proc = check.sh(name, cmd, check.timeout(cap, reserve))
    rows = summary(run_dir(check, name))
    failed = [f"{r['dataset']}/{r['model']}" for r in rows if r.get("n_failed") or not r.get("n")]
    data = {"run_dir": str(run_dir(check, name)), "seconds": proc.seconds, "summary": rows}
    if proc.rc != 0 or failed or not rows:
        why = "timed out" if proc.timed_out else f"exit {proc.rc}"
        return Outcome("fail", f"{why}; failed pairs: {', '.join(failed) or '-'}; {proc.tail()}", data)
    images = sum(r["n"] for r in rows)
    return Outcome("pass", f"{len(rows)} (dataset, model) pairs, {images:.0f} images, {proc.seconds:.0f} s", data)


def eval_device(check: Check) -> Outcome:
    return _evaluate(check, "shipped", suite_run(check, "shipped", check.device), 180, _reserve(check))


def decode(check: Check) -> Outcome:
    """images/s of CPU-worker decoding against --decode-device (decode_bench.py) on the
    bundled JPEGs; passes when both paths prepare the same images without new failures."""
    folders = [str(check.bundle / "data" / n) for n in ("imagenet-sample", "cbsd68") if (check.bundle / "data" / n).is_dir()]
    out = check.work / "decode.json"
    size = ["--limit", "6", "--rounds", "1", "--batch-size", "4", "--size", "64"] if check.smoke else ["--limit", "512"]
    cmd = [sys.executable, str(Path(__file__).with_name("decode_bench.py")), *folders, "--device", check.device,
           "--workers", str(check.args.workers), "--out", str(out), *size]
    proc = check.sh("decode", cmd, check.timeout(90, _reserve(check)))
    if proc.rc != 0 or not out.is_file():
        return Outcome("fail", f"exit {proc.rc}; {proc.tail()}", {"seconds": proc.seconds})
    data = json.loads(out.read_text())
    check.shared["decode"] = data
    rows = data["rows"]
    worse = [r["dataset"] for r in rows if r["failed"]["device"] > r["failed"]["cpu"] or not r["images"]]
    detail = "; ".join(f"{r['dataset']}: {r['cpu_images_per_s']:.0f} -> {r['device_images_per_s']:.0f} img/s "
                       f"({r['ratio']:.2f}x), pixels within {r['max_level_diff']}" for r in rows)
    return Outcome("fail" if worse or not rows else "pass", (f"failures only on the device: {worse}; " if worse else "")
                   + detail, data)


def _parity(check: Check, name: str, cmd: list[str], ref: str, tol: check_parity.Tolerance, cap: float) -> Outcome:
    ran = _evaluate(check, name, cmd, cap, _reserve(check))
    if ran.status != "pass":
        return ran
    ref_csv = run_dir(check, ref) / "per_image.csv"
    if not ref_csv.exists():
        return Outcome("fail", f"no reference rows ({ref} did not run)", ran.data)
    result = check_parity.compare(ref_csv, run_dir(check, name) / "per_image.csv", tol)
    return Outcome("pass" if result["passed"] else "fail", f"vs {ref}: {check_parity.describe(result)}",
                   {**ran.data, "parity": result})


def parity_cpu(check: Check) -> Outcome:
    cmd = suite_run(check, "parity-cpu", "cpu", check.args.parity_limit)
    tol = check_parity.STRICT if check.device == "cpu" else check_parity.DEFAULT  # --smoke: CPU against CPU
    return _parity(check, "parity-cpu", cmd, "shipped", tol, 150)


def parity_strict(check: Check) -> Outcome:
    launcher = (sys.executable, str(Path(__file__).with_name("no_tf32.py")))
    cmd = suite_run(check, "parity-strict", check.device, check.args.parity_limit, launcher=launcher)
    return _parity(check, "parity-strict", cmd, "parity-cpu", check_parity.STRICT, 90)


def eval_bf16(check: Check) -> Outcome:
    """bf16 autocast: every row scored and finite; the gap to fp32 is reported, not judged."""
    name = "bf16"
    cmd = suite_run(check, name, check.device, check.args.parity_limit, extra=("--precision", "bf16"))
    ran = _evaluate(check, name, cmd, 90, _reserve(check))
    if ran.status != "pass":
        return ran
    from colorbench.results.files import read_json

    precision = read_json(run_dir(check, name) / "run.json").get("precision")
    gap = check_parity.compare(run_dir(check, "shipped") / "per_image.csv", run_dir(check, name) / "per_image.csv",
                               check_parity.DEFAULT)
    ok = precision == "bf16"
    return Outcome("pass" if ok else "fail", f"precision {precision}; vs fp32 (reported, not judged): "
                   f"{check_parity.describe(gap)}", {**ran.data, "vs_fp32": gap})


def torchrun(check: Check) -> Outcome:
    """2 processes (sharded evaluation; on one GPU both ranks share it) must give the
    one-process rows of the same device; run.json records the world size."""
    launcher = (sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                "-m", "colorbench")
    cmd = suite_run(check, "torchrun", check.device, check.args.parity_limit, launcher=launcher)
    outcome = _parity(check, "torchrun", cmd, "shipped", check_parity.STRICT, 150)
    manifest = run_dir(check, "torchrun") / "run.json"
    world = json.loads(manifest.read_text()).get("environment", {}).get("world_size") if manifest.is_file() else None
    if outcome.status == "pass" and world != 2:
        return Outcome("fail", f"run.json says world_size {world}, not 2; " + outcome.detail, outcome.data)
    return outcome


def gpu_tests(check: Check) -> Outcome:
    cmd = [sys.executable, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider", "tests/test_cuda_paths.py"]
    proc = check.sh("gpu-tests", cmd, check.timeout(120, _reserve(check)))
    last = proc.last_line().strip("= ")
    return Outcome("pass" if proc.rc == 0 else "fail", last, {"seconds": proc.seconds})


def eval_trained(check: Check) -> Outcome:
    trained = check.shared.get("trained", {})
    if not trained:
        return Outcome("fail", "no model was trained")
    extra = ("--models", ",".join(trained), *(a for m, p in trained.items() for a in ("--checkpoint", f"{m}={p}")))
    return _evaluate(check, "trained", suite_run(check, "trained", check.device, extra=extra), 150, 20)


def leaderboard(check: Check) -> Outcome:
    runs = [str(run_dir(check, n)) for n in ("shipped", "trained") if (run_dir(check, n) / "run.json").exists()]
    if not runs:
        return Outcome("fail", "no evaluation run to rank")
    proc = check.sh("leaderboard", [sys.executable, "-m", "colorbench", "leaderboard", *runs, "--out",
                                    str(check.out)], check.timeout(120, 5))
    pages = sorted(p.name for p in check.out.glob("*.md") if p.name not in ("README.md", "perf.md"))
    ok = proc.rc == 0 and "index.md" in pages
    return Outcome("pass" if ok else "fail", f"{', '.join(pages)}" if ok else proc.tail(), {"pages": pages})
