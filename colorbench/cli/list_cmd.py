"""colorbench list: what is registered."""

from __future__ import annotations

import math

import typer
from rich.console import Console
from rich.table import Table

from colorbench.cli.app import app, handle_errors, registries
from colorbench.errors import ColorbenchError

KINDS = ("colorizers", "datasets", "metrics", "segmenters", "plugins", "benchmarks")


def _options(spec: object) -> str:
    opts = getattr(spec, "options", ())
    return "\n".join(f"{o.name}={o.default!r} ({o.type.__name__}) {o.help}".rstrip() for o in opts) or "–"


def _range(r: tuple[float, float]) -> str:
    lo, hi = ("∞" if math.isinf(v) and v > 0 else "-∞" if math.isinf(v) else f"{v:g}" for v in r)
    return f"[{lo}, {hi}]"


@app.command("list")
@handle_errors
def list_command(
    what: str = typer.Argument("all", help="colorizers, datasets, metrics, segmenters, plugins, benchmarks or all"),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show options, weights and plugin of each entry."),
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
            cols = ["name", "description", "weights", "trains"] + (["options", "plugin"] if verbose else [])
            for c in cols:
                table.add_column(c)
            for s in regs.colorizers:
                weights = "not needed" if not s.needs_weights else ("available" if s.weights_available() else "missing")
                row = [s.name, s.description, weights, "yes" if s.trainable else "no"]
                table.add_row(*(row + ([_options(s), s.plugin] if verbose else [])))
        elif kind == "datasets":
            cols = ["name", "description", "splits", "root"] + (["options", "plugin"] if verbose else [])
            for c in cols:
                table.add_column(c)
            for s in regs.datasets:
                row = [s.name, s.description, ", ".join(s.splits), f"DATA_ROOT/{s.name}" if s.needs_root else "–"]
                table.add_row(*(row + ([_options(s), s.plugin] if verbose else [])))
        elif kind == "metrics":
            cols = ["id", "name", "better", "range", "kind"] + (["aliases", "citation", "plugin"] if verbose else [])
            for c in cols:
                table.add_column(c)
            for m in regs.metrics:
                row = [m.name, m.display_name, "higher ↑" if m.higher_is_better else "lower ↓", _range(m.range), m.kind]
                table.add_row(*(row + ([", ".join(m.aliases) or "–", m.citation or "–", m.plugin] if verbose else [])))
        else:
            cols = ["name", "description", "weights"] + (["options", "plugin"] if verbose else [])
            for c in cols:
                table.add_column(c)
            for s in regs.segmenters:
                row = [s.name, s.description, "needed" if s.needs_weights else "not needed"]
                table.add_row(*(row + ([_options(s), s.plugin] if verbose else [])))
        if table.row_count == 0:
            console.print(f"{kind}: none registered")
        else:
            console.print(table)
