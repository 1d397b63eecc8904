"""Every command's --help as a new user reads it: described options, an example, no stray
spaces, click's usage line and no ``<bool>`` after on/off flags."""

from __future__ import annotations

import re

import pytest
import typer.main
from typer.core import TyperCommand, TyperGroup, TyperOption
from typer.testing import CliRunner

from colorbench.cli import app


def _commands(group: TyperGroup, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], TyperCommand]]:
    out = []
    for name, cmd in group.commands.items():
        out.append(((*path, name), cmd))
        if isinstance(cmd, TyperGroup):
            out += _commands(cmd, (*path, name))
    return out


ROOT = typer.main.get_command(app)
COMMANDS = _commands(ROOT)


def test_every_command_is_walked():
    names = {" ".join(p) for p, _ in COMMANDS}
    assert {"run", "score", "list", "leaderboard", "report", "weights list"} <= names


@pytest.mark.parametrize("path,cmd", COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_help_describes_every_option(path, cmd):
    undescribed = [p.name for p in cmd.params if isinstance(p, TyperOption) and not (p.help or "").strip()]
    assert undescribed == []
    assert isinstance(cmd, TyperGroup) or "Example" in (cmd.help or ""), "no example in the help"
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    text = result.output
    assert re.search(r"[^\s.] +[.,](\s|$)", text) is None, "a space before a full stop or comma"
    assert "<bool>" not in text
    assert "{" not in text.split("Usage:")[1].splitlines()[0]


def test_run_help_shows_the_defaults_of_options_without_a_python_default():
    text = CliRunner().invoke(app, ["run", "--help"], env={"COLUMNS": "200"}).output
    for default in ("[default: 256]", "[default: 16]", "[default: 0]", "[default: crop]"):
        assert default in text
