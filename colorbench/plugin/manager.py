"""Plugin manager: loads the ``colorbench`` entry-point group and fills the registries.

Built-in plugins (entry points of the ``colorbench`` distribution) are committed first,
then third-party plugins, each group in entry-point-name order. Registration is
all-or-nothing per plugin: its hooks register into a staging area that is committed only
when every hook succeeded. A plugin that fails to import or to register is reported in
one line and skipped; the rest keep working. An entry whose name or alias is already
taken is refused (the earlier owner keeps it) and recorded on the newcomer's PluginInfo.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from types import ModuleType
from typing import Any

import pluggy

from colorbench.errors import ColorbenchError
from colorbench.plugin import hookspecs
from colorbench.plugin.registry import Registry
from colorbench.plugin.specs import ColorizerSpec, DatasetSpec, MetricSpec, SegmenterSpec

ENTRY_POINT_GROUP = "colorbench"
DISABLE_ENV = "COLORBENCH_DISABLE_PLUGINS"
BUILTIN_DIST = "colorbench"


@dataclass
class Refusal:
    """One entry of a plugin refused because another plugin already owns the name."""

    kind: str  # colorizer, dataset, metric, segmenter
    name: str  # the refused entry
    plugin: str  # the plugin that tried to register it
    clash: str  # the name or alias that was taken
    owner: str  # the entry that holds it
    owner_plugin: str
    owner_builtin: bool

    def _who(self) -> str:
        return f"{'built-in ' if self.owner_builtin else ''}plugin {self.owner_plugin!r}"

    def __str__(self) -> str:
        if self.clash == self.name == self.owner:
            why = f"the name belongs to {self._who()}"
        else:
            why = f"the name {self.clash!r} belongs to {self.kind} {self.owner!r} of {self._who()}"
        return f"{self.kind} {self.name!r} of plugin {self.plugin!r} refused: {why}"

    @property
    def short(self) -> str:
        """E.g. ``colorizer gray (built-in gray)``, for ``colorbench list plugins``."""
        owner = f"{'built-in' if self.owner_builtin else 'plugin'} {self.owner_plugin}"
        clash = f"{self.clash}: " if self.clash != self.name else ""
        return f"{self.kind} {self.name} ({clash}{owner})"


@dataclass
class PluginInfo:
    """What loading one plugin gave: its hooks, why it was skipped, what was refused."""

    name: str
    module: str
    version: str = ""
    hooks: list[str] = field(default_factory=list)
    error: str | None = None  # why it was skipped ("disabled" when asked to)
    builtin: bool = False
    refused: list[Refusal] = field(default_factory=list)


@dataclass
class Registries:
    """The four registries plus one PluginInfo per plugin, in commit order."""

    colorizers: Registry[ColorizerSpec]
    datasets: Registry[DatasetSpec]
    metrics: Registry[MetricSpec]
    segmenters: Registry[SegmenterSpec]
    plugins: list[PluginInfo]

    @property
    def failed(self) -> list[PluginInfo]:
        """Plugins that were skipped, disabled ones included."""
        return [p for p in self.plugins if p.error]

    @property
    def refused(self) -> list[str]:
        """One line per refused entry, over all plugins."""
        return [str(r) for p in self.plugins for r in p.refused]

    @property
    def problems(self) -> list[str]:
        """One line per plugin skipped for an error (not disabled) and per refused entry."""
        skipped = [f"plugin {p.name!r} ({p.module}) skipped: {p.error}"
                   for p in self.failed if p.error != "disabled"]
        return [*skipped, *self.refused]


def disabled_from_env() -> set[str]:
    return {n.strip() for n in os.environ.get(DISABLE_ENV, "").split(",") if n.strip()}


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def _is_builtin(ep: metadata.EntryPoint) -> bool:
    dist = ep.dist.name if ep.dist is not None else ""
    return dist.lower().replace("_", "-") == BUILTIN_DIST


def load(
    disabled: Iterable[str] = (),
    extra_plugins: Iterable[tuple[str, ModuleType | object]] = (),
    entry_points: bool = True,
    builtin_plugins: Iterable[tuple[str, ModuleType | object]] = (),
) -> Registries:
    """Load every plugin and return filled registries.

    ``disabled``: plugin (entry-point) names to skip, added to $COLORBENCH_DISABLE_PLUGINS.
    ``extra_plugins``: (name, module-or-object) pairs loaded as third-party plugins.
    ``entry_points``: set False to load only ``extra_plugins`` and ``builtin_plugins``.
    ``builtin_plugins``: pairs loaded as built-in plugins (tests' stand-ins for them).
    """
    blocked = set(disabled) | disabled_from_env()
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    candidates: list[tuple[bool, str, str, Any, str]] = []  # builtin, name, module, loader, version
    if entry_points:
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            version = ep.dist.version if ep.dist is not None else ""
            candidates.append((_is_builtin(ep), ep.name, ep.value, ep.load, version))
    for builtin, pairs in ((True, builtin_plugins), (False, extra_plugins)):
        for name, obj in pairs:
            candidates.append((builtin, name, getattr(obj, "__name__", repr(obj)), lambda o=obj: o, ""))
    candidates.sort(key=lambda c: (not c[0], c[1]))  # built-ins first, then by name

    infos: list[PluginInfo] = []
    for builtin, name, module, loader, version in candidates:
        info = PluginInfo(name=name, module=module, version=version, builtin=builtin)
        infos.append(info)
        if name in blocked:
            info.error = "disabled"
            continue
        try:
            plugin = loader()
            pm.register(plugin, name=name)
        except Exception as exc:  # a broken plugin must not take the tool down
            info.error = _one_line(exc)
            continue
        info.hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        bad = getattr(exc, "plugin", None)
        for info in infos:
            if bad is not None and pm.get_plugin(info.name) is bad:
                info.error = _one_line(exc)
                pm.unregister(bad)
    return _fill(pm, infos)


def _new_registries(infos: list[PluginInfo]) -> Registries:
    return Registries(
        colorizers=Registry("colorizer", ColorizerSpec),
        datasets=Registry("dataset", DatasetSpec),
        metrics=Registry("metric", MetricSpec),
        segmenters=Registry("segmenter", SegmenterSpec),
        plugins=infos,
    )


HOOKS = {"register_colorizers": "colorizers", "register_datasets": "datasets",
         "register_metrics": "metrics", "register_segmenters": "segmenters"}


def _stage(pm: pluggy.PluginManager, info: PluginInfo) -> Registries:
    """Run every hook of one plugin into fresh registries (raises what a hook raises)."""
    staged = _new_registries([])
    for hook_name, attr in HOOKS.items():
        scratch: Registry[Any] = getattr(staged, attr)

        def register(spec: Any, r: Registry[Any] = scratch) -> None:
            if isinstance(spec, r.spec_type):  # the manager, not the spec, names the plugin
                spec = dataclasses.replace(spec, plugin=info.name)
            r.add(spec, info.name)  # wrong type or a name twice in one plugin: raises

        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            if impl.plugin_name == info.name:
                impl.function(register=register)
    return staged


def _fill(pm: pluggy.PluginManager, infos: list[PluginInfo]) -> Registries:
    regs = _new_registries(infos)
    builtin = {i.name: i.builtin for i in infos}
    for info in infos:
        if info.error:
            continue
        try:
            staged = _stage(pm, info)
        except Exception as exc:  # nothing of this plugin is committed
            info.error = _one_line(exc)
            continue
        for attr in HOOKS.values():
            registry: Registry[Any] = getattr(regs, attr)
            for spec in getattr(staged, attr):
                names = [spec.name, *getattr(spec, "aliases", ())]
                taken = next(((n, o) for n in names if (o := registry.owner(n)) is not None), None)
                if taken is None:
                    registry.add(spec, info.name)
                    continue
                clash, owner = taken
                info.refused.append(Refusal(registry.kind, spec.name, info.name, clash, owner.name,
                                            owner.plugin, builtin.get(owner.plugin, False)))
    return regs


def report_failures(regs: Registries, stream: Any = None) -> None:
    """Print one warning line per plugin that failed to load (not for deliberately disabled
    ones) and per refused entry."""
    stream = stream or sys.stderr
    for line in regs.problems:
        print(f"warning: {line}", file=stream)


def check_strict(regs: Registries) -> None:
    """Raise a one-line ColorbenchError (``--strict``) when any plugin was skipped for an
    error or had an entry refused."""
    problems = regs.problems
    if problems:
        raise ColorbenchError(f"--strict: {len(problems)} plugin problem(s): {'; '.join(problems)}")
