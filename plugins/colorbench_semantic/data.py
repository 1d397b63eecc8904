"""Training data of ``semantic``: (L, ab, map) crops, the class list, the map check and the
pseudo-labeler's fit (the data-derived state computed once on rank 0)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from colorbench.color import rgb_to_lab
from colorbench.errors import ColorbenchError
from colorbench.evaluation.protocol import resize
from colorbench.plugin.specs import Dataset
from colorbench.training import load_sample
from colorbench_semantic.pseudo import PseudoLabeler


class SemanticPairs(torch.utils.data.Dataset[dict[str, torch.Tensor]]):
    """(L [1,S,S], ab [2,S,S], semantic [S,S] long): the image (and map, nearest) stretched
    to ``scale`` x ``scale``, a random ``size`` crop and random h/v flips (the paper's
    augmentation) when ``train``; the centre crop otherwise. ``labeler`` replaces the map
    with pseudo-labels of the crop's L*. Augmentation of item i in epoch e is drawn from
    ``default_rng([seed, e, i])``."""

    def __init__(self, dataset: Dataset, size: int, scale: int, train: bool = True, seed: int = 0,
                 labeler: PseudoLabeler | None = None, vflip: bool = True):
        self.dataset, self.size, self.scale, self.train = dataset, size, max(scale, size), train
        self.seed, self.epoch, self.labeler, self.vflip = seed, 0, labeler, vflip

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose augmentation ``__getitem__`` draws."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.dataset.ids)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        from PIL import Image

        sample = load_sample(self.dataset, index)
        if sample.semantic is None and self.labeler is None:
            raise ColorbenchError(f"image {sample.id!r} has no semantic map; train on a dataset with maps "
                                  "(shapes, coco, ade20k) or use --set labels=pseudo")
        rng = np.random.default_rng([self.seed, self.epoch, index])
        s, c = self.scale, self.size
        image = resize(sample.image, s, "stretch")
        sem = None
        if self.labeler is None:
            sem = np.array(Image.fromarray(np.ascontiguousarray(sample.semantic).astype(np.int32))
                           .resize((s, s), Image.Resampling.NEAREST))
        top, left = (int(rng.integers(0, s - c + 1)), int(rng.integers(0, s - c + 1))) if self.train \
            else ((s - c) // 2, (s - c) // 2)
        image = image[top:top + c, left:left + c]
        sem = sem[top:top + c, left:left + c] if sem is not None else None
        if self.train and rng.random() < 0.5:
            image, sem = image[:, ::-1], (sem[:, ::-1] if sem is not None else None)
        if self.train and self.vflip and rng.random() < 0.5:
            image, sem = image[::-1], (sem[::-1] if sem is not None else None)
        lab = rgb_to_lab(torch.from_numpy(np.array(image, order="C")).permute(2, 0, 1)).float()
        if self.labeler is not None:
            sem = self.labeler(lab[0].numpy())
        return {"L": lab[:1], "ab": lab[1:], "semantic": torch.from_numpy(np.ascontiguousarray(sem)).long()}


def dataset_classes(dataset: Dataset) -> list[str] | None:
    """The dataset's class names by id (a dict's gaps named ``class k``), None without a list."""
    classes = getattr(dataset, "classes", None)
    if classes is None and hasattr(dataset, "dataset"):  # a split/subset wrapper
        return dataset_classes(dataset.dataset)
    if isinstance(classes, dict):
        top = max(int(k) for k in classes) if classes else -1
        return [str(classes.get(k, f"class {k}")) for k in range(top + 1)]
    return [str(c) for c in classes] if classes is not None else None


def check_has_maps(dataset: Dataset, name: str = "the training dataset") -> None:
    """A one-line error when the first loadable image of ``dataset`` has no semantic map."""
    for i in range(min(len(dataset.ids), 4)):
        try:
            sample = dataset.load(i)
        except Exception:
            continue
        if sample.semantic is None:
            raise ColorbenchError(f"{name} has no semantic maps (image {sample.id!r}): train semantic on "
                                  "shapes, coco or ade20k, or derive maps from the gray image with "
                                  "--set labels=pseudo")
        return


def fit_labeler(cfg: dict[str, Any], dataset: Dataset, seed: int) -> PseudoLabeler:
    """k-means pseudo-labeler on the L* centre crops of ``pseudo_fit_images`` training images."""
    pairs = SemanticPairs(dataset, int(cfg["size"]), int(cfg["scale"]), train=False, seed=seed,
                          labeler=PseudoLabeler(np.zeros((1, 6)), np.zeros(6), np.ones(6)))
    n = min(int(cfg.get("pseudo_fit_images", 256)), len(pairs))
    idx = np.random.default_rng(seed).permutation(len(pairs))[:n]
    images = [pairs[int(i)]["L"][0].numpy() for i in idx]
    return PseudoLabeler.fit(images, int(cfg.get("pseudo_classes", 8)), seed=seed,
                             area=int(cfg.get("pseudo_area", 64)))


def class_list(cfg: dict[str, Any], dataset: Dataset, pseudo: dict[str, Any] | None) -> list[str]:
    """The model's class names, one per output class: the pseudo-labeler's classes or the
    dataset's list, padded (``class k``) or cut to ``n_classes`` when that is set."""
    if pseudo is not None:
        classes: list[str] | None = [f"pseudo {k}" for k in range(len(pseudo["centres"]))]
    else:
        check_has_maps(dataset)
        classes = dataset_classes(dataset)
    if classes is None and cfg.get("n_classes") is None:
        raise ColorbenchError("the training dataset has semantic maps but no class list "
                              "(a 'classes' attribute); set --set n_classes=N")
    classes = classes or []
    n = int(cfg["n_classes"]) if cfg.get("n_classes") is not None else len(classes)
    return (classes + [f"class {k}" for k in range(len(classes), n)])[:n]
