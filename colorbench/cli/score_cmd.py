"""colorbench score: metrics on existing outputs without running a model."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.console import Console

from colorbench.cli.app import app, handle_errors, registries, split_csv


@app.command("score")
@handle_errors
def score_command(
    pred: Path = typer.Option(..., "--pred", help="Directory of predicted (colorized) images."),
    gt: Path = typer.Option(..., "--gt", help="Directory of ground-truth colour images (same relative paths)."),
    metrics: list[str] = typer.Option(None, "--metrics", help="Comma-separated metric ids (default: every available per-image and distribution metric)."),
    out: Path = typer.Option(None, "--out", help="Results directory (default: runs/score-<pred folder name>)."),
    size: int = typer.Option(256, help="Square size the ground truths are resized to with --resize crop|stretch."),
    resize: str = typer.Option("none", help="The run protocol applied to the ground truths: crop (centre square, then --size), stretch, or none (as they are)."),
    dataset: str = typer.Option("score", "--dataset", help="Dataset name of the rows (the leaderboard's table); the ground-truth folder is recorded too."),
    skip_gray_gt: bool = typer.Option(False, "--skip-gray-gt", help="Leave out chroma-free ground truths (grayscale photos stored as RGB; the ctest10k convention). They are counted either way."),
    resize_pred: bool = typer.Option(False, "--resize-pred", help="Resize predictions whose size differs from the (resized) ground truth (bicubic) instead of failing them."),
    metric_set: list[str] = typer.Option([], "--metric-set", help="KEY=VALUE or METRIC.KEY=VALUE option of a metric (repeatable)."),
    class_set: Path = typer.Option(None, "--class-set", help="File of colour-class ids for cnr/ccar/tar (same as --metric-set class_set=FILE)."),
    fid_ref: Path = typer.Option(None, "--fid-ref", help="Published FID statistics (.npz with mu and sigma) used as the reference instead of the ground truths (same as --metric-set fid.reference=FILE; kid refuses it)."),
    batch_size: int = typer.Option(16, "--batch-size", "-b", help="Images per batch."),
    workers: int = typer.Option(None, help="DataLoader worker processes for decoding (default: min(2, CPUs))."),
    device: str = typer.Option("auto", help="auto, cpu, cuda or cuda:N."),
    strict: bool = typer.Option(False, help="Fail (exit 2) when a requested metric is unavailable, a plugin was skipped for an error or a plugin entry was refused."),
    fail_on_error: bool = typer.Option(False, "--fail-on-error", help="Exit 1 when any image or metric cell failed (default: only when every image failed)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only warnings, errors and the paths written (no table, progress bars or info lines)."),
) -> None:
    """Score predictions against ground truths matched by relative path minus its image extension.

    Writes per_image.csv and summary.csv like `run` (dataset `score` or --dataset, model =
    the pred folder's name). Unmatched files are listed. With --resize crop|stretch the ground truths
    get run's protocol (as `run --size N --resize ...` would give them); a prediction whose
    size then differs fails that image unless --resize-pred. Under torchrun the images are
    split over the processes.

    Example: colorbench score --pred runs/x/outputs/samples/gray --gt runs/x/outputs/samples/_ground_truth --metrics cpsnr
    """
    from colorbench import results
    from colorbench.cli.run_cmd import print_summary
    from colorbench.device import resolve_device
    from colorbench.evaluation.config import check_number
    from colorbench.evaluation.scoring import score_dirs
    from colorbench.evaluation.selection import resolve_metrics, unavailable_note
    from colorbench.plugin.manager import check_strict
    from colorbench.plugin.options import resolve_options
    from colorbench.reporting import Reporter

    check_number(batch_size, "--batch-size", 1)
    check_number(workers, "--workers", 0, 64, optional=True)
    check_number(size, "--size", 8)
    reporter = Reporter(quiet=quiet)
    regs = registries()
    if strict:
        check_strict(regs)
    specs, unavailable = resolve_metrics(regs, split_csv(metrics), strict=strict)
    for line in unavailable_note(unavailable, requested=bool(split_csv(metrics))):
        reporter.warn(line)
    entries = [*metric_set, *([f"class_set={class_set}"] if class_set else []),
               *([f"fid.reference={fid_ref}"] if fid_ref else [])]
    metric_options = resolve_options(entries, specs, "--metric-set", "metric")
    out_dir = out or Path("runs") / f"score-{pred.resolve().name}"
    summary = score_dirs(pred, gt, specs, out_dir, resize_pred=resize_pred, size=size, mode=resize, batch_size=batch_size,
                         workers=workers if workers is not None else min(2, os.cpu_count() or 1),
                         device=resolve_device(device), reporter=reporter,
                         unavailable=unavailable, metric_options=metric_options, dataset=dataset,
                         skip_gray_gt=skip_gray_gt)
    if not summary:  # torchrun: a rank other than 0 (rank 0 reports for every rank)
        return
    console = Console()
    if not quiet:
        print_summary(summary, results.load(out_dir).metrics, console)  # run's table (|ΔCF| too)
    typer.echo(f"results: {out_dir}")  # the whole path, never wrapped
    row = summary[0]
    cells = sum(row["n"] - row[f"{s.name}_n"] for s in specs if s.kind == "per_image")
    if row["n"] == 0 or (fail_on_error and (row["n_failed"] or cells)):
        reporter.error(f"{row['n_failed']} of {row['n'] + row['n_failed']} image(s) failed"
                       f"{f' and {cells} metric cell(s)' if cells else ''}; see {out_dir / 'per_image.csv'} "
                       f"and {out_dir / 'errors.log'}")
        raise typer.Exit(1)
