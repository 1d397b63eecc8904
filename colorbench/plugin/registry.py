"""Typed registries: one per kind of thing plugins register."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

from colorbench.errors import DuplicateNameError, UnknownNameError
from colorbench.plugin.specs import ColorizerSpec, DatasetSpec, MetricSpec, SegmenterSpec

S = TypeVar("S", ColorizerSpec, DatasetSpec, MetricSpec, SegmenterSpec)


class Registry(Generic[S]):
    """Name -> spec. Raises on duplicates (naming both plugins) and on unknown names
    (suggesting close matches)."""

    def __init__(self, kind: str, spec_type: type[S]):
        self.kind = kind
        self.spec_type = spec_type
        self._specs: dict[str, S] = {}
        self._aliases: dict[str, str] = {}

    def add(self, spec: S, plugin: str = "") -> None:
        """Add ``spec`` (credited to ``plugin`` unless it names one); raises
        DuplicateNameError when its name or an alias is taken (the manager checks first)."""
        if not isinstance(spec, self.spec_type):
            raise TypeError(
                f"plugin {plugin or '?'} registered a {type(spec).__name__} as a {self.kind};"
                f" expected {self.spec_type.__name__}"
            )
        spec.plugin = spec.plugin or plugin
        names = [spec.name, *getattr(spec, "aliases", ())]
        for name in names:
            owner = self.owner(name)
            if owner is not None:
                raise DuplicateNameError(
                    f"{self.kind} {name!r} is registered by both plugin {owner.plugin!r} and "
                    f"plugin {spec.plugin!r}; disable one with --disable-plugin"
                )
        self._specs[spec.name] = spec
        for alias in names[1:]:
            self._aliases[alias] = spec.name

    def owner(self, name: str) -> S | None:
        """The spec holding ``name`` as its name or an alias, or None when it is free."""
        return self._specs.get(name) or self._specs.get(self._aliases.get(name, ""))

    def get(self, name: str) -> S:
        key = self._aliases.get(name, name)
        try:
            return self._specs[key]
        except KeyError:
            raise UnknownNameError(self.kind, name, [*self._specs, *self._aliases]) from None

    def canonical(self, name: str) -> str:
        return self.get(name).name

    def names(self) -> list[str]:
        return sorted(self._specs)

    def __contains__(self, name: object) -> bool:
        return name in self._specs or name in self._aliases

    def __iter__(self) -> Iterator[S]:
        return iter(self._specs[n] for n in self.names())

    def __len__(self) -> int:
        return len(self._specs)
