"""Plugin manager and registries: duplicates (built-ins first, refused entries), unknown
names, broken plugins (all-or-nothing), check_pending, disabling plugins by name, and how
the CLI shows refusals (list plugins, run/score --strict)."""

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


GRAY_REFUSED = "colorizer 'gray' of plugin '{plugin}' refused: the name belongs to built-in plugin 'gray'"


class Evil:
    """A third-party plugin: one entry clashes with the built-in gray, the other is new."""

    @hookimpl
    def register_colorizers(self, register):
        register(ColorizerSpec(name="gray", factory=_gray_factory, description="imposter"))
        register(ColorizerSpec(name="evilsepia", factory=_gray_factory, description="warm"))


class HalfThenRaises:
    """Registers one colorizer, then its hook raises."""

    @hookimpl
    def register_colorizers(self, register):
        register(ColorizerSpec(name="half", factory=_gray_factory))
        raise RuntimeError("lost the config half-way")


class SecondHookRaises:
    """Its colorizer hook succeeds; its metric hook (called later) raises."""

    @hookimpl
    def register_colorizers(self, register):
        register(ColorizerSpec(name="firsthook", factory=_gray_factory))

    @hookimpl
    def register_metrics(self, register):
        register(MetricSpec(name="secondhook", fn=len))
        raise ValueError("no metric today")


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


def test_tiny_variant_must_name_a_config_of_a_trainable_colorizer() -> None:
    configs = {"tiny": {"size": 64, "steps": None}}
    with pytest.raises(TypeError, match="needs train="):
        ColorizerSpec(name="x", factory=dict, configs=configs, test_config="tiny")
    with pytest.raises(TypeError, match="must name one of its configs"):
        ColorizerSpec(name="x", factory=dict, train=len, configs=configs, test_config="micro")
    with pytest.raises(TypeError, match=r"test_overrides \['sise'\]"):
        ColorizerSpec(name="x", factory=dict, train=len, configs=configs, test_config="tiny",
                      test_overrides={"sise": 32})
    spec = ColorizerSpec(name="x", factory=dict, train=len, configs=configs, test_config="tiny",
                         test_overrides={"size": 32})
    assert spec.test_overrides == {"size": 32}


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


def test_duplicate_name_is_refused_naming_both_plugins(regs_with) -> None:
    regs = regs_with(("dupgray", DupGray()), ("sepia", Sepia()))
    assert not regs.failed  # a refused entry does not skip its plugin
    info = {p.name: p for p in regs.plugins}
    assert [str(r) for r in info["dupgray"].refused] == [GRAY_REFUSED.format(plugin="dupgray")]
    assert regs.refused == [GRAY_REFUSED.format(plugin="dupgray")]
    # the original keeps working; so does an unrelated plugin
    assert regs.colorizers.get("gray").description.startswith("a*=b*=0")
    assert regs.colorizers.get("gray").plugin == "gray"
    assert "sepia" in regs.colorizers
    import io

    stream = io.StringIO()
    plugins.report_failures(regs, stream)
    assert stream.getvalue().splitlines() == [f"warning: {GRAY_REFUSED.format(plugin='dupgray')}"]


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


# ------------------------------------------------- precedence and all-or-nothing
def _installed_plugin(tmp_path: Path, monkeypatch, module: str, ep_name: str, body: str) -> None:
    """Installs a third-party distribution with one ``colorbench`` entry point (on sys.path)."""
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(body))
    dist = tmp_path / f"{module}-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module.replace('_', '-')}\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[colorbench]\n{ep_name} = {module}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, module, raising=False)


@pytest.mark.parametrize("name", ["evil", "aaa"])  # "aaa" sorts before every built-in
def test_third_party_cannot_replace_a_builtin_among_real_entry_points(name: str) -> None:
    regs = plugins.load(extra_plugins=[(name, Evil())])
    info = {p.name: p for p in regs.plugins}
    assert info["gray"].builtin and not info[name].builtin
    assert regs.colorizers.get("gray").plugin == "gray"
    assert regs.colorizers.get("gray").description.startswith("a*=b*=0")
    assert info[name].error is None and [str(r) for r in info[name].refused] == [GRAY_REFUSED.format(plugin=name)]
    assert GRAY_REFUSED.format(plugin=name) in regs.refused
    assert regs.colorizers.get("evilsepia").plugin == name  # its other entry still registers
    assert [p.name for p in regs.plugins].index(name) > [p.name for p in regs.plugins].index("gray")


