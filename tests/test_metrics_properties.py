"""Batch-size independence and properties (hypothesis) of the weight-free metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from metric_helpers import WEIGHT_FREE, builtin_specs, score

from colorbench.evaluation.batch import MetricBatch
from colorbench.evaluation.metricset import MetricSet


def _images(n: int, seed: int, h: int = 24, w: int = 20) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        yy, xx = np.mgrid[0:h, 0:w]
        base = np.stack([128 + 100 * np.cos(xx / (2 + k % 5) + c + yy / 7) for c in range(3)], -1)
        out.append(np.clip(base + rng.normal(0, 10 + k, base.shape), 0, 255).astype(np.uint8))
    return out


def test_batch_size_independence() -> None:
    preds, gts = _images(32, 0), _images(32, 1)
    ref = score(preds, gts, batch_size=1)
    for bs in (7, 32):
        got = score(preds, gts, batch_size=bs)
        for m in WEIGHT_FREE:
            assert np.allclose(got[m], ref[m], rtol=1e-12, atol=1e-12), (m, bs)
    assert len(set(np.round(ref["ssim"], 9))) > 20  # the images really differ


def test_metrics_are_well_behaved_on_generic_batches() -> None:
    rng = np.random.default_rng(5)
    for h, w in ((1, 1), (2, 40), (64, 3), (33, 33)):
        p = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(3)]
        g = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(3)]
        got = score(p, g)
        for spec in builtin_specs():
            lo, hi = spec.range
            for v in got[spec.name]:
                assert math.isfinite(v) and lo <= v <= hi, (spec.name, h, w, v)


small_images = st.tuples(st.integers(1, 14), st.integers(1, 14), st.integers(0, 2**32 - 1)).map(
    lambda t: np.random.default_rng(t[2]).integers(0, 256, (2, t[0], t[1], 3), dtype=np.uint8))


@settings(max_examples=40, deadline=None)
@given(small_images)
def test_self_comparison_and_symmetry(pair: np.ndarray) -> None:
    p, g = pair[0], pair[1]
    same = score([g], [g])
    assert same["mse"][0] == 0.0 and same["cpsnr"][0] == pytest.approx(100.0)
    assert same["ssim"][0] == pytest.approx(1.0, abs=1e-12) and same["uiqi"][0] == pytest.approx(1.0, abs=1e-12)
    assert same["deltae2000"][0] == 0.0 and same["delta_colorfulness"][0] == 0.0
    assert same["cnr"][0] == 1.0 and same["tar"][0] == 100.0
    a, b = score([p], [g]), score([g], [p])
    for m in ("mse", "cpsnr", "ssim", "uiqi", "tar"):
        assert a[m][0] == pytest.approx(b[m][0], rel=1e-12, abs=1e-12), m
    assert a["delta_colorfulness"][0] == pytest.approx(-b["delta_colorfulness"][0], abs=1e-9)
    assert a["cnr"][0] * b["cnr"][0] == pytest.approx(1.0)


@settings(max_examples=30, deadline=None)
@given(arrays(np.uint8, (6, 7, 3)), arrays(np.uint8, (6, 7, 3)))
def test_ranges_hold(p: np.ndarray, g: np.ndarray) -> None:
    got = score([p], [g])
    for spec in builtin_specs():
        lo, hi = spec.range
        assert lo <= got[spec.name][0] <= hi, spec.name
    assert got["ccar"][0] <= 100 * 42 / 1296  # at most one class per pixel


def test_metric_set_reports_a_failing_metric_without_stopping_others() -> None:
    import torch

    mset = MetricSet(builtin_specs(("mse", "cnr")), options={"cnr": {"class_set": "/nonexistent/file"}})
    x = torch.zeros(1, 3, 4, 4, dtype=torch.uint8)
    values, failed = mset.score(MetricBatch(x, x))
    assert values["mse"] == [0.0] and values["cnr"] == [None]
    assert list(failed[0]) == ["cnr"]  # only cnr's cell failed
    assert "class set" in failed[0]["cnr"].message and "no such file" in failed[0]["cnr"].message


def test_cpsnr_caps_identical_images_so_a_better_model_never_ranks_lower() -> None:
    """Issue 19: inf left out of the mean ranked a model better on every image lower."""
    from colorbench_metrics_pixel.functional import CPSNR_CAP_DB

    rng = np.random.default_rng(0)
    gt = rng.integers(0, 256, (4, 16, 16, 3), dtype=np.uint8)
    worse = np.clip(gt.astype(int) + rng.integers(-3, 4, gt.shape), 0, 255).astype(np.uint8)
    better = worse.copy()
    better[:2] = gt[:2]  # identical on two images, equal elsewhere
    a, b = score(list(worse), list(gt))["cpsnr"], score(list(better), list(gt))["cpsnr"]
    assert CPSNR_CAP_DB == 100.0 and b[0] == pytest.approx(100.0) and b[1] == pytest.approx(100.0)
    assert all(x <= y for x, y in zip(a, b, strict=True)) and np.mean(b) > np.mean(a)
