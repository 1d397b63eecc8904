"""One writer per run directory: run, score and train hold an exclusive lock; score never
writes over another command's results."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import ClassVar

import pytest
from conftest import make_folder

from colorbench import ColorizerSpec, hookimpl
from colorbench.results.lock import LOCK_NAME, RunDirLockedError, run_dir_lock

HOLD = """
import sys, time, pathlib
from colorbench import ColorizerSpec, hookimpl
from colorbench.results.lock import run_dir_lock
with run_dir_lock(pathlib.Path(sys.argv[1]), "run"):
    pathlib.Path(sys.argv[2]).write_text("held")
    time.sleep(60)
"""


@pytest.fixture
def holder(tmp_path: Path):
    """A separate process holding the lock of tmp_path/runs/r until the test ends."""
    run_dir, ready = tmp_path / "runs" / "r", tmp_path / "ready"
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(run_dir), str(ready)])
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert proc.poll() is None and time.monotonic() < deadline, "the lock holder did not start"
        time.sleep(0.05)
    yield proc, run_dir
    proc.kill()
    proc.wait()


def run_args(tmp_path: Path) -> list[str]:
    return ["run", "--models", "gray", "--datasets", str(tmp_path / "imgs"), "--metrics", "cpsnr",
            "--size", "16", "--workers", "0", "--out", str(tmp_path / "runs"), "--name", "r"]


def test_second_run_on_a_held_directory_exits_2_naming_the_holder(cli, tmp_path: Path, holder) -> None:
    proc, run_dir = holder
    make_folder(tmp_path / "imgs", 2)
    result = cli(*run_args(tmp_path), ok=False)
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert f"pid {proc.pid}" in text and "(run," in text and "in use by" in text
    assert not (run_dir / "per_image.csv").exists()


def test_lock_is_released_when_the_holder_dies(cli, tmp_path: Path, holder) -> None:
    proc, run_dir = holder
    make_folder(tmp_path / "imgs", 2)
    proc.kill()
    proc.wait()
    cli(*run_args(tmp_path))
    rows = (run_dir / "per_image.csv").read_text().splitlines()
    keys = [tuple(r.split(",")[:3]) for r in rows[1:]]
    assert len(keys) == 2 == len(set(keys))


def test_concurrent_runs_one_refused_no_duplicate_keys(tmp_path: Path) -> None:
    """Two real `colorbench run` processes on one --name: at most one writes."""
    make_folder(tmp_path / "imgs", 6)
    cmd = [sys.executable, "-m", "colorbench", *run_args(tmp_path), "--batch-size", "1"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outs = [(p.wait(timeout=300), p.stdout.read() if p.stdout else "") for p in procs]
    codes = sorted(code for code, _ in outs)
    assert codes in ([0, 0], [0, 2]), outs  # both ran one after the other, or one was refused
    if codes == [0, 2]:
        assert any("is in use by" in " ".join(out.split()) for code, out in outs if code == 2), outs
    rows = (tmp_path / "runs" / "r" / "per_image.csv").read_text().splitlines()
    keys = [tuple(r.split(",")[:3]) for r in rows[1:]]
    assert len(keys) == 6 == len(set(keys))


def test_score_out_into_a_run_directory_is_refused_and_leaves_it_alone(cli, tmp_path: Path) -> None:
    make_folder(tmp_path / "imgs", 2)
    cli(*run_args(tmp_path), "--save-images")
    run_dir = tmp_path / "runs" / "r"
    before = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file() and p.name != LOCK_NAME}
    out = run_dir / "outputs" / "imgs"
    result = cli("score", "--pred", str(out / "gray"), "--gt", str(out / "_ground_truth"), "--metrics", "cpsnr",
                 "--out", str(run_dir), ok=False)
    assert result.exit_code == 2 and "holds the results of a colorbench run" in " ".join(result.output.split())
    after = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file() and p.name != LOCK_NAME}
    assert after == before
    cli("score", "--pred", str(out / "gray"), "--gt", str(out / "_ground_truth"), "--metrics", "cpsnr",
        "--out", str(tmp_path / "s"))
    cli("score", "--pred", str(out / "gray"), "--gt", str(out / "_ground_truth"), "--metrics", "cpsnr",
        "--out", str(tmp_path / "s"))  # an earlier score's directory may be reused


class Trainable:
    """A trainable colorizer whose training only records that it ran."""

    ran: ClassVar[list[Path]] = []

    @hookimpl
    def register_colorizers(self, register):
        def train(ctx):
            Trainable.ran.append(ctx.out_dir)

        register(ColorizerSpec(name="toy", factory=dict, train=train, configs={"tiny": {"steps": 1}},
                               default_config="tiny"))


def test_train_into_a_held_directory_is_refused(cli, tmp_path: Path, holder) -> None:
    proc, run_dir = holder
    cli.add_plugin("toy", Trainable())
    result = cli("train", "toy", "--dataset", "shapes", "--out", str(run_dir), ok=False)
    assert result.exit_code == 2 and f"pid {proc.pid}" in " ".join(result.output.split())
    assert Trainable.ran == [] and not (run_dir / "config.json").exists()
    cli("train", "toy", "--dataset", "shapes", "--out", str(tmp_path / "free"))
    assert Trainable.ran == [tmp_path / "free"]


def test_lock_in_process_is_exclusive_and_reentrant_after_release(tmp_path: Path) -> None:
    with run_dir_lock(tmp_path, "run"):
        pass
    with run_dir_lock(tmp_path, "score") as path:
        assert "score" in path.read_text()
    assert path.read_text() == ""
    with pytest.raises(RunDirLockedError), run_dir_lock(tmp_path, "run"), run_dir_lock(tmp_path, "run"):
        pass


def test_torchrun_ranks_other_than_0_share_rank_0s_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with run_dir_lock(tmp_path, "train"):
        monkeypatch.setenv("RANK", "1")
        with run_dir_lock(tmp_path, "train"):  # the same job's rank 1: no refusal
            pass
        monkeypatch.setenv("RANK", "0")
        with pytest.raises(RunDirLockedError), run_dir_lock(tmp_path, "train"):
            pass


def test_holder_named_even_when_read_just_before_it_wrote_its_details(tmp_path: Path) -> None:
    """A second process that races the holder's write still names it (the empty file is re-read)."""
    import json
    import threading

    from colorbench.results.lock import _holder

    path = tmp_path / LOCK_NAME
    path.write_text("")

    def late_write() -> None:
        time.sleep(0.2)
        path.write_text(json.dumps({"pid": 4242, "host": "h", "command": "run", "since": "t"}))

    writer = threading.Thread(target=late_write)
    writer.start()
    with open(path, encoding="utf-8") as handle:
        text = _holder(handle)
    writer.join()
    assert text.startswith("pid 4242 on h (run,")
    path.write_text("")
    with open(path, encoding="utf-8") as handle:
        assert _holder(handle, attempts=2) == "another process"
