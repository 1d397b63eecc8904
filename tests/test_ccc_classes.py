"""CCC++ colour classes: eq. 9-11 round trip, Table II counts, fit-classes (eq. 12)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from colorbench_ccc.classes import PAPER_MIN_FRACTION, ClassSet, class_histogram, fit_classes

from colorbench.color import rgb_to_lab
from colorbench.color.classes import ClassGrid, frequent_classes
from colorbench.plugin.specs import Sample

# Table II of seed 000: bin size -> total class points. Δ = ceil(216 / α) over [-108, 108).
# The paper prints 784 (= 28²) for α = 8; ceil(216 / 8) = 27 gives 729 (see docs/models/ccc.md).
TABLE_II = {4: 2916, 6: 1296, 8: 729, 10: 484, 12: 324, 14: 256}


@pytest.mark.parametrize("alpha", sorted(TABLE_II))
def test_table_ii_class_counts(alpha: int) -> None:
    grid = ClassGrid(alpha, 108, math.ceil(216 / alpha))
    assert grid.n_classes == TABLE_II[alpha]
    # every class is reachable from some a*b* in [-108, 108) and the ids are 0..n-1
    centres = grid.centres()
    assert torch.equal(grid.classes(centres[:, 0], centres[:, 1]), torch.arange(grid.n_classes))


@pytest.mark.parametrize("alpha", sorted(TABLE_II))
def test_round_trip_error_at_most_half_a_bin(alpha: int) -> None:
    grid = ClassGrid(alpha, 108, math.ceil(216 / alpha))
    g = torch.Generator().manual_seed(alpha)
    ab = torch.rand(2, 20000, generator=g, dtype=torch.float64) * 216 - 108
    back = grid.centres(grid.classes(ab[0], ab[1]))  # eq. 9 then eq. 10-11
    err = (back.T - ab).abs()
    assert float(err.max()) <= alpha / 2 + 1e-9
    assert float(err.max()) > alpha / 2 - 0.1  # the bound is tight, not loose
    # integer a*b* (the paper's setting): max error α/2 (floor puts v at the bin's low edge)
    ints = torch.arange(-108, 108, dtype=torch.float64)
    assert float((grid.centres(grid.classes(ints, ints))[:, 0] - ints).abs().max()) == alpha / 2


def test_paper_share_is_500_of_places_samples() -> None:
    assert pytest.approx(500) == PAPER_MIN_FRACTION * 109_885_440


def test_frequent_classes_on_a_synthetic_histogram() -> None:
    hist = torch.zeros(1296, dtype=torch.int64)
    hist[[10, 20, 30, 40]] = torch.tensor([1000, 500, 499, 1])
    assert frequent_classes(hist, min_count=500).tolist() == [10, 20]
    # as a fraction: 500 / 2000 = 0.25 of the samples
    assert frequent_classes(hist, min_fraction=0.25).tolist() == [10, 20]
    assert frequent_classes(hist, min_fraction=0.2499).tolist() == [10, 20]
    assert frequent_classes(hist, min_count=1).tolist() == [10, 20, 30, 40]
    # never empty: the most frequent class survives any threshold
    assert frequent_classes(hist, min_count=10**9).tolist() == [10]


def test_class_set_maps_dropped_classes_to_nearest_kept_centre() -> None:
    grid = ClassGrid()
    kept = torch.tensor([18 * 36 + 18, 18 * 36 + 30, 5 * 36 + 18])  # centres (3,3), (75,3), (3,-75)
    cs = ClassSet(grid, kept)
    ab = torch.tensor([[[[1.0, 60.0, 2.0, 100.0]], [[1.0, 1.0, -70.0, 0.0]]]])  # [1,2,1,4]
    idx = cs.targets(ab)
    assert cs.kept[idx].tolist() == [[[666, 678, 198, 678]]]
    back = cs.decode(idx)
    assert back[0, :, 0, 0].tolist() == [3.0, 3.0] and back[0, :, 0, 1].tolist() == [75.0, 3.0]
    restored = ClassSet.from_state(cs.to_state())
    assert torch.equal(restored.kept, cs.kept) and torch.equal(restored.table, cs.table)


class _Solid:
    """Dataset of solid-colour images (one class each) and one with a rare second colour."""

    def __init__(self) -> None:
        self.colours = [(200, 40, 40), (200, 40, 40), (40, 60, 200), (40, 160, 60)]
        self.ids = [f"s{i}" for i in range(len(self.colours))]

    def load(self, i: int) -> Sample:
        img = np.zeros((80, 80, 3), np.uint8)
        img[:] = self.colours[i]
        if i == 3:
            img[:] = self.colours[0]
            img[:8, :8] = self.colours[3]  # 1/100 of the pixels
        return Sample(self.ids[i], img)


def test_fit_classes_over_a_dataset_at_56() -> None:
    ds, grid = _Solid(), ClassGrid()
    hist = class_histogram(ds, grid, input_size=56, target_size=56)
    assert int(hist.sum()) == 4 * 56 * 56
    lab = rgb_to_lab(torch.tensor(ds.colours, dtype=torch.uint8).T.reshape(3, 4, 1)).reshape(3, 4)
    red, blue, green = (int(grid.classes(lab[1, k], lab[2, k])) for k in (0, 2, 3))
    assert int(hist[blue]) == 56 * 56
    assert int(hist[green]) < 56 * 56 // 50  # the small patch only (some boundary pixels blend)
    cs, _ = fit_classes(ds, grid, 56, 56, min_count=100, min_fraction=None)
    assert red in cs.kept.tolist() and blue in cs.kept.tolist() and green not in cs.kept.tolist()
    # the rare green maps to its nearest kept centre (eq. 12)
    centres = grid.centres(cs.kept)
    nearest = cs.kept[(centres - grid.centres(torch.tensor([green]))).norm(dim=1).argmin()]
    assert int(cs.kept[cs.table[green]]) == int(nearest)
