"""colorbench list: what is registered."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from colorbench.cli.app import app, handle_errors, registries
from colorbench.cli.list_rows import (
    capabilities,
    colorizer_weights,
    dataset_root,
    metric_status,
    options_text,
    range_text,
    trains_text,
)
from colorbench.errors import ColorbenchError

KINDS = ("colorizers", "datasets", "metrics", "segmenters", "plugins", "benchmarks")


@app.command("list")
@handle_errors
def list_command(
    what: str = typer.Argument("all", help="colorizers, datasets, metrics, segmenters, plugins, benchmarks or all"),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Also show options with defaults, weights files (hash, size, licence, training data, card), capabilities and plugin."),
    data_root: str = typer.Option(None, "--data-root", help="Directory holding one folder per dataset, checked for each dataset's root (default: $COLORBENCH_DATA)."),
) -> None:
    """List registered colorizers, datasets, metrics, segmenters and plugins, and the benchmark suites.

    Example: colorbench list colorizers --verbose
    """
    if what != "all" and what not in KINDS:
        singular = {k[:-1]: k for k in KINDS}
        if what in singular:
            what = singular[what]
        else:
            raise ColorbenchError(f"list {what!r}: choose one of all, {', '.join(KINDS)}")
    regs = registries()
    console = Console()
    kinds = KINDS if what == "all" else (what,)
    for kind in kinds:
        table = Table(title=kind, title_justify="left", show_lines=verbose)
        if kind == "benchmarks":
            from colorbench.evaluation import suites

            for col in ("name", "version", "description", *(["file"] if verbose else [])):
                table.add_column(col)
            for name, path in suites.available().items():
                try:
                    suite = suites.load(str(path))
                    row = [name, suite.version, suite.description]
                except ColorbenchError as exc:
                    row = [name, "?", f"invalid: {exc}"]
                table.add_row(*row, *([str(path)] if verbose else []))
        elif kind == "plugins":
            for col in ("plugin", "module", "version", "hooks", "status"):
                table.add_column(col)
            for p in regs.plugins:
                refused = f"; refused: {', '.join(r.short for r in p.refused)}" if p.refused else ""
                status = f"skipped: {p.error}" if p.error else f"ok{refused}"
                table.add_row(p.name, p.module, p.version or "–", ", ".join(p.hooks) or "–", status)
        elif kind == "colorizers":
            cols = ["name", "description", "weights", "trains"] + (["capabilities", "options", "plugin"] if verbose else [])
            for c in cols:
                table.add_column(c, overflow="fold")
            for s in regs.colorizers:
                row = [s.name, s.description, colorizer_weights(s, verbose), trains_text(s, verbose)]
                table.add_row(*(row + ([capabilities(s), options_text(s), s.plugin] if verbose else [])))
        elif kind == "datasets":
            cols = ["name", "description", "splits", "root"] + (["options", "plugin"] if verbose else [])
            for c in cols:
                table.add_column(c, overflow="fold")
            for s in regs.datasets:
                row = [s.name, s.description, ", ".join(s.splits), dataset_root(s, data_root)]
                table.add_row(*(row + ([options_text(s), s.plugin] if verbose else [])))
        elif kind == "metrics":
            cols = ["id", "name", "better", "range", "kind", "runs here"] + (
                ["options", "aliases", "citation", "plugin"] if verbose else [])
            for c in cols:
                table.add_column(c, overflow="fold")
            for m in regs.metrics:
                row = [m.name, m.display_name, "higher ↑" if m.higher_is_better else "lower ↓", range_text(m.range),
                       m.kind, metric_status(m)]
                table.add_row(*(row + ([options_text(m), ", ".join(m.aliases) or "–", m.citation or "–", m.plugin]
                                       if verbose else [])))
        else:
            cols = ["name", "description", "weights"] + (["options", "plugin"] if verbose else [])
            for c in cols:
                table.add_column(c)
            for s in regs.segmenters:
                row = [s.name, s.description, "needed" if s.needs_weights else "not needed"]
                table.add_row(*(row + ([options_text(s), s.plugin] if verbose else [])))
        if table.row_count == 0:
            console.print(f"{kind}: none registered")
        else:
            console.print(table)
