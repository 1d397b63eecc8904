"""The plugin contract, shipped: checks every colorizer, dataset and metric a plugin
registers must pass (``colorbench check-plugin NAME``; colorbench's own tests run the same
functions over every installed plugin).

Each check raises ``AssertionError`` when the contract is broken and :class:`ContractSkip`
when it cannot run here (weights absent, a dataset root without a ``test_fixture``).
Training (a trainable colorizer's tiny variant) is checked by colorbench's test suite.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from colorbench.errors import ColorbenchError, WeightsUnavailableError
from colorbench.evaluation.batch import MetricBatch
from colorbench.plugin.specs import ColorizerSpec, DatasetSpec, MetricSpec, Sample

if TYPE_CHECKING:
    from colorbench.plugin.manager import Registries


class ContractSkip(Exception):
    """A check that cannot run here; the message says why."""


def L_batch(b: int, h: int, w: int, seed: int = 0) -> torch.Tensor:
    """Float32 L* [b, 1, h, w]: a horizontal ramp plus seeded noise, in [0, 100]."""
    g = torch.Generator().manual_seed(seed)
    base = torch.linspace(5, 95, w).view(1, 1, 1, w).expand(b, 1, h, w)
    return (base + torch.rand(b, 1, h, w, generator=g) * 5).clamp(0, 100).float().contiguous()


def metric_batch(b: int, seed: int = 0, size: int = 48) -> MetricBatch:
    """Seeded uint8 pairs; the first pair identical (metrics must cope, e.g. cpsnr = +inf)."""
    g = torch.Generator().manual_seed(seed)
    gt = torch.randint(0, 256, (b, 3, size, size), dtype=torch.uint8, generator=g)
    noise = torch.randint(-40, 41, (b, 3, size, size), generator=g)
    pred = (gt.int() + noise).clamp(0, 255).to(torch.uint8)
    pred[0] = gt[0]
    return MetricBatch(pred=pred, gt=gt, ids=[f"i{k}" for k in range(b)])


# ------------------------------------------------------------------- colorizers
def colorizer_metadata(spec: ColorizerSpec) -> None:
    assert spec.name == spec.name.lower(), f"colorizer {spec.name}: names are lowercase"
    assert spec.description, f"colorizer {spec.name} has no description"
    assert spec.plugin, f"colorizer {spec.name}: registered by no plugin"
    if spec.needs_weights:
        assert spec.weights is not None, f"{spec.name} needs weights but declares none"
        assert spec.weights.file and spec.weights.name


def build_colorizer(regs: Registries, spec: ColorizerSpec, checkpoint: Path | None = None) -> Any:
    """The colorizer on CPU with its declared weights (or ``checkpoint``); skip without either."""
    from colorbench.models.factory import create_colorizer

    if checkpoint is None and spec.needs_weights and not spec.weights_available():
        raise ContractSkip(f"colorizer {spec.name}: weights not available here")
    return create_colorizer(regs, spec.name, checkpoint=checkpoint, device=torch.device("cpu"))


def colorizer_maps_L_to_ab(model: Any) -> None:
    """a*b* float of the input's batch and size, on its device, finite (square and not)."""
    for shape in ((2, 32, 32), (1, 40, 24)):
        L = L_batch(*shape)
        with torch.inference_mode():
            ab = model.colorize(L)
        assert isinstance(ab, torch.Tensor), "colorize must return a tensor"
        assert tuple(ab.shape) == (shape[0], 2, shape[1], shape[2]), f"a*b* shape {tuple(ab.shape)} for L {shape}"
        assert ab.device == L.device and ab.is_floating_point() and torch.isfinite(ab).all()


def colorizer_batch_size_independent(model: Any) -> None:
    L = L_batch(3, 32, 32, seed=1)
    with torch.inference_mode():
        together = model.colorize(L).float()
        alone = torch.cat([model.colorize(L[i : i + 1]).float() for i in range(3)])
    torch.testing.assert_close(together, alone, atol=1e-3, rtol=1e-4)


# --------------------------------------------------------------------- datasets
def dataset_metadata(spec: DatasetSpec) -> None:
    assert spec.description and spec.splits, f"dataset {spec.name}: description and splits are required"
    assert spec.default_split is None or spec.default_split in spec.splits


def build_dataset(spec: DatasetSpec, workdir: Path) -> Any:
    """The dataset at its default split: on its ``test_fixture`` written under ``workdir`` when
    it declares one, else without a root; skip a root-needing dataset without a fixture."""
    root = None
    if spec.test_fixture is not None:
        root = workdir / spec.name
        if not root.exists():
            root.mkdir(parents=True)
            spec.test_fixture(root)
    elif spec.needs_root:
        raise ContractSkip(f"dataset {spec.name} reads files from a root and declares no test_fixture")
    opts = {o.name: o.default for o in spec.options}
    if spec.option("n_images"):
        opts["n_images"] = 4
    try:
        return spec.factory(split=spec.default_split, root=root, **opts)
    except ColorbenchError as exc:
        raise ContractSkip(f"dataset {spec.name} cannot be built here: {exc}") from None


def dataset_samples(ds: Any) -> None:
    """Unique non-empty string ids; first and last samples RGB uint8 with matching ids."""
    ids = list(ds.ids)
    assert ids, "the dataset is empty"
    assert all(isinstance(i, str) and i for i in ids), "ids must be non-empty strings"
    assert len(set(ids)) == len(ids), "ids must be unique"
    for index in sorted({0, len(ids) - 1}):
        sample = ds.load(index)
        assert isinstance(sample, Sample) and sample.id == ids[index]
        image = sample.image
        assert image.dtype.name == "uint8" and image.ndim == 3 and image.shape[2] == 3, "images are RGB uint8"
        assert min(image.shape[:2]) >= 8
        assert sample.semantic is None or sample.semantic.shape == image.shape[:2]


