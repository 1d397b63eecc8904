"""Contract tests parametrized over the installed registries: every registered colorizer,
dataset and per-image metric is tested here without new test code.

These read the installed entry points on purpose (a new plugin gets tested by being
installed). Colorizers that need weights use their tiny variant (``test_<name>`` or the
``tiny`` config) when they have one, else are skipped unless their weights are available.
"""

from __future__ import annotations

import math

import pytest
import torch

from colorbench import MetricBatch, Sample
from colorbench.errors import ColorbenchError, WeightsUnavailableError
from colorbench.models.factory import create_colorizer
from colorbench.plugin import manager as plugins

REGS = plugins.load()
COLORIZERS = REGS.colorizers.names()
DATASETS = REGS.datasets.names()
PER_IMAGE_METRICS = [m.name for m in REGS.metrics if m.kind == "per_image"]


def build_colorizer(name: str):
    spec = REGS.colorizers.get(name)
    if spec.needs_weights and not spec.weights_available():
        pytest.skip(f"colorizer {name}: weights not available here")
    return create_colorizer(REGS, name, device=torch.device("cpu"))


def L_batch(b: int, h: int, w: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    base = torch.linspace(5, 95, w).view(1, 1, 1, w).expand(b, 1, h, w)
    return (base + torch.rand(b, 1, h, w, generator=g) * 5).clamp(0, 100).float().contiguous()


# ------------------------------------------------------------------- colorizers
@pytest.mark.parametrize("name", COLORIZERS)
def test_colorizer_spec_metadata(name: str) -> None:
    spec = REGS.colorizers.get(name)
    assert spec.name == name and spec.name == spec.name.lower()
    assert spec.description, f"colorizer {name} has no description"
    assert spec.plugin
    if spec.needs_weights:
        assert spec.weights is not None, f"{name} needs weights but declares none"
        assert spec.weights.file and spec.weights.name


@pytest.mark.parametrize("name", COLORIZERS)
def test_colorizer_maps_L_to_ab_same_size_device_finite(name: str) -> None:
    model = build_colorizer(name)
    for shape in ((2, 32, 32), (1, 40, 24)):
        L = L_batch(*shape)
        with torch.inference_mode():
            ab = model.colorize(L)
        assert isinstance(ab, torch.Tensor)
        assert tuple(ab.shape) == (shape[0], 2, shape[1], shape[2])
        assert ab.device == L.device
        assert ab.is_floating_point()
        assert torch.isfinite(ab).all()


@pytest.mark.parametrize("name", COLORIZERS)
def test_colorizer_is_batch_size_independent(name: str) -> None:
    model = build_colorizer(name)
    L = L_batch(3, 32, 32, seed=1)
    with torch.inference_mode():
        together = model.colorize(L).float()
        alone = torch.cat([model.colorize(L[i : i + 1]).float() for i in range(3)])
    torch.testing.assert_close(together, alone, atol=1e-3, rtol=1e-4)


def test_gray_predicts_zero_ab() -> None:
    model = build_colorizer("gray")
    assert torch.equal(model.colorize(L_batch(2, 8, 8)), torch.zeros(2, 2, 8, 8))


# --------------------------------------------------------------------- datasets
def build_dataset(name: str):
    spec = REGS.datasets.get(name)
    if spec.needs_root or name == "folder":
        pytest.skip(f"dataset {name} reads files from a root (tested by its own tests)")
    opts = {o.name: o.default for o in spec.options}
    if spec.option("n_images"):
        opts["n_images"] = 4
    try:
        return spec.factory(split=spec.default_split, root=None, **opts)
    except ColorbenchError as exc:
        pytest.skip(f"dataset {name} cannot be built here: {exc}")


@pytest.mark.parametrize("name", DATASETS)
def test_dataset_spec_metadata(name: str) -> None:
    spec = REGS.datasets.get(name)
    assert spec.description and spec.splits
    assert spec.default_split is None or spec.default_split in spec.splits


@pytest.mark.parametrize("name", DATASETS)
def test_dataset_unique_string_ids_and_rgb_uint8_samples(name: str) -> None:
    ds = build_dataset(name)
    ids = list(ds.ids)
    assert ids, f"dataset {name} is empty"
    assert all(isinstance(i, str) and i for i in ids)
    assert len(set(ids)) == len(ids)
    for index in sorted({0, len(ids) - 1}):
        sample = ds.load(index)
        assert isinstance(sample, Sample)
        assert sample.id == ids[index]
        assert sample.image.dtype.name == "uint8" and sample.image.ndim == 3 and sample.image.shape[2] == 3
        assert min(sample.image.shape[:2]) >= 8
        if sample.semantic is not None:
            assert sample.semantic.shape == sample.image.shape[:2]


@pytest.mark.parametrize("name", DATASETS)
def test_dataset_is_deterministic(name: str) -> None:
    a, b = build_dataset(name), build_dataset(name)
    assert list(a.ids) == list(b.ids)
    assert (a.load(0).image == b.load(0).image).all()


# ---------------------------------------------------------------------- metrics
def build_metric(name: str):
    spec = REGS.metrics.get(name)
    try:
        if spec.check_available is not None:
            spec.check_available()
    except WeightsUnavailableError as exc:
        pytest.skip(f"metric {name} unavailable here: {exc}")
    return spec.build(device="cpu")


def metric_batch(b: int, seed: int = 0, size: int = 48) -> MetricBatch:
    g = torch.Generator().manual_seed(seed)
    gt = torch.randint(0, 256, (b, 3, size, size), dtype=torch.uint8, generator=g)
    noise = torch.randint(-40, 41, (b, 3, size, size), generator=g)
    pred = (gt.int() + noise).clamp(0, 255).to(torch.uint8)
    pred[0] = gt[0]  # identical pair: metrics must cope (e.g. cpsnr = +inf)
    return MetricBatch(pred=pred, gt=gt, ids=[f"i{k}" for k in range(b)])


@pytest.mark.parametrize("name", [m.name for m in REGS.metrics])
def test_metric_metadata_complete(name: str) -> None:
    spec = REGS.metrics.get(name)
    assert spec.name == spec.name.lower()
    assert spec.display_name
    lo, hi = spec.range
    assert lo < hi
    assert spec.kind in ("per_image", "distribution")
    assert isinstance(spec.higher_is_better, bool)
    assert spec.description


@pytest.mark.parametrize("name", PER_IMAGE_METRICS)
def test_per_image_metric_one_value_per_image_in_range(name: str) -> None:
    spec = REGS.metrics.get(name)
    fn = build_metric(name)
    batch = metric_batch(4)
    out = torch.as_tensor(fn(batch)).double().reshape(-1)
    assert out.shape == (4,)
    assert not torch.isnan(out).any()
    lo, hi = spec.range
    for v in out.tolist():
        assert lo <= v <= hi or (math.isinf(v) and math.isinf(hi) and v > 0)


@pytest.mark.parametrize("name", PER_IMAGE_METRICS)
def test_per_image_metric_is_batch_size_independent(name: str) -> None:
    fn = build_metric(name)
    batch = metric_batch(3, seed=2)
    together = torch.as_tensor(fn(batch)).double().reshape(-1)
    alone = torch.cat([
        torch.as_tensor(fn(MetricBatch(batch.pred[i : i + 1], batch.gt[i : i + 1], ids=[batch.ids[i]]))).double().reshape(-1)
        for i in range(3)
    ])
    torch.testing.assert_close(together, alone, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("name", PER_IMAGE_METRICS)
def test_per_image_metric_does_not_modify_inputs(name: str) -> None:
    fn = build_metric(name)
    batch = metric_batch(2, seed=3)
    pred, gt = batch.pred.clone(), batch.gt.clone()
    fn(batch)
    assert torch.equal(batch.pred, pred) and torch.equal(batch.gt, gt)
