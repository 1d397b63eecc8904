"""Packaging: pyproject.toml's dependency ranges against requirements/lock.txt's exact pins,
the benchmark suites shipped as package data, and (slow) the built wheel installed into
fresh venvs and run from outside the repository."""

from __future__ import annotations

import csv
import fnmatch
import importlib.util
import json
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from colorbench.errors import ColorbenchError
from colorbench.evaluation import suites
from colorbench.evaluation.suite_files import BUILTIN_DIR

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements" / "lock.txt"
# The platforms the lock covers (the project machines: Linux, Python 3.11) and the torch /
# torchvision builds that lie on their disk.
PLATFORMS = {m: {"platform_machine": m, "sys_platform": "linux", "platform_system": "Linux",
                 "python_version": "3.11", "python_full_version": "3.11.7"} for m in ("x86_64", "aarch64")}
DISK_TORCH = {"x86_64": ("2.14.1", "0.29.1"), "aarch64": ("2.9.1", "0.24.1")}


def declared(pyproject: str) -> list[Requirement]:
    """[project].dependencies and the dev extra."""
    project = tomllib.loads(pyproject)["project"]
    return [Requirement(r) for r in [*project["dependencies"], *project["optional-dependencies"]["dev"]]]


def lock_pins(lock: str, env: dict[str, str]) -> tuple[dict[str, Version], list[str]]:
    """Name → pinned version of the lock lines whose marker holds in ``env``, and problems."""
    pins: dict[str, Version] = {}
    bad = []
    for line in (s.strip() for s in lock.splitlines()):
        if not line or line.startswith("#"):
            continue
        req = Requirement(line)
        specs = list(req.specifier)
        if len(specs) != 1 or specs[0].operator != "==":
            bad.append(f"lock: {line!r} is not an exact pin")
        elif req.marker is None or req.marker.evaluate(env):
            name = canonicalize_name(req.name)
            if name in pins:
                bad.append(f"lock: {name} pinned twice for {env['platform_machine']}")
            pins[name] = Version(specs[0].version)
    return pins, bad


def problems(pyproject: str, lock: str) -> list[str]:
    """What makes the ranges and the lock disagree (empty: they agree)."""
    reqs = declared(pyproject)
    out = [f"{r.name}: pinned in pyproject ({r}); pins belong in the lock" for r in reqs
           if any(s.operator in ("==", "===") for s in r.specifier)]
    out += [f"{r.name}: no lower bound in pyproject ({r})" for r in reqs
            if not any(s.operator in (">=", ">", "~=", "==", "===") for s in r.specifier)]
    for machine, env in PLATFORMS.items():
        pins, bad = lock_pins(lock, env)
        out += bad
        for r in reqs:
            if r.marker is not None and not r.marker.evaluate({**env, "extra": "dev"}):
                continue
            version = pins.get(canonicalize_name(r.name))
            if version is None:
                out.append(f"{r.name}: not in the lock ({machine})")
            elif not r.specifier.contains(version, prereleases=True):
                out.append(f"{r.name}: lock has {version}, outside {r.specifier} ({machine})")
    return out


@pytest.fixture(scope="module")
def texts() -> tuple[str, str]:
    return (ROOT / "pyproject.toml").read_text(encoding="utf-8"), LOCK.read_text(encoding="utf-8")


def test_ranges_in_pyproject_and_exact_pins_in_the_lock_agree(texts) -> None:
    assert problems(*texts) == []


def test_lock_pins_the_torch_builds_on_the_machines_disk(texts) -> None:
    for machine, (torch, torchvision) in DISK_TORCH.items():
        pins, _ = lock_pins(texts[1], PLATFORMS[machine])
        assert (str(pins["torch"]), str(pins["torchvision"])) == (torch, torchvision), machine


