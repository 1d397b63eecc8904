"""The protocol of distribution metrics (one value per (dataset, model) set), after
torchmetrics' ``Metric``: state declared with ``add_state`` and a reduction, then
``reset()``, ``update(batch)``, ``merge(other)`` and ``compute()``.

The engine builds each accumulator once per run (FID's Inception network is loaded once),
calls ``reset()`` before every pair, ``update`` per batch and ``compute()`` at the end of the
pair. ``merge`` combines the states of two accumulators of the same metric (e.g. shards of one
set); ``compute()`` after merging equals ``compute()`` over all the batches fed to either.
Under torchrun each rank feeds its own block of a set's images; rank 0 folds the other ranks'
``state()`` in rank order with ``merge_state`` and alone calls ``compute()``, so list ("cat")
states keep the dataset's image order.

After ``reset()`` the engine calls ``set_reference(reference)`` with the pair's ground-truth
side (``Reference``: a key that does not depend on the model, and the number of images), so
that a metric whose reference statistics depend only on the ground truths (FID/KID) can reuse
them from a cache instead of featurising the ground truths again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

REDUCTIONS = ("sum", "cat", "or", "merge")


@dataclass(frozen=True)
class Reference:
    """The ground-truth side of a (dataset, model) pair: ``key`` digests what the ground
    truths depend on (``reference_for``) and ``images`` is how many the whole pair scores
    (all shards together)."""

    key: str
    images: int


def reference_for(dataset_side: Mapping[str, Any], ids: Sequence[str],
                  sources: Mapping[str, str] | None = None) -> Reference:
    """The ``Reference`` of a pair whose ground truths are determined by ``dataset_side``
    (dataset fingerprint and protocol: split, size, resize), the ordered image ``ids`` and,
    where known, each image file's signature (``sources``: id -> size:mtime)."""
    text = json.dumps({"dataset": dataset_side, "ids": list(ids),
                       "sources": [(sources or {}).get(i, "") for i in ids]}, sort_keys=True, default=str)
    return Reference(hashlib.sha256(text.encode()).hexdigest(), len(ids))


def _fresh(default: Any) -> Any:
    if callable(default):
        return default()
    if isinstance(default, torch.Tensor):
        return default.clone()
    if isinstance(default, list):
        return list(default)
    return default


def _combine(a: Any, b: Any, reduce: str) -> Any:
    if a is None:
        return _fresh(b)
    if b is None:
        return a
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        b = b.to(a.device)  # a state gathered from another rank arrives on the CPU
    if reduce == "sum":
        return a + b
    if reduce == "cat":
        return [*a, *b]
    if reduce == "or":
        return a | b
    a.merge(b)  # "merge": the state is an object that merges itself
    return a


class Accumulator:
    """Base class of distribution metrics. Subclasses call ``add_state`` in ``__init__``
    (after ``super().__init__()``) and implement ``update(batch)`` and ``compute() -> float``;
    ``info() -> dict`` (stored beside the value in run.json when the spec declares
    ``provides_info``) is optional. Non-state attributes (networks, options) survive ``reset``.
    """

    def __init__(self) -> None:
        self._states: dict[str, tuple[Any, str]] = {}

    def add_state(self, name: str, default: Any | Callable[[], Any], reduce: str) -> None:
        """Declare a state: ``default`` is a value (tensor, list, number, None) or a
        zero-argument factory; ``reduce`` one of sum, cat (lists), or (bool tensors) and
        merge (objects with their own ``merge``)."""
        if reduce not in REDUCTIONS:
            raise ValueError(f"add_state({name!r}): reduce must be one of {', '.join(REDUCTIONS)}")
        self._states[name] = (default, reduce)
        setattr(self, name, _fresh(default))

    def reset(self) -> None:
        """Back to the declared defaults (before each (dataset, model) pair)."""
        for name, (default, _) in self._states.items():
            setattr(self, name, _fresh(default))

    def merge(self, other: Accumulator) -> Accumulator:
        """Fold ``other``'s state into this one (``other`` is left as it was); returns self."""
        if type(other) is not type(self):
            raise TypeError(f"cannot merge {type(other).__name__} into {type(self).__name__}")
        return self.merge_state(other.state())

    def state(self) -> dict[str, Any]:
        """The declared states by name, tensors on the CPU: what one rank of a sharded
        evaluation sends to rank 0 (picklable when every state is)."""
        return {name: getattr(self, name).cpu() if isinstance(getattr(self, name), torch.Tensor)
                else getattr(self, name) for name in self._states}

    def merge_state(self, state: dict[str, Any]) -> Accumulator:
        """Fold a ``state()`` of an accumulator of the same metric into this one; returns self."""
        for name, (_, reduce) in self._states.items():
            setattr(self, name, _combine(getattr(self, name), state[name], reduce))
        return self

    def set_reference(self, reference: Reference | None) -> None:
        """The pair's ground-truth side, given after ``reset()`` (None: not known). Ignored
        by default."""

    def update(self, batch: Any) -> None:
        raise NotImplementedError

    def compute(self) -> float:
        raise NotImplementedError

    def info(self) -> dict[str, Any]:
        return {}
