"""``colorbench list`` as a map of what is here: whether each metric runs, its options,
colorizer weights and capabilities, dataset roots."""

from __future__ import annotations

import types

import torch

from colorbench import ColorizerSpec, DatasetSpec, MetricSpec, Weights, hookimpl
from colorbench.errors import WeightsUnavailableError
from colorbench.plugin.specs import Option


def _raise() -> None:
    raise WeightsUnavailableError("torch-vision trunk not found; put it in the cache")


def _plugin(tmp_path):
    present = tmp_path / "here.pt"
    present.write_bytes(b"x" * 2048)
    here = Weights("here-w", "here.pt", "ab" * 32, licence="MIT", training="toy data", path=present, size=2048)
    gone = Weights("gone-w", "gone-never-cached.pt", "cd" * 32, url="https://example.org/gone.pt")

    @hookimpl
    def register_metrics(register):
        score = lambda batch: torch.zeros(batch.pred.shape[0])  # noqa: E731
        register(MetricSpec(name="m_ok", fn=score, options=(Option("alpha", int, 6, "bin size"),)))
        register(MetricSpec(name="m_gone", fn=score, pretrained=(gone,)))
        register(MetricSpec(name="m_check", fn=score, check_available=_raise))

    @hookimpl
    def register_colorizers(register):
        register(ColorizerSpec(name="toy", factory=lambda **kw: None, needs_weights=True, weights=here,
                               extra_columns=("route",), saves_maps=True))

    @hookimpl
    def register_datasets(register):
        register(DatasetSpec(name="toyset", factory=lambda **kw: None, needs_root=True))

    return types.SimpleNamespace(register_metrics=register_metrics, register_colorizers=register_colorizers,
                                 register_datasets=register_datasets)


def _row(output: str, name: str) -> str:
    return next(line for line in output.splitlines() if f"│ {name} " in line)


def test_metrics_say_whether_they_run_here_and_why_not(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "hub"))
    cli.add_plugin("toy", _plugin(tmp_path))
    out = cli("list", "metrics").output
    assert "runs here" in out
    assert _row(out, "m_ok").rstrip(" │").endswith("yes")
    assert "no: weights absent (colorbench weights download gone-w)" in _row(out, "m_gone")
    assert "no: torch-vision trunk not found" in _row(out, "m_check")
    assert _row(out, "cpsnr").rstrip(" │").endswith("yes")


def test_verbose_metrics_list_their_options_with_defaults(cli, tmp_path):
    cli.add_plugin("toy", _plugin(tmp_path))
    out = cli("list", "metrics", "-v").output
    assert "alpha=6 (int) bin size" in _row(out, "m_ok")


def test_verbose_colorizers_show_weights_file_hash_size_licence_training_and_capabilities(cli, tmp_path):
    cli.add_plugin("toy", _plugin(tmp_path))
    out = cli("list", "colorizers", "-v").output
    block = out[out.index("│ toy "):].split("├")[0].split("└")[0]
    for text in ("here.pt (shipped)", "sha256 abababababab…", "0.0 MB", "MIT", "training: toy data",
                 "per-image columns: route", "saves maps"):
        assert text in block, text


def test_datasets_show_whether_their_root_is_present(cli, tmp_path):
    cli.add_plugin("toy", _plugin(tmp_path))
    assert "DATA_ROOT/toyset: no --data-root" in _row(cli("list", "datasets").output, "toyset")
    assert f"{tmp_path / 'toyset'}: missing" in _row(cli("list", "datasets", "--data-root", tmp_path).output, "toyset")
    (tmp_path / "toyset").mkdir()
    assert f"{tmp_path / 'toyset'}: present" in _row(cli("list", "datasets", "--data-root", tmp_path).output, "toyset")