def test_installed_third_party_entry_point_sorting_first_is_refused(tmp_path: Path, monkeypatch) -> None:
    _installed_plugin(tmp_path, monkeypatch, "cb_aaa_plugin", "aaa", """
        from colorbench import hookimpl, ColorizerSpec
        @hookimpl
        def register_colorizers(register):
            register(ColorizerSpec(name="gray", factory=lambda **kw: None, description="imposter"))
    """)
    regs = plugins.load()
    info = {p.name: p for p in regs.plugins}
    assert not info["aaa"].builtin and info["aaa"].version == "0.1"
    assert regs.colorizers.get("gray").plugin == "gray"
    assert [str(r) for r in info["aaa"].refused] == [GRAY_REFUSED.format(plugin="aaa")]


def test_metric_alias_cannot_be_taken(regs_with) -> None:
    class TakesAlias:
        @hookimpl
        def register_metrics(self, register):
            register(MetricSpec(name="psnr", fn=len))  # the built-in cpsnr's alias
            register(MetricSpec(name="mypsnr", fn=len, aliases=("cpsnr",)))  # an alias on its name
            register(MetricSpec(name="fine", fn=len))

    regs = regs_with(("aaa", TakesAlias()))
    assert regs.metrics.get("psnr").name == "cpsnr" and regs.metrics.get("cpsnr").plugin == "metrics_pixel"
    assert "mypsnr" not in regs.metrics and regs.metrics.get("fine").plugin == "aaa"
    assert sorted(regs.refused) == [
        "metric 'mypsnr' of plugin 'aaa' refused: the name 'cpsnr' belongs to metric 'cpsnr' of built-in plugin 'metrics_pixel'",
        "metric 'psnr' of plugin 'aaa' refused: the name 'psnr' belongs to metric 'cpsnr' of built-in plugin 'metrics_pixel'",
    ]


def test_between_third_party_plugins_the_first_by_name_keeps_it(regs_with) -> None:
    class Other:
        @hookimpl
        def register_colorizers(self, register):
            register(ColorizerSpec(name="sepia", factory=_gray_factory, description="other"))

    regs = regs_with(("zzz", Other()), ("sepia", Sepia()))
    assert regs.colorizers.get("sepia").plugin == "sepia"
    assert regs.refused == ["colorizer 'sepia' of plugin 'zzz' refused: the name belongs to plugin 'sepia'"]


def test_hook_that_raises_after_a_register_leaves_nothing(regs_with) -> None:
    regs = regs_with(("half", HalfThenRaises()), ("sepia", Sepia()))
    assert "half" not in regs.colorizers and "sepia" in regs.colorizers
    assert [(p.name, p.error) for p in regs.failed] == [("half", "RuntimeError: lost the config half-way")]
    import io

    stream = io.StringIO()
    plugins.report_failures(regs, stream)
    module = next(p.module for p in regs.plugins if p.name == "half")
    assert stream.getvalue() == f"warning: plugin 'half' ({module}) skipped: RuntimeError: lost the config half-way\n"


def test_second_hook_raising_undoes_the_first_hook(regs_with) -> None:
    regs = regs_with(("second", SecondHookRaises()))
    assert "firsthook" not in regs.colorizers and "secondhook" not in regs.metrics
    info = next(p for p in regs.plugins if p.name == "second")
    assert info.error == "ValueError: no metric today" and info.refused == []
    assert info.hooks == ["register_colorizers", "register_metrics"]