def test_a_repinned_dependency_is_caught(texts) -> None:
    pyproject, lock = texts
    locked = lock_pins(lock, PLATFORMS["x86_64"])[0]["numpy"]
    repinned = re.sub(r'"numpy>=[^"]*"', f'"numpy=={locked}"', pyproject)
    assert repinned != pyproject
    assert problems(repinned, lock) == [f"numpy: pinned in pyproject (numpy=={locked}); pins belong in the lock"]


def test_a_package_dropped_from_the_lock_is_caught(texts) -> None:
    pyproject, lock = texts
    no_scipy = "\n".join(s for s in lock.splitlines() if not s.startswith("scipy=="))
    assert problems(pyproject, no_scipy) == ["scipy: not in the lock (x86_64)", "scipy: not in the lock (aarch64)"]
    no_arm_torch = "\n".join(s for s in lock.splitlines() if not (s.startswith("torch==") and "== \"aarch64\"" in s))
    assert problems(pyproject, no_arm_torch) == ["torch: not in the lock (aarch64)"]


def test_a_lock_version_outside_its_range_or_not_exact_is_caught(texts) -> None:
    pyproject, lock = texts
    old = "\n".join("pillow==9.5.0" if s.startswith("pillow==") else s for s in lock.splitlines())
    assert [p.split(",")[0] for p in problems(pyproject, old)] == ["pillow: lock has 9.5.0"] * 2
    loose = "\n".join("rich>=13" if s.startswith("rich==") else s for s in lock.splitlines())
    assert "lock: 'rich>=13' is not an exact pin" in problems(pyproject, loose)


