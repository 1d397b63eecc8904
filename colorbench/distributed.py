"""Small, generic DDP helpers for training plugins (DESIGN §10).

Under ``torchrun`` (RANK/WORLD_SIZE/LOCAL_RANK in the environment) ``setup`` joins the
process group — NCCL on CUDA, gloo on the CPU — and returns this process's device; outside
torchrun it is a no-op and training runs in one process through the same code path.
Only rank 0 writes checkpoints and logs (``is_main``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def from_env() -> DistInfo:
    """RANK / WORLD_SIZE / LOCAL_RANK as torchrun sets them (defaults: one process)."""
    env = os.environ
    return DistInfo(int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1)), int(env.get("LOCAL_RANK", 0)))


def setup(device: torch.device) -> tuple[DistInfo, torch.device]:
    """Join the process group when launched with several processes; pick the local GPU."""
    info = from_env()
    if not info.enabled:
        return info, device
    if device.type == "cuda":
        device = torch.device("cuda", info.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo",
                                rank=info.rank, world_size=info.world_size)
    return info, device


def teardown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def wrap(model: torch.nn.Module, info: DistInfo, device: torch.device) -> torch.nn.Module:
    """DistributedDataParallel when several processes run, else the model itself."""
    if not info.enabled:
        return model
    ids = [device.index] if device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model


def sync_buffers(model: torch.nn.Module, info: DistInfo) -> None:
    """Copy rank 0's buffers (e.g. BatchNorm running stats) to every rank."""
    if info.enabled:
        for buf in unwrap(model).buffers():
            dist.broadcast(buf, src=0)


def mean_scalar(value: float, info: DistInfo, device: torch.device) -> float:
    """Average of a Python float over ranks (for logging)."""
    if not info.enabled:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return float(t.item()) / info.world_size


def shard(indices: list[int], info: DistInfo) -> list[int]:
    """This rank's share of an epoch's index order (DistributedSampler's padding + striding)."""
    if not info.enabled:
        return indices
    n = -(-len(indices) // info.world_size) * info.world_size
    padded = (indices * (n // max(len(indices), 1) + 1))[:n]
    return padded[info.rank::info.world_size]
