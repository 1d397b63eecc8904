"""Faults (issue 20): a full disk stops the run resumable with nothing lost and no
temporaries; per_image.csv is repaired record by record; corrupt result files, plugin
SystemExit/KeyboardInterrupt and hung colorizers are handled; bounded YAML."""

from __future__ import annotations

import errno
import sys
import threading
from pathlib import Path

import pytest
import torch
from conftest import load_regs, make_folder

from colorbench import ColorizerSpec, hookimpl
from colorbench.errors import ColorbenchError, ResultWriteError
from colorbench.evaluation.runner import RunConfig, Runner
from colorbench.reporting import Reporter
from colorbench.results import PerImageWriter, read_rows


def enospc(*_: object, **__: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def run(tmp_path: Path, regs=None, **kw) -> Runner:
    base = dict(models=["gray"], datasets=[str(tmp_path / "imgs")], metrics=["cpsnr"], size=16, batch_size=2,
                workers=0, out=str(tmp_path / "runs"), name="r")
    base.update(kw)
    runner = Runner(RunConfig(**base), regs or load_regs(), Reporter(quiet=True))
    runner.run()
    return runner


def statuses(run_dir: Path) -> dict[str, str]:
    return {r["image_id"]: r["status"] for r in read_rows(run_dir / "per_image.csv")[1]}


def temporaries(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(".tmp")]


# ------------------------------------------------------------------ full disk
def test_full_disk_on_rows_stops_the_run_and_the_rerun_finishes(tmp_path: Path, monkeypatch) -> None:
    import colorbench.results.files as files

    make_folder(tmp_path / "imgs", 6, size=(16, 16))
    real, calls = files.os.fsync, []

    def fsync(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 2:
            enospc()
        real(fd)

    monkeypatch.setattr(files.os, "fsync", fsync)
    with pytest.raises(ResultWriteError) as err:
        run(tmp_path)
    assert "No space left on device" in str(err.value) and "per_image.csv" in str(err.value)
    assert "\n" not in str(err.value)
    run_dir = tmp_path / "runs" / "r"
    assert set(statuses(run_dir).values()) == {"ok"} and len(statuses(run_dir)) < 6  # none recorded failed
    monkeypatch.setattr(files.os, "fsync", real)  # space freed
    run(tmp_path)
    assert statuses(run_dir) == {f"img{i:03d}": "ok" for i in range(6)}
    assert temporaries(tmp_path) == []


def test_full_disk_on_saved_images_leaves_no_failed_rows_or_temporaries(tmp_path: Path, monkeypatch) -> None:
    from PIL import Image

    make_folder(tmp_path / "imgs", 4, size=(16, 16))
    real, calls = Image.Image.save, []

    def save(self, fp, *args, **kw):
        calls.append(fp)
        if len(calls) == 5:  # batch 2: a partial file, then the disk is full
            Path(fp).write_bytes(b"\x89PNG partial")
            enospc()
        return real(self, fp, *args, **kw)

    monkeypatch.setattr(Image.Image, "save", save)
    with pytest.raises(ResultWriteError, match="No space left on device"):
        run(tmp_path, save_images=True)
    run_dir = tmp_path / "runs" / "r"
    assert temporaries(tmp_path) == [] and statuses(run_dir) == {"img000": "ok", "img001": "ok"}
    monkeypatch.setattr(Image.Image, "save", real)
    run(tmp_path, save_images=True)
    assert statuses(run_dir) == {f"img{i:03d}": "ok" for i in range(4)}
    assert len(list((run_dir / "outputs" / "imgs" / "gray").glob("*.png"))) == 4


# ------------------------------------------------------------ per_image repair
HEADER = "dataset,model,image_id,status,error,seconds,failed_metrics,source\r\n"


def test_repair_parses_records_and_keeps_every_complete_row(tmp_path: Path) -> None:
    path = tmp_path / "per_image.csv"
    path.write_bytes((HEADER + 'd,m,a,failed,"two\nlines",,,\r\n'  # a quoted newline
                      + "d,m,short,ok\r\n"  # too few fields: not a row
                      + 'd,m,b,ok,,0.1,,\r\n'
                      + 'd,m,cut,failed,"first\nsecond').encode())  # killed inside a quoted field
    writer = PerImageWriter(path, [])
    writer.close()
    assert {k[2]: r["error"] for k, r in writer.rows.items()} == {"a": "two\nlines", "b": ""}
    assert [r["image_id"] for r in read_rows(path)[1]] == ["a", "b"]  # rewritten whole


def test_corrupt_result_files_are_one_line_naming_them(tmp_path: Path) -> None:
    make_folder(tmp_path / "imgs", 2, size=(16, 16))
    run_dir = tmp_path / "runs" / "r"
    run_dir.mkdir(parents=True)
    (run_dir / "per_image.csv").write_bytes(b"\x00\xffnot,a,csv\n1,2\n")
    with pytest.raises(ColorbenchError, match=r"per_image\.csv: not a colorbench per_image\.csv.*--no-resume"):
        run(tmp_path)
    (run_dir / "per_image.csv").unlink()
    (run_dir / "run.json").write_text('{"pairs": {"x/y": 5}}')
    with pytest.raises(ColorbenchError, match=r"run\.json: not a valid run manifest.*--no-resume"):
        run(tmp_path)
    run(tmp_path, resume=False)  # the way out the message names
    assert set(statuses(run_dir).values()) == {"ok"}


# ------------------------------------------------------------- plugin faults
class Misbehaving:
    """Colorizer ``bad`` doing ``what`` on the batch holding image ``img001``."""

    def __init__(self, what: str, release: threading.Event | None = None):
        self.what, self.release, self.batches = what, release, 0

    def colorize(self, L: torch.Tensor) -> torch.Tensor:
        self.batches += 1
        if self.what == "exit":
            sys.exit(3)
        if self.batches == 1:
            if self.what == "interrupt":
                raise KeyboardInterrupt
            if self.what == "hang":
                assert self.release is not None
                self.release.wait(30)
        return torch.zeros(L.shape[0], 2, *L.shape[2:])

    @hookimpl
    def register_colorizers(self, register):
        register(ColorizerSpec(name="bad", factory=lambda device="cpu", checkpoint=None, **kw: self))


def test_plugin_system_exit_fails_its_images_only(tmp_path: Path) -> None:
    make_folder(tmp_path / "imgs", 4, size=(16, 16))
    runner = run(tmp_path, load_regs([("bad", Misbehaving("exit"))]), models=["bad"], batch_size=4)
    rows = read_rows(runner._run_dir() / "per_image.csv")[1]  # the run itself went on to the end
    assert [(r["status"], r["error"]) for r in rows] == [("failed", "3")] * 4
    assert runner.errors == [next(e for e in runner.errors if "failed on every image (4)" in e)]


def test_keyboard_interrupt_stops_the_run_with_finished_rows_kept(tmp_path: Path) -> None:
    make_folder(tmp_path / "imgs", 4, size=(16, 16))
    bad = Misbehaving("interrupt")
    bad.batches = -1  # the second batch interrupts
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, load_regs([("bad", bad)]), models=["bad"])
    assert statuses(tmp_path / "runs" / "r") == {"img000": "ok", "img001": "ok"}


def test_batch_timeout_fails_the_hung_batch_and_the_run_goes_on(tmp_path: Path) -> None:
    make_folder(tmp_path / "imgs", 4, size=(16, 16))
    release = threading.Event()
    try:
        runner = run(tmp_path, load_regs([("bad", Misbehaving("hang", release))]), models=["bad"],
                     batch_timeout=0.5)
    finally:
        release.set()
    rows = read_rows(runner._run_dir() / "per_image.csv")[1]
    assert [r["status"] for r in rows] == ["failed", "failed", "ok", "ok"]
    assert "did not return within 0.5 s (--batch-timeout)" in rows[0]["error"]


# ------------------------------------------------------------------ CLI numbers
@pytest.mark.parametrize("args,needle", [
    (["--limit", "-1"], "--limit -1: must be at least 1"),
    (["--workers", "-1"], "--workers -1: must be between 0 and 64"),
    (["--seed", str(2**70)], "--seed"),
    (["--batch-timeout", "0"], "--batch-timeout 0"),
])
def test_bad_numbers_are_one_line(cli, tmp_path: Path, args: list[str], needle: str) -> None:
    result = cli("run", "--models", "gray", "--out", tmp_path, "-q", *args, ok=False)
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert result.exit_code == 2 and len(errors) == 1 and needle in errors[0], result.output
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("body,needle", [
    ('run: {save_images: "no"}', "save_images 'no': must be true or false"),
    ("run: {seed: 1.5}", "--seed 1.5: must be a whole number"),
])
def test_suite_values_of_the_wrong_type_are_one_line(cli, tmp_path: Path, body: str, needle: str) -> None:
    suite = tmp_path / "s.yaml"
    suite.write_text(f"name: s\nmodels: [gray]\n{body}\n" + ("" if "datasets" in body else "datasets: [samples]\n"))
    result = cli("run", "--benchmark", suite, "--out", tmp_path / "runs", "-q", ok=False)
    assert result.exit_code == 2 and needle in result.output and "Traceback" not in result.output, result.output
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("args,needle", [(["--workers", "-1"], "--workers -1"), (["-b", "0"], "--batch-size 0")])
def test_score_bad_numbers_are_one_line(cli, tmp_path: Path, args: list[str], needle: str) -> None:
    make_folder(tmp_path / "p", 1, size=(8, 8))
    result = cli("score", "--pred", tmp_path / "p", "--gt", tmp_path / "p", "--out", tmp_path / "o", *args, ok=False)
    assert result.exit_code == 2 and result.output.startswith(f"error: {needle}") and result.output.count("\n") == 1
    assert not (tmp_path / "o").exists()
