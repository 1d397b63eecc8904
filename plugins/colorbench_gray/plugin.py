"""Registers the ``gray`` colorizer."""

from __future__ import annotations

from typing import Any

from colorbench import ColorizerSpec, hookimpl


def _build(device: Any = "cpu", **_: Any) -> Any:
    from colorbench_gray.model import Gray  # torch loads only when the model is used

    return Gray(device)


@hookimpl
def register_colorizers(register: Any) -> None:
    register(ColorizerSpec(
        name="gray",
        factory=_build,
        description="a*=b*=0: the gray input itself (lower bound)",
        needs_weights=False,
    ))
