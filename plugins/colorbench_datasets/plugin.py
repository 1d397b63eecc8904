"""Registers the datasets ``samples``, ``shapes`` and ``folder``."""

from __future__ import annotations

from typing import Any

from colorbench import DatasetSpec, Option, hookimpl


def _samples(**kw: Any) -> Any:
    from colorbench_datasets.samples import Samples

    return Samples(**kw)


def _shapes(**kw: Any) -> Any:
    from colorbench_datasets.shapes import Shapes

    return Shapes(**kw)


def _folder(**kw: Any) -> Any:
    from colorbench_datasets.folder import Folder

    return Folder(**kw)


@hookimpl
def register_datasets(register: Any) -> None:
    register(DatasetSpec(
        name="samples", factory=_samples, splits=("test",),
        description="8 colour photos bundled with scikit-image and scikit-learn (embedded, no download)",
        licence="public domain / CC (see scikit-image and scikit-learn data notes)",
    ))
    register(DatasetSpec(
        name="shapes", factory=_shapes, splits=("train", "val", "test"),
        description="synthetic scenes whose colours follow their (visible) shape class; semantic maps",
        options=(
            Option("size", int, 64, "image side in pixels"),
            Option("n_images", int, 0, "images in the split (0: 256 train, 32 val, 32 test)"),
            Option("seed", int, 0, "generator seed"),
            Option("max_objects", int, 4, "at most this many objects per image"),
        ),
    ))
    register(DatasetSpec(
        name="folder", factory=_folder, splits=("all", "train", "val", "test"),
        description="every image under a directory (pass the directory to --datasets)",
        options=(
            Option("val_fraction", float, 0.1, "share of images in the val split"),
            Option("test_fraction", float, 0.1, "share of images in the test split"),
            Option("split_seed", int, 0, "seed of the hash split"),
        ),
    ))
