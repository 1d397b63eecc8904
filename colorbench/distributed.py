"""Data-parallel training under ``torchrun``: one code path for 1 process and N processes.

``torchrun --nproc_per_node N -m colorbench train MODEL ...`` sets RANK / WORLD_SIZE /
LOCAL_RANK; ``setup`` then joins the process group (NCCL on CUDA, gloo on the CPU) and
gives each rank its device. Without those variables everything is a no-op with rank 0 of
1, so plugins call the same functions either way. Rank 0 alone writes logs and checkpoints
(``is_main``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch
import torch.distributed as dist

from colorbench.errors import ColorbenchError

T = TypeVar("T")


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def launched() -> bool:
    """True when started by torchrun (or another launcher that sets WORLD_SIZE > 1)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def setup(device: torch.device, timeout_s: float | None = None, backend: str | None = None) -> DistInfo:
    """Join the process group when launched with torchrun; idempotent. ``backend``: NCCL on
    CUDA and gloo on the CPU by default; evaluation passes gloo (its collectives move a few
    Python objects per pair, and gloo lets several ranks share one GPU). Each rank takes the
    GPU ``LOCAL_RANK`` modulo the GPUs it sees. ``timeout_s`` bounds every collective (the
    backend's default when None)."""
    if not launched():
        return DistInfo(device=device)
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        device = torch.device("cuda", local % max(1, torch.cuda.device_count()))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        from datetime import timedelta

        kwargs = {"timeout": timedelta(seconds=timeout_s)} if timeout_s else {}
        dist.init_process_group(backend or ("nccl" if device.type == "cuda" else "gloo"), **kwargs)
    return DistInfo(rank, world, local, device)


def wrap(module: torch.nn.Module, info: DistInfo) -> torch.nn.Module:
    """DistributedDataParallel around ``module`` when distributed, else ``module`` itself."""
    if not info.enabled:
        return module
    ids = [info.device.index] if info.device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(module, device_ids=ids)


def unwrap(module: torch.nn.Module) -> torch.nn.Module:
    return module.module if isinstance(module, torch.nn.parallel.DistributedDataParallel) else module


def mean(value: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """The mean of a tensor over ranks (a copy; the tensor itself when not distributed)."""
    if not info.enabled:
        return value
    out = value.detach().clone()
    dist.all_reduce(out)
    return out / info.world_size


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def teardown(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()


def mean_scalar(value: float, info: DistInfo) -> float:
    """Average of a Python float over ranks (for logging)."""
    if not info.enabled:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=info.device)
    dist.all_reduce(t)
    return float(t.item()) / info.world_size


def sync_buffers(model: torch.nn.Module, info: DistInfo) -> None:
    """Copy rank 0's buffers (e.g. BatchNorm running stats) to every rank."""
    if info.enabled:
        for buf in unwrap(model).buffers():
            dist.broadcast(buf, src=0)


def all_reduce_sum(value: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Sum a tensor over ranks in place (unchanged when not distributed); returns it."""
    if info.enabled:
        dist.all_reduce(value)
    return value


def average_gradients(params: list[torch.nn.Parameter], info: DistInfo) -> None:
    """Average the gradients of ``params`` over ranks in one flat all-reduce (for models
    that are not wrapped in DistributedDataParallel, e.g. a discriminator called twice)."""
    grads = [p.grad for p in params if p.grad is not None]
    if not info.enabled or not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= info.world_size
    offset = 0
    for g in grads:
        g.copy_(flat[offset:offset + g.numel()].view_as(g))
        offset += g.numel()


def broadcast_object(obj: object, info: DistInfo) -> object:
    """Rank 0's ``obj`` on every rank (``obj`` itself when not distributed)."""
    if not info.enabled:
        return obj
    box = [obj if info.is_main else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather_objects(obj: object, info: DistInfo) -> list[object]:
    """Every rank's ``obj``, in rank order, on every rank."""
    if not info.enabled:
        return [obj]
    out: list[object] = [None] * info.world_size
    dist.all_gather_object(out, obj)
    return out


def compute_once(fn: Callable[[], T], info: DistInfo) -> T:
    """``fn()`` computed on rank 0 alone and broadcast: data-derived state (class sets,
    colour profiles, pseudo-label centres) that every rank must share exactly, or a
    decision (an evaluation pair's plan). When it raises on rank 0, every rank raises
    (instead of waiting for a collective timeout)."""
    if not info.enabled:
        return fn()
    box: tuple[str, Any] = ("ok", None)
    if info.is_main:
        try:
            box = ("ok", fn())
        except Exception as exc:
            box = ("error", exc)
    kind, value = broadcast_object(box, info)  # type: ignore[misc]
    if kind == "error":
        if info.is_main:
            raise value
        raise ColorbenchError(f"rank 0 failed: {value}")
    return value
