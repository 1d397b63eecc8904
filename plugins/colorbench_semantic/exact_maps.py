"""A dataset's own semantic maps as the colorizer's maps (``--set exact_maps=DATASET[:SPLIT[:KEY=VALUE...]]``):
the exact-map evaluation of a colorizer stage, e.g. ``shapes:test`` or ``shapes:test:n_images=128``.

The maps are matched to the run's images by sample id; an image of the run without a map
in that dataset is an error, so a mismatched dataset cannot silently fall back to GridNet.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from colorbench.errors import ColorbenchError


def parse(text: str) -> tuple[str, str | None, dict[str, str]]:
    """``DATASET[:SPLIT[:KEY=VALUE...]]`` → (dataset, split or None, dataset options as text)."""
    name, *rest = text.split(":")
    split = rest[0] or None if rest else None
    options: dict[str, str] = {}
    for item in rest[1:]:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ColorbenchError(f"exact_maps={text}: {item!r} is not KEY=VALUE "
                                  "(write DATASET[:SPLIT[:KEY=VALUE...]], e.g. shapes:test:n_images=128)")
        options[key] = value
    if not name:
        raise ColorbenchError(f"exact_maps={text}: no dataset name (e.g. shapes:test)")
    return name, split, options


def dataset_maps(registries: Any, text: str) -> dict[str, np.ndarray]:
    """Sample id → class map [H, W] of every sample of the dataset ``text`` names."""
    from colorbench.evaluation.selection import resolve_datasets
    from colorbench.models.factory import build_options

    name, split, given = parse(text)
    (resolved,) = resolve_datasets(registries, [name])
    dataset = resolved.build(split, None, build_options(resolved.spec, given))
    maps: dict[str, np.ndarray] = {}
    for index in range(len(dataset)):
        sample = dataset.load(index)
        if sample.semantic is None:
            raise ColorbenchError(f"exact_maps={text}: sample {sample.id!r} has no semantic map "
                                  "(choose a dataset with maps, e.g. shapes)")
        maps[sample.id] = np.asarray(sample.semantic)
    return maps
