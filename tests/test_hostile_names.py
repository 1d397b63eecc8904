"""Hostile names (issue 20): file names of any bytes round-trip; ids are the relative path
minus one image extension and never collide silently; no name or id writes outside the
run directory."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import load_regs, write_image

from colorbench.errors import ColorbenchError
from colorbench.evaluation.runner import RunConfig, Runner
from colorbench.evaluation.scoring import match_files
from colorbench.reporting import Reporter
from colorbench.results import read_rows
from colorbench.results.names import check_image_id, check_name

LATIN1 = os.fsdecode(b"caf\xe9")  # not UTF-8: a str with a lone surrogate on Linux


def gray_run(tmp_path: Path, data: Path, **kw) -> tuple[Runner, Path]:
    base = dict(models=["gray"], datasets=[str(data)], metrics=["cpsnr"], size=16, batch_size=2,
                workers=0, out=str(tmp_path / "runs"), name="r")
    base.update(kw)
    runner = Runner(RunConfig(**base), load_regs(), Reporter(quiet=True))
    return runner, runner.run().run_dir


@pytest.mark.skipif(os.name != "posix" or os.uname().sysname == "Darwin", reason="bytes file names: Linux")
def test_non_utf8_file_name_round_trips_run_resume_and_score(tmp_path: Path) -> None:
    data = tmp_path / "imgs"
    write_image(Path(os.fsdecode(os.fsencode(data) + b"/caf\xe9.png")), size=(16, 16))
    write_image(data / "ok.png", size=(16, 16), seed=1)
    _, run_dir = gray_run(tmp_path, data, save_images=True)
    _, rows = read_rows(run_dir / "per_image.csv")
    assert sorted(r["image_id"] for r in rows) == sorted([LATIN1, "ok"]) and {r["status"] for r in rows} == {"ok"}
    assert b"caf\xe9," in (run_dir / "per_image.csv").read_bytes()  # the file name's own bytes
    assert b"caf\xe9.png" in os.listdir(os.fsencode(run_dir / "outputs" / "imgs" / "gray"))
    json.loads((run_dir / "run.json").read_text(encoding="utf-8"))  # still strict UTF-8 JSON
    runner, _ = gray_run(tmp_path, data, save_images=True)  # resume recognises the id
    assert runner.scorer.errors.counts == {} and not runner.errors
    assert (run_dir / "per_image.csv").read_bytes().count(b"caf\xe9,") == 1
    match = match_files(run_dir / "outputs" / "imgs" / "gray", run_dir / "outputs" / "imgs" / "_ground_truth")
    assert sorted(i for i, _, _ in match.pairs) == sorted([LATIN1, "ok"])


def test_score_keeps_every_dotted_name_and_refuses_extension_collisions(tmp_path: Path) -> None:
    for side in ("pred", "gt"):
        for k in (1, 2, 3):
            write_image(tmp_path / side / f"cat.{k}.png", size=(8, 8), seed=k)
    match = match_files(tmp_path / "pred", tmp_path / "gt")
    assert [i for i, _, _ in match.pairs] == ["cat.1", "cat.2", "cat.3"]
    write_image(tmp_path / "pred" / "dup.png", size=(8, 8))
    write_image(tmp_path / "pred" / "dup.jpg", size=(8, 8))
    with pytest.raises(ColorbenchError, match=r"'dup'.*dup\.jpg.*dup\.png"):
        match_files(tmp_path / "pred", tmp_path / "gt")


@pytest.mark.parametrize("bad", ["../x", "/abs/path", "a/b", "..", ".", "", "a\0b", "a\\b", LATIN1])
def test_run_names_that_are_paths_are_refused(bad: str) -> None:
    with pytest.raises(ColorbenchError, match="run name"):
        check_name(bad, "run name")
    assert check_name("cpu-real.v2", "run name") == "cpu-real.v2"


@pytest.mark.parametrize("bad", ["../x", "a/../../x", "/etc/x", "a//b", "a/./b", "a\0b", "a\\b", ""])
def test_image_ids_that_leave_their_folder_are_refused(bad: str) -> None:
    with pytest.raises(ColorbenchError, match="image id"):
        check_image_id(bad, "dataset 'd'")
    assert check_image_id("sub/dir/cat.1", "d") == "sub/dir/cat.1"


@pytest.mark.parametrize("name", ["../../victim", "/victim"])
def test_suite_name_outside_out_is_refused_and_no_resume_deletes_nothing(tmp_path: Path, name: str) -> None:
    from colorbench.evaluation import suites

    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "per_image.csv").write_text("precious\n")
    suite = tmp_path / "s.yaml"
    suite.write_text(f"name: {json.dumps(str(victim) if name == '/victim' else name)}\n"
                     "datasets: [samples]\nmodels: [gray]\n")
    with pytest.raises(ColorbenchError, match="suite name"):
        suites.load(str(suite))
    out = tmp_path / "a" / "b"
    with pytest.raises(ColorbenchError, match="run name"):
        gray_run(tmp_path, tmp_path, out=str(out), name=name if name != "/victim" else str(victim), resume=False)
    assert (victim / "per_image.csv").read_text() == "precious\n" and not out.exists()


def test_dataset_id_with_dotdot_fails_its_dataset_before_any_image_is_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import colorbench_datasets.folder as folder

    data = tmp_path / "imgs"
    write_image(data / "a.png", size=(16, 16))

    class Escaping(folder.Folder):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.ids = ["../../escaped"]

    monkeypatch.setattr(folder, "Folder", Escaping)
    runner, run_dir = gray_run(tmp_path, data, save_images=True)
    assert any("image id '../../escaped'" in e for e in runner.errors)
    assert not list(tmp_path.rglob("escaped*")) and read_rows(run_dir / "per_image.csv")[1] == []


def test_places365_list_entry_with_dotdot_is_refused(tmp_path: Path) -> None:
    from colorbench_datasets.places365 import Places365

    root = tmp_path / "places365"
    write_image(root / "val_256" / "a.jpg", size=(8, 8))
    (root / "places365_val.txt").write_text("a.jpg 1\n../../../evil.jpg 2\n")
    with pytest.raises(ColorbenchError, match=r"places365_val\.txt line 2.*'\.\./\.\./\.\./evil\.jpg'"):
        Places365(root=root)
