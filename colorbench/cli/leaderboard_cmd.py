"""colorbench leaderboard: tables from one or more run directories."""

from __future__ import annotations

from pathlib import Path

import typer

from colorbench.cli.app import app, handle_errors, split_csv


@app.command("leaderboard")
@handle_errors
def leaderboard_command(
    run_dirs: list[Path] = typer.Argument(..., help="Run (or score) directories."),
    format: str = typer.Option("markdown", "--format", "-f", help="markdown, csv, json, latex or html."),
    sort_by: str = typer.Option(None, "--sort-by", help="Metric id to rank by (default: the suite's primary_metric, else cpsnr when present, else the first metric)."),
    out: Path = typer.Option(None, "--out", help="Write one file per dataset here (default: print one document to stdout)."),
    allow_mixed: bool = typer.Option(False, "--allow-mixed", help="One table per dataset even when the rows' protocol fingerprints differ (marked in every format)."),
    metrics: list[str] = typer.Option(None, "--metrics", help="Comma-separated metric columns, in this order (abs_<id> accepted)."),
    columns: list[str] = typer.Option(None, "--columns", help="Comma-separated other columns of the markdown/LaTeX/HTML table: n, failed, device, weights, run."),
    precision: list[str] = typer.Option(None, "--precision", help="Decimals: N for every metric column or METRIC=N (comma-separated, repeatable)."),
    reported: list[Path] = typer.Option(None, "--reported", help="YAML file of figures printed in papers (a list, or a suite file's reported: key); repeatable."),
    caption: str = typer.Option(None, "--caption", help="LaTeX caption (default: '<dataset>: colorbench leaderboard')."),
    label: str = typer.Option(None, "--label", help="LaTeX label (default: tab:<dataset>)."),
) -> None:
    """Build per-dataset leaderboards: models as rows, metrics as columns (↑/↓), best in bold.

    Rows whose protocol fingerprints differ (size, resize, image set, ground truths, metric
    versions) go to separate tables named by the difference, unless --allow-mixed.

    Example: colorbench leaderboard runs/a runs/b --format latex --metrics cpsnr,ssim --precision cpsnr=2
    """
    from colorbench.reporting import reported as reported_rows
    from colorbench.reporting.formatting import View, parse_columns, parse_precision
    from colorbench.reporting.leaderboard import load_boards, render, write_leaderboards

    view = View(sort_by=sort_by, metrics=split_csv(metrics), columns=parse_columns(columns or []),
                precision=parse_precision(precision or []), caption=caption, label=label)
    extra = [e for path in reported or [] for e in reported_rows.read(path)]
    render([], format, view)  # an unknown --format: one line before anything is read
    if out is not None:
        for path in write_leaderboards(run_dirs, out, format, view, allow_mixed=allow_mixed, reported=extra):
            typer.echo(f"wrote {path}")
        return
    typer.echo(render(load_boards(run_dirs, allow_mixed=allow_mixed, reported=extra), format, view), nl=False)
