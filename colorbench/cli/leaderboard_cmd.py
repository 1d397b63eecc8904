"""colorbench leaderboard: tables from one or more run directories."""

from __future__ import annotations

from pathlib import Path

import typer

from colorbench.cli.app import app, handle_errors


@app.command("leaderboard")
@handle_errors
def leaderboard_command(
    run_dirs: list[Path] = typer.Argument(..., help="Run (or score) directories."),
    format: str = typer.Option("markdown", "--format", "-f", help="markdown, csv, json, latex or html."),
    sort_by: str = typer.Option(None, "--sort-by", help="Metric id to rank by (default: the first metric)."),
    out: Path = typer.Option(None, "--out", help="Write one file per dataset here (default: print to stdout)."),
) -> None:
    """Build per-dataset leaderboards: models as rows, metrics as columns (↑/↓), best in bold.

    Example: colorbench leaderboard runs/a runs/b --format markdown --out leaderboards/
    """
    from colorbench.errors import ColorbenchError
    from colorbench.reporting.leaderboard import RENDERERS, load_boards, write_leaderboards

    if format not in RENDERERS:
        raise ColorbenchError(f"--format {format}: choose one of {', '.join(RENDERERS)}")
    if out is not None:
        for path in write_leaderboards(run_dirs, out, format, sort_by):
            typer.echo(f"wrote {path}")
        return
    for board in load_boards(run_dirs):
        typer.echo(RENDERERS[format](board, sort_by))
