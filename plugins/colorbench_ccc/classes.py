"""CCC++ colour classes (seed 000 §III-C1..3): the grid of eq. 9-11 and the optimized set
of eq. 12, as the network's output space.

The grid itself (eq. 9 ``ClassGrid.classes``, eq. 10-11 ``ClassGrid.centres``) and the
nearest-class table of eq. 12 live in core ``colorbench.color.classes``; this module adds
what the colorizer needs on top: a kept subset in a fixed order (logit ``k`` <-> grid class
``kept[k]``), the map from any a*b* to a logit index, and ``fit-classes`` over a dataset.

    python -m colorbench_ccc.classes --dataset shapes --out classes.json   # fit-classes
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

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


def class_histogram(dataset: Dataset, grid: ClassGrid, size: int = 56,
                    limit: int | None = None) -> torch.Tensor:
    """Counts [n_classes] of eq. 9 classes over a dataset, every image centre-cropped and
    resized to ``size`` x ``size`` (the paper uses 56x56)."""
    from colorbench.training import ColorPairs

    pairs = ColorPairs(dataset, size, train=False)
    n = len(pairs) if limit is None else min(limit, len(pairs))
    hist = torch.zeros(grid.n_classes, dtype=torch.int64)
    for i in range(n):
        ab = pairs[i]["ab"]
        hist += torch.bincount(grid.classes(ab[0], ab[1]).reshape(-1), minlength=grid.n_classes)
    return hist


def fit_classes(dataset: Dataset, grid: ClassGrid | None = None, size: int = 56,
                min_count: float | None = None, min_fraction: float | None = PAPER_MIN_FRACTION,
                limit: int | None = None) -> tuple[ClassSet, torch.Tensor]:
    """fit-classes: keep grid classes with at least the threshold share of the dataset's
    samples at ``size`` (§III-C3); others map to the nearest kept centre (eq. 12)."""
    grid = grid or ClassGrid()
    hist = class_histogram(dataset, grid, size, limit)
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
    p.add_argument("--size", type=int, default=56)
    p.add_argument("--min-count", type=float, default=None)
    p.add_argument("--min-fraction", type=float, default=PAPER_MIN_FRACTION)
    p.add_argument("--alpha", type=float, default=6.0)
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    (ds,) = resolve_datasets(plugins.load(), [a.dataset])
    data = ds.build(split=a.split, data_root=a.data_root, options=with_defaults(ds.spec, {}))
    grid = ClassGrid(a.alpha, 108.0, int(-(-216 // a.alpha)))
    cs, hist = fit_classes(data, grid, a.size, a.min_count, a.min_fraction)
    cs.save(a.out)
    print(f"{cs.n} of {grid.n_classes} classes kept ({int(hist.sum())} samples) -> {a.out}")


if __name__ == "__main__":
    main()
