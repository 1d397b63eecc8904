"""colorbench check-plugin: the plugin contract run against one installed plugin."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from colorbench.cli.app import app, handle_errors, registries


@app.command("check-plugin")
@handle_errors
def check_plugin_command(
    name: str = typer.Argument(..., help="The plugin's entry-point name (see colorbench list plugins)."),
) -> None:
    """Check every colorizer, dataset and metric a plugin registers against colorbench's contract.

    Shapes, dtypes and devices, batch-size independence, ids and samples, metadata, metric
    ranges and the accumulator protocol; datasets that read a root are built on the tiny
    files their `test_fixture` writes. Exits 1 when a check fails.

    Example: colorbench check-plugin sepia
    """
    from colorbench.errors import ColorbenchError
    from colorbench.plugin.contract import check

    regs = registries()
    known = [p.name for p in regs.plugins]
    if name not in known:
        raise ColorbenchError(f"check-plugin {name}: no such plugin (loaded: {', '.join(known) or 'none'})")
    results = check(regs, name)
    table = Table(title=f"plugin {name}: contract", title_justify="left")
    for col in ("kind", "name", "check", "result"):
        table.add_column(col, overflow="fold")
    for r in results:
        table.add_row(r.kind, r.name, r.check, r.status + (f": {r.message}" if r.message else ""))
    Console().print(table)
    failed = sum(r.status == "failed" for r in results)
    skipped = sum(r.status == "skipped" for r in results)
    typer.echo(f"{len(results) - failed - skipped} passed, {failed} failed, {skipped} skipped")
    if failed or not results:
        raise typer.Exit(1)
