"""``--set KEY=VALUE`` and ``--checkpoint MODEL=PATH`` parsing.

``--set key=value`` applies to every selected colorizer or dataset that declares ``key``;
``--set name.key=value`` applies to that one only. A key nobody declares is an error that
lists what is declared.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Any

from colorbench.errors import ColorbenchError
from colorbench.plugin.specs import _Spec


def split_pair(text: str, what: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ColorbenchError(f"{what} {text!r}: expected KEY=VALUE")
    return key.strip(), value.strip()


def resolve_options(entries: Iterable[str], specs: Sequence[_Spec], flag: str = "--set",
                    what: str = "colorizer or dataset") -> dict[str, dict[str, Any]]:
    """Map each spec name to its parsed options (defaults not included).

    ``flag``/``what`` name the command-line option and the kind of plugin in messages
    (``--metric-set`` / ``metric`` for metric options).
    """
    out: dict[str, dict[str, Any]] = {s.name: {} for s in specs}
    by_name = {s.name: s for s in specs}
    for entry in entries:
        key, value = split_pair(entry, flag)
        target, dot, short = key.partition(".")
        if dot and target in by_name:
            targets, key = [by_name[target]], short
        elif dot and target not in by_name and not any(s.option(key) for s in specs):
            raise ColorbenchError(
                f"{flag} {entry}: {target!r} is not a selected {what} "
                f"(selected: {', '.join(by_name) or 'none'})"
            )
        else:
            targets = [s for s in specs if s.option(key)]
        hits = [s for s in targets if s.option(key)]
        if not hits:
            declared = sorted({f"{s.name}.{o.name}" for s in targets or specs for o in s.options})
            close = difflib.get_close_matches(key, [d.split(".", 1)[1] for d in declared], n=2)
            hint = f" Did you mean {' or '.join(close)}?" if close else ""
            listing = ", ".join(declared) if declared else "none"
            raise ColorbenchError(f"{flag} {entry}: no selected {what} declares option {key!r}.{hint} Declared: {listing}.")
        for spec in hits:
            option = spec.option(key)
            assert option is not None
            out[spec.name][key] = option.parse(value)
    return out


def with_defaults(spec: _Spec, given: dict[str, Any]) -> dict[str, Any]:
    return {**{o.name: o.default for o in spec.options}, **given}


def parse_checkpoints(entries: Iterable[str], known: Iterable[str]) -> dict[str, str]:
    known = set(known)
    out: dict[str, str] = {}
    for entry in entries:
        model, path = split_pair(entry, "--checkpoint")
        if known and model not in known:
            close = difflib.get_close_matches(model, sorted(known), n=2)
            hint = f" Did you mean {' or '.join(close)}?" if close else ""
            raise ColorbenchError(f"--checkpoint {entry}: {model!r} is not a selected model.{hint}")
        out[model] = path
    return out
