"""Two-phase schedules over one global step numbering (gan: L1 pretraining then
adversarial; semantic: segmenter then colorizer)."""

from __future__ import annotations

from colorbench.errors import ColorbenchError


def two_phase(mode: str, modes: tuple[str, str, str], first: int, second: int, steps: int | None,
              start: int, boundary: int | None, key: str) -> tuple[int, int]:
    """(P, T): the last step of the first phase and the last step of this run.

    ``modes`` names (first only, second only, both). ``first`` / ``second``: the configured
    length of each phase; ``steps``: ``--steps`` when given (the whole run's length, or the
    one phase's); ``start``: the resumed step; ``boundary``: the P a checkpoint recorded. A
    second-only run starts its phase at ``start`` (after the resumed checkpoint, or from
    scratch); a resumed run keeps its recorded boundary once past it."""
    only_first, only_second, both = modes
    if mode == only_first:
        n = steps or first
        return n, n
    if mode == only_second:
        p = boundary if boundary is not None and start > boundary else start
        return p, p + (steps or second)
    if mode == both:
        p = boundary if boundary is not None and start >= boundary else first
        return p, max(p, steps or p + second)
    raise ColorbenchError(f"--set {key}={mode}: choose {', '.join(modes)}")
