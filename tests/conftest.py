"""Shared fixtures: shared-data location, registries with temporary plugins, the CLI with
a controlled set of plugins, and helpers that write fixture images.

Tests of the harness never depend on what else happens to be installed: ``regs_with`` and
``cli`` load the three built-in plugins explicitly (entry points off; passed as built-in, so
they keep their names against test plugins) plus whatever test plugins a test passes. Only
the contract tests read the installed entry points on purpose.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import colorbench_datasets.plugin
import colorbench_gray.plugin
import colorbench_metrics_pixel.plugin
import numpy as np
import pytest
from PIL import Image

from colorbench.plugin import manager as plugins

# the ablation script's modules (benchmarks/ablations/ is a folder of scripts, not a package)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks" / "ablations"))

BUILTIN_PLUGINS: list[tuple[str, Any]] = [
    ("gray", colorbench_gray.plugin),
    ("datasets", colorbench_datasets.plugin),
    ("metrics_pixel", colorbench_metrics_pixel.plugin),
]


# Tests never reach for the internet: learned metrics report missing weights at once
# instead of probing the download URL (subprocesses inherit this).
os.environ.setdefault("COLORBENCH_OFFLINE", "1")

# `make test` runs one pytest worker per core: one torch thread each, or the workers'
# thread pools oversubscribe the cores (several times slower on 2 cores).
if os.environ.get("PYTEST_XDIST_WORKER"):
    import torch

    torch.set_num_threads(1)


# ------------------------------------------------------------------ shared data
def shared_data_dir() -> Path:
    env = os.environ.get("COLORBENCH_SHARED_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def shared_data(request: pytest.FixtureRequest) -> Path:
    """../shared/data (or $COLORBENCH_SHARED_DATA); skips when absent."""
    path = shared_data_dir()
    if not path.is_dir():
        pytest.skip(f"shared data not found at {path}")
    return path


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if shared_data_dir().is_dir():
        return
    skip = pytest.mark.skip(reason=f"shared data not found at {shared_data_dir()}")
    for item in items:
        if "shared_data" in item.keywords:
            item.add_marker(skip)


# -------------------------------------------------------------------- registries
def load_regs(extra: Iterable[tuple[str, Any]] = (), builtins: bool = True,
              disabled: Iterable[str] = ()) -> plugins.Registries:
    """Registries from the built-in plugin modules (no entry points) plus ``extra``."""
    base = BUILTIN_PLUGINS if builtins else []
    return plugins.load(disabled=disabled, builtin_plugins=base, extra_plugins=extra, entry_points=False)


@pytest.fixture
def regs_with() -> Callable[..., plugins.Registries]:
    """``regs_with(("name", module_or_obj), ...)``: built-ins plus temporary plugins."""

    def make(*extra: tuple[str, Any], builtins: bool = True, disabled: Iterable[str] = ()) -> plugins.Registries:
        return load_regs(extra, builtins=builtins, disabled=disabled)

    return make


class CLI:
    """Runs ``colorbench`` in-process (typer's CliRunner) with a controlled plugin set."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        import importlib

        from typer.testing import CliRunner

        # colorbench.cli re-exports the Typer object as ``app``, shadowing the module
        app_module = importlib.import_module("colorbench.cli.app")

        self.monkeypatch = monkeypatch
        self.extra: list[tuple[str, Any]] = []
        self.runner = CliRunner()
        self.app_module = app_module
        real_load = plugins.load

        def load(disabled: Iterable[str] = (), extra_plugins: Iterable[tuple[str, Any]] = (),
                 entry_points: bool = True, builtin_plugins: Iterable[tuple[str, Any]] = ()) -> plugins.Registries:
            return real_load(disabled=disabled, builtin_plugins=BUILTIN_PLUGINS, extra_plugins=self.extra,
                             entry_points=False)

        monkeypatch.setattr(plugins, "load", load)
        monkeypatch.setitem(app_module._state, "regs", {})
        monkeypatch.setitem(app_module._state, "disabled", [])
        monkeypatch.setenv("COLUMNS", "250")  # rich tables: no truncated cells

    def add_plugin(self, name: str, obj: Any) -> None:
        self.extra.append((name, obj))
        self.app_module._state["regs"].clear()

    def __call__(self, *args: str, ok: bool = True) -> Any:
        from colorbench.cli import app

        result = self.runner.invoke(app, [str(a) for a in args], catch_exceptions=False)
        if ok and result.exit_code != 0:
            raise AssertionError(f"colorbench {' '.join(map(str, args))} exited {result.exit_code}:\n"
                                 f"{result.output}")
        return result


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> CLI:
    return CLI(monkeypatch)


# ----------------------------------------------------------------------- images
def random_rgb(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A smooth-ish colourful RGB uint8 image (gradients plus noise)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 255 / max(w - 1, 1), yy * 255 / max(h - 1, 1),
                     np.full((h, w), rng.uniform(0, 255))], -1)
    noise = rng.normal(0, 20, (h, w, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def write_image(path: Path, rgb: np.ndarray | None = None, size: tuple[int, int] = (48, 40),
                seed: int = 0, **save_kw: Any) -> Path:
    """Write an RGB image (random when ``rgb`` is None; ``size`` = (w, h)); format from suffix."""
    if rgb is None:
        rgb = random_rgb(size[1], size[0], seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path, **save_kw)
    return path


def make_folder(root: Path, n: int, size: tuple[int, int] = (48, 40), ext: str = ".png") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        write_image(root / f"img{i:03d}{ext}", size=size, seed=i)
    return root


def colorbench_exe() -> list[str]:
    """The console script next to the running interpreter."""
    exe = Path(sys.executable).with_name("colorbench")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "colorbench"]


# ---------------------------------------------------------------------- weights
def pin_weights(monkeypatch: pytest.MonkeyPatch, owner: Any, attr: str, path: Path) -> Any:
    """Declare ``owner.attr`` (a ``Weights``) with the sha256 of ``path``: tests save random
    state dicts under a real cache name, which must pass the hash check to be loaded."""
    import dataclasses

    from colorbench.models.checkpoints import sha256

    pinned = dataclasses.replace(getattr(owner, attr), sha256=sha256(path))
    monkeypatch.setattr(owner, attr, pinned)
    return pinned


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own $COLORBENCH_CACHE (FID/KID reference statistics): nothing is
    written to the user's cache, and no test reads another's cached statistics."""
    monkeypatch.setenv("COLORBENCH_CACHE", str(tmp_path_factory.mktemp("cache")))
