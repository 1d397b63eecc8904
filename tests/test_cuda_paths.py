"""The CUDA-only paths (run on the GPU machine by benchmarks/gpu/check.py; skipped without
CUDA): bf16 autocast reaching the colorizers in a run, CPU and CUDA per-image metrics agreeing
with TF32 off, a bf16 training step, channels_last in training and inference, SyncBatchNorm."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
from metric_helpers import WEIGHT_FREE
from torch import nn
from typer.testing import CliRunner

from colorbench.cli import app
from colorbench.evaluation.config import RunConfig
from colorbench.evaluation.runner import Runner
from colorbench.models.checkpoints import load_checkpoint
from colorbench.plugin.manager import load
from colorbench.reporting import Reporter

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks" / "gpu"))
import check_parity
import check_train

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]
DEVICE = "cuda"


@contextmanager
def conv_inputs() -> Iterator[list[tuple[bool, torch.dtype]]]:
    """(input is channels_last, output dtype) of every Conv2d call whose input has more than
    one channel and pixel (where NCHW and channels_last strides differ)."""
    seen: list[tuple[bool, torch.dtype]] = []

    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        x = inputs[0]
        if isinstance(module, nn.Conv2d) and x.shape[1] > 1 and x.shape[2] * x.shape[3] > 1:
            seen.append((x.is_contiguous(memory_format=torch.channels_last), output.dtype))

    handle = nn.modules.module.register_module_forward_hook(hook)
    try:
        yield seen
    finally:
        handle.remove()


@contextmanager
def tf32_off() -> Iterator[None]:
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def run_samples(out: Path, name: str, device: str, precision: str = "fp32",
                models: tuple[str, ...] = ("gray", "gan", "ccc")) -> Path:
    """The run engine on 4 embedded photos; returns the run directory."""
    cfg = RunConfig(models=list(models), datasets=["samples"], metrics=list(WEIGHT_FREE), device=device,
                    precision=precision, limit=4, out=str(out), name=name, workers=0)
    result = Runner(cfg, load(), Reporter(quiet=True)).run()
    assert not result.errors and not result.failed_images, result.errors
    return out / name


def tiny(tmp_path: Path, model: str) -> list[str]:
    """``--config`` of the model's 2-step test variant (the contract tests')."""
    return ["--config", str(check_train.test_config_file(model, tmp_path / f"{model}.yaml"))]


def train(out: Path, model: str, *args: str) -> None:
    res = CliRunner().invoke(app, ["train", model, "--dataset", "shapes", "--out", str(out), "--device", DEVICE,
                                   *tiny(out.parent, model), *args], catch_exceptions=False)
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize("model", ["gan", "ccc"])
def test_bf16_autocast_reaches_the_colorizer_in_a_run(tmp_path: Path, model: str) -> None:
    with conv_inputs() as seen:  # (building the model may run convolutions of its own in fp32)
        run = run_samples(tmp_path, "bf16", DEVICE, "bf16", models=(model,))
    assert any(dtype == torch.bfloat16 for _, dtype in seen)
    assert json.loads((run / "run.json").read_text())["precision"] == "bf16"
    with conv_inputs() as fp32:
        run_samples(tmp_path, "fp32", DEVICE, "fp32", models=(model,))
    assert fp32 and all(dtype == torch.float32 for _, dtype in fp32)


def test_cpu_and_cuda_per_image_metrics_agree_with_tf32_off(tmp_path: Path) -> None:
    cpu = run_samples(tmp_path, "cpu", "cpu")
    with tf32_off():
        cuda = run_samples(tmp_path, "cuda", DEVICE)
    result = check_parity.compare(cpu / "per_image.csv", cuda / "per_image.csv", check_parity.STRICT)
    assert result["rows"] == 12 and result["passed"], check_parity.describe(result)
    assert result["exact_fraction"] > 0.5  # most cells bit-identical (e.g. the exact int64 mse sums)


def test_a_bf16_training_step_on_cuda(tmp_path: Path) -> None:
    with conv_inputs() as seen:
        train(tmp_path / "gan", "gan", "--steps", "2", "--set", "pretrain_steps=1", "--precision", "bf16")
    assert any(dtype == torch.bfloat16 for _, dtype in seen)
    state = load_checkpoint(tmp_path / "gan" / "checkpoint.pt")
    assert state["precision"] == "bf16" and state["step"] == 2 and "discriminator" in state
    weights = [v for v in state["generator"].values() if v.is_floating_point()]
    assert weights and all(v.dtype == torch.float32 for v in weights)  # autocast keeps fp32 masters
    log = (tmp_path / "gan" / "train_log.csv").read_text().splitlines()
    assert len(log) == 3 and "nan" not in log[-1].lower()


@pytest.mark.parametrize("model", ["ccc", "gan"])
def test_channels_last_in_training_on_cuda(tmp_path: Path, model: str) -> None:
    """ccc and gan train channels_last on CUDA (weights and inputs), so convolutions see
    channels_last activations (on the CPU they stay NCHW: none would)."""
    with conv_inputs() as seen:
        train(tmp_path / model, model, "--steps", "2", *(["--set", "pretrain_steps=1"] if model == "gan" else []))
    assert seen and sum(cl for cl, _ in seen) >= 0.75 * len(seen)


def test_sync_batchnorm_on_one_gpu_matches_batchnorm() -> None:
    import torch.distributed as dist
    from colorbench_gan.model import build_discriminator

    torch.manual_seed(0)
    net = build_discriminator({"ndf": 8, "d_layers": 3}).to(DEVICE).train()
    synced = nn.SyncBatchNorm.convert_sync_batchnorm(build_discriminator({"ndf": 8, "d_layers": 3}))
    synced.load_state_dict(net.state_dict())
    synced = synced.to(DEVICE).train()
    assert any(isinstance(m, nn.SyncBatchNorm) for m in synced.modules())
    x = torch.randn(4, 3, 64, 64, device=DEVICE)
    dist.init_process_group("nccl", store=dist.HashStore(), rank=0, world_size=1)
    try:
        out, out_synced = net(x), synced(x)
        out.sum().backward()
        out_synced.sum().backward()
    finally:
        dist.destroy_process_group()
    torch.testing.assert_close(out_synced, out, rtol=1e-4, atol=1e-5)
    bn = next(m for m in net.modules() if isinstance(m, nn.BatchNorm2d))
    sbn = next(m for m in synced.modules() if isinstance(m, nn.SyncBatchNorm))
    torch.testing.assert_close(sbn.running_mean, bn.running_mean)
    torch.testing.assert_close(sbn.weight.grad, bn.weight.grad, rtol=1e-4, atol=1e-5)


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="SyncBatchNorm across processes needs 2 GPUs (NCCL)")
def test_sync_bn_training_under_torchrun_on_two_gpus(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m",
           "colorbench", "train", "gan", "--dataset", "shapes", "--out", str(tmp_path / "ddp"), "--device", "cuda",
           *tiny(tmp_path, "gan"), "--steps", "2", "--set", "pretrain_steps=1", "--set", "sync_bn=true"]
    res = subprocess.run(cmd, capture_output=True, text=True, env=os.environ, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    state = load_checkpoint(tmp_path / "ddp" / "checkpoint.pt")
    assert state["world_size"] == 2 and state["step"] == 2
