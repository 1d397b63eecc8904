"""CCC++ colour classes (seed 000 §III-C1..3): the grid of eq. 9-11 and the optimized set
of eq. 12, as the network's output space.

The grid itself (eq. 9 ``ClassGrid.classes``, eq. 10-11 ``ClassGrid.centres``) and the
nearest-class table of eq. 12 live in core ``colorbench.color.classes``; this module adds
what the colorizer needs on top: a kept subset in a fixed order (logit ``k`` <-> grid class
``kept[k]``), the map from any a*b* to a logit index, and ``fit-classes`` over a dataset.

    python -m colorbench_ccc.classes --dataset places365 --split val --out classes.json   # fit-classes
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from colorbench.color.classes import ClassGrid, frequent_classes, nearest_class_table
from colorbench.plugin.specs import Dataset

# The paper's share: classes with >= 500 of the 109,885,440 samples of Places365 val at 56x56.
PAPER_MIN_FRACTION = 500 / 109_885_440


@dataclass
class ClassSet:
    """A grid and the kept (optimized) classes; ``kept`` sorted, ids of the grid."""

    grid: ClassGrid
    kept: torch.Tensor

    def __post_init__(self) -> None:
        self.kept = torch.unique(self.kept.to(torch.int64).cpu())
        # eq. 12, one fixed-centroid step: every grid class -> nearest kept class
        nearest = nearest_class_table(self.grid, self.kept)
        index_of = torch.full((self.grid.n_classes,), -1, dtype=torch.int64)
        index_of[self.kept] = torch.arange(self.kept.numel())
        self.table = index_of[nearest]  # grid class -> logit index
        self.ab = self.grid.centres(self.kept, dtype=torch.float32)  # [K, 2], eq. 10-11

    @property
    def n(self) -> int:
        return int(self.kept.numel())

    @classmethod
    def full(cls, grid: ClassGrid | None = None) -> ClassSet:
        grid = grid or ClassGrid()
        return cls(grid, torch.arange(grid.n_classes))

    def targets(self, ab: torch.Tensor) -> torch.Tensor:
        """a*b* [B,2,H,W] -> logit indices [B,H,W] (eq. 9, then eq. 12)."""
        ids = self.grid.classes(ab[:, 0], ab[:, 1])
        return self.table.to(ab.device)[ids]

    def decode(self, index: torch.Tensor) -> torch.Tensor:
        """Logit indices [B,H,W] -> a*b* [B,2,H,W] float32 (eq. 10-11)."""
        return self.ab.to(index.device)[index].permute(0, 3, 1, 2).contiguous()

    def expected(self, prob: torch.Tensor) -> torch.Tensor:
        """Probabilities [B,K,H,W] -> mean a*b* [B,2,H,W] (annealed-mean decoding)."""
        return torch.einsum("bkhw,kc->bchw", prob, self.ab.to(prob.device, prob.dtype))

    # ------------------------------------------------------------ serialization
    def to_state(self) -> dict[str, Any]:
        """Plain containers only (checkpoints are loaded with weights_only=True)."""
        g = self.grid
        return {"alpha": float(g.alpha), "beta": float(g.beta), "delta": int(g.delta),
                "kept": self.kept.clone()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ClassSet:
        grid = ClassGrid(float(state["alpha"]), float(state["beta"]), int(state["delta"]))
        return cls(grid, torch.as_tensor(state["kept"], dtype=torch.int64))

    def save(self, path: str | Path) -> None:
        s = self.to_state()
        s["kept"] = s["kept"].tolist()
        Path(path).write_text(json.dumps(s) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> ClassSet:
        return cls.from_state(json.loads(Path(path).read_text(encoding="utf-8")))


def target_ab(ab: torch.Tensor, size: int) -> torch.Tensor:
    """The training targets' a*b* [B,2,size,size]: the input-size a*b* [B,2,S,S] area-averaged
    to ``size`` (56 for a 224 input). The one 56x56 pipeline of fit-classes and of training."""
    return F.interpolate(ab, size=(size, size), mode="area")


def sample_indices(n: int, count: int | None, seed: int) -> list[int]:
    """``count`` distinct indices of ``range(n)`` drawn with ``seed`` (all, in order, when
    ``count`` is None or >= n): the paper's random images, not the first N."""
    if count is None or count >= n:
        return list(range(n))
    return sorted(int(i) for i in np.random.default_rng(seed).choice(n, size=int(count), replace=False))


def class_histogram(dataset: Dataset, grid: ClassGrid, input_size: int = 224, target_size: int = 56,
                    images: int | None = None, seed: int = 0) -> torch.Tensor:
    """Counts [n_classes] of eq. 9 classes over ``images`` random images of a dataset (all when
    None), each centre-cropped, resized to ``input_size`` and its a*b* taken to the training
    targets' ``target_size`` by ``target_ab`` (the paper: 56x56)."""
    from colorbench.training import ColorPairs

    pairs = ColorPairs(dataset, input_size, train=False)
    hist = torch.zeros(grid.n_classes, dtype=torch.int64)
    for i in sample_indices(len(pairs), images, seed):
        ab = target_ab(pairs[i]["ab"][None], target_size)[0]
        hist += torch.bincount(grid.classes(ab[0], ab[1]).reshape(-1), minlength=grid.n_classes)
    return hist


def fit_classes(dataset: Dataset, grid: ClassGrid | None = None, input_size: int = 224, target_size: int = 56,
                min_count: float | None = None, min_fraction: float | None = PAPER_MIN_FRACTION,
                images: int | None = None, seed: int = 0) -> tuple[ClassSet, torch.Tensor]:
    """fit-classes: keep grid classes with at least the threshold share of the sample's
    target pixels (§III-C3: >= 500 of 109,885,440, i.e. the count scaled to the sample's
    pixels); the others map to the nearest kept centre (eq. 12, in ``ClassSet``)."""
    grid = grid or ClassGrid()
    hist = class_histogram(dataset, grid, input_size, target_size, images, seed)
    return ClassSet(grid, frequent_classes(hist, min_count, min_fraction)), hist


def main(argv: list[str] | None = None) -> None:
    """``python -m colorbench_ccc.classes --dataset NAME --out FILE``: fit a class set."""
    from colorbench.evaluation.selection import resolve_datasets
    from colorbench.plugin import manager as plugins
    from colorbench.plugin.options import with_defaults

    p = argparse.ArgumentParser(description=(main.__doc__ or "").strip())
    p.add_argument("--dataset", required=True)
    p.add_argument("--split", default="train")
    p.add_argument("--data-root", default=None)
    p.add_argument("--input-size", type=int, default=224)
    p.add_argument("--target-size", type=int, default=56)
    p.add_argument("--images", type=int, default=35_040, help="random images to fit on (0: all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--min-count", type=float, default=None)
    p.add_argument("--min-fraction", type=float, default=PAPER_MIN_FRACTION)
    p.add_argument("--alpha", type=float, default=6.0)
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    (ds,) = resolve_datasets(plugins.load(), [a.dataset])
    data = ds.build(split=a.split, data_root=a.data_root, options=with_defaults(ds.spec, {}))
    grid = ClassGrid(a.alpha, 108.0, int(-(-216 // a.alpha)))
    cs, hist = fit_classes(data, grid, a.input_size, a.target_size, a.min_count, a.min_fraction,
                           a.images or None, a.seed)
    cs.save(a.out)
    print(f"{cs.n} of {grid.n_classes} classes kept ({int(hist.sum())} samples) -> {a.out}")


if __name__ == "__main__":
    main()
