"""Held-out labels (seed 001 §3.2 asks for the best member per image; rewarding a member for
fitting its own training images is not that): the pool's members must not have been trained
on the labelling images. Each member's training data comes from its checkpoint's
``training_data`` record (``colorbench train`` writes it) or, for shipped weights without
one, from the ``colorbench train`` command recorded in its ``Weights.training``."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import Any

from colorbench.errors import ColorbenchError
from colorbench.training.provenance import dataset_label


def recorded_training(spec: Any, path: Any) -> dict[str, Any] | None:
    """What a member was trained on: {"dataset", "split", "ids" (or None)}; None when unknown.
    A member that loads no weights learned from no images (dataset None)."""
    if path is None:
        return {"dataset": None, "split": None, "ids": []}
    from colorbench.models.checkpoints import load_checkpoint
    try:
        state = load_checkpoint(path)
    except ColorbenchError:
        state = None
    if isinstance(state, dict) and isinstance(state.get("training_data"), dict):
        return dict(state["training_data"])
    weights = getattr(spec, "weights", None)
    if weights is not None and getattr(weights, "path", None) is not None \
            and str(weights.path) == str(path):
        return from_command(getattr(weights, "training", "") or "")
    return None


def from_command(text: str) -> dict[str, Any] | None:
    """Dataset and split of the first ``colorbench train ... --dataset X [--split S]`` in ``text``."""
    try:
        words = shlex.split(text.split("&&")[0].split("(")[0])
    except ValueError:
        return None
    if "train" not in words or "--dataset" not in words[:-1]:
        return None
    split = words[words.index("--split") + 1] if "--split" in words[:-1] else "train"  # the CLI's default
    return {"dataset": dataset_label(words[words.index("--dataset") + 1]), "split": split, "ids": None}


def overlap(record: dict[str, Any], dataset: str | None, split: str | None, ids: Sequence[str]) -> int | None:
    """How many labelling images the member was trained on: the shared ids when the record
    lists them, else every image when dataset and split match; 0 when the dataset differs."""
    if record.get("dataset") is None or dataset_label(record.get("dataset")) != dataset_label(dataset):
        return 0
    if record.get("ids") is not None:
        return len(set(map(str, record["ids"])) & set(map(str, ids)))
    return len(ids) if record.get("split") == split else 0


def check_members(members: dict[str, dict[str, Any] | None], dataset: str | None, split: str | None,
                  ids: Sequence[str], allow: bool, warn: Any) -> dict[str, Any]:
    """Refuse (one line) when a member was trained on labelling images, unless ``allow``;
    returns the per-member finding recorded in the router's checkpoint and card."""
    found: dict[str, Any] = {}
    for name, rec in members.items():
        n = None if rec is None else overlap(rec, dataset, split, ids)
        found[name] = {"trained_on": None if rec is None else {k: rec.get(k) for k in ("dataset", "split")},
                       "overlap_images": n}
        if n is None:
            warn(f"router: member {name!r} records no training data; its overlap with the labels is unchecked")
        elif n and not allow:
            raise ColorbenchError(
                f"router: member {name!r} was trained on {n} of the {len(ids)} labelling images "
                f"({dataset_label(dataset)} split {split}); label on a held-out split (--set label_split=...) "
                f"or force it with --set allow_overlap=true")
        elif n:
            warn(f"router: allow_overlap=true: member {name!r} was trained on {n} labelling images")
    return {"allowed": bool(allow), "members": found}
