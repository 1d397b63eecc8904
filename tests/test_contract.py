"""Contract tests parametrized over the installed registries: every registered colorizer,
dataset and per-image metric is tested here without new test code.

These read the installed entry points on purpose (a new plugin gets tested by being
installed). Every trainable colorizer declares a tiny variant (``ColorizerSpec.test_config``
and ``test_overrides``, timm's ``test_*`` models): the tests train it for two seeded steps
on a few small ``shapes`` images from random initialisation, once per session, and build,
run and reload it from that checkpoint; a variant without training of its own
(``variant_of``, e.g. ccc-harmonized) is built from its parent's. Colorizers that need
weights not available here run from that tiny checkpoint instead, and are skipped only
when they have none.
"""

from __future__ import annotations

import csv
import math
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from colorbench import MetricBatch, Sample
from colorbench.errors import ColorbenchError, WeightsUnavailableError
from colorbench.models.checkpoints import load_checkpoint
from colorbench.models.factory import build_options, create_colorizer
from colorbench.plugin import manager as plugins
from colorbench.reporting import Reporter
from colorbench.training import TrainContext, resolve_train_config

REGS = plugins.load()
COLORIZERS = REGS.colorizers.names()
DATASETS = REGS.datasets.names()
PER_IMAGE_METRICS = [m.name for m in REGS.metrics if m.kind == "per_image"]
DISTRIBUTION_METRICS = [m.name for m in REGS.metrics if m.kind == "distribution"]

TINY_STEPS, TINY_IMAGES, TINY_SIZE, TINY_SEED = 2, 8, 32, 0


def tiny_source(name: str) -> str | None:
    """The trainable colorizer whose tiny checkpoint builds ``name``: itself, or the colorizer
    a non-trainable variant refines; None when neither trains."""
    spec = REGS.colorizers.get(name)
    if spec.trainable:
        return spec.name
    parent = spec.variant_of
    if parent and parent in REGS.colorizers.names() and REGS.colorizers.get(parent).trainable:
        return REGS.colorizers.get(parent).name
    return None


TRAINABLE = [n for n in COLORIZERS if REGS.colorizers.get(n).trainable]
TINY = [n for n in COLORIZERS if tiny_source(n)]


def tiny_config(name: str) -> dict:
    """The spec's test config, its test_overrides on top, ``steps`` = TINY_STEPS."""
    spec = REGS.colorizers.get(name)
    if spec.test_config is None:
        pytest.fail(f"trainable colorizer {name} declares no test_config (its tiny variant)")
    cfg = resolve_train_config(spec, spec.test_config, {})
    return {**cfg, **spec.test_overrides, "steps": TINY_STEPS}


def train_tiny(name: str, out: Path) -> None:
    """Train ``name``'s tiny variant into ``out`` as ``colorbench train`` does (seeded, CPU)."""
    spec = REGS.colorizers.get(name)
    cfg = tiny_config(name)
    dspec = REGS.datasets.get("shapes")
    data = dspec.factory(split="train", root=None,
                         **build_options(dspec, {"n_images": TINY_IMAGES, "size": TINY_SIZE}))
    out.mkdir(parents=True)
    ctx = TrainContext(dataset=data, config=cfg, out_dir=out, device=torch.device("cpu"), seed=TINY_SEED,
                       reporter=Reporter(quiet=True), dataset_name="shapes", split="train", registries=REGS)
    with torch.random.fork_rng():
        torch.manual_seed(TINY_SEED)
        spec.train(ctx)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """``get(name)``: the ``train --out`` directory of the tiny variant that builds ``name``,
    trained on first use; pytest-xdist workers share one training per colorizer (file lock)."""
    from filelock import FileLock

    base = tmp_path_factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "contract-tiny"
    root.mkdir(exist_ok=True)

    def get(name: str) -> Path:
        source = tiny_source(name)
        assert source is not None, f"colorizer {name} has no tiny variant"
        out = root / source
        with FileLock(str(out) + ".lock"):
            if not (out / "DONE").is_file():
                shutil.rmtree(out, ignore_errors=True)  # an earlier attempt that failed
                train_tiny(source, out)
                (out / "DONE").touch()
        return out

    return get


def build_colorizer(name: str, tiny_checkpoint: Callable[[str], Path] | None = None):
    """The colorizer with its declared weights, else from its tiny checkpoint, else skip."""
    spec = REGS.colorizers.get(name)
    if spec.needs_weights and not spec.weights_available():
        if tiny_checkpoint is None or tiny_source(name) is None:
            pytest.skip(f"colorizer {name}: weights not available here and no tiny variant")
        return create_colorizer(REGS, name, checkpoint=tiny_checkpoint(name), device=torch.device("cpu"))
    return create_colorizer(REGS, name, device=torch.device("cpu"))


