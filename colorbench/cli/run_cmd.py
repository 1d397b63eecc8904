"""colorbench run: colorize datasets with models and score them."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from colorbench.cli.app import app, handle_errors, registries, split_csv
from colorbench.reporting.summary_table import print_summary


@app.command("run")
@handle_errors
def run_command(
    models: list[str] = typer.Option(None, "--models", "-m", help="Comma-separated colorizers (default: every one whose weights are available)."),
    datasets: list[str] = typer.Option(None, "--datasets", "-d", help="Comma-separated datasets or image directories (default: samples)."),
    metrics: list[str] = typer.Option(None, "--metrics", help="Comma-separated metric ids (default: every available metric)."),
    benchmark: str = typer.Option(None, "--benchmark", help="Run a benchmark suite: a name (colorbench list benchmarks) or a YAML file."),
    split: str = typer.Option(None, help="Dataset split (default: each dataset's own; folders: every image)."),
    limit: int = typer.Option(None, help="Only the first N images of each dataset (in the dataset's order)."),
    size: int = typer.Option(None, help="Square size images are resized to (ignored with --resize none). \\[default: 256]"),
    resize: str = typer.Option(None, help="crop (centre square, then resize), stretch, or none (native size). \\[default: crop]"),
    skip_gray_gt: bool = typer.Option(None, "--skip-gray-gt", help="Leave out chroma-free ground truths (grayscale photos stored as RGB; the ctest10k convention); counted either way. \\[default: the suite's protocol, else off]"),
    device: str = typer.Option("auto", help="auto, cpu, cuda or cuda:N."),
    precision: str = typer.Option("fp32", help="Autocast of the colorizers: fp32, bf16 or fp16 (recorded in run.json; part of the resume fingerprint)."),
    decode_device: str = typer.Option("cpu", "--decode-device", help="cpu, or cuda: JPEG ground truths decoded on the run's GPU (nvJPEG) in the main process, the workers only read the files; other files and decode failures take the CPU path (needs --device cuda; part of the resume fingerprint)."),
    batch_size: int = typer.Option(None, "--batch-size", "-b", help="Images per batch. \\[default: 16]"),
    workers: int = typer.Option(None, help="DataLoader worker processes for decoding (default: min(2, CPUs))."),
    checkpoint: list[str] = typer.Option([], "--checkpoint", help="MODEL=PATH: a checkpoint file or a 'train --out' directory (repeatable)."),
    set_: list[str] = typer.Option([], "--set", help="KEY=VALUE or NAME.KEY=VALUE option of a colorizer or dataset (repeatable; see list --verbose)."),
    metric_set: list[str] = typer.Option([], "--metric-set", help="KEY=VALUE or METRIC.KEY=VALUE option of a metric (repeatable; e.g. alpha=6 for cnr/ccar/tar)."),
    class_set: Path = typer.Option(None, "--class-set", help="File of colour-class ids for cnr/ccar/tar (same as --metric-set class_set=FILE)."),
    fid_ref: Path = typer.Option(None, "--fid-ref", help="Published FID statistics (.npz with mu and sigma) used as the reference instead of the ground truths (same as --metric-set fid.reference=FILE; kid refuses it)."),
    data_root: str = typer.Option(None, "--data-root", help="Directory holding one folder per dataset (default: $COLORBENCH_DATA)."),
    out: Path = typer.Option(Path("runs"), help="Parent directory of run directories."),
    name: str = typer.Option(None, help="Run directory name (default: the benchmark's name, else a timestamp). Rerun with the same name to resume."),
    resume: bool = typer.Option(True, "--resume/--no-resume", help="Skip images already scored in this run directory."),
    save_images: bool = typer.Option(None, "--save-images/--no-save-images", help="Write every output as PNG under outputs/ (needed by colorbench report). \\[default: no-save-images]"),
    save_thumbs: bool = typer.Option(False, "--save-thumbs", help="Write only 128-pixel thumbnails under outputs/: enough for colorbench report and the contact sheets, not for score."),
    seed: int = typer.Option(None, help="Random seed. \\[default: 0]"),
    batch_timeout: float = typer.Option(None, "--batch-timeout", help="Seconds a colorizer may take for one batch; a batch over it fails (the hung call keeps running in a background thread). \\[default: no limit]"),
    strict: bool = typer.Option(False, help="Fail (exit 2) when a requested metric is unavailable (missing weights), a plugin was skipped for an error or a plugin entry was refused (duplicate name)."),
    fail_on_error: bool = typer.Option(False, "--fail-on-error", help="Exit 1 when any image or metric cell failed (default: only when a model failed on every image or a dataset/model/set metric could not run)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only warnings, errors and the paths written (no table, progress bars or info lines)."),
) -> None:
    """Colorize datasets with models and score the outputs; writes a run directory.

    With no arguments: every colorizer with available weights on the embedded `samples`
    photos with every available metric.

    With --benchmark, the suite fixes datasets (each with its split, limit and size),
    models (options, checkpoints) and metrics; --models picks its entries and adds models
    it lacks, --datasets/--metrics pick a subset, other flags (--device, --set, --limit,
    ...) apply on top.

    Examples:
      colorbench run --models gray --datasets samples,./my_photos --metrics cpsnr
      colorbench run --benchmark quick --save-images
    """
    import os

    from colorbench.evaluation.runner import RunConfig, Runner
    from colorbench.reporting import Reporter

    metric_opts = [*metric_set, *([f"class_set={class_set}"] if class_set else []),
                   *([f"fid.reference={fid_ref}"] if fid_ref else [])]
    given = {"split": split, "limit": limit, "size": size, "resize": resize, "skip_gray_gt": skip_gray_gt,
             "batch_size": batch_size, "save_images": "thumbs" if save_thumbs else save_images,
             "seed": seed, "workers": workers}
    settings: dict = {}
    if benchmark:
        from colorbench.evaluation import suites

        suite = suites.restrict(suites.load(benchmark), split_csv(models), split_csv(datasets), split_csv(metrics))
        settings = suites.run_settings(suite)
        for key in ("split", "limit", "size", "resize", "skip_gray_gt"):  # an explicit flag overrides every dataset
            if given[key] is not None:
                for ds_settings in settings["dataset_settings"].values():
                    ds_settings.pop(key, None)
        if device == "auto" and "device" in settings:
            device = settings["device"]
        settings.pop("device", None)
        settings["checkpoints"] += checkpoint  # the command line wins (parsed last)
        stand_ins = suites.stand_in_weights(suite, settings["checkpoints"])
        if stand_ins:  # recorded in run.json (benchmark.stand_in_weights) to mark those rows
            settings["benchmark"]["stand_in_weights"] = stand_ins
            Reporter(quiet=False).warn(
                f"benchmark {suite.name}: no --checkpoint for {', '.join(stand_ins)}: the tiny shipped CPU weights "
                f"stand in for paper-scale ones, so those rows are not the paper's model (train one: see "
                f"`colorbench list benchmarks -v` / the suite's notes, then --checkpoint NAME=DIR)")
        settings["options"] += set_
        settings["metric_options"] += metric_opts
        name = name or suite.name
    else:
        settings = {"models": split_csv(models), "datasets": split_csv(datasets) or ["samples"],
                    "metrics": split_csv(metrics), "checkpoints": checkpoint, "options": set_,
                    "metric_options": metric_opts}
    defaults = {"size": 256, "resize": "crop", "batch_size": 16, "save_images": False, "seed": 0,
                "workers": min(2, os.cpu_count() or 1)}
    for key, value in given.items():
        if value is not None:
            settings[key] = value
        elif key in defaults:
            settings.setdefault(key, defaults[key])
    strict = strict or bool(settings.pop("strict", False))
    cfg = RunConfig(**settings, device=device, precision=precision, decode_device=decode_device, data_root=data_root, out=str(out),
                    name=name, resume=resume, strict=strict, fail_on_error=fail_on_error,
                    batch_timeout=batch_timeout)
    reporter = Reporter(quiet=quiet)
    runner = Runner(cfg, registries(), reporter)
    result = runner.run()
    if not runner.shard.is_main:  # torchrun: rank 0 reports for every rank
        return
    console = Console()
    if result.summary and not quiet:
        print_summary(result.summary, runner.metric_set.metadata(), console)
    typer.echo(f"run directory: {result.run_dir}")  # whole paths, never wrapped
    for board in result.leaderboards:
        typer.echo(f"leaderboard: {board}")
    if result.errors:
        reporter.error(f"{len(result.errors)} dataset/model problem(s); see above, run.json and errors.log")
        raise typer.Exit(1)
    if fail_on_error and (result.failed_images or result.failed_cells):
        reporter.error(f"--fail-on-error: {result.failed_images} image(s) and {result.failed_cells} metric "
                       f"cell(s) failed; see per_image.csv and {result.run_dir / 'errors.log'}")
        raise typer.Exit(1)
