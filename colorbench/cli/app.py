"""The typer application, shared state and error handling for every sub-command."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup

from colorbench.errors import ColorbenchError


def _hide_flag_types(params: list[Any]) -> None:
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""  # an on/off flag takes no value: no <bool> after it


class _FlagsMixin:
    """On/off flags (``--help`` too) shown as ``--flag/--no-flag`` without a ``<bool>`` type."""

    params: list[Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _hide_flag_types(self.params)

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)  # type: ignore[misc]
        _hide_flag_types([option] if option is not None else [])
        return option


class Command(_FlagsMixin, TyperCommand):
    """typer's command with click's usage line (``RUN_DIRS...``, ``[WHAT]``, not ``{run_dirs}``)."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if isinstance(param, TyperArgument):
                name = (param.metavar or param.name or "").upper() + ("..." if param.nargs != 1 else "")
                pieces.append(name if param.required else f"[{name}]")
        return pieces


class Group(_FlagsMixin, TyperGroup):
    """typer's group, flags shown like :class:`Command`'s."""


class App(typer.Typer):
    """A typer application whose commands are :class:`Command` and groups :class:`Group`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, cls=kwargs.pop("cls", Group), **kwargs)

    def command(self, *args: Any, cls: type[TyperCommand] | None = None, **kwargs: Any) -> Any:
        return super().command(*args, cls=cls or Command, **kwargs)


app = App(
    name="colorbench",
    help="Train, run, score and compare automatic image-colorization models.\n\n"
    "Example: colorbench run --models gray --datasets samples",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_state: dict[str, Any] = {"disabled": []}
F = TypeVar("F", bound=Callable[..., Any])


def _version(value: bool) -> None:
    if value:
        from colorbench.version import __version__

        typer.echo(f"colorbench {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    disable_plugin: list[str] = typer.Option(
        [], "--disable-plugin", help="Skip a plugin by its entry-point name (repeatable; "
        "also COLORBENCH_DISABLE_PLUGINS=a,b)."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """colorbench: colorization benchmark harness."""
    _state["disabled"] = [n for item in disable_plugin for n in item.split(",") if n]


def registries() -> Any:
    """Load plugins once per process (honouring --disable-plugin) and report broken ones."""
    from colorbench.plugin import manager as plugins

    key = tuple(sorted(_state["disabled"]))
    cache = _state.setdefault("regs", {})
    if key not in cache:
        regs = plugins.load(disabled=key)
        plugins.report_failures(regs)
        cache[key] = regs
    return cache[key]


def handle_errors(fn: F) -> F:
    """Print a ColorbenchError as one line on stderr and exit with status 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ColorbenchError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            typer.echo("interrupted; finished rows are saved, rerun the same command to resume", err=True)
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def split_csv(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    out = [n.strip() for v in values for n in v.split(",") if n.strip()]
    return out or None


def stdout_is_tty() -> bool:
    return sys.stdout.isatty()
