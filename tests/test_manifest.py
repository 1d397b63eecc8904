"""run.json as a typed manifest: written runs round-trip, schema-1 files load with defaults,
every reader goes through ``colorbench.results.load``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import load_regs, make_folder

from colorbench import results
from colorbench.errors import ColorbenchError
from colorbench.evaluation.runner import RunConfig, Runner
from colorbench.reporting import Reporter
from colorbench.results import SCHEMA_VERSION, PairRecord, RunManifest

# run.json as colorbench 0.1 wrote it (no schema_version, no precision, flat pair values)
SCHEMA_1 = {
    "kind": "run", "name": "old", "config": {"seed": 0}, "resolved": {"models": ["gray"]},
    "metrics": {"cpsnr": {"kind": "per_image", "range": [0, "inf"]}, "cnr_union": {"kind": "distribution"}},
    "unavailable_metrics": [], "environment": {"colorbench": "0.1.0", "command": "colorbench run"},
    "device": "cpu", "device_name": "cpu (x86_64, 2 torch threads)", "plugins": {}, "checkpoints": {},
    "colorizers": {"gray": {"variant_of": None}},
    "pairs": {"samples/gray": {"config": "abc", "images_per_s": 3.5, "cnr_union": 0.25,
                               "cnr_union_info": {"images": 8}}},
    "errors": [], "started": "2026-01-01T00:00:00+00:00", "finished": "2026-01-01T00:01:00+00:00",
}


def test_a_written_run_json_round_trips_through_the_manifest(tmp_path: Path) -> None:
    make_folder(tmp_path / "imgs", 2)
    cfg = RunConfig(models=["gray"], datasets=[str(tmp_path / "imgs")], metrics=["cpsnr"], size=16,
                    workers=0, out=str(tmp_path), name="r")
    run_dir = Runner(cfg, load_regs(), Reporter(quiet=True)).run().run_dir
    data = json.loads((run_dir / "run.json").read_text())
    manifest = results.load(run_dir)
    assert manifest.to_dict() == data  # nothing lost, nothing added, same order of pairs
    assert list(manifest.to_dict()) == list(data)
    assert manifest.schema_version == data["schema_version"] == SCHEMA_VERSION
    assert manifest.precision == "fp32" and manifest.kind == "run" and manifest.finished
    record = manifest.pairs["imgs/gray"]
    assert isinstance(record, PairRecord) and record.config and record.images_per_s > 0
    assert record.fingerprint["device"] == "cpu" and record.fingerprint["precision"] == "fp32"
    assert record.fingerprint["dataset"]["folder"] == str((tmp_path / "imgs").resolve())
    assert RunManifest.from_dict(manifest.to_dict()) == manifest


def test_a_schema_1_run_json_loads_with_defaults_and_keeps_its_values(tmp_path: Path) -> None:
    (tmp_path / "run.json").write_text(json.dumps(SCHEMA_1))
    m = results.load(tmp_path)
    assert m.schema_version == 1 and m.precision is None and m.score == {} and m.metric_options == {}
    pair = m.pairs["samples/gray"]
    assert pair.values == {"cnr_union": 0.25} and pair.info == {"cnr_union": {"images": 8}}
    assert pair.images_per_s == 3.5 and pair.config == "abc" and pair.fingerprint == {}
    out = m.to_dict()
    assert out["pairs"] == SCHEMA_1["pairs"]  # the flat layout scripts parse is kept
    assert {k: v for k, v in out.items() if k not in ("schema_version", "precision", "metric_options")} == SCHEMA_1


def test_unknown_keys_survive_and_a_newer_schema_is_refused(tmp_path: Path) -> None:
    data = {**SCHEMA_1, "future_field": [1, 2], "pairs": {"a/b": {"config": "x", "note": "kept"}}}
    (tmp_path / "run.json").write_text(json.dumps(data))
    out = results.load(tmp_path).to_dict()
    assert out["future_field"] == [1, 2] and out["pairs"]["a/b"] == {"config": "x", "note": "kept"}
    (tmp_path / "run.json").write_text(json.dumps({**SCHEMA_1, "schema_version": SCHEMA_VERSION + 1}))
    with pytest.raises(ColorbenchError, match="newer than this colorbench reads"):
        results.load(tmp_path)
    (tmp_path / "run.json").write_text("{not json")
    with pytest.raises(ColorbenchError, match="not a readable run manifest") as err:
        results.load(tmp_path)
    assert "\n" not in str(err.value)
    with pytest.raises(ColorbenchError, match=r"no run\.json"):
        results.load(tmp_path / "nowhere")


def test_leaderboard_reads_a_schema_1_run(tmp_path: Path) -> None:
    from colorbench.reporting.boards import load_boards

    (tmp_path / "run.json").write_text(json.dumps(SCHEMA_1))
    (tmp_path / "summary.csv").write_text("dataset,model,n,n_failed,cpsnr,cpsnr_ci95,cnr_union,images_per_s\n"
                                          "samples,gray,8,0,21.5,1.0,0.25,3.5\n")
    (board,) = load_boards([tmp_path])
    assert board.rows[0]["cpsnr"] == 21.5 and board.rows[0]["device"] == SCHEMA_1["device_name"]
    assert board.sources[0]["command"] == "colorbench run"
