"""An exclusive lock on a run directory: ``run``, ``score`` and ``train`` hold it while they
write, so two processes can never interleave rows in one directory.

The lock is ``RUN_DIR/.lock``, held with ``fcntl.flock`` (released by the OS when the holder
exits, however it exits: a killed run leaves no stale lock). The file names the holder
(pid, host, command, start time) for the message a second process prints.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from colorbench.errors import ColorbenchError

LOCK_NAME = ".lock"


class RunDirLockedError(ColorbenchError):
    """Another process holds the run directory."""


def _holder(handle: IO[str], attempts: int = 20) -> str:
    """Who holds the lock, read from the lock file. The holder writes its details just after
    it takes the lock, so an empty file is read again a few times (50 ms apart) first."""
    import time

    info: dict = {}
    for attempt in range(attempts):
        handle.seek(0)
        try:
            info = json.loads(handle.read() or "{}")
        except json.JSONDecodeError:
            info = {}
        if info or attempt == attempts - 1:
            break
        time.sleep(0.05)
    if not info:
        return "another process"
    return f"pid {info.get('pid')} on {info.get('host')} ({info.get('command')}, since {info.get('since')})"


@contextmanager
def run_dir_lock(run_dir: Path, command: str) -> Iterator[Path]:
    """Hold ``run_dir``'s lock for the duration of the block; RunDirLockedError (one line
    naming the holder) when another process has it. Under torchrun the ranks of one job
    share the directory: rank 0 holds the lock for all of them."""
    import fcntl
    from datetime import datetime, timezone

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if int(os.environ.get("RANK", "0") or 0) != 0:
        yield run_dir / LOCK_NAME
        return
    path = run_dir / LOCK_NAME
    handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the whole block
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunDirLockedError(
                f"{run_dir} is in use by {_holder(handle)}; wait for it to finish or choose another "
                "--name/--out") from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "command": command,
                                 "argv": sys.argv[1:], "since": datetime.now(timezone.utc).isoformat(
                                     timespec="seconds")}))
        handle.flush()
        try:
            yield path
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    finally:
        handle.close()
