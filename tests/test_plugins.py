"""Plugin manager and registries: duplicates, unknown names, broken plugins, check_pending,
disabling plugins by name."""

from __future__ import annotations

import sys
import textwrap
import types
from pathlib import Path

import pytest

from colorbench import ColorizerSpec, DatasetSpec, MetricSpec, hookimpl
from colorbench.errors import DuplicateNameError, UnknownNameError
from colorbench.plugin import manager as plugins
from colorbench.plugin.registry import Registry


def _gray_factory(**kw: object) -> object:
    from colorbench_gray.plugin import Gray

    return Gray()


class DupGray:
    """A plugin that registers a second colorizer called 'gray'."""

    @hookimpl
    def register_colorizers(self, register):
        register(ColorizerSpec(name="gray", factory=_gray_factory, description="imposter"))


class Sepia:
    @hookimpl
    def register_colorizers(self, register):
        register(ColorizerSpec(name="sepia", factory=_gray_factory, description="warm"))


class Typo:
    """A hookimpl whose name matches no hook spec."""

    @hookimpl
    def register_colorisers(self, register):  # British spelling: not a hook
        raise AssertionError("never called")


class WrongSpecType:
    @hookimpl
    def register_metrics(self, register):
        register(DatasetSpec(name="oops", factory=dict))


# ------------------------------------------------------------------ Registry
def test_registry_duplicate_names_both_plugins() -> None:
    reg = Registry("colorizer", ColorizerSpec)
    reg.add(ColorizerSpec(name="x", factory=dict), plugin="first_plugin")
    with pytest.raises(DuplicateNameError) as err:
        reg.add(ColorizerSpec(name="x", factory=dict), plugin="second_plugin")
    assert "first_plugin" in str(err.value) and "second_plugin" in str(err.value)


def test_registry_alias_collides_with_name() -> None:
    reg = Registry("metric", MetricSpec)
    reg.add(MetricSpec(name="psnr", fn=len), plugin="a")
    with pytest.raises(DuplicateNameError, match="'psnr'"):
        reg.add(MetricSpec(name="cpsnr", fn=len, aliases=("psnr",)), plugin="b")


def test_registry_unknown_name_suggests_close_matches() -> None:
    reg = Registry("metric", MetricSpec)
    for name in ("cpsnr", "mse", "ssim"):
        reg.add(MetricSpec(name=name, fn=len), plugin="p")
    with pytest.raises(UnknownNameError) as err:
        reg.get("cpnsr")
    msg = str(err.value)
    assert "Did you mean 'cpsnr'" in msg
    assert "Known metrics: cpsnr, mse, ssim" in msg
    assert isinstance(err.value, KeyError)  # still a KeyError for dict-like callers
    assert not msg.startswith("'")  # not KeyError's quoted repr


def test_registry_aliases_resolve_to_canonical_name() -> None:
    reg = Registry("metric", MetricSpec)
    reg.add(MetricSpec(name="cpsnr", fn=len, aliases=("psnr",)), plugin="p")
    assert reg.get("psnr").name == "cpsnr" and reg.canonical("psnr") == "cpsnr"
    assert "psnr" in reg and reg.names() == ["cpsnr"] and len(reg) == 1


def test_registry_rejects_wrong_spec_type() -> None:
    reg = Registry("metric", MetricSpec)
    with pytest.raises(TypeError, match="DatasetSpec"):
        reg.add(DatasetSpec(name="d", factory=dict), plugin="p")


def test_spec_validation() -> None:
    with pytest.raises(TypeError, match="factory must be callable"):
        ColorizerSpec(name="x", factory=None)
    with pytest.raises(TypeError, match="exactly one of fn or factory"):
        MetricSpec(name="m")
    with pytest.raises(TypeError, match="distribution metrics need a factory"):
        MetricSpec(name="m", fn=len, kind="distribution")
    assert MetricSpec(name="m", fn=len).display_name == "M"


# ------------------------------------------------------------ plugin manager
def test_builtins_load_through_extra_plugins(regs_with) -> None:
    regs = regs_with()
    assert "gray" in regs.colorizers
    assert {"samples", "shapes", "folder"} <= set(regs.datasets.names())
    assert {"mse", "cpsnr"} <= set(regs.metrics.names())
    assert regs.colorizers.get("gray").plugin == "gray"
    assert not regs.failed
    info = {p.name: p for p in regs.plugins}
    assert info["gray"].hooks == ["register_colorizers"]


def test_duplicate_name_is_reported_as_plugin_failure_naming_both(regs_with) -> None:
    regs = regs_with(("dupgray", DupGray()), ("sepia", Sepia()))
    failed = {p.name: p.error for p in regs.failed}
    assert set(failed) == {"dupgray"}
    assert "'gray'" in failed["dupgray"] and "dupgray" in failed["dupgray"]
    assert "DuplicateNameError" in failed["dupgray"]
    # the original keeps working; so does an unrelated plugin
    assert regs.colorizers.get("gray").description.startswith("a*=b*=0")
    assert "sepia" in regs.colorizers


