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

from colorbench.models.checkpoints import load_checkpoint
from colorbench.models.factory import build_options, create_colorizer
from colorbench.plugin import contract
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


L_batch = contract.L_batch
check_maps_L_to_ab = contract.colorizer_maps_L_to_ab


# ------------------------------------------------------------------- colorizers
@pytest.mark.parametrize("name", COLORIZERS)
def test_colorizer_spec_metadata(name: str) -> None:
    spec = REGS.colorizers.get(name)
    assert spec.name == name
    contract.colorizer_metadata(spec)


@pytest.mark.parametrize("name", COLORIZERS)
def test_colorizer_maps_L_to_ab_same_size_device_finite(name: str, tiny_checkpoint) -> None:
    check_maps_L_to_ab(build_colorizer(name, tiny_checkpoint))


@pytest.mark.parametrize("name", COLORIZERS)
def test_colorizer_is_batch_size_independent(name: str, tiny_checkpoint) -> None:
    contract.colorizer_batch_size_independent(build_colorizer(name, tiny_checkpoint))


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
@pytest.fixture(scope="module")
def fixture_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dataset-fixtures")


def build_dataset(name: str, root: Path):
    try:
        return contract.build_dataset(REGS.datasets.get(name), root)
    except contract.ContractSkip as exc:
        pytest.skip(str(exc))


@pytest.mark.parametrize("name", DATASETS)
def test_dataset_spec_metadata(name: str) -> None:
    contract.dataset_metadata(REGS.datasets.get(name))


@pytest.mark.parametrize("name", DATASETS)
def test_dataset_unique_string_ids_and_rgb_uint8_samples(name: str, fixture_root: Path) -> None:
    contract.dataset_samples(build_dataset(name, fixture_root))


@pytest.mark.parametrize("name", DATASETS)
def test_dataset_is_deterministic(name: str, fixture_root: Path) -> None:
    contract.dataset_deterministic(build_dataset(name, fixture_root), build_dataset(name, fixture_root))


# ---------------------------------------------------------------------- metrics
def build_metric(name: str):
    try:
        return contract.build_metric(REGS.metrics.get(name))
    except contract.ContractSkip as exc:
        pytest.skip(str(exc))


@pytest.mark.parametrize("name", [m.name for m in REGS.metrics])
def test_metric_metadata_complete(name: str) -> None:
    contract.metric_metadata(REGS.metrics.get(name))


@pytest.mark.parametrize("name", PER_IMAGE_METRICS)
def test_per_image_metric_one_value_per_image_in_range(name: str) -> None:
    contract.per_image_in_range(REGS.metrics.get(name), build_metric(name))


@pytest.mark.parametrize("name", PER_IMAGE_METRICS)
def test_per_image_metric_is_batch_size_independent(name: str) -> None:
    contract.per_image_batch_independent(build_metric(name))


@pytest.mark.parametrize("name", PER_IMAGE_METRICS)
def test_per_image_metric_does_not_modify_inputs(name: str) -> None:
    contract.per_image_keeps_inputs(build_metric(name))


@pytest.mark.parametrize("name", DISTRIBUTION_METRICS)
def test_distribution_metric_follows_the_accumulator_protocol(name: str) -> None:
    """reset() forgets what was fed; two halves merged compute what one pass computes."""
    contract.distribution_accumulator(lambda: build_metric(name))