def dataset_deterministic(a: Any, b: Any) -> None:
    assert list(a.ids) == list(b.ids), "two builds give different ids"
    assert (a.load(0).image == b.load(0).image).all(), "two builds give different images"


# ---------------------------------------------------------------------- metrics
def metric_metadata(spec: MetricSpec) -> None:
    assert spec.name == spec.name.lower() and spec.display_name
    lo, hi = spec.range
    assert lo < hi, f"metric {spec.name}: empty range"
    assert spec.kind in ("per_image", "distribution") and isinstance(spec.higher_is_better, bool)
    assert spec.description, f"metric {spec.name} has no description"


def build_metric(spec: MetricSpec) -> Any:
    try:
        if spec.check_available is not None:
            spec.check_available()
    except WeightsUnavailableError as exc:
        raise ContractSkip(f"metric {spec.name} unavailable here: {exc}") from None
    return spec.build(device="cpu")


def per_image_in_range(spec: MetricSpec, fn: Callable[[MetricBatch], Any]) -> None:
    out = torch.as_tensor(fn(metric_batch(4))).double().reshape(-1)
    assert out.shape == (4,), f"one value per image expected, got shape {tuple(out.shape)}"
    assert not torch.isnan(out).any(), "NaN values"
    lo, hi = spec.range
    for v in out.tolist():
        assert lo <= v <= hi or (math.isinf(v) and math.isinf(hi) and v > 0), f"{v} outside {spec.range}"


def per_image_batch_independent(fn: Callable[[MetricBatch], Any]) -> None:
    batch = metric_batch(3, seed=2)
    together = torch.as_tensor(fn(batch)).double().reshape(-1)
    alone = torch.cat([torch.as_tensor(fn(MetricBatch(batch.pred[i : i + 1], batch.gt[i : i + 1], ids=[batch.ids[i]])))
                       .double().reshape(-1) for i in range(3)])
    torch.testing.assert_close(together, alone, atol=1e-6, rtol=1e-6)


def per_image_keeps_inputs(fn: Callable[[MetricBatch], Any]) -> None:
    batch = metric_batch(2, seed=3)
    pred, gt = batch.pred.clone(), batch.gt.clone()
    fn(batch)
    assert torch.equal(batch.pred, pred) and torch.equal(batch.gt, gt), "the metric modified its inputs"


def distribution_accumulator(make: Callable[[], Any]) -> None:
    """reset() forgets what was fed; two halves merged compute what one pass computes."""
    from colorbench import Accumulator

    acc = make()
    assert isinstance(acc, Accumulator), "distribution metrics build a colorbench.Accumulator"
    batches = [metric_batch(3, seed=s) for s in range(4)]
    acc.update(metric_batch(2, seed=9))
    acc.reset()
    for b in batches:
        acc.update(b)
    left, right = make(), make()
    for b in batches[:2]:
        left.update(b)
    for b in batches[2:]:
        right.update(b)
    merged, whole = left.merge(right).compute(), acc.compute()
    assert math.isclose(merged, whole, rel_tol=1e-9), f"merged halves give {merged}, one pass {whole}"


# ----------------------------------------------------------------------- runner
@dataclass(frozen=True)
class Result:
    """One check of one registered entry: ``passed``, ``failed`` or ``skipped`` and why."""

    kind: str
    name: str
    check: str
    status: str
    message: str = ""


def _checks(regs: Registries, plugin: str | None, workdir: Path) -> Iterator[tuple[str, str, str, Callable[[], None]]]:
    def mine(spec: Any) -> bool:
        return plugin is None or spec.plugin == plugin

    for c in filter(mine, regs.colorizers):
        yield "colorizer", c.name, "metadata", lambda c=c: colorizer_metadata(c)
        yield "colorizer", c.name, "maps L to a*b*", lambda c=c: colorizer_maps_L_to_ab(build_colorizer(regs, c))
        yield "colorizer", c.name, "batch-size independent", \
            lambda c=c: colorizer_batch_size_independent(build_colorizer(regs, c))
    for d in filter(mine, regs.datasets):
        yield "dataset", d.name, "metadata", lambda d=d: dataset_metadata(d)
        yield "dataset", d.name, "ids and samples", lambda d=d: dataset_samples(build_dataset(d, workdir))
        yield "dataset", d.name, "deterministic", \
            lambda d=d: dataset_deterministic(build_dataset(d, workdir), build_dataset(d, workdir))
    for m in filter(mine, regs.metrics):
        yield "metric", m.name, "metadata", lambda m=m: metric_metadata(m)
        if m.kind == "per_image":
            yield "metric", m.name, "one value per image in range", lambda m=m: per_image_in_range(m, build_metric(m))
            yield "metric", m.name, "batch-size independent", lambda m=m: per_image_batch_independent(build_metric(m))
            yield "metric", m.name, "keeps its inputs", lambda m=m: per_image_keeps_inputs(build_metric(m))
        else:
            yield "metric", m.name, "accumulator protocol", lambda m=m: distribution_accumulator(lambda: build_metric(m))


def check(regs: Registries, plugin: str | None = None) -> list[Result]:
    """Run every check on the entries ``plugin`` registered (None: every plugin's)."""
    out: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="colorbench-contract-") as tmp:
        for kind, name, label, run in _checks(regs, plugin, Path(tmp)):
            try:
                run()
                out.append(Result(kind, name, label, "passed"))
            except ContractSkip as exc:
                out.append(Result(kind, name, label, "skipped", str(exc)))
            except Exception as exc:  # a plugin's own error fails its check
                out.append(Result(kind, name, label, "failed", f"{type(exc).__name__}: {exc}".splitlines()[0]))
    return out