def L_batch(b: int, h: int, w: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    base = torch.linspace(5, 95, w).view(1, 1, 1, w).expand(b, 1, h, w)
    return (base + torch.rand(b, 1, h, w, generator=g) * 5).clamp(0, 100).float().contiguous()


def check_maps_L_to_ab(model) -> None:
    for shape in ((2, 32, 32), (1, 40, 24)):
        L = L_batch(*shape)
        with torch.inference_mode():
            ab = model.colorize(L)
        assert isinstance(ab, torch.Tensor)
        assert tuple(ab.shape) == (shape[0], 2, shape[1], shape[2])
        assert ab.device == L.device
        assert ab.is_floating_point()
        assert torch.isfinite(ab).all()


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
def test_colorizer_maps_L_to_ab_same_size_device_finite(name: str, tiny_checkpoint) -> None:
    check_maps_L_to_ab(build_colorizer(name, tiny_checkpoint))


@pytest.mark.parametrize("name", COLORIZERS)
def test_colorizer_is_batch_size_independent(name: str, tiny_checkpoint) -> None:
    model = build_colorizer(name, tiny_checkpoint)
    L = L_batch(3, 32, 32, seed=1)
    with torch.inference_mode():
        together = model.colorize(L).float()
        alone = torch.cat([model.colorize(L[i : i + 1]).float() for i in range(3)])
    torch.testing.assert_close(together, alone, atol=1e-3, rtol=1e-4)


def test_gray_predicts_zero_ab() -> None:
    model = build_colorizer("gray")
    assert torch.equal(model.colorize(L_batch(2, 8, 8)), torch.zeros(2, 2, 8, 8))


# ------------------------------------------------- tiny variants (trained here)
def _log_rows(out: Path) -> list[dict[str, str]]:
    path = out / "train_log.csv"
    assert path.is_file(), f"training wrote no {path.name}"
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _finite(text: str | None) -> bool:
    try:
        return math.isfinite(float(text or "nan"))
    except ValueError:
        return False


@pytest.mark.parametrize("name", TRAINABLE)
def test_trainable_colorizer_declares_a_tiny_variant(name: str) -> None:
    spec = REGS.colorizers.get(name)
    assert spec.test_config in spec.configs, f"trainable colorizer {name} declares no test_config"
    assert set(spec.test_overrides) <= set(spec.configs[spec.test_config])


@pytest.mark.parametrize("name", TRAINABLE)
def test_tiny_training_logs_its_steps_and_a_finite_loss(name: str, tiny_checkpoint) -> None:
    """Two steps really ran: train_log.csv reaches step 2 and every row logs a finite loss."""
    out = tiny_checkpoint(name)
    rows = _log_rows(out)
    assert rows, f"{name}: train_log.csv has no rows after {TINY_STEPS} steps"
    assert max(int(r["step"]) for r in rows) >= TINY_STEPS
    for row in rows:
        losses = [v for k, v in row.items() if k and k.startswith("loss")]
        assert any(_finite(v) for v in losses), f"{name}: no finite loss in {row}"


@pytest.mark.parametrize("name", TINY)
def test_tiny_checkpoint_builds_a_colorizer_mapping_L_to_ab(name: str, tiny_checkpoint) -> None:
    model = create_colorizer(REGS, name, checkpoint=tiny_checkpoint(name), device="cpu")
    check_maps_L_to_ab(model)


@pytest.mark.parametrize("name", TINY)
def test_tiny_checkpoint_round_trips(name: str, tiny_checkpoint) -> None:
    """Two builds from one checkpoint give identical outputs; the file loads weights-only."""
    out = tiny_checkpoint(name)
    L = L_batch(2, 32, 32, seed=4)
    with torch.inference_mode():
        first = create_colorizer(REGS, name, checkpoint=out).colorize(L)
        second = create_colorizer(REGS, name, checkpoint=out / "checkpoint.pt").colorize(L)
    assert torch.equal(first, second)
    state = load_checkpoint(out / "checkpoint.pt")
    assert isinstance(state, dict) and state


@pytest.mark.parametrize("name", TINY)
def test_colorizer_without_weights_here_runs_from_its_tiny_checkpoint(name: str, tiny_checkpoint,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    spec = REGS.colorizers.get(name)
    monkeypatch.setattr(spec, "weights", None)  # as if nothing were shipped or cached
    monkeypatch.setattr(spec, "weight_tags", {})
    assert not spec.weights_available() or not spec.needs_weights
    check_maps_L_to_ab(build_colorizer(name, tiny_checkpoint))


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


@pytest.mark.parametrize("name", DISTRIBUTION_METRICS)
def test_distribution_metric_follows_the_accumulator_protocol(name: str) -> None:
    """reset() forgets what was fed; two halves merged compute what one pass computes."""
    from colorbench import Accumulator

    acc = build_metric(name)
    assert isinstance(acc, Accumulator)
    batches = [metric_batch(3, seed=s) for s in range(4)]
    acc.update(metric_batch(2, seed=9))
    acc.reset()
    for b in batches:
        acc.update(b)
    left, right = build_metric(name), build_metric(name)
    for b in batches[:2]:
        left.update(b)
    for b in batches[2:]:
        right.update(b)
    assert left.merge(right).compute() == pytest.approx(acc.compute(), rel=1e-9)
