"""The ``colorbench`` command line (typer): one module per sub-command."""

from __future__ import annotations

from colorbench.cli import (  # noqa: F401  (each module registers its command)
    check_cmd,
    colorize_cmd,
    leaderboard_cmd,
    list_cmd,
    report_cmd,
    run_cmd,
    score_cmd,
    train_cmd,
    weights_cmd,
)
from colorbench.cli.app import app


def main() -> None:
    app()


__all__ = ["app", "main"]
