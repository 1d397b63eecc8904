"""Registers the datasets ``samples``, ``shapes``, ``folder`` and the six standard sets
(``coco``, ``flowers``, ``places365``, ``imagenet``, ``celeba``, ``ade20k``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from colorbench import DatasetSpec, Option, hookimpl
from colorbench_datasets.layout import SOURCES


def _samples(**kw: Any) -> Any:
    from colorbench_datasets.samples import Samples

    return Samples(**kw)


def _shapes(**kw: Any) -> Any:
    from colorbench_datasets.shapes import Shapes

    return Shapes(**kw)


def _folder(**kw: Any) -> Any:
    from colorbench_datasets.folder import Folder

    return Folder(**kw)


def _folder_fixture(root: Path) -> None:
    """Four small seeded colour PNGs, one in a sub-folder (the contract check's folder)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for rel in ("a.png", "b.png", "c.png", "sub/d.png"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)).save(root / rel)


def _fixture(builder: str) -> Any:
    """A ``test_fixture`` calling ``colorbench_datasets.fixtures.<builder>(root)`` (imported when used)."""

    def write(root: Path) -> None:
        from colorbench_datasets import fixtures

        getattr(fixtures, builder)(root)

    return write


def _lazy(module: str, cls: str) -> Any:
    """A factory importing ``colorbench_datasets.<module>`` only when the dataset is built."""

    def factory(**kw: Any) -> Any:
        import importlib

        return getattr(importlib.import_module(f"colorbench_datasets.{module}"), cls)(**kw)

    factory.__name__ = f"build_{module}"
    return factory


# name -> (module, class, splits, default split, description, options)
STANDARD: dict[str, tuple[str, str, tuple[str, ...], str, str, tuple[Option, ...]]] = {
    "coco": ("coco", "Coco", ("test", "train"), "test",
             "COCO 2017: val2017 (test) and train2017 (train); semantic maps from annotations/",
             (Option("semantic", bool, True, "build semantic maps when annotations/instances_*.json exists"),
              Option("stuff", bool, True, "add stuff classes when annotations/stuff_*.json exists"),
              Option("class_ids", str, "coco", "semantic values: COCO category ids or contiguous 1..K",
                     choices=("coco", "contiguous")))),
    "flowers": ("flowers", "Flowers", ("test", "train", "val"), "test",
                "Oxford 102 Flowers: jpg/, setid.mat splits (trnid/valid/tstid), imagelabels.mat", ()),
    "places365": ("places365", "Places365", ("val", "train", "test"), "val",
                  "Places365-Standard 256x256: val_256 + places365_val.txt (train/test when present)", ()),
    "imagenet": ("imagenet", "ImageNet", ("val", "val5k", "ctest10k", "train"), "val",
                 "ImageNet-1k validation, flat or synset folders; ctest10k and val5k protocols", ()),
    "celeba": ("celeba", "CelebA", ("test", "train", "val"), "test",
               "CelebA aligned faces: img_align_celeba + list_eval_partition.txt", ()),
    "ade20k": ("ade20k", "ADE20K", ("val", "train"), "val",
               "ADE20K SceneParsing (ADEChallengeData2016): images + 150-class semantic maps", ()),
}


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
        name="folder", factory=_folder, splits=("all", "train", "val", "test"), test_fixture=_folder_fixture,
        description="every image under a directory (pass the directory to --datasets)",
        options=(
            Option("val_fraction", float, 0.1, "share of images in the val split"),
            Option("test_fraction", float, 0.1, "share of images in the test split"),
            Option("split_seed", int, 0, "seed of the hash split"),
        ),
    ))
    fixtures = {"coco": _fixture("make_coco"), "flowers": _fixture("make_flowers")}
    for name, (module, cls, splits, default, description, options) in STANDARD.items():
        src = SOURCES[name]
        register(DatasetSpec(
            name=name, factory=_lazy(module, cls), needs_root=True, splits=splits, test_fixture=fixtures.get(name),
            default_split=default, description=description, options=options,
            homepage=src.homepage, licence=src.licence, root_names=src.root_names,
        ))
