"""Run directory files (per_image.csv, summary.csv, run.json) and resume: partial last
lines, config changes, crashes, and an end-to-end SIGKILL of `colorbench run`."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from conftest import colorbench_exe, load_regs, make_folder

from colorbench import ColorizerSpec, hookimpl
from colorbench.evaluation.runner import RunConfig, Runner
from colorbench.reporting import Reporter
from colorbench.results import FIXED_COLUMNS, PerImageWriter, read_rows

# A deterministic colorizer with non-trivial a*b*; sleeps when CB_TINT_SLEEP is set so a
# subprocess run can be killed part-way. Also loadable from a file (entry point test).
TINT_PLUGIN = textwrap.dedent('''
    import os, time
    import torch
    from colorbench import ColorizerSpec, hookimpl

    class Tint:
        def __init__(self, strength=1.0, checkpoint=None):
            self.strength = strength
            if checkpoint is not None:
                from colorbench.models.checkpoints import load_checkpoint
                self.strength = float(load_checkpoint(checkpoint)["strength"])

        def colorize(self, L):
            delay = float(os.environ.get("CB_TINT_SLEEP", "0"))
            if delay:
                time.sleep(delay)
            a = (L - 50.0) * 0.6 * self.strength
            b = torch.sin(L / 9.0) * 35.0 * self.strength
            return torch.cat([a, b], dim=1)

    @hookimpl
    def register_colorizers(register):
        from colorbench import Option
        register(ColorizerSpec(
            name="tint", description="deterministic test tint",
            factory=lambda device="cpu", checkpoint=None, strength=1.0, **kw: Tint(strength, checkpoint),
            options=(Option("strength", float, 1.0, "a*b* scale"),)))
''')


@pytest.fixture
def tint_module(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """The tint plugin as an importable module + an installed distribution (dist-info with
    a ``colorbench`` entry point) on sys.path / PYTHONPATH."""
    site = tmp_path_factory.mktemp("site")
    (site / "cb_tint_plugin.py").write_text(TINT_PLUGIN)
    dist = site / "cb_tint_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: cb-tint-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[colorbench]\ntint = cb_tint_plugin\n")
    monkeypatch.syspath_prepend(str(site))
    import importlib

    sys.modules.pop("cb_tint_plugin", None)
    module = importlib.import_module("cb_tint_plugin")
    yield site, module
    sys.modules.pop("cb_tint_plugin", None)


def run(tmp_path: Path, regs, **kw) -> Path:
    base = dict(models=["tint", "gray"], datasets=[str(tmp_path / "imgs")], metrics=["mse", "cpsnr"],
                size=32, batch_size=2, workers=0, out=str(tmp_path / "runs"), name="r")
    base.update(kw)
    return Runner(RunConfig(**base), regs, Reporter(quiet=True)).run().run_dir


def comparable(path: Path) -> dict[tuple[str, str, str], dict[str, str]]:
    """Rows keyed by (dataset, model, image_id), every column except seconds; asserts the
    file is well-formed CSV with no duplicate keys."""
    with open(path, newline="", encoding="utf-8") as f:
        lines = list(csv.reader(f))
    header, body = lines[0], lines[1:]
    assert all(len(r) == len(header) for r in body), "malformed line in per_image.csv"
    out = {}
    for r in body:
        row = dict(zip(header, r, strict=True))
        key = (row["dataset"], row["model"], row["image_id"])
        assert key not in out, f"duplicate key {key}"
        row.pop("seconds")
        out[key] = row
    return out


# ------------------------------------------------------------------- file shapes
def test_run_directory_files_and_columns(tmp_path: Path, tint_module) -> None:
    make_folder(tmp_path / "imgs", 5)
    run_dir = run(tmp_path, load_regs([("tint", tint_module[1])]))
    header, rows = read_rows(run_dir / "per_image.csv")
    assert header == ["dataset", "model", "image_id", "status", "error", "seconds", "failed_metrics", "source",
                      "mse", "cpsnr"]
    assert len(rows) == 10 and {r["model"] for r in rows} == {"tint", "gray"}
    assert all(r["dataset"] == "imgs" and r["status"] == "ok" and float(r["seconds"]) >= 0 for r in rows)

    with open(run_dir / "summary.csv", newline="") as f:
        summary = list(csv.DictReader(f))
    assert list(summary[0]) == ["dataset", "model", "n", "n_failed", "mse", "mse_ci95", "mse_n", "mse_n_inf",
                                "mse_n_nan", "cpsnr", "cpsnr_ci95", "cpsnr_n", "cpsnr_n_inf", "cpsnr_n_nan",
                                "images_per_s"]
    for s in summary:
        mine = [float(r["cpsnr"]) for r in rows if r["model"] == s["model"]]
        assert s["n"] == "5" and s["n_failed"] == "0" and s["cpsnr_n"] == "5"
        assert float(s["cpsnr"]) == pytest.approx(sum(mine) / 5, rel=1e-12)
        assert float(s["cpsnr_ci95"]) > 0 and float(s["images_per_s"]) > 0

    manifest = json.loads((run_dir / "run.json").read_text())
    for key in ("name", "config", "resolved", "metrics", "environment", "device", "device_name",
                "plugins", "checkpoints", "pairs", "started", "finished", "errors"):
        assert key in manifest, key
    assert manifest["resolved"]["models"] == ["tint", "gray"]
    assert manifest["config"]["seed"] == 0 and manifest["finished"]
    for key in ("colorbench", "torch", "python", "git_commit", "command"):
        assert key in manifest["environment"]
    assert set(manifest["pairs"]) == {"imgs/tint", "imgs/gray"}
    assert manifest["metrics"]["cpsnr"]["higher_is_better"] is True
    assert (run_dir / "leaderboard" / "imgs.md").is_file()


def test_checkpoint_sha256_recorded_and_change_recomputes(tmp_path: Path, tint_module) -> None:
    from colorbench.models.checkpoints import save_checkpoint

    make_folder(tmp_path / "imgs", 3)
    regs = load_regs([("tint", tint_module[1])])
    ckpt = save_checkpoint({"strength": torch.tensor(0.5)}, tmp_path / "c" / "checkpoint.pt")
    run_dir = run(tmp_path, regs, models=["tint"], checkpoints=[f"tint={ckpt.parent}"])
    manifest = json.loads((run_dir / "run.json").read_text())
    digest = hashlib.sha256(ckpt.read_bytes()).hexdigest()
    assert manifest["checkpoints"]["tint"] == {"path": str(ckpt), "sha256": digest, "source": "argument",
                                               "weights": None}
    first = comparable(run_dir / "per_image.csv")

    save_checkpoint({"strength": torch.tensor(1.0)}, ckpt)  # a different checkpoint, same path
    run_dir = run(tmp_path, regs, models=["tint"], checkpoints=[f"tint={ckpt}"])
    second = comparable(run_dir / "per_image.csv")
    assert first.keys() == second.keys()
    assert all(first[k]["cpsnr"] != second[k]["cpsnr"] for k in first)
    fresh = comparable(run(tmp_path, regs, models=["tint"], name="fresh") / "per_image.csv")
    assert second == fresh  # strength 1.0 == the default


# ------------------------------------------------------------------------ resume
def test_resume_skips_done_rows(tmp_path: Path, tint_module) -> None:
    make_folder(tmp_path / "imgs", 6)
    regs = load_regs([("tint", tint_module[1])])
    run_dir = run(tmp_path, regs, limit=3)
    before = (run_dir / "per_image.csv").read_text()
    run_dir = run(tmp_path, regs)  # same config, more images: only the new ones are computed
    after = (run_dir / "per_image.csv").read_text()
    assert all(line in after.splitlines() for line in before.splitlines())  # kept, not recomputed
    assert len(comparable(run_dir / "per_image.csv")) == 12
    assert comparable(run_dir / "per_image.csv") == comparable(run(tmp_path, regs, name="ref") / "per_image.csv")


def test_no_resume_starts_over(tmp_path: Path, tint_module) -> None:
    make_folder(tmp_path / "imgs", 2)
    regs = load_regs([("tint", tint_module[1])])
    run_dir = run(tmp_path, regs)
    seconds = [r["seconds"] for r in read_rows(run_dir / "per_image.csv")[1]]
    run_dir = run(tmp_path, regs, resume=False)
    rows = read_rows(run_dir / "per_image.csv")[1]
    assert len(rows) == 4 and [r["seconds"] for r in rows] != seconds


def test_config_change_recomputes_that_pair(tmp_path: Path, tint_module) -> None:
    make_folder(tmp_path / "imgs", 4, size=(64, 48))
    regs = load_regs([("tint", tint_module[1])])
    run(tmp_path, regs, size=32)
    run_dir = run(tmp_path, regs, size=16)
    rows = comparable(run_dir / "per_image.csv")
    assert rows == comparable(run(tmp_path, regs, size=16, name="ref16") / "per_image.csv")
    assert rows != comparable(run(tmp_path, regs, size=32, name="ref32") / "per_image.csv")

    # an option of one model changes only that model's pair
    text_before = {k: v for k, v in rows.items() if k[1] == "gray"}
    run_dir = run(tmp_path, regs, size=16, options=["tint.strength=0.25"])
    rows = comparable(run_dir / "per_image.csv")
    assert {k: v for k, v in rows.items() if k[1] == "gray"} == text_before
    ref = comparable(run(tmp_path, regs, size=16, options=["strength=0.25"], name="refopt") / "per_image.csv")
    assert rows == ref


def test_partial_last_line_is_dropped_and_recomputed(tmp_path: Path, tint_module) -> None:
    make_folder(tmp_path / "imgs", 4)
    regs = load_regs([("tint", tint_module[1])])
    ref = comparable(run(tmp_path, regs, name="ref") / "per_image.csv")
    run_dir = run(tmp_path, regs)
    path = run_dir / "per_image.csv"
    data = path.read_bytes()
    cut = data.rstrip(b"\n").rfind(b"\n") + 1
    path.write_bytes(data[: cut + 12])  # the last row is cut mid-line, as a kill leaves it
    header, rows = read_rows(path)
    assert len(rows) == 7 and header[:8] == list(FIXED_COLUMNS)
    run(tmp_path, regs)
    assert comparable(path) == ref


def test_writer_never_writes_a_key_twice(tmp_path: Path) -> None:
    path = tmp_path / "per_image.csv"
    w = PerImageWriter(path, ["mse"])
    w.append([{"dataset": "d", "model": "m", "image_id": "a", "status": "ok", "mse": 0.5}])
    w.append([{"dataset": "d", "model": "m", "image_id": "a", "status": "ok", "mse": 0.7},
              {"dataset": "d", "model": "m", "image_id": "b", "status": "ok", "mse": float("inf")}])
    w.close()
    w = PerImageWriter(path, ["mse"])
    assert set(w.done("d", "m")) == {"a", "b"}
    w.close()
    _, rows = read_rows(path)
    assert [(r["image_id"], r["mse"]) for r in rows] == [("a", "0.5"), ("b", "inf")]


class Crash(BaseException):
    """Stands in for a kill: escapes every `except Exception` in the engine."""


def _bomb_plugin(tint_module, calls: dict[str, int], crash_at: int) -> object:
    """A plugin whose colorizer ``bomb`` tints like ``tint`` but raises Crash on the
    ``crash_at``-th colorize call counted in ``calls["n"]`` (set it negative to defuse)."""

    class Bomb:
        def colorize(self, L):
            calls["n"] += 1
            if calls["n"] == crash_at:
                raise Crash()
            return tint_module[1].Tint().colorize(L)

    class BombPlugin:
        @hookimpl
        def register_colorizers(self, register):
            register(ColorizerSpec(name="bomb", factory=lambda **kw: Bomb()))

    return BombPlugin()


def test_crash_after_config_change_then_rerun_with_old_config(tmp_path: Path, tint_module) -> None:
    """A run with a new config that dies part-way must not leave rows that a rerun with the
    old config mistakes for its own."""
    make_folder(tmp_path / "imgs", 6, size=(64, 48))
    calls = {"n": 0}
    regs = load_regs([("tint", tint_module[1]), ("bomb", _bomb_plugin(tint_module, calls, crash_at=2))])
    calls["n"] = -100  # no crash in the first, complete run
    ref = comparable(run(tmp_path, regs, models=["bomb"], size=32, name="ref") / "per_image.csv")
    run(tmp_path, regs, models=["bomb"], size=32)
    calls["n"] = 0
    with pytest.raises(Crash):
        run(tmp_path, regs, models=["bomb"], size=16)  # recomputes, dies after one batch
    calls["n"] = -100
    rows = comparable(run(tmp_path, regs, models=["bomb"], size=32) / "per_image.csv")
    assert rows == ref


def test_crash_mid_run_then_resume_gives_identical_rows(tmp_path: Path, tint_module) -> None:
    make_folder(tmp_path / "imgs", 9)
    calls = {"n": -100}
    regs = load_regs([("bomb", _bomb_plugin(tint_module, calls, crash_at=3))])
    ref = comparable(run(tmp_path, regs, models=["gray", "bomb"], name="ref") / "per_image.csv")
    calls["n"] = 0
    with pytest.raises(Crash):
        run(tmp_path, regs, models=["gray", "bomb"])
    partial = comparable(tmp_path / "runs" / "r" / "per_image.csv")
    assert 9 < len(partial) < 18
    calls["n"] = -100
    assert comparable(run(tmp_path, regs, models=["gray", "bomb"]) / "per_image.csv") == ref


# ------------------------------------------------------------ end-to-end SIGKILL
def test_sigkill_mid_run_then_rerun_matches_uninterrupted_run(tmp_path: Path, tint_module) -> None:
    site, module = tint_module
    make_folder(tmp_path / "imgs", 40, size=(40, 36))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
           "CB_TINT_SLEEP": "0.15"}
    args = [*colorbench_exe(), "run", "--models", "tint,gray", "--datasets", str(tmp_path / "imgs"),
            "--metrics", "mse,cpsnr", "--size", "32", "--batch-size", "2", "--workers", "2",
            "--out", str(tmp_path / "runs"), "--name", "killed", "--quiet"]
    per_image = tmp_path / "runs" / "killed" / "per_image.csv"
    proc = subprocess.Popen(args, env=env, cwd=tmp_path, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if per_image.exists() and per_image.read_bytes().count(b"\n") >= 7:
                break
            if proc.poll() is not None:
                pytest.fail(f"run ended before it could be killed: {proc.stderr.read().decode()}")
            time.sleep(0.05)
        else:
            pytest.fail("no rows appeared within 120 s")
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    done_before = read_rows(per_image)[1]
    assert 6 <= len(done_before) < 40  # really killed part-way through the first pair

    env["CB_TINT_SLEEP"] = "0"
    rerun = subprocess.run(args, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    resumed = comparable(per_image)
    assert len(resumed) == 80
    for row in done_before:  # rows written before the kill were kept, not recomputed
        key = (row["dataset"], row["model"], row["image_id"])
        assert resumed[key]["cpsnr"] == row["cpsnr"]

    regs = load_regs([("tint", module)])
    ref_dir = Runner(RunConfig(models=["tint", "gray"], datasets=[str(tmp_path / "imgs")],
                               metrics=["mse", "cpsnr"], size=32, batch_size=2, workers=0,
                               out=str(tmp_path / "runs"), name="reference"),
                     regs, Reporter(quiet=True)).run().run_dir
    assert resumed == comparable(ref_dir / "per_image.csv")
    summary = {r["model"]: r for r in csv.DictReader(io.StringIO((ref_dir.parent / "killed" / "summary.csv").read_text()))}
    assert summary["tint"]["n"] == "40" and summary["gray"]["n"] == "40"
    manifest = json.loads((ref_dir.parent / "killed" / "run.json").read_text())
    assert manifest["plugins"]["tint"]["version"] == "0.1"  # loaded through its entry point


def test_rows_do_not_depend_on_batch_size_or_workers(tmp_path: Path, tint_module) -> None:
    make_folder(tmp_path / "imgs", 7, size=(50, 40))
    regs = load_regs([("tint", tint_module[1])])
    one = comparable(run(tmp_path, regs, batch_size=1, name="b1") / "per_image.csv")
    five = comparable(run(tmp_path, regs, batch_size=5, workers=2, name="b5") / "per_image.csv")
    assert one == five
