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


PRECISIONS = ("fp32", "bf16", "fp16")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_precision(name: str, device: torch.device) -> str:
    """Check ``--precision`` for ``device``: ``fp32`` everywhere, ``bf16`` where the device
    computes it (CPU, CUDA with compute capability 8.0+), ``fp16`` on CUDA and the CPU."""
    if name not in PRECISIONS:
        raise ColorbenchError(f"--precision {name!r}: choose {', '.join(PRECISIONS)}")
    if name == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ColorbenchError(f"--precision bf16: {device_name(device)} has no bfloat16; use fp16 or fp32")
    return name


def precision_dtype(precision: str) -> torch.dtype:
    """The autocast dtype of a precision (float32 for fp32)."""
    return _DTYPES.get(precision, torch.float32)


@contextlib.contextmanager
def autocast(device: torch.device, precision: str = "fp32") -> Iterator[None]:
    """Autocast to ``precision`` (bf16 or fp16) on ``device``; fp32 is a no-op. The same call
    on the CPU and on CUDA: only the device and the dtype differ."""
    if precision == "fp32":
        yield
        return
    with torch.autocast(device_type=device.type, dtype=_DTYPES[precision]):
        yield
