"""A batch of loader Items that crosses the worker -> main process boundary as one tensor per
field and image shape, instead of one shared-memory tensor (one file descriptor, one socket
connection) per image and field; the main process gets the same Items, as views."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

FIELDS = ("rgb", "L", "pred")  # the Item's tensor fields


class PackedItems(list):  # type: ignore[type-arg]
    """A list of Items (``loader.collate``'s batch); pickling packs its tensors (``pack``)."""

    def __reduce__(self) -> tuple[Any, ...]:
        return unpack, pack(self)


def pack(items: list[Any]) -> tuple[list[Any], list[tuple[str, list[int], torch.Tensor]]]:
    """The Items without their tensors, and per field and shape: the item positions and their
    tensors stacked into one."""
    groups: dict[tuple[str, tuple[int, ...], torch.dtype], list[int]] = {}
    for k, it in enumerate(items):
        for name in FIELDS:
            t = getattr(it, name)
            if t is not None:
                groups.setdefault((name, tuple(t.shape), t.dtype), []).append(k)
    stacks = [(name, ks, torch.stack([getattr(items[k], name) for k in ks]))
              for (name, _, _), ks in groups.items()]
    bare = [dataclasses.replace(it, **{n: None for n in FIELDS}) for it in items]
    return bare, stacks


def unpack(bare: list[Any], stacks: list[tuple[str, list[int], torch.Tensor]]) -> PackedItems:
    """``pack`` undone: each Item's tensors are views into its batch's stacked tensors."""
    for name, ks, stacked in stacks:
        for j, k in enumerate(ks):
            setattr(bare[k], name, stacked[j])
    return PackedItems(bare)
