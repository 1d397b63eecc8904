"""Issue 19, point 1: protocol fingerprints keep different protocols out of one ranking,
and the paired bootstrap pairs identical image sets only."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import make_folder
from leaderboard_helpers import fake_run, ramp

from colorbench.reporting.leaderboard import load_boards, render, to_markdown


def test_run_and_score_record_the_protocol_fingerprint(cli, tmp_path: Path) -> None:
    make_folder(tmp_path / "imgs", 3)
    cli("run", "--models", "gray", "--datasets", str(tmp_path / "imgs"), "--metrics", "cpsnr", "--size", "24",
        "--limit", "2", "--workers", "0", "--out", str(tmp_path / "runs"), "--name", "a", "--quiet")
    proto = json.loads((tmp_path / "runs/a/run.json").read_text())["pairs"]["imgs/gray"]["protocol"]
    assert proto["size"] == 24 and proto["resize"] == "crop" and proto["limit"] == 2 and proto["images"] == 2
    assert proto["metric_versions"] == {"cpsnr": "2"} and len(proto["ids_sha256"]) == 64 and proto["dataset"] == "imgs"
    gt = tmp_path / "runs/a/outputs"
    pred = make_folder(tmp_path / "pred", 3)
    cli("score", "--pred", str(pred), "--gt", str(tmp_path / "imgs"), "--metrics", "cpsnr", "--dataset", "imgs",
        "--out", str(tmp_path / "s"), "--workers", "0", "--quiet")
    data = json.loads((tmp_path / "s/run.json").read_text())
    proto = data["pairs"]["imgs/pred"]["protocol"]
    assert proto["gt"] == str((tmp_path / "imgs").resolve()) and proto["images"] == 3 and proto["dataset"] == "imgs"
    assert not gt.exists()  # (the run saved no images)


def test_different_protocols_get_separate_tables_named_by_the_difference(tmp_path: Path) -> None:
    """The 256-crop run of 10 images and the 128-stretch run of 30 were one bolded table."""
    a = fake_run(tmp_path / "a", "ds", {"m1": ramp(10, 30.0)}, protocol={"size": 256, "resize": "crop"})
    b = fake_run(tmp_path / "b", "ds", {"m2": ramp(30, 20.0)}, protocol={"size": 128, "resize": "stretch"})
    boards = load_boards([a, b])
    assert [bd.heading for bd in boards] == ["size 256 crop, 10 images", "size 128 stretch, 30 images"]
    assert [[r["model"] for r in bd.rows] for bd in boards] == [["m1"], ["m2"]]
    text = render(boards, "markdown")
    assert "# ds — size 256 crop, 10 images" in text and "# ds — size 128 stretch, 30 images" in text


def test_allow_mixed_forces_one_marked_table_without_cross_protocol_tests(tmp_path: Path) -> None:
    shared = ramp(10, 30.0)
    a = fake_run(tmp_path / "a", "ds", {"m1": shared}, protocol={"size": 256, "resize": "crop"})
    b = fake_run(tmp_path / "b", "ds", {"m2": ramp(10, 29.0)}, protocol={"size": 128, "resize": "stretch"})
    (board,) = load_boards([a, b], allow_mixed=True)
    assert board.mixed == ["resize", "size"] and {r["model"] for r in board.rows} == {"m1", "m2"}
    # same image ids, different protocols: never paired
    assert board.pvalues["cpsnr"] == {"m2": None} and "m2" in board.untested
    for fmt_name in ("markdown", "csv", "json", "latex", "html"):
        assert "MIXED PROTOCOLS" in render([board], fmt_name) or "true" in render([board], fmt_name).lower(), fmt_name
    assert "MIXED PROTOCOLS (--allow-mixed)" in to_markdown(board)


def test_bootstrap_pairs_identical_image_sets_only(tmp_path: Path) -> None:
    """Same protocol settings, different image sets (limit 10 vs 12): no p-value, and why."""
    a = fake_run(tmp_path / "a", "ds", {"m1": ramp(10, 30.0), "m2": ramp(10, 29.0)})
    b = fake_run(tmp_path / "b", "ds", {"m3": ramp(12, 28.0)})
    (first, second) = load_boards([a, b])
    assert second.heading == "12 images" and [r["model"] for r in second.rows] == ["m3"]
    assert first.pvalues["cpsnr"]["m2"] is not None and "10 images" in first.heading
    (mixed,) = load_boards([a, b], allow_mixed=True)
    assert mixed.pvalues["cpsnr"]["m2"] is not None and mixed.pvalues["cpsnr"]["m3"] is None
    assert "No p-value for m3: not the image set or protocol of m1" in to_markdown(mixed)


def test_two_score_dirs_over_different_ground_truths_are_not_ranked_together(cli, tmp_path: Path) -> None:
    pred = make_folder(tmp_path / "pred", 3)
    gt1, gt2 = make_folder(tmp_path / "gt1", 3), make_folder(tmp_path / "gt2", 3, size=(40, 48))
    for gt, out in ((gt1, "s1"), (gt2, "s2")):
        cli("score", "--pred", str(pred), "--gt", str(gt), "--metrics", "cpsnr", "--resize", "stretch", "--size", "32", "--resize-pred",
            "--out", str(tmp_path / out), "--workers", "0", "--quiet")
    boards = load_boards([tmp_path / "s1", tmp_path / "s2"])
    assert [b.heading for b in boards] == ["gt gt1", "gt gt2"]


def test_old_run_json_without_fingerprint_loads_as_unknown_protocol(tmp_path: Path) -> None:
    old = fake_run(tmp_path / "old", "ds", {"m1": ramp(5, 30.0)}, fingerprint=False)
    new = fake_run(tmp_path / "new", "ds", {"m2": ramp(5, 31.0)})
    boards = load_boards([old, new])
    assert [b.heading for b in boards] == ["unknown protocol", "size 256 crop, 5 images"]
    assert [[r["model"] for r in b.rows] for b in boards] == [["m1"], ["m2"]]
    text = to_markdown(boards[0])
    assert "unknown protocol" in text and "before colorbench recorded protocol fingerprints" in text
