"""colorbench weights list|download|verify: every weights file the plugins declare."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import typer

from colorbench.cli.app import App, app, handle_errors, registries

if TYPE_CHECKING:
    from colorbench.models.catalog import WeightsEntry
    from colorbench.models.weights import Weights
    from colorbench.reporting import Reporter

weights_app = App(
    help="List, download and verify the weights files plugins declare (colorizers' checkpoints, "
    "metric backbones, SAM, pretrained encoders).\n\nExample: colorbench weights list",
    no_args_is_help=True,
)
app.add_typer(weights_app, name="weights")

NAMES_HELP = ("Weights names, file names, or a colorizer, metric or segmenter using them "
              "(default: all; see 'colorbench weights list').")


def _entries(names: list[str] | None) -> list[WeightsEntry]:
    from colorbench.models.catalog import declared, select

    return select(declared(registries()), names or [])


@weights_app.command("list")
@handle_errors
def list_command(
    names: list[str] = typer.Argument(None, help=NAMES_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list (every field, full hashes) instead of a table."),
) -> None:
    """List every declared weights file and whether it is here.

    Shows what uses each file, its URL, hash, licence, size, where it is (or goes) and its
    status: shipped, cached or absent (no hash check: see verify).

    Example: colorbench weights list lpips --json
    """
    from rich.filesize import decimal

    from colorbench.models.checkpoints import torch_hub_dir

    entries = _entries(names)
    if as_json:
        typer.echo(json.dumps([e.record() for e in entries], indent=2))
        return
    present = sum(e.status != "absent" for e in entries)
    typer.echo(f"{len(entries)} weights file(s), {present} present; cache folder: {torch_hub_dir()} (TORCH_HOME)")
    for e in entries:
        w, rec = e.weights, e.record()
        size = decimal(rec["size"]) if rec["size"] is not None else "size unknown"
        digest = f"sha256 {w.sha256}" if w.sha256 else f"md5    {w.md5}"
        typer.echo(f"\n{w.name}  [{rec['status']}]  used by {', '.join(rec['used_by'])}")
        typer.echo(f"  {w.description or w.file}; {w.licence or 'licence not declared'}; {size}")
        typer.echo(f"  url    {w.url or ('none (shipped with its plugin)' if w.path else 'none declared')}")
        typer.echo(f"  {digest}")
        typer.echo(f"  path   {rec['path'] or rec['cache_path']}{'' if rec['present'] else ' (absent)'}")


@weights_app.command("download")
@handle_errors
def download_command(
    names: list[str] = typer.Argument(None, help=NAMES_HELP.replace("default: all", "or --all")),
    all_: bool = typer.Option(False, "--all", help="Every declared file that is absent (SAM alone is 4 GB)."),
) -> None:
    """Download absent weights files into the torch hub cache, hash-checked.

    A progress bar per file; a file is kept only when its hash is the declared one. Offline
    (or COLORBENCH_OFFLINE=1): one line per file with its URL and the folder to put it in.
    Present files are hash-checked, not downloaded again.

    Example: colorbench weights download lpips fid
    """
    from colorbench.errors import ColorbenchError, WeightsUnavailableError
    from colorbench.models.weights import OFFLINE_ENV, offline
    from colorbench.reporting import Reporter

    if not names and not all_:
        raise ColorbenchError("weights download: name the files to get (see 'colorbench weights list') or pass --all")
    reporter, failed = Reporter(), 0  # the bars; lines are echoed unwrapped (URLs stay whole)
    for entry in _entries(names):
        w = entry.weights
        try:
            if entry.status != "absent":
                typer.echo(f"{w.name}: present, hash ok ({w.ensure(download=False)})")
                continue
            if not w.url:
                raise WeightsUnavailableError(f"{w.name}: no download URL declared; put {w.file} in "
                                              f"{w.cache_path.parent}")
            if offline():
                raise WeightsUnavailableError(f"{w.name}: offline ({OFFLINE_ENV} is set); download {w.url} "
                                              f"into {w.cache_path.parent}")
            typer.echo(f"{w.name}: downloaded, hash ok ({_download(w, reporter)})")
        except WeightsUnavailableError as exc:  # hash mismatches included
            typer.echo(f"error: {exc}", err=True)
            failed += 1
    if failed:
        raise typer.Exit(1)


def _download(w: Weights, reporter: Reporter) -> str:
    """Download ``w`` with a bar of bytes; the path it was saved to."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=reporter.console) as bar:
        task = bar.add_task(w.file, total=w.size)
        path = w.download(progress=lambda done, total: bar.update(task, completed=done, total=total or w.size))
    return str(path)


@weights_app.command("verify")
@handle_errors
def verify_command(names: list[str] = typer.Argument(None, help=NAMES_HELP)) -> None:
    """Check the hash of every present weights file (offline).

    Exit 1 naming each file whose sha256 (or md5) is not the declared one, and each file
    named on the command line that is absent.

    Example: colorbench weights verify
    """
    from colorbench.errors import WeightsHashError

    bad = 0
    for entry in _entries(names):
        w, path = entry.weights, entry.weights.locate()
        if path is None:
            line = f"{w.name}: absent ({w.fetch_hint()})"
            typer.echo(f"error: {line}" if names else line, err=bool(names))
            bad += bool(names)
            continue
        try:
            typer.echo(f"{w.name}: ok, sha256 {w.verify(path)} ({path})")
        except WeightsHashError as exc:
            typer.echo(f"error: {exc}", err=True)
            bad += 1
    if bad:
        raise typer.Exit(1)
