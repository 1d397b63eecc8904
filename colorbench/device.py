"""Device selection and mixed precision: one code path for CPU and CUDA."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from colorbench.errors import ColorbenchError


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` -> the first CUDA device when one is usable, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ColorbenchError(f"--device {name!r}: expected auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ColorbenchError(f"--device {name}: CUDA is not available on this machine; use --device cpu")
    return device


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    import platform

    n = torch.get_num_threads()
    return f"cpu ({platform.processor() or platform.machine()}, {n} torch thread{'s' if n != 1 else ''})"


@contextlib.contextmanager
def autocast(device: torch.device, enabled: bool = True) -> Iterator[None]:
    """bfloat16/float16 autocast on CUDA; a no-op on the CPU."""
    with torch.autocast(device_type=device.type, enabled=enabled and device.type == "cuda"):
        yield
