"""The one colorizer factory (timm's ``create_model``): resolves the checkpoint, verifies
declared weights, merges option defaults and builds the colorizer — for ``run``,
``colorize``, ``train --resume``, the router's members and ccc-harmonized's segmenter alike.

Checkpoint sources, in order: the ``checkpoint`` argument (a file, or the directory that
``colorbench train --out`` wrote), else the declared weights (shipped in the plugin, else
the torch hub cache; the ``weights`` option picks a tag). Declared weights are always
verified against their sha256, and so is a given checkpoint when an expected hash is
passed. A composite colorizer (``ColorizerSpec.composite``) receives the registries, so it
builds its members through this factory and never loads plugins itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from colorbench.errors import ColorbenchError, WeightsHashError, WeightsUnavailableError
from colorbench.models.checkpoints import checkpoint_file, sha256
from colorbench.models.weights import Weights
from colorbench.plugin.specs import ColorizerSpec, SegmenterSpec, _Spec

if TYPE_CHECKING:
    from colorbench.plugin.manager import Registries


@dataclass(frozen=True)
class ResolvedCheckpoint:
    """Where a colorizer's weights come from: ``path`` (None when it needs none), its
    ``sha256``, the ``source`` ("argument", "shipped", "cache" or "none") and the declared
    ``weights`` record when they are declared ones."""

    path: Path | None
    sha256: str | None
    source: str
    weights: Weights | None = None

    def record(self) -> dict[str, Any]:
        """What run.json stores for it."""
        return {"path": str(self.path), "sha256": self.sha256, "source": self.source,
                "weights": self.weights.name if self.weights else None}


def build_options(spec: _Spec, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The spec's option defaults with ``given`` on top, each parsed to its declared type;
    an undeclared key is one line listing the declared ones."""
    out = {o.name: o.default for o in spec.options}
    for key, value in (given or {}).items():
        option = spec.option(key)
        if option is None:
            declared = ", ".join(o.name for o in spec.options) or "none"
            raise ColorbenchError(f"{spec.name}: no option {key!r} (declared: {declared})")
        out[key] = option.parse(value)
    return out


def resolve_checkpoint(spec: ColorizerSpec, checkpoint: str | Path | None = None,
                       options: Mapping[str, Any] | None = None,
                       expected_sha256: str | None = None) -> ResolvedCheckpoint:
    """The file ``spec`` will load and its verified hash (see the module docstring).

    Raises WeightsUnavailableError when the colorizer needs weights and none are shipped,
    cached or given; WeightsHashError when a file is not the one declared or expected.
    """
    if checkpoint is not None:
        path = checkpoint_file(checkpoint)
        digest = sha256(path)
        if expected_sha256 and digest != expected_sha256:
            raise WeightsHashError(f"checkpoint {path} of colorizer {spec.name!r} has sha256 {digest}, "
                                   f"expected {expected_sha256}; it changed since it was recorded")
        return ResolvedCheckpoint(path, digest, "argument")
    if not spec.needs_weights:
        return ResolvedCheckpoint(None, None, "none")
    weights = spec.declared_weights(options)
    path = weights.locate() if weights is not None else None
    if weights is None or path is None:
        own = f"pass --checkpoint {spec.name}=PATH" + (
            f" (e.g. trained with 'colorbench train {spec.name}')" if spec.trainable else "")
        if weights is None:
            raise WeightsUnavailableError(f"colorizer {spec.name!r} needs weights and declares none; {own}")
        raise WeightsUnavailableError(f"colorizer {spec.name!r} needs weights: "
                                      f"{weights.missing_message('not shipped or cached')}; or {own}")
    digest = weights.verify(path)
    source = "shipped" if weights.path is not None and path == weights.path else "cache"
    return ResolvedCheckpoint(path, digest, source, weights)


def create_colorizer(registries: Registries, name: str,
                     checkpoint: str | Path | ResolvedCheckpoint | None = None, device: Any = "cpu",
                     options: Mapping[str, Any] | None = None, expected_sha256: str | None = None) -> Any:
    """Build the registered colorizer ``name`` on ``device``.

    ``checkpoint``: a file, a ``train --out`` directory, an already resolved checkpoint, or
    None for the declared weights. ``options``: the colorizer's ``--set`` options (text or
    typed values; defaults fill the rest). ``expected_sha256``: the hash a recorded
    checkpoint must still have (the router's members).
    """
    import torch

    spec = registries.colorizers.get(name)
    opts = build_options(spec, options)
    resolved = checkpoint if isinstance(checkpoint, ResolvedCheckpoint) else resolve_checkpoint(
        spec, checkpoint, opts, expected_sha256)
    kwargs: dict[str, Any] = {"device": torch.device(device), "checkpoint": resolved.path, **opts}
    if spec.composite:
        kwargs["registries"] = registries
    model = spec.factory(**kwargs)
    if not callable(getattr(model, "colorize", None)):
        raise ColorbenchError(f"colorizer {spec.name!r}: factory returned {type(model).__name__}, "
                              "which has no colorize(L) method")
    return model


def segmenter_spec(registries: Registries, name: str) -> SegmenterSpec:
    """The registered segmenter ``name``; when none are registered at all, one line saying
    that the plugin providing them is missing or disabled."""
    if not len(registries.segmenters):
        raise ColorbenchError(f"segmenter {name!r} is not available: no segmenter plugin is loaded "
                              "(is the 'segmenters' plugin disabled with --disable-plugin or "
                              "COLORBENCH_DISABLE_PLUGINS?)")
    return registries.segmenters.get(name)


def create_segmenter(registries: Registries, name: str, device: Any = "cpu",
                     options: Mapping[str, Any] | None = None) -> Any:
    """Build the registered segmenter ``name``; ``options`` it does not declare are ignored
    (a composite passes the union of its segmenters' settings), empty ones left at defaults."""
    spec = segmenter_spec(registries, name)
    given = {k: v for k, v in (options or {}).items() if spec.option(k) is not None and v not in (None, "")}
    return spec.factory(device=device, **build_options(spec, given))
