"""Every weights file the loaded plugins declare (``colorbench weights``): the colorizers'
default, tagged and ``pretrained`` weights, the metrics' and segmenters' ``pretrained`` files,
each once, with what uses it and whether it is here."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from colorbench.errors import UnknownNameError
from colorbench.models.weights import Weights

if TYPE_CHECKING:
    from colorbench.plugin.manager import Registries

KINDS = ("colorizer", "metric", "segmenter", "dataset")


@dataclass(frozen=True)
class WeightsEntry:
    """One declared file and the registered names that use it (``("metric", "lpips")``, ...)."""

    weights: Weights
    used_by: tuple[tuple[str, str], ...]

    @property
    def status(self) -> str:
        """``shipped`` (inside its package), ``cached`` (torch hub cache) or ``absent``; no hash check."""
        path = self.weights.locate()
        if path is None:
            return "absent"
        return "shipped" if self.weights.path is not None and path == Path(self.weights.path) else "cached"

    @property
    def size(self) -> int | None:
        """The declared size in bytes, else the present file's, else None."""
        path = self.weights.locate()
        return self.weights.size if self.weights.size is not None else (path.stat().st_size if path else None)

    def record(self) -> dict[str, Any]:
        """What ``colorbench weights list --json`` prints for it."""
        w, path = self.weights, self.weights.locate()
        return {"name": w.name, "file": w.file, "description": w.description,
                "used_by": [f"{kind} {name}" for kind, name in self.used_by], "url": w.url,
                "sha256": w.sha256 or None, "md5": w.md5 or None, "licence": w.licence, "training": w.training,
                "size": self.size, "status": self.status, "present": path is not None,
                "path": str(path) if path else None, "cache_path": str(w.cache_path),
                "shipped_path": str(w.path) if w.path is not None else None}


def declared(regs: Registries) -> list[WeightsEntry]:
    """Every file declared on a registered spec, in name order, each once."""
    found: dict[tuple[str, str], tuple[Weights, list[tuple[str, str]]]] = {}
    for kind in KINDS:
        for spec in getattr(regs, f"{kind}s"):
            for w in spec.all_weights():
                found.setdefault((w.name, w.file), (w, []))[1].append((kind, spec.name))
    return [WeightsEntry(w, tuple(users)) for _, (w, users) in sorted(found.items())]


def _key(text: str) -> str:
    return text.lower().replace("_", "-")


def select(entries: list[WeightsEntry], names: Iterable[str]) -> list[WeightsEntry]:
    """The entries ``names`` pick: a weights name, its file (with or without extension), or
    the name of a colorizer, metric or segmenter using it (``-`` and ``_`` alike). None
    given: all. An unknown name raises UnknownNameError listing the weights names."""
    names = list(names)
    if not names:
        return list(entries)
    out: list[WeightsEntry] = []
    for name in names:
        key = _key(name)
        hits = [e for e in entries if key in {_key(e.weights.name), _key(e.weights.file),
                                              _key(e.weights.file.rsplit(".", 1)[0]),
                                              *(_key(user) for _, user in e.used_by)}]
        if not hits:
            raise UnknownNameError("weights file", name, [e.weights.name for e in entries])
        out += [e for e in hits if e not in out]
    return out
