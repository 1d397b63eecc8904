"""Property tests (issue 20): for generated file names and suite documents, a run either
completes with every valid image scored or refuses with one line, and never writes
outside its run directory."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import yaml
from conftest import CLI, load_regs, write_image
from hypothesis import example, given, settings
from hypothesis import strategies as st

from colorbench.errors import ColorbenchError
from colorbench.evaluation.images import is_image_file
from colorbench.evaluation.runner import RunConfig, Runner
from colorbench.reporting import Reporter
from colorbench.results import read_rows

# any bytes Linux allows in a file name (no "/" or NUL), short, with an extension or none
STEM = st.binary(min_size=1, max_size=10).filter(lambda b: b"/" not in b and b"\0" not in b)
NAME = st.tuples(STEM, st.sampled_from([b".png", b".PNG", b".jpg", b".txt", b""]))
FOLDER = st.sampled_from([b"", b"sub/", b"..a/"])
FILES = st.lists(st.tuples(FOLDER, NAME), min_size=1, max_size=4, unique=True)
FAST = settings(max_examples=12, deadline=None)


def tree(root: Path) -> dict[bytes, int]:
    """Every path under ``root`` (bytes) and its size: what a run may not touch."""
    out = {}
    for folder, _, names in os.walk(os.fsencode(root)):
        for n in names:
            out[os.path.join(folder, n)] = os.stat(os.path.join(folder, n)).st_size
    return out


def outside(root: Path, run_dir: Path) -> dict[bytes, int]:
    inside = os.fsencode(run_dir)
    return {p: s for p, s in tree(root).items() if not p.startswith(inside + b"/")}


def one_line(message: str) -> bool:
    return bool(message) and "\n" not in message


@FAST
@given(FILES)
@example([(b"", (b"\n", b".png"))])  # a newline in a name (the contact sheet's label once crashed on it)
def test_any_file_names_are_scored_or_refused_in_one_line(files: list[tuple[bytes, tuple[bytes, bytes]]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = os.fsencode(root / "imgs")
        valid = []
        for k, (folder, (stem, ext)) in enumerate(files):
            path = Path(os.fsdecode(data + b"/" + folder + stem + ext))
            if ext in (b".png", b".PNG", b".jpg") and len(os.fsencode(path.name)) < 255:
                write_image(path.with_suffix(".png") if ext == b".PNG" else path, size=(8, 8), seed=k,
                            format="PNG" if ext != b".jpg" else "JPEG")
                if ext == b".PNG":
                    path.with_suffix(".png").rename(path)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(b"not an image")
            if is_image_file(path):  # hidden files (".x.png") are not images of the folder
                valid.append(path)
        before = tree(root)
        run_dir = root / "runs" / "r"
        cfg = RunConfig(models=["gray"], datasets=[str(root / "imgs")], metrics=["mse"], size=8,
                        resize="stretch", workers=0, out=str(root / "runs"), name="r", save_images=True)
        try:
            runner = Runner(cfg, load_regs(), Reporter(muted=True))
            result = runner.run()
        except ColorbenchError as exc:  # refused: one line, nothing scored
            assert one_line(str(exc))
        else:
            rows = read_rows(run_dir / "per_image.csv")[1]
            if result.errors:  # the dataset was refused (no images, a colliding or unsafe id)
                assert all(one_line(e) for e in result.errors) and rows == []
            else:
                assert len(rows) == len({p.relative_to(root / "imgs").with_suffix("") for p in valid})
                assert {r["status"] for r in rows} == {"ok"}
        assert outside(root, run_dir) == before  # nothing written or removed outside the run dir


NAMES = st.one_of(st.text(min_size=1, max_size=12), st.sampled_from(["../x", "/tmp", "..", "a/b", "ok"]))
VALUES = st.one_of(st.integers(-3, 3), st.booleans(), st.sampled_from(["no", "yes", "2", None, 1.5]))
SUITES = st.fixed_dictionaries({
    "name": NAMES,
    "datasets": st.just(["@DATA@"]),
    "models": st.just(["gray"]),
    "metrics": st.just(["mse"]),
}, optional={"run": st.fixed_dictionaries({}, optional={"save_images": VALUES, "seed": VALUES,
                                                        "batch_size": VALUES}),
             "protocol": st.fixed_dictionaries({}, optional={"limit": VALUES})})


@settings(max_examples=12, deadline=None)
@given(SUITES)
def test_any_suite_document_runs_or_refuses_in_one_line(suite: dict) -> None:
    import pytest

    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as mp:
        root = Path(tmp)
        for k in range(3):
            write_image(root / "imgs" / f"i{k}.png", size=(8, 8), seed=k)
        doc = yaml.safe_dump(suite).replace("'@DATA@'", str(root / "imgs")).replace("@DATA@", str(root / "imgs"))
        (root / "s.yaml").write_text(doc)
        before = tree(root)
        result = CLI(mp)("run", "--benchmark", root / "s.yaml", "--out", root / "out", "--size", "8",
                         "--workers", "0", "-q", ok=False)
        errors = [line for line in result.output.splitlines() if line.startswith("error:")]
        if result.exit_code == 0:
            run_dir = next((root / "out").iterdir())
            rows = read_rows(run_dir / "per_image.csv")[1]
            limit = suite.get("protocol", {}).get("limit")
            assert len(rows) == (3 if limit is None else min(limit, 3)) and {r["status"] for r in rows} == {"ok"}
            assert [p.name for p in (root / "out").iterdir()] == [run_dir.name]
        else:
            assert result.exit_code == 2 and len(errors) == 1, result.output
            assert not (root / "out").exists() or not any((root / "out").rglob("per_image.csv"))
        assert {p: s for p, s in tree(root).items() if not p.startswith(os.fsencode(root / "out") + b"/")} == before
