"""Plugin manager: loads the ``colorbench`` entry-point group and fills the registries.

Built-in plugins and third-party plugins load the same way. A plugin that fails to import
or to register is reported in one line and skipped; the rest keep working.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from types import ModuleType
from typing import Any

import pluggy

from colorbench.plugin import hookspecs
from colorbench.plugin.registry import Registry
from colorbench.plugin.specs import ColorizerSpec, DatasetSpec, MetricSpec, SegmenterSpec

ENTRY_POINT_GROUP = "colorbench"
DISABLE_ENV = "COLORBENCH_DISABLE_PLUGINS"


@dataclass
class PluginInfo:
    name: str
    module: str
    version: str = ""
    hooks: list[str] = field(default_factory=list)
    error: str | None = None  # why it was skipped


@dataclass
class Registries:
    colorizers: Registry[ColorizerSpec]
    datasets: Registry[DatasetSpec]
    metrics: Registry[MetricSpec]
    segmenters: Registry[SegmenterSpec]
    plugins: list[PluginInfo]

    @property
    def failed(self) -> list[PluginInfo]:
        return [p for p in self.plugins if p.error]


def disabled_from_env() -> set[str]:
    return {n.strip() for n in os.environ.get(DISABLE_ENV, "").split(",") if n.strip()}


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def load(
    disabled: Iterable[str] = (),
    extra_plugins: Iterable[tuple[str, ModuleType | object]] = (),
    entry_points: bool = True,
) -> Registries:
    """Load every plugin and return filled registries.

    ``disabled``: plugin (entry-point) names to skip, added to $COLORBENCH_DISABLE_PLUGINS.
    ``extra_plugins``: (name, module-or-object) pairs registered in addition (tests use it).
    ``entry_points``: set False to load only ``extra_plugins``.
    """
    blocked = set(disabled) | disabled_from_env()
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    infos: list[PluginInfo] = []
    candidates: list[tuple[str, str, Any, str]] = []  # name, module, loader, version
    if entry_points:
        for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            version = ep.dist.version if ep.dist is not None else ""
            candidates.append((ep.name, ep.value, ep.load, version))
    for name, obj in extra_plugins:
        candidates.append((name, getattr(obj, "__name__", repr(obj)), lambda o=obj: o, ""))

    for name, module, loader, version in candidates:
        info = PluginInfo(name=name, module=module, version=version)
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


def _fill(pm: pluggy.PluginManager, infos: list[PluginInfo]) -> Registries:
    regs = Registries(
        colorizers=Registry("colorizer", ColorizerSpec),
        datasets=Registry("dataset", DatasetSpec),
        metrics=Registry("metric", MetricSpec),
        segmenters=Registry("segmenter", SegmenterSpec),
        plugins=infos,
    )
    targets = {
        "register_colorizers": regs.colorizers,
        "register_datasets": regs.datasets,
        "register_metrics": regs.metrics,
        "register_segmenters": regs.segmenters,
    }
    by_name = {i.name: i for i in infos}
    for hook_name, registry in targets.items():
        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            info = by_name.get(impl.plugin_name)
            if info is None or info.error:
                continue
            try:
                impl.function(register=lambda spec, r=registry, p=impl.plugin_name: r.add(spec, p))
            except Exception as exc:
                info.error = _one_line(exc)
    return regs


def report_failures(regs: Registries, stream: Any = None) -> None:
    """Print one line per plugin that failed to load (not for deliberately disabled ones)."""
    stream = stream or sys.stderr
    for info in regs.failed:
        if info.error != "disabled":
            print(f"warning: plugin {info.name!r} ({info.module}) skipped: {info.error}", file=stream)
