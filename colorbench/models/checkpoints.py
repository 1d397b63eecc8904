"""Checkpoint files: hashing, the file a path names, safe loading and atomic saving."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from colorbench.errors import ColorbenchError

CHECKPOINT_NAME = "checkpoint.pt"
DEFAULT_MAX_CHECKPOINT_BYTES = 16 << 30  # 16 GiB; $COLORBENCH_MAX_CHECKPOINT_BYTES raises it


def max_checkpoint_bytes() -> int:
    """The largest checkpoint file colorbench loads (bytes)."""
    return int(os.environ.get("COLORBENCH_MAX_CHECKPOINT_BYTES", DEFAULT_MAX_CHECKPOINT_BYTES))


def sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def checkpoint_file(path: str | Path) -> Path:
    """The checkpoint file a path names: the file itself, or ``checkpoint.pt`` inside a
    ``colorbench train --out`` directory. The only place that maps a path to a file."""
    p = Path(path).expanduser()
    if p.is_dir():
        p = p / CHECKPOINT_NAME
    if not p.is_file():
        raise ColorbenchError(
            f"checkpoint {path}: no such file; give the .pt file or the directory "
            f"'colorbench train --out' wrote (it contains {CHECKPOINT_NAME})"
        )
    return p


def load_checkpoint(path: str | Path, map_location: Any = "cpu") -> Any:
    """torch.load with weights_only=True: tensors and plain containers only, never pickled
    code. Every state dict colorbench reads (its own checkpoints and third-party weights
    alike) comes through here."""
    import torch

    p = checkpoint_file(path)
    size, limit = p.stat().st_size, max_checkpoint_bytes()
    if size > limit:
        raise ColorbenchError(f"checkpoint {p}: {size} bytes is over the limit of {limit}; "
                              "check the file or raise COLORBENCH_MAX_CHECKPOINT_BYTES")
    try:
        return torch.load(p, map_location=map_location, weights_only=True)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ColorbenchError(f"checkpoint {p}: cannot load ({first})") from None


def save_checkpoint(obj: Any, path: str | Path) -> Path:
    """Atomic torch.save (temp file + rename)."""
    import torch

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, p)
    return p


def torch_hub_dir() -> Path:
    """$TORCH_HOME/hub/checkpoints (torch's own default when TORCH_HOME is unset)."""
    home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "torch"
    )
    return Path(home) / "hub" / "checkpoints"


def export_cli(export: Any, usage: str, argv: list[str] | None = None) -> None:
    """The ``python -m <plugin>.colorizer TRAIN_CHECKPOINT OUT.pt [--half]`` command the
    model plugins share: ``export(src, dst, half=)`` writes the shipped-weights file and
    returns what to print (e.g. its sha256)."""
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    half = "--half" in args
    args = [a for a in args if a != "--half"]
    if len(args) != 2:
        raise SystemExit(f"usage: {usage}")
    print(export(args[0], args[1], half=half))