def test_plugin_that_raises_on_import_is_skipped_with_one_line(tmp_path: Path, monkeypatch) -> None:
    pkg = tmp_path / "cb_broken_plugin.py"
    pkg.write_text("raise RuntimeError('needs libfoo\\nsecond line of detail')\n")
    dist = tmp_path / "cb_broken_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: cb-broken-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[colorbench]\nbroken = cb_broken_plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    regs = plugins.load()  # entry points on: the broken one is among the installed
    broken = next(p for p in regs.plugins if p.name == "broken")
    assert broken.error == "RuntimeError: needs libfoo"
    assert broken.version == "0.1"
    assert "gray" in regs.colorizers and "mse" in regs.metrics  # the rest keep working
    import io

    stream = io.StringIO()
    plugins.report_failures(regs, stream)
    lines = [line for line in stream.getvalue().splitlines() if "broken" in line]
    assert lines == ["warning: plugin 'broken' (cb_broken_plugin) skipped: RuntimeError: needs libfoo"]
    sys.modules.pop("cb_broken_plugin", None)


def test_plugin_whose_hook_raises_is_skipped(regs_with) -> None:
    class Raises:
        @hookimpl
        def register_datasets(self, register):
            raise ValueError("bad config")

    regs = regs_with(("raises", Raises()))
    assert [(p.name, p.error) for p in regs.failed] == [("raises", "ValueError: bad config")]
    assert "samples" in regs.datasets


def test_wrong_spec_type_is_a_plugin_failure(regs_with) -> None:
    regs = regs_with(("wrongtype", WrongSpecType()))
    assert [p.name for p in regs.failed] == ["wrongtype"]
    assert "oops" not in regs.metrics


def test_typo_hook_name_is_rejected_by_check_pending(regs_with) -> None:
    regs = regs_with(("typo", Typo()), ("sepia", Sepia()))
    failed = {p.name: p.error for p in regs.failed}
    assert set(failed) == {"typo"}
    assert "register_colorisers" in failed["typo"]
    assert "sepia" in regs.colorizers and "gray" in regs.colorizers


def test_module_plugin(regs_with) -> None:
    mod = types.ModuleType("cb_test_sepia_module")
    exec(textwrap.dedent("""
        from colorbench import hookimpl, ColorizerSpec
        @hookimpl
        def register_colorizers(register):
            register(ColorizerSpec(name="modsepia", factory=lambda **kw: None))
    """), mod.__dict__)
    regs = regs_with(("modsepia", mod))
    assert regs.colorizers.get("modsepia").plugin == "modsepia"
    assert next(p for p in regs.plugins if p.name == "modsepia").module == "cb_test_sepia_module"


def test_disable_by_argument_and_env(regs_with, monkeypatch) -> None:
    regs = regs_with(("sepia", Sepia()), disabled=["gray"])
    assert "gray" not in regs.colorizers and "sepia" in regs.colorizers
    assert next(p for p in regs.plugins if p.name == "gray").error == "disabled"
    import io

    stream = io.StringIO()
    plugins.report_failures(regs, stream)
    assert stream.getvalue() == ""  # deliberately disabled: no warning

    monkeypatch.setenv("COLORBENCH_DISABLE_PLUGINS", " sepia , metrics_pixel")
    regs = regs_with(("sepia", Sepia()))
    assert "sepia" not in regs.colorizers and "mse" not in regs.metrics and "gray" in regs.colorizers


def test_disabling_resolves_a_duplicate(regs_with) -> None:
    regs = regs_with(("dupgray", DupGray()), disabled=["gray"])
    assert not [p for p in regs.failed if p.error != "disabled"]
    assert regs.colorizers.get("gray").description == "imposter"


def test_cli_disable_plugin_option(cli) -> None:
    cli.add_plugin("sepia", Sepia())
    out = cli("list", "colorizers").output
    assert "sepia" in out and "gray" in out
    out = cli("--disable-plugin", "sepia", "list", "colorizers").output
    assert "sepia" not in out and "gray" in out
    out = cli("--disable-plugin", "sepia,gray", "list", "plugins").output
    assert out.count("skipped: disabled") == 2


def test_listing_builds_no_model(regs_with) -> None:
    built = []

    class Lazy:
        @hookimpl
        def register_colorizers(self, register):
            register(ColorizerSpec(name="lazy", factory=lambda **kw: built.append(kw)))

    regs = regs_with(("lazy", Lazy()))
    assert "lazy" in regs.colorizers and built == []


def test_installed_entry_points_include_builtins() -> None:
    regs = plugins.load()
    names = {p.name for p in regs.plugins}
    assert {"gray", "datasets", "metrics_pixel"} <= names
    assert {"gray"} <= set(regs.colorizers.names())
