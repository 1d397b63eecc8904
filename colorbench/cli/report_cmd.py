"""colorbench report: HTML pages and contact sheets to compare a run's images side by side."""

from __future__ import annotations

from pathlib import Path

import typer

from colorbench.cli.app import app, handle_errors


@app.command("report")
@handle_errors
def report_command(
    run_dir: Path = typer.Argument(..., help="A run directory made with --save-images."),
    out: Path = typer.Option(..., "--out", help="Directory for the pages (created; files are overwritten)."),
    thumb: int = typer.Option(128, "--thumb", help="Thumbnail size in pixels (longer side)."),
    max_images: int = typer.Option(None, "--max-images", help="Show only the first N images of each dataset."),
    contact_sheets: bool = typer.Option(True, "--contact-sheets/--no-contact-sheets",
                                        help="Also write a PNG contact sheet per dataset."),
) -> None:
    """Compare a run's images side by side: an HTML page and a contact sheet per dataset.

    One self-contained page per dataset (rows = images; columns = gray input, each model,
    ground truth; per-image metrics; sort by any metric or by the disagreement between
    models), a PNG contact sheet per dataset and an index.html. Pages embed their
    thumbnails and work offline. The run must have saved its images (--save-images).

    Example: colorbench report runs/demo --out reports/demo

    (runs/demo from: colorbench run --models gray,ccc --save-images --name demo)
    """
    from colorbench.reporting.report import write_report

    paths = write_report(run_dir, out, thumb=thumb, max_images=max_images, contact_sheets=contact_sheets)
    for path in paths:
        typer.echo(f"wrote {path}")
    typer.echo(f"open {paths[-1]} in a browser")
