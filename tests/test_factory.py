"""The one colorizer factory: checkpoint resolution, sha256 of declared weights, option
defaults, registries handed to composite colorizers, declared capabilities."""

from __future__ import annotations

import dataclasses
import importlib
import json
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import make_folder
from typer.testing import CliRunner

from colorbench import ColorizerSpec, Option, hookimpl
from colorbench.errors import ColorbenchError, WeightsHashError, WeightsUnavailableError
from colorbench.evaluation.runner import RunConfig, Runner
from colorbench.models.checkpoints import save_checkpoint, sha256
from colorbench.models.factory import build_options, create_colorizer, resolve_checkpoint
from colorbench.plugin import manager
from colorbench.reporting.console import Reporter


@pytest.fixture(scope="module")
def regs() -> manager.Registries:
    return manager.load()


def flipped_copy(src: Path, dst: Path) -> Path:
    data = bytearray(src.read_bytes())
    data[len(data) // 2] ^= 0x01
    dst.write_bytes(bytes(data))
    return dst


def real_cli(monkeypatch: pytest.MonkeyPatch, *args: str, regs: Any = None) -> Any:
    """``colorbench ARGS`` in-process with the installed plugins (or ``regs``)."""
    app_module = importlib.import_module("colorbench.cli.app")
    monkeypatch.setitem(app_module._state, "regs", {})
    monkeypatch.setitem(app_module._state, "disabled", [])
    if regs is not None:
        monkeypatch.setattr(manager, "load", lambda **_: regs)
    from colorbench.cli import app

    return CliRunner().invoke(app, list(args), catch_exceptions=False)


# ---------------------------------------------------------------- sha256 of weights
def test_flipped_byte_in_shipped_weights_fails_that_model_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    regs = manager.load()
    spec = regs.colorizers.get("ccc")
    bad = flipped_copy(spec.weights.path, tmp_path / spec.weights.file)
    spec.weights = dataclasses.replace(spec.weights, path=bad)
    make_folder(tmp_path / "imgs", 2)
    result = real_cli(monkeypatch, "run", "--models", "ccc,gray", "--datasets", str(tmp_path / "imgs"),
                      "--metrics", "cpsnr", "--size", "32", "--workers", "0", "--out", str(tmp_path / "runs"),
                      "--name", "r", regs=regs)
    assert result.exit_code == 1, result.output
    manifest = json.loads((tmp_path / "runs" / "r" / "run.json").read_text())
    (line,) = [e for e in manifest["errors"] if "sha256" in e]
    assert "\n" not in line and line.startswith("imgs/ccc:")
    assert str(bad) in line and sha256(bad) in line and spec.weights.sha256 in line
    assert spec.weights.sha256 in " ".join(result.output.split()).replace(" ", "")
    summary = (tmp_path / "runs" / "r" / "summary.csv").read_text().splitlines()
    assert [row.split(",")[1] for row in summary[1:]] == ["gray"]


def test_declared_weights_are_verified_and_recorded(regs: manager.Registries) -> None:
    spec = regs.colorizers.get("gan")
    resolved = resolve_checkpoint(spec)
    assert resolved.source == "shipped" and resolved.path == spec.weights.path
    assert resolved.sha256 == spec.weights.sha256 == sha256(spec.weights.path)
    assert resolved.record()["weights"] == spec.weights.name


def test_cached_weights_found_and_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    regs = manager.load()
    spec = regs.colorizers.get("gan")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    cache = tmp_path / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    (cache / spec.weights.file).write_bytes(spec.weights.path.read_bytes())
    spec.weights = dataclasses.replace(spec.weights, path=None)
    assert resolve_checkpoint(spec).source == "cache"
    flipped_copy(spec.weights.cache_path, spec.weights.cache_path)
    with pytest.raises(WeightsHashError, match="expected " + spec.weights.sha256):
        create_colorizer(regs, "gan")


def test_missing_weights_name_train_and_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    regs = manager.load()
    spec = regs.colorizers.get("profile")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    spec.weights = dataclasses.replace(spec.weights, path=None)
    with pytest.raises(WeightsUnavailableError) as err:
        create_colorizer(regs, "profile")
    text = str(err.value)
    assert "\n" not in text and "colorbench train profile" in text and "--checkpoint profile=" in text


def test_given_checkpoint_file_or_train_dir_and_expected_hash(tmp_path: Path, regs: manager.Registries) -> None:
    src = regs.colorizers.get("gan").weights.path
    out = tmp_path / "train-out"
    out.mkdir()
    (out / "checkpoint.pt").write_bytes(src.read_bytes())
    spec = regs.colorizers.get("gan")
    by_dir, by_file = resolve_checkpoint(spec, out), resolve_checkpoint(spec, out / "checkpoint.pt")
    assert by_dir == by_file and by_dir.source == "argument" and by_dir.sha256 == sha256(src)
    with pytest.raises(WeightsHashError, match="changed since it was recorded"):
        resolve_checkpoint(spec, out, expected_sha256="0" * 64)
    with pytest.raises(ColorbenchError, match="no such file"):
        resolve_checkpoint(spec, tmp_path / "nowhere")


# ------------------------------------------------------------------- options
def test_options_get_defaults_are_parsed_and_unknown_keys_listed(regs: manager.Registries) -> None:
    spec = regs.colorizers.get("ccc")
    opts = build_options(spec, {"temperature": "0.5"})
    assert opts == {"decode": "argmax", "temperature": 0.5}
    with pytest.raises(ColorbenchError, match=r"no option 'temprature'.*decode, temperature"):
        build_options(spec, {"temprature": 1})


def test_weight_tags_pick_the_declared_file(regs: manager.Registries) -> None:
    spec = regs.colorizers.get("semantic")
    assert resolve_checkpoint(spec).path == spec.weights.path
    shapes = resolve_checkpoint(spec, options={"weights": "shapes"})
    assert shapes.weights is spec.weight_tags["shapes"] and shapes.path.name == "semantic_tiny_shapes.pt"


# ------------------------------------------------- composites: registries passed
def test_composites_never_load_plugins_themselves(monkeypatch: pytest.MonkeyPatch, regs: manager.Registries) -> None:
    def refuse(**_: Any) -> Any:
        raise AssertionError("a plugin called plugins.load() itself")

    monkeypatch.setattr(manager, "load", refuse)
    harmonized = create_colorizer(regs, "ccc-harmonized", options={"segmenter": "slic"})
    router = create_colorizer(regs, "router")
    L = torch.linspace(10, 90, 32 * 32).reshape(1, 1, 32, 32)
    with torch.inference_mode():
        ab, info = router.colorize_with_info(L, ["x"])
        assert harmonized.colorize(L).shape == (1, 2, 32, 32)
    assert ab.shape == (1, 2, 32, 32) and info["member"][0] in router.pool


def test_disabled_segmenters_make_ccc_harmonized_unavailable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_folder(tmp_path / "imgs", 2)
    result = real_cli(monkeypatch, "--disable-plugin", "segmenters", "run", "--models", "ccc-harmonized,gray",
                      "--datasets", str(tmp_path / "imgs"), "--metrics", "cpsnr", "--size", "32", "--workers", "0",
                      "--out", str(tmp_path / "runs"), "--name", "r")
    assert result.exit_code == 1
    manifest = json.loads((tmp_path / "runs" / "r" / "run.json").read_text())
    (line,) = manifest["errors"]
    assert line.startswith("imgs/ccc-harmonized:") and "\n" not in line
    assert "no segmenter plugin is loaded" in line and "'segmenters' plugin disabled" in line
    assert "no segmenter plugin is loaded" in " ".join(result.output.split())
    summary = (tmp_path / "runs" / "r" / "summary.csv").read_text().splitlines()
    assert [row.split(",")[1] for row in summary[1:]] == ["gray"]


# --------------------------------------------------------------- capabilities
class Tagger:
    """Has colorize_with_info; whether the engine calls it depends on the spec only."""

    def __init__(self, device: Any = "cpu", **_: Any):
        self.calls: list[str] = []

    def colorize(self, L: torch.Tensor) -> torch.Tensor:
        self.calls.append("colorize")
        return torch.zeros(L.shape[0], 2, *L.shape[2:])

    def colorize_with_info(self, L: torch.Tensor, ids: list[str]) -> tuple[torch.Tensor, dict[str, list[str]]]:
        self.calls.append("with_info")
        return torch.full((L.shape[0], 2, *L.shape[2:]), 5.0), {"tag": [f"t-{i}" for i in ids]}


BUILT: dict[str, Tagger] = {}


def _tagger(name: str):
    def factory(**kw: Any) -> Tagger:
        BUILT[name] = Tagger(**kw)
        return BUILT[name]
    return factory


class TagPlugin:
    @hookimpl
    def register_colorizers(self, register: Any) -> None:
        register(ColorizerSpec(name="declared", factory=_tagger("declared"), extra_columns=("tag",)))
        register(ColorizerSpec(name="undeclared", factory=_tagger("undeclared"),
                               options=(Option("k", int, 3, "an option"),)))


def test_engine_reads_declared_capabilities_not_attributes(tmp_path: Path) -> None:
    from conftest import load_regs

    regs = load_regs([("tagger", TagPlugin())])
    assert regs.colorizers.get("declared").provides_info  # implied by extra_columns
    make_folder(tmp_path / "imgs", 2)
    cfg = RunConfig(models=["declared", "undeclared"], datasets=[str(tmp_path / "imgs")], metrics=["cpsnr"],
                    size=16, workers=0, out=str(tmp_path / "runs"), name="r")
    run_dir = Runner(cfg, regs, Reporter(quiet=True)).run().run_dir
    assert set(BUILT["declared"].calls) == {"with_info"}
    assert set(BUILT["undeclared"].calls) == {"colorize"}
    rows = (run_dir / "per_image.csv").read_text()
    assert "t-img000" in rows and "t-img001" in rows
    manifest = json.loads((run_dir / "run.json").read_text())
    assert manifest["colorizers"]["declared"]["provides_info"] is True
    assert manifest["colorizers"]["undeclared"]["provides_info"] is False


def test_weight_tags_need_a_weights_option() -> None:
    from colorbench import Weights

    w = Weights(name="x", file="x.pt", sha256="0" * 64)
    with pytest.raises(TypeError, match="weights"):
        ColorizerSpec(name="t", factory=dict, weight_tags={"a": w})


def test_saved_checkpoint_loads_through_the_factory(tmp_path: Path, regs: manager.Registries) -> None:
    path = save_checkpoint({"x": torch.ones(1)}, tmp_path / "c.pt")
    assert resolve_checkpoint(regs.colorizers.get("gray"), path).path == path
    assert resolve_checkpoint(regs.colorizers.get("gray")).source == "none"
