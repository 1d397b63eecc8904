"""The one YAML loader of colorbench (suites, training configs): safe tags only, and
bounded, so that a small hostile file cannot cost gigabytes: at most ``MAX_BYTES`` of text
and ``MAX_VALUES`` values once every alias (``*name``) is expanded; nesting deeper than
Python's recursion allows is refused too. A refusal is one ColorbenchError naming the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from colorbench.errors import ColorbenchError

MAX_BYTES = 1 << 20  # 1 MiB: suites and configs are a few kilobytes
MAX_VALUES = 100_000  # scalars, lists and mappings after alias expansion


def _expanded(node: Any, memo: dict[int, int], budget: int) -> int:
    """The number of values ``node`` stands for with its aliases expanded (stops counting
    past ``budget``); a node that contains itself counts as over budget."""
    known = memo.get(id(node))
    if known is not None:
        return known
    memo[id(node)] = budget + 1  # in progress: a cycle through an alias is over budget
    total = 1
    children = node.value if isinstance(node.value, list) else []
    for child in children:
        for sub in child if isinstance(child, tuple) else (child,):  # mapping: (key, value)
            total += _expanded(sub, memo, budget)
            if total > budget:
                return total
    memo[id(node)] = total
    return total


def load_yaml(path: Path, what: str = "YAML file") -> Any:
    """The document of ``path`` (safe tags), or one ColorbenchError when it is over the
    bounds; ``yaml.YAMLError`` for text that is not YAML (the caller says where)."""
    import yaml

    path = Path(path)
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise ColorbenchError(f"{path}: {what} of {size} bytes is over the limit of {MAX_BYTES}; "
                              "is this the right file?")
    loader = yaml.SafeLoader(path.read_text(encoding="utf-8"))
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded(node, {}, MAX_VALUES) > MAX_VALUES:
            raise ColorbenchError(f"{path}: {what} expands to over {MAX_VALUES} values through its aliases "
                                  "(*name) or refers to itself; write the values out")
        return loader.construct_document(node)
    except RecursionError:
        raise ColorbenchError(f"{path}: {what} is nested too deeply; flatten it") from None
    finally:
        loader.dispose()
