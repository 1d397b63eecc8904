"""``--batch-timeout``: a colorizer call that does not return in time fails its batch.

The call runs in a daemon thread and the scorer waits for it at most the timeout. Python
cannot stop a thread: a call that hangs keeps running (and holding its CPU or GPU) in the
background until it returns or the process ends; the run goes on with the next batch."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from colorbench.errors import ColorbenchError

T = TypeVar("T")


class BatchTimeout(ColorbenchError):
    """A colorizer call that took longer than ``--batch-timeout``."""


def call_with_timeout(fn: Callable[[], T], seconds: float, what: str) -> T:
    """``fn()`` run in a daemon thread; its result or exception, or BatchTimeout after
    ``seconds`` (the thread is left running: threads cannot be killed)."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller, SystemExit included
            box["error"] = exc

    worker = threading.Thread(target=target, name="colorbench-batch", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise BatchTimeout(f"{what} did not return within {seconds:g} s (--batch-timeout); batch failed")
    if "error" in box:
        raise box["error"]
    return box["value"]
