"""What run.json records about where a result came from."""

from __future__ import annotations

import hashlib
import platform
import subprocess
import sys
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any


def ids_sha256(ids: Iterable[str]) -> str:
    """sha256 of the sorted image ids, one per line (an image set's identity, independent of
    order); ids from non-UTF-8 file names hash by their original bytes (surrogateescape)."""
    return hashlib.sha256("\n".join(sorted(str(i) for i in ids)).encode("utf-8", "surrogateescape")).hexdigest()


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def git_commit(cwd: Path | None = None) -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd or Path(__file__).parent,
            capture_output=True, text=True, timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def command_line() -> str:
    """The command as the user typed it: ``colorbench ...`` from the console script or
    ``python -m colorbench``; otherwise the Python script that called the engine."""
    import shlex

    argv = sys.argv or [""]
    if Path(argv[0]).name in ("colorbench", "__main__.py"):
        return shlex.join(["colorbench", *argv[1:]])
    return shlex.join(["python", *argv])


def environment() -> dict[str, Any]:
    import torch

    from colorbench.version import __version__

    return {
        "colorbench": __version__,
        "git_commit": git_commit(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cuda_available": torch.cuda.is_available(),
        "platform": platform.platform(),
        "command": command_line(),
    }
