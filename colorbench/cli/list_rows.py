"""What ``colorbench list`` says of each entry beyond its name: whether a metric can run
here and why not, a colorizer's weights, training and capabilities, a dataset's root."""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator
from pathlib import Path

from colorbench.errors import ColorbenchError, WeightsHashError
from colorbench.models.weights import OFFLINE_ENV, Weights
from colorbench.plugin.specs import ColorizerSpec, DatasetSpec, MetricSpec, _Spec

DOCS = Path(__file__).resolve().parents[2] / "docs" / "models"  # a source checkout's model cards


def options_text(spec: _Spec) -> str:
    """One line per option: ``name=default (type) help``."""
    opts = spec.options
    return "\n".join(f"{o.name}={o.default!r} ({o.type.__name__}) {o.help}".rstrip() for o in opts) or "–"


def range_text(r: tuple[float, float]) -> str:
    lo, hi = ("∞" if math.isinf(v) and v > 0 else "-∞" if math.isinf(v) else f"{v:g}" for v in r)
    return f"[{lo}, {hi}]"


@contextlib.contextmanager
def _offline() -> Iterator[None]:
    """Forbid downloads while a check runs (listing never fetches a file)."""
    before = os.environ.get(OFFLINE_ENV)
    os.environ[OFFLINE_ENV] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(OFFLINE_ENV, None)
        else:
            os.environ[OFFLINE_ENV] = before


def metric_status(spec: MetricSpec) -> str:
    """``yes``, or ``no: `` and why in one short phrase. Declared weights count when present
    (no hash check: ``colorbench weights verify``); other checks run offline."""
    absent = [w for w in spec.pretrained if w.locate() is None]
    if absent:
        return f"no: weights absent (colorbench weights download {absent[0].name})"
    if spec.check_available is None or spec.pretrained:
        return "yes"
    try:
        with _offline():
            spec.check_available()
    except WeightsHashError:
        return "no: its weights file fails the hash check"
    except ColorbenchError as exc:
        return f"no: {str(exc).split(';')[0][:80]}"
    return "yes"


def _size(w: Weights) -> str:
    path = w.locate()
    size = w.size if w.size is not None else (path.stat().st_size if path else None)
    return "size unknown" if size is None else f"{size / 1e6:.1f} MB"


def weights_text(w: Weights) -> str:
    """File, status, hash prefix, size, licence and training data of one weights file."""
    path = w.locate()
    status = "absent" if path is None else "shipped" if w.path is not None and path == Path(w.path) else "cached"
    digest = f"sha256 {w.sha256[:12]}…" if w.sha256 else f"md5 {w.md5[:12]}…"
    return "\n".join([f"{w.file} ({status})", f"{digest}, {_size(w)}", w.licence or "licence not declared",
                      f"training: {w.training or 'not declared'}"])


def card(spec: ColorizerSpec) -> str | None:
    """The model card of a colorizer (or of the colorizer it is a variant of), when this is a
    source checkout that has it."""
    for name in (spec.name, spec.variant_of):
        if name and (DOCS / f"{name}.md").is_file():
            return f"docs/models/{name}.md"
    return None


def colorizer_weights(spec: ColorizerSpec, verbose: bool) -> str:
    """``not needed``/``available``/``missing``; with ``verbose`` every declared file and the card."""
    state = "not needed" if not spec.needs_weights else "available" if spec.weights_available() else "missing"
    if not verbose:
        return state
    parts = [state, *(weights_text(w) for w in spec.all_weights())]
    link = card(spec)
    return "\n\n".join(parts + ([f"card: {link}"] if link else []))


def trains_text(spec: ColorizerSpec, verbose: bool) -> str:
    if not spec.trainable:
        return "no"
    if not verbose or not spec.configs:
        return "yes"
    default = f" (default {spec.default_config})" if spec.default_config else ""
    return f"yes: configs {', '.join(spec.configs)}{default}"


def capabilities(spec: ColorizerSpec) -> str:
    """The declared capabilities, one per line (``–`` for none)."""
    caps = [*(["per-image columns: " + ", ".join(spec.extra_columns)] if spec.extra_columns else []),
            *(["colorize_with_info"] if spec.provides_info and not spec.extra_columns else []),
            *(["saves maps (colorize --save-maps)"] if spec.saves_maps else []),
            *([f"variant of {spec.variant_of}"] if spec.variant_of else []),
            *(["composite (builds other plugins)"] if spec.composite else []),
            *([f"weight tags: {', '.join(spec.weight_tags)}"] if spec.weight_tags else [])]
    return "\n".join(caps) or "–"


def dataset_root(spec: DatasetSpec, data_root: str | None) -> str:
    """``not needed`` or where the files go and whether they are there."""
    if not spec.needs_root:
        return "not needed"
    from colorbench.evaluation.selection import DATA_ENV, ResolvedDataset

    root = ResolvedDataset(spec.name, spec).root(data_root)
    if root is None:
        return f"DATA_ROOT/{spec.name}: no --data-root or ${DATA_ENV} given"
    return f"{root}: {'present' if root.is_dir() else 'missing'}"