def freeze_to_lock():
    spec = importlib.util.spec_from_file_location("freeze_to_lock", ROOT / "requirements" / "freeze_to_lock.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_freeze_to_lock_marks_the_platform_build_and_keeps_the_other_platforms_pins(texts) -> None:
    tool = freeze_to_lock()
    old = ['torch==2.9.1; platform_machine == "aarch64"', 'torch==2.0.0; platform_machine != "aarch64"', "numpy==1.0"]
    freeze = ["torch==2.14.1", "Nvidia_Cublas==13.1", "NumPy==2.4.6", "pip==26.3", "triton==3.8.0"]
    assert tool.lock_lines(freeze, old, "x86_64") == [
        "numpy==2.4.6", 'nvidia-cublas==13.1; platform_machine != "aarch64"',
        'torch==2.14.1; platform_machine != "aarch64"', 'torch==2.9.1; platform_machine == "aarch64"',
        'triton==3.8.0; platform_machine != "aarch64"']
    assert tool.lock_lines(["torch==2.9.1"], old, "aarch64") == [
        'torch==2.0.0; platform_machine != "aarch64"', 'torch==2.9.1; platform_machine == "aarch64"']
    with pytest.raises(SystemExit, match="not NAME==VERSION"):
        tool.lock_lines(["colorbench @ file:///src"], [], "x86_64")
    # the committed lock is what the tool writes from its own x86_64 pins (markers dropped)
    lines = [s for s in texts[1].splitlines() if s and not s.startswith("#")]
    x86 = [s.split(";")[0] for s in lines if '== "aarch64"' not in s]
    assert tool.lock_lines(x86, lines, "x86_64") == lines


# ------------------------------------------------------------------ suites as package data
def test_builtin_suites_ship_as_package_data() -> None:
    package = ROOT / "colorbench"
    assert package / "benchmarks" == BUILTIN_DIR
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["package-data"]
    files = sorted(p.relative_to(package).as_posix() for p in BUILTIN_DIR.iterdir())
    assert {"quick.yaml", "cpu-real.yaml", "paper-ccc.yaml", "_shipped_models.yaml"} <= {Path(f).name for f in files}
    assert all(any(fnmatch.fnmatch(f, g) for g in globs["colorbench"]) for f in files)


def test_builtin_suites_are_found_from_any_directory(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COLORBENCH_BENCHMARKS", raising=False)
    found = suites.available()
    assert {"quick", "cpu-real", "paper-ccc"} <= set(found)
    assert {p.parent for p in found.values()} == {BUILTIN_DIR}


def test_a_suite_in_dot_benchmarks_wins_and_includes_builtin_fragments(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COLORBENCH_BENCHMARKS", raising=False)
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "quick.yaml").write_text(
        "version: 2\ninclude: [_shipped_models, cpu-real.yaml]\ndatasets: [samples]\n", encoding="utf-8")
    mine = suites.load("quick")
    assert mine.path == tmp_path / "benchmarks" / "quick.yaml" and mine.version == "2"
    assert mine.files[1:] == [str(BUILTIN_DIR / "_shipped_models.yaml"), str(BUILTIN_DIR / "cpu-real.yaml"),
                              str(BUILTIN_DIR / "_shipped_models.yaml"), str(BUILTIN_DIR / "_weight_free_metrics.yaml")]
    assert [m.name for m in mine.models] == [m.name for m in suites.load(str(BUILTIN_DIR / "quick.yaml")).models]
    assert [d.name for d in mine.datasets] == ["samples"]


def test_an_unknown_include_names_where_it_looked(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    suite = tmp_path / "mine.yaml"
    suite.write_text("include: _no_such_fragment\ndatasets: [samples]\nmodels: [gray]\n", encoding="utf-8")
    with pytest.raises(ColorbenchError, match="include '_no_such_fragment': no such file") as err:
        suites.load(str(suite))
    assert str(BUILTIN_DIR) in str(err.value) and str(tmp_path) in str(err.value)


# ------------------------------------------------------------------ the wheel (slow)
API_EXAMPLE = """
import json, colorbench, torch
gt = torch.randint(0, 256, (2, 3, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
scores = colorbench.score(gt.flip(-1), gt, metrics=["mse", "cpsnr"], ids=["a", "b"])
print(json.dumps({"version": colorbench.__version__, "file": colorbench.__file__, "torch": torch.__version__,
                  "metrics": colorbench.list_metrics(), "frame": type(scores.per_image).__module__,
                  "status": scores.per_image["status"].tolist(), "n": scores.summary["n"]}))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """colorbench's wheel, built from a copy of the sources (the repo gets no build/)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "dist")
    for part in ("colorbench", "plugins"):
        shutil.copytree(ROOT / part, src / part, ignore=skip)
    for part in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / part, src / part)
    sh([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
        "--wheel-dir", str(tmp / "dist"), str(src)], tmp)
    (built,) = (tmp / "dist").glob("colorbench-*.whl")
    return built


def sh(cmd: list[str], cwd: Path, timeout: int = 1800) -> str:
    """Run outside the repo with nothing of it on sys.path; fail with the output's tail."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    res = subprocess.run(cmd, cwd=cwd, env={**env, "COLORBENCH_OFFLINE": "1"}, capture_output=True,
                         text=True, timeout=timeout)
    assert res.returncode == 0, f"{' '.join(cmd)}\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    return res.stdout


def fresh_venv(path: Path) -> Path:
    sh([sys.executable, "-m", "venv", str(path)], path.parent)
    return path / "bin"


def run_quick(bin_dir: Path, work: Path) -> dict:
    """`colorbench run --benchmark quick` (2 images per model) and the Python API example,
    from ``work``; checks the suite came from the installed package and every row is ok."""
    sh([str(bin_dir / "colorbench"), "run", "--benchmark", "quick", "--limit", "2", "--size", "64",
        "--workers", "0", "--out", str(work / "runs"), "--quiet"], work)
    manifest = json.loads((work / "runs" / "quick" / "run.json").read_text(encoding="utf-8"))
    site = next((bin_dir.parent / "lib").glob("python3*/site-packages"))
    assert Path(manifest["config"]["benchmark"]["path"]).parent == site / "colorbench" / "benchmarks"
    with open(work / "runs" / "quick" / "per_image.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    quick = suites.load(str(BUILTIN_DIR / "quick.yaml"))
    assert sorted({r["model"] for r in rows}) == sorted(m.name for m in quick.models)
    assert len(rows) == 2 * len(quick.models) and {r["status"] for r in rows} == {"ok"}
    api = json.loads(sh([str(bin_dir / "python"), "-c", API_EXAMPLE], work).strip().splitlines()[-1])
    assert Path(api["file"]).is_relative_to(site) and {"cpsnr", "ssim", "colorfulness"} <= set(api["metrics"])
    assert api["frame"].startswith("pandas") and api["status"] == ["ok", "ok"] and api["n"] == 2
    assert api["version"] == tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    # docs/api.md's examples, in order, as one script of the installed package (their asserts hold)
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "api.md").read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 6
    (work / "api_examples.py").write_text("\n".join(blocks), encoding="utf-8")
    sh([str(bin_dir / "python"), str(work / "api_examples.py")], work)
    assert (work / "runs" / "api-demo" / "summary.csv").is_file()
    return api


needs_lock_platform = pytest.mark.skipif(
    sys.platform != "linux" or platform.machine() not in PLATFORMS or sys.version_info[:2] != (3, 11),
    reason="the lock's pins are for Linux x86_64/aarch64, Python 3.11")


@pytest.mark.slow
@needs_lock_platform
def test_wheel_installs_with_the_lock_into_a_fresh_venv_and_runs_quick(wheel: Path, tmp_path: Path) -> None:
    bin_dir = fresh_venv(tmp_path / "venv")
    sh([str(bin_dir / "python"), "-m", "pip", "install", "--quiet", str(wheel), "-c", str(LOCK)], tmp_path)
    api = run_quick(bin_dir, tmp_path)
    assert api["torch"].split("+")[0] == DISK_TORCH[platform.machine()][0]
    sh([str(bin_dir / "python"), "-m", "pip", "check"], tmp_path)
    # everything the wheel pulled in is locked, at the locked version
    pins, _ = lock_pins(LOCK.read_text(encoding="utf-8"), PLATFORMS[platform.machine()])
    installed = dict(line.split("==") for line in sh([str(bin_dir / "python"), "-m", "pip", "freeze",
                                                        "--exclude", "colorbench"], tmp_path).split())
    assert {canonicalize_name(n): Version(v) for n, v in installed.items()} == {
        n: v for n, v in pins.items() if canonicalize_name(n) in {canonicalize_name(k) for k in installed}}
    assert len(installed) > 40


# A torch/torchvision pair inside the range but not the lock's, e.g. the oldest supported
# "torch==2.5.1 torchvision==0.20.1" (a ~2.5 GB download from PyPI). Opt-in: the project
# machines' disk holds no other working pair (its torch 2.13.0+cpu has no CPU torchvision).
OTHER_TORCH = os.environ.get("COLORBENCH_TEST_OTHER_TORCH", "")


@pytest.mark.slow
@needs_lock_platform
@pytest.mark.skipif(not OTHER_TORCH, reason="set COLORBENCH_TEST_OTHER_TORCH='torch==2.5.1 torchvision==0.20.1'")
def test_wheel_keeps_the_torch_an_environment_already_has(wheel: Path, tmp_path: Path) -> None:
    """An environment with another torch inside the range ($COLORBENCH_TEST_OTHER_TORCH)
    keeps it: pip installs only what is missing."""
    bin_dir = fresh_venv(tmp_path / "venv")
    pip = [str(bin_dir / "python"), "-m", "pip", "install", "--quiet"]
    sh([*pip, *OTHER_TORCH.split()], tmp_path)
    before = sh([str(bin_dir / "python"), "-c", "import torch; print(torch.__version__)"], tmp_path).strip()
    assert Version(before) != Version(DISK_TORCH[platform.machine()][0])
    sh([*pip, str(wheel)], tmp_path)  # no lock: its pins of torch's own dependencies (sympy) would move torch
    assert run_quick(bin_dir, tmp_path)["torch"] == before
