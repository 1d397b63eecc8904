"""The flat module paths of colorbench 0.1 (``colorbench.engine``, ``colorbench.plugins``, ...)
as aliases of the modules' new homes, so that third-party code keeps importing them.

New code imports the new paths; a test checks that the core itself never uses these.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from types import ModuleType

MOVED: dict[str, str] = {
    "hookspecs": "plugin.hookspecs",
    "specs": "plugin.specs",
    "registry": "plugin.registry",
    "plugins": "plugin.manager",
    "options": "plugin.options",
    "colorclasses": "color.classes",
    "checkpoints": "models.checkpoints",
    "inference": "models.inference",
    "images": "evaluation.images",
    "engine": "evaluation.runner",
    "protocol": "evaluation.protocol",
    "loader": "evaluation.loader",
    "batch": "evaluation.batch",
    "metricset": "evaluation.metricset",
    "scoring": "evaluation.scoring",
    "selection": "evaluation.selection",
    "suites": "evaluation.suites",
    "provenance": "results.provenance",
    "summary": "results.summary",
    "leaderboard": "reporting.leaderboard",
    "report": "reporting.report",
    "report_html": "reporting.report_html",
    "curves": "reporting.curves",
    "significance": "reporting.significance",
}
_PREFIX = "colorbench."


class _AliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``colorbench.<old>`` and loads it as the module at its new path."""

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> importlib.machinery.ModuleSpec | None:
        if fullname.startswith(_PREFIX) and fullname[len(_PREFIX):] in MOVED:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None  # a placeholder; exec_module swaps in the real module

    def exec_module(self, module: ModuleType) -> None:
        # the import system returns whatever sys.modules holds under the name afterwards
        real = importlib.import_module(_PREFIX + MOVED[module.__name__[len(_PREFIX):]])
        sys.modules[module.__name__] = real


def install() -> None:
    """Put the alias finder on ``sys.meta_path`` once."""
    if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
        sys.meta_path.append(_AliasFinder())