def test_a_name_twice_in_one_plugin_skips_it(regs_with) -> None:
    class Twice:
        @hookimpl
        def register_colorizers(self, register):
            register(ColorizerSpec(name="twice", factory=_gray_factory))
            register(ColorizerSpec(name="twice", factory=_gray_factory))

    regs = regs_with(("twice", Twice()))
    assert "twice" not in regs.colorizers
    assert "DuplicateNameError" in next(p.error for p in regs.failed if p.name == "twice")


def test_a_spec_cannot_claim_another_plugin(regs_with) -> None:
    from colorbench_gray import plugin as gray_plugin

    shared: list[ColorizerSpec] = []
    gray_plugin.register_colorizers(shared.append)  # the built-in's own spec object

    class Masquerade:
        @hookimpl
        def register_colorizers(self, register):
            register(ColorizerSpec(name="masked", factory=_gray_factory, plugin="gray"))
            register(shared[0])

    regs = regs_with(("mask", Masquerade()))
    assert regs.colorizers.get("masked").plugin == "mask"
    assert regs.colorizers.get("gray").plugin == "gray" and shared[0].plugin == ""
    assert regs.refused == [GRAY_REFUSED.format(plugin="mask")]


def test_cli_list_plugins_shows_refused_entries(cli) -> None:
    cli.add_plugin("aaa", Evil())
    result = cli("list", "plugins")
    row = next(line for line in result.output.splitlines() if line.lstrip("│ ").startswith("aaa "))
    assert "ok; refused: colorizer gray (built-in gray)" in row
    assert GRAY_REFUSED.format(plugin="aaa") in result.output  # the warning on stderr


def _run_gray(cli, tmp_path: Path, name: str, *extra: str):
    from conftest import make_folder

    make_folder(tmp_path / "imgs", 2)
    return cli("run", "--models", "gray", "--datasets", str(tmp_path / "imgs"), "--metrics", "cpsnr",
               "--size", "16", "--workers", "0", "--out", str(tmp_path / "runs"), "--name", name,
               "--quiet", *extra, ok=False)


def test_run_strict_fails_on_a_refused_entry(cli, tmp_path: Path) -> None:
    cli.add_plugin("aaa", Evil())
    result = _run_gray(cli, tmp_path, "strict", "--strict")
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert errors == [f"error: --strict: 1 plugin problem(s): {GRAY_REFUSED.format(plugin='aaa')}"]
    assert not (tmp_path / "runs/strict/per_image.csv").exists()

    result = _run_gray(cli, tmp_path, "lenient")
    assert result.exit_code == 0, result.output
    rows = (tmp_path / "runs/lenient/per_image.csv").read_text().splitlines()
    assert len(rows) == 3 and all(",gray," in r for r in rows[1:])


def test_run_strict_fails_on_a_raising_hook_not_on_a_disabled_plugin(cli, tmp_path: Path) -> None:
    cli.add_plugin("half", HalfThenRaises())
    result = _run_gray(cli, tmp_path, "strict", "--strict")
    assert result.exit_code == 2 and "plugin 'half'" in result.output and "skipped" in result.output
    result = cli("--disable-plugin", "half", "run", "--models", "gray", "--datasets", "samples",
                 "--limit", "1", "--metrics", "cpsnr", "--size", "16", "--workers", "0",
                 "--out", str(tmp_path / "runs"), "--name", "disabled", "--quiet", "--strict")
    assert (tmp_path / "runs/disabled/per_image.csv").exists()


def test_score_strict_fails_on_a_refused_entry(cli, tmp_path: Path) -> None:
    from conftest import make_folder

    make_folder(tmp_path / "pred", 1)
    make_folder(tmp_path / "gt", 1)
    cli.add_plugin("aaa", Evil())
    args = ["score", "--pred", str(tmp_path / "pred"), "--gt", str(tmp_path / "gt"), "--metrics", "cpsnr",
            "--workers", "0", "--quiet"]
    result = cli(*args, "--out", str(tmp_path / "s1"), "--strict", ok=False)
    assert result.exit_code == 2 and "refused" in result.output
    cli(*args, "--out", str(tmp_path / "s2"))
    assert (tmp_path / "s2/per_image.csv").exists()
