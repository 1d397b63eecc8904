"""The field's metric conventions pinned: DDColor's colourfulness, scikit-image's default SSIM,
CCC++'s set-level CNR/CCAR scale, both TAR readings and the class-set files."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from metric_helpers import builtin_specs, score, to_tensor
from metrics_refs import colorfulness, colorfulness_hs, shared_data
from skimage.metrics import structural_similarity

from colorbench.color.classes import ClassGrid, ClassMapper, load_class_set
from colorbench.errors import ColorbenchError
from colorbench.evaluation.batch import MetricBatch


def _real_photos(n: int) -> list[np.ndarray]:
    root = shared_data()
    if root is None or not (root / "cbsd68").is_dir():
        pytest.skip("../shared/data/cbsd68 not present")
    from PIL import Image

    return [np.asarray(Image.open(f).convert("RGB")) for f in sorted((root / "cbsd68").glob("*.png"))[:n]]


def test_colorfulness_is_ddcolor_calculate_cf_and_hs_is_m3() -> None:
    rng = np.random.default_rng(5)
    imgs = [rng.integers(0, 256, (9 + k, 13, 3), dtype=np.uint8) for k in range(3)]
    imgs = [np.pad(i, ((0, 3 - k), (0, 0), (0, 0))) for k, i in enumerate(imgs)]  # one shape, zero rows
    got = score(imgs, imgs[::-1], ("colorfulness", "colorfulness_hs", "delta_colorfulness"))
    for k, img in enumerate(imgs):
        assert got["colorfulness"][k] == pytest.approx(colorfulness(img), abs=1e-9)
        assert got["colorfulness_hs"][k] == pytest.approx(colorfulness_hs(img), abs=1e-9)
        want = colorfulness(img) - colorfulness(imgs[::-1][k])
        assert got["delta_colorfulness"][k] == pytest.approx(want, abs=1e-9)
    # a pure red/green split: signed rg averages out, |rg| does not
    rg = np.zeros((2, 2, 3), np.uint8)
    rg[0, :, 0] = 200
    rg[1, :, 1] = 200
    cf = score([rg], [rg], ("colorfulness", "colorfulness_hs"))
    assert cf["colorfulness"][0] == pytest.approx(colorfulness(rg)) and cf["colorfulness"][0] != pytest.approx(
        cf["colorfulness_hs"][0])


@pytest.mark.shared_data
def test_colorfulness_conventions_on_real_photos() -> None:
    photos = [p[:160, :240].copy() for p in _real_photos(4)]
    got = score(photos, photos, ("colorfulness", "colorfulness_hs"))
    for k, p in enumerate(photos):
        assert got["colorfulness"][k] == pytest.approx(colorfulness(p), abs=1e-9)
        assert got["colorfulness_hs"][k] == pytest.approx(colorfulness_hs(p), abs=1e-9)
    # the conventions really differ on photos with both signs of R−G or of yb
    assert max(abs(a - b) for a, b in zip(got["colorfulness"], got["colorfulness_hs"], strict=True)) > 1.0


def _skimage(p: np.ndarray, g: np.ndarray, win: int | None = None) -> float:
    return float(structural_similarity(g, p, channel_axis=-1, data_range=255, win_size=win))


def test_ssim_skimage_equals_skimage_default() -> None:
    rng = np.random.default_rng(11)
    for h, w in ((32, 32), (23, 41), (7, 7)):
        gts = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(6)]  # > one chunk
        preds = [np.clip(g + rng.normal(0, 30, g.shape), 0, 255).astype(np.uint8) for g in gts]
        got = score(preds, gts, ("ssim_skimage", "ssim"))
        for k in range(6):
            assert got["ssim_skimage"][k] == pytest.approx(_skimage(preds[k], gts[k]), abs=1e-9)
            assert abs(got["ssim_skimage"][k] - got["ssim"][k]) > 1e-4  # not the Gaussian SSIM
    thin = rng.integers(0, 256, (5, 9, 3), dtype=np.uint8)
    assert score([thin], [thin[::-1].copy()], ("ssim_skimage",))["ssim_skimage"][0] == pytest.approx(
        _skimage(thin, thin[::-1].copy(), win=5), abs=1e-9)


def test_window_stats_are_exact_integer_window_sums() -> None:
    from colorbench_metrics_pixel.structural import window_stats

    g = torch.Generator().manual_seed(5)
    x, y = (torch.randint(0, 256, (20, 23), dtype=torch.uint8, generator=g) for _ in range(2))
    x[:8, :8] = 255  # the largest sums
    y[:8, :8] = 255
    xi, yi = x.to(torch.int64), y.to(torch.int64)
    want = [v.unfold(0, 7, 1).unfold(1, 9, 1).sum((-1, -2)) for v in (xi, yi, xi * xi + yi * yi, xi * yi)]
    got = window_stats(x, y, 7, 9)
    assert all(w.shape == (14, 15) for w in got)
    for a, b in zip(got, want, strict=True):
        assert a.dtype == torch.float64 and torch.equal(a.to(torch.int64), b)
    with pytest.raises(ValueError, match="129"):
        window_stats(x, y, 10, 13)


def test_ssim_skimage_refuses_images_below_three_pixels() -> None:
    from colorbench_metrics_pixel.ssim_uniform import ssim_skimage

    x = torch.zeros(1, 3, 2, 9, dtype=torch.uint8)
    with pytest.raises(ValueError, match="thinner than the 3x3"):
        ssim_skimage(x, x)


@pytest.mark.shared_data
def test_ssim_skimage_equals_skimage_on_real_photos() -> None:
    photos = _real_photos(3)
    h, w = min(p.shape[0] for p in photos), min(p.shape[1] for p in photos)
    gts = [p[:h, :w].copy() for p in photos]
    preds = [np.clip(0.5 * g + 0.5 * g.mean(2, keepdims=True), 0, 255).astype(np.uint8) for g in gts]
    got = score(preds, gts, ("ssim_skimage",))
    for k in range(3):
        assert got["ssim_skimage"][k] == pytest.approx(_skimage(preds[k], gts[k]), abs=1e-6)


# ---------------------------------------------------------------- CCC++ classes
GRID = {"alpha": 6.0, "beta": 111.0, "delta": 36}  # β=111: neutral a*=b*=0 sits mid-bin


def _palette(n: int) -> tuple[np.ndarray, np.ndarray]:
    """n colours with n distinct classes on GRID (uint8 [n, 3]) and their class ids."""
    from metrics_refs import classes

    v = np.arange(0, 256, 15, dtype=np.uint8)
    cube = np.stack(np.meshgrid(v, v, v, indexing="ij"), -1).reshape(-1, 3)
    ids = classes(cube[None], GRID["alpha"], GRID["beta"], GRID["delta"])[0]
    _, first = np.unique(ids, return_index=True)
    first = np.sort(first)[:n]
    assert len(first) == n
    return cube[first], ids[first]


def _set_values(preds: list[np.ndarray], gts: list[np.ndarray], options: dict) -> dict[str, float]:
    accs = {s.name: s.build(**options) for s in builtin_specs(("ccar_union", "cnr_union"))}
    for p, g in zip(preds, gts, strict=True):
        batch = MetricBatch(to_tensor([p]), to_tensor([g]))
        for acc in accs.values():
            acc.update(batch)
    return {name: acc.compute() for name, acc in accs.items()}


def test_set_ccar_cnr_count_distinct_classes_over_the_set(tmp_path) -> None:
    colours, _ = _palette(40)
    # image k holds colours k*4 .. k*4+7 (overlapping): 10 images -> 40 distinct pred classes
    preds = [np.repeat(colours[(4 * k + np.arange(8)) % 40][None], 2, 0) for k in range(10)]
    gts = [np.repeat(colours[np.arange(8) % 20][None], 2, 0) for _ in range(10)]  # 8 distinct classes
    vals = _set_values(preds, gts, {**GRID, "n_class": 32})
    assert vals["ccar_union"] == pytest.approx(100 * 40 / 32)  # 125: no cap at 100 (Table VI: 111.45)
    assert all(s.range[1] == float("inf") for s in builtin_specs(("ccar", "ccar_union", "cnr_union")))
    assert vals["cnr_union"] == pytest.approx(40 / 8)
    per_image = score(preds, gts, ("ccar",), options={"ccar": {**GRID, "n_class": 32}})["ccar"]
    assert per_image == pytest.approx([100 * 8 / 32] * 10)
    # default N_class: the class set's size; the trainer's classes.json is read, pixels are not snapped
    from colorbench_ccc.classes import ClassSet

    ClassSet(ClassGrid(**GRID), torch.arange(0, 1296, 6)).save(tmp_path / "classes.json")
    vals = _set_values(preds, gts, {**GRID, "class_set": str(tmp_path / "classes.json")})
    assert vals["ccar_union"] == pytest.approx(100 * 40 / 216)
    assert vals["cnr_union"] == pytest.approx(40 / 8)
    assert _set_values(preds, gts, GRID)["ccar_union"] == pytest.approx(100 * 40 / 1296)


def test_both_tar_readings_on_a_gray_output() -> None:
    gt = np.zeros((4, 4, 3), np.uint8)
    gt[0] = 120  # exactly gray: pred pixel == gt pixel
    gt[1] = (123, 120, 120)  # faint tint: same colour class as gray, other pixel value
    gt[2:] = (230, 20, 20)  # red: another class
    pred = np.repeat(np.array([120, 120, 120, 70], np.uint8)[:, None, None], 4, 1).repeat(3, 2)
    got = score([pred], [gt], ("tar", "tar_pixel"), options={"tar": GRID})
    assert got["tar"][0] == pytest.approx(50.0) and got["tar_pixel"][0] == pytest.approx(25.0)
    same = score([gt], [gt], ("tar", "tar_pixel"))
    assert same["tar"][0] == 100.0 and same["tar_pixel"][0] == 100.0


def test_class_set_files_trainer_format_list_and_bad(tmp_path) -> None:
    from colorbench_ccc.classes import ClassSet

    ClassSet(ClassGrid(), torch.tensor([7, 3, 900])).save(tmp_path / "classes.json")
    assert load_class_set(tmp_path / "classes.json").tolist() == [3, 7, 900]
    assert ClassMapper.from_options(class_set=str(tmp_path / "classes.json")).n_classes == 3
    (tmp_path / "list.json").write_text(json.dumps([5, 6]))
    assert load_class_set(tmp_path / "list.json").tolist() == [5, 6]
    bad = {"obj.json": json.dumps({"alpha": 6}), "str.json": json.dumps("12"), "num.txt": "1 2 x"}
    for name, text in bad.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(ColorbenchError, match="cannot read class ids") as err:
            load_class_set(tmp_path / name)
        assert name in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ColorbenchError, match="differs from the metric's"):
        ClassMapper.from_options(alpha=4.0, beta=100.0, delta=50, class_set=str(tmp_path / "classes.json"))
