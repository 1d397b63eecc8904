"""Training data of the profile trainer: the one pass over the training images that computes
the colour descriptors (for the clustering) and fills the in-memory cache, and the
per-stage training pairs (a model's member images, with their profile as ``label``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from colorbench.errors import ColorbenchError
from colorbench.plugin.specs import Dataset, Sample
from colorbench.reporting import Reporter
from colorbench.training import ColorPairs
from colorbench_profile.profiles import Profiles, cluster, descriptor, joint_bins, lab_pixels


class Cached:
    """A dataset held in memory (images at shorter side ``cache_size``: decoding full-size
    JPEGs every step dominates CPU training); an image that failed to load is None."""

    def __init__(self, ids: list[str], images: list[np.ndarray | None]):
        self.ids, self.images = ids, images

    def load(self, index: int) -> Sample:
        image = self.images[index]
        if image is None:
            raise ColorbenchError(f"image {self.ids[index]} could not be read")
        return Sample(id=self.ids[index], image=image)


class Subset:
    """The images ``indices`` of ``dataset``, as a colorbench Dataset."""

    def __init__(self, dataset: Dataset, indices: list[int]):
        self.dataset, self.indices = dataset, indices
        self.ids = [dataset.ids[i] for i in indices]

    def load(self, index: int) -> Sample:
        return self.dataset.load(self.indices[index])


class MemberPairs(ColorPairs):
    """Training pairs of the images ``members`` of ``dataset`` (with ``augment``: random crop
    and flip, seeded by (seed, epoch, position); without: the run protocol's centre crop);
    with ``labels`` (one per member) each item has ``label``."""

    def __init__(self, dataset: Dataset, members: list[int], size: int, labels: list[int] | None = None,
                 flip: bool = True, seed: int = 0, augment: bool = True):
        super().__init__(Subset(dataset, members), size, train=augment, flip=flip and augment, seed=seed)
        self.labels = labels

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        item = super().__getitem__(index)
        if self.labels is not None:
            item["label"] = torch.tensor(self.labels[index])
        return item


def shrink(rgb: np.ndarray, side: int) -> np.ndarray:
    """``rgb`` resized (bicubic) to shorter side ``side`` when it is larger."""
    from PIL import Image

    h, w = rgb.shape[:2]
    if min(h, w) <= side:
        return rgb
    scale = side / min(h, w)
    size = (max(side, round(w * scale)), max(side, round(h * scale)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BICUBIC, reducing_gap=2.0))


def fit_pass(ds: Dataset, cfg: dict[str, Any], reporter: Reporter, seed: int,
             cluster_too: bool) -> tuple[Dataset, Profiles | None]:
    """One pass over the training images: the in-memory cache (``cache_size`` > 0) and, with
    ``cluster_too``, descriptors, joint a*b* bins and mean Lab clustered into profiles.
    Returns (the training dataset, the profiles or None). Broken images are left out."""
    n, side, fit = len(ds.ids), int(cfg.get("cache_size") or 0), int(cfg.get("fit_size", 32))
    if not side and not cluster_too:
        return ds, None
    images: list[np.ndarray | None] = []
    desc: list[np.ndarray | None] = []
    bins, means = np.zeros((n, fit * fit), dtype=np.uint16), np.zeros((n, 3))
    with reporter.progress("profile descriptors" if cluster_too else "caching images", n) as advance:
        for i in range(n):
            try:
                rgb = ds.load(i).image
            except Exception as exc:  # a broken image is left out, training goes on
                reporter.warn(f"image {ds.ids[i]}: {exc}; left out")
                images.append(None)
                desc.append(None)
                advance(1)
                continue
            if side:
                images.append(shrink(rgb, side))
            if cluster_too:
                lab = lab_pixels(rgb, fit)
                desc.append(descriptor(lab, cfg))
                bins[i] = joint_bins(lab)
                means[i] = lab.mean(0)
            advance(1)
    train_ds: Dataset = Cached(list(ds.ids), images) if side else ds
    if not cluster_too:
        return train_ds, None
    dim = next((len(d) for d in desc if d is not None), 1)
    arr = np.stack([d if d is not None else np.full(dim, np.nan) for d in desc])
    return train_ds, cluster(arr, bins, means, cfg, seed=seed)
