"""Console output: one-line warnings and errors, and rich progress bars on long work."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class Reporter:
    """Prints to stderr (so stdout stays parseable); ``quiet`` hides info and progress,
    ``muted`` everything (the ranks other than 0 of a torchrun evaluation, whose failures
    reach the files and rank 0's console)."""

    def __init__(self, console: Console | None = None, quiet: bool = False, muted: bool = False):
        self.console = console or Console(stderr=True)
        self.quiet = quiet or muted
        self.muted = muted

    def info(self, message: str) -> None:
        if not self.quiet:
            self.console.print(message, highlight=False, markup=False)

    def warn(self, message: str) -> None:
        if not self.muted:
            self.console.print(f"[yellow]warning:[/] {message}", highlight=False)

    def error(self, message: str) -> None:
        if not self.muted:
            self.console.print(f"[red]error:[/] {message}", highlight=False)

    @contextlib.contextmanager
    def progress(self, label: str, total: int) -> Iterator[Callable[..., None]]:
        """A bar of ``total`` units; the yielded ``advance(n, status=None)`` moves it and, with
        ``status``, shows that text after the label (e.g. the latest losses)."""
        if self.quiet:
            yield lambda n, status=None: None
            return
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), TimeRemainingColumn())
        with Progress(*columns, console=self.console, transient=False) as bar:
            task = bar.add_task(label, total=total)

            def advance(n: int, status: str | None = None) -> None:
                bar.update(task, advance=n, description=f"{label} {status}" if status else None)

            yield advance
