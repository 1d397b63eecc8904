"""Colour classes of CCC++ (eq. 9-11), class subsets and the class-set option."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from metric_helpers import score

from colorbench.color.classes import (
    ClassGrid,
    ClassMapper,
    count_distinct,
    load_class_set,
    nearest_class_table,
)
from colorbench.errors import ColorbenchError


def test_eq9_values_and_clamping() -> None:
    g = ClassGrid()
    a = torch.tensor([-108.0, -102.0001, 0.0, 107.99, 150.0, -200.0])
    b = torch.tensor([-108.0, -108.0, 0.0, 107.99, 150.0, 0.0])
    assert g.classes(a, b).tolist() == [0, 0, 18 * 36 + 18, 35 * 36 + 35, 35 * 36 + 35, 18 * 36 + 0]
    assert g.n_classes == 1296


def test_eq10_11_centres_round_trip() -> None:
    g = ClassGrid(alpha=4, beta=100, delta=50)
    ab = g.centres()
    assert ab[0].tolist() == [-98.0, -98.0] and ab[51].tolist() == [-94.0, -94.0]
    assert torch.equal(g.classes(ab[:, 0], ab[:, 1]), torch.arange(g.n_classes))


def test_nearest_class_table_maps_to_the_closest_kept_centre() -> None:
    g = ClassGrid()
    keep = torch.tensor([0, 35, 18 * 36 + 18])
    table = nearest_class_table(g, keep)
    assert table[keep].tolist() == keep.tolist()
    assert table[1].item() == 0 and table[34].item() == 35 and table[18 * 36 + 17].item() == 18 * 36 + 18
    centres = g.centres()
    d = torch.cdist(centres, centres[keep]).min(1).values
    assert torch.allclose((centres - centres[table]).norm(dim=1), d)


def test_count_distinct_is_per_image() -> None:
    ids = torch.tensor([[[0, 0], [5, 7]], [[3, 3], [3, 3]]])
    assert count_distinct(ids, 10).tolist() == [3, 1]


def test_class_set_files(tmp_path) -> None:
    (tmp_path / "a.json").write_text(json.dumps([3, 1, 2]))
    (tmp_path / "b.txt").write_text("# kept\n4, 5\n6\n")
    assert load_class_set(tmp_path / "a.json").tolist() == [3, 1, 2]
    assert load_class_set(tmp_path / "b.txt").tolist() == [4, 5, 6]
    (tmp_path / "bad.txt").write_text("1 x")
    with pytest.raises(ColorbenchError, match="cannot read"):
        load_class_set(tmp_path / "bad.txt")
    with pytest.raises(ColorbenchError, match="outside"):
        ClassMapper(ClassGrid(), torch.tensor([5000]))


def test_class_set_changes_n_class_and_snaps_only_when_asked(tmp_path) -> None:
    rng = np.random.default_rng(0)
    p = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    g = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    (tmp_path / "set.txt").write_text(" ".join(str(c) for c in range(0, 1296, 2)))
    cs = str(tmp_path / "set.txt")
    full = score([p], [g], ("ccar", "tar"))
    sub = score([p], [g], ("ccar", "tar"), options={"ccar": {"class_set": cs}, "tar": {"class_set": cs}})
    snapped = score([p], [g], ("ccar", "tar"), options={"ccar": {"class_set": cs, "snap": True},
                                                        "tar": {"class_set": cs, "snap": True}})
    from colorbench.color import rgb_to_lab

    lab = rgb_to_lab(torch.from_numpy(p).permute(2, 0, 1).double() / 255)
    raw = ClassMapper.from_options(class_set=cs)(lab, dim=0)
    ids = ClassMapper.from_options(class_set=cs, snap=True)(lab, dim=0)
    assert (ids % 2 == 0).all() and not (raw % 2 == 0).all()
    # no snapping by default: the grid classes counted, divided by the set's size (648)
    assert sub["ccar"][0] == pytest.approx(100 * len(torch.unique(raw)) / 648)
    assert sub["ccar"][0] == pytest.approx(full["ccar"][0] * 1296 / 648) and sub["tar"][0] == full["tar"][0]
    assert snapped["ccar"][0] == pytest.approx(100 * len(torch.unique(ids)) / 648)
    assert snapped["tar"][0] >= full["tar"][0] - 1e-9


def test_grid_options_change_the_classes() -> None:
    rng = np.random.default_rng(1)
    p = rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)
    coarse = score([p], [p], ("ccar",), options={"ccar": {"alpha": 36.0, "beta": 108.0, "delta": 6}})
    assert coarse["ccar"][0] <= 100.0 * 36 / 36 and coarse["ccar"][0] * 36 / 100 == pytest.approx(
        round(coarse["ccar"][0] * 36 / 100))


def test_float32_lab_classes_equal_float64_classes() -> None:
    """ClassMapper.of_rgb8 re-bins pixels near a bin edge in float64: ids are exact, where
    binning the float32 Lab directly flips a few colours."""
    from colorbench.color import rgb8_to_lab, rgb_to_lab
    from colorbench.color.classes import ClassMapper

    v = torch.arange(0, 256, 2, dtype=torch.uint8)  # 2^21 colours
    rgb = torch.stack(torch.meshgrid(v, v, v, indexing="ij")).reshape(1, 3, 1024, 2048)
    lab32 = rgb8_to_lab(rgb)
    for mapper in (ClassMapper(), ClassMapper.from_options(alpha=4.0, beta=100.0, delta=50)):
        want = mapper(rgb_to_lab(rgb.double() / 255.0), dim=1)
        assert not torch.equal(mapper(lab32, dim=1), want)  # the re-check below is needed
        assert torch.equal(mapper.of_rgb8(rgb, lab32), want)
