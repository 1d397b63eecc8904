"""What plugins register: declarative specs holding names, metadata and lazy factories.

Building a spec is cheap (no torch model is made); factories run only when used.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from colorbench.errors import ColorbenchError
from colorbench.models.weights import Weights

WEIGHTS_OPTION = "weights"  # the option that picks one of a colorizer's weight_tags

OptionType = type[bool] | type[int] | type[float] | type[str]
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Option:
    """A ``--set KEY=VALUE`` option a plugin declares (shown by ``list --verbose``)."""

    name: str
    type: OptionType = str
    default: Any = None
    help: str = ""
    choices: tuple[Any, ...] | None = None

    def parse(self, text: str | Any) -> Any:
        """Convert the command-line text to the declared type; raise one clear line."""
        if not isinstance(text, str):
            value = text
        elif self.type is bool:
            low = text.strip().lower()
            if low not in _TRUE | _FALSE:
                raise ColorbenchError(f"option {self.name}={text!r}: expected true or false")
            value = low in _TRUE
        else:
            try:
                value = self.type(text)
            except ValueError:
                raise ColorbenchError(
                    f"option {self.name}={text!r}: expected a {self.type.__name__}"
                ) from None
        if self.choices is not None and value not in self.choices:
            allowed = ", ".join(map(str, self.choices))
            raise ColorbenchError(f"option {self.name}={value!r}: choose one of {allowed}")
        return value


@dataclass
class Sample:
    """One dataset item: a stable id, an RGB uint8 image [H, W, 3] and optional extras."""

    id: str
    image: np.ndarray
    semantic: np.ndarray | None = None  # int [H, W] class ids, when the dataset has them
    label: int | str | None = None
    path: str | None = None


@runtime_checkable
class Colorizer(Protocol):
    """Maps L* [B,1,H,W] float32 in [0, 100] to a*b* [B,2,H,W] float32, same size and device."""

    def colorize(self, L: Any) -> Any: ...


@runtime_checkable
class Dataset(Protocol):
    """A fixed, ordered list of samples; ``load`` may raise for a broken file."""

    ids: Sequence[str]

    def load(self, index: int) -> Sample: ...


@dataclass
class _Spec:
    name: str
    description: str = ""
    options: tuple[Option, ...] = ()
    plugin: str = field(default="", compare=False)  # set by the registry

    def option(self, name: str) -> Option | None:
        return next((o for o in self.options if o.name == name), None)

    def all_weights(self) -> tuple[Weights, ...]:
        """Every weights file the spec declares (``colorbench weights`` lists them)."""
        return tuple(getattr(self, "pretrained", ()))


@dataclass
class ColorizerSpec(_Spec):
    """A colorizer. ``factory(device=, checkpoint=, **options)`` returns a Colorizer."""

    factory: Callable[..., Colorizer] = field(default=None)  # type: ignore[assignment]
    needs_weights: bool = False
    weights: Weights | None = None  # the default weights when needs_weights
    # Training support: train(ctx: colorbench.training.TrainContext) -> None
    train: Callable[..., Any] | None = None
    configs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    default_config: str | None = None
    extra_columns: tuple[str, ...] = ()  # per-image columns the colorizer reports
    # Capabilities, declared (the engine never probes with hasattr):
    provides_info: bool = False  # has colorize_with_info(L, ids) -> (ab, {column: values}); implied by extra_columns
    saves_maps: bool = False  # has save_maps(directory) -> paths (colorize --save-maps)
    # the colorizer this one refines (leaderboards pair them); a variant without a train of
    # its own loads that colorizer's checkpoints (as ccc-harmonized loads ccc's)
    variant_of: str | None = None
    composite: bool = False  # builds other registered plugins: its factory also gets registries=
    # Alternative shipped weights picked by the ``weights`` option (timm's pretrained tags).
    weight_tags: Mapping[str, Weights] = field(default_factory=dict)
    # The tiny variant the contract tests train for 2 steps from random initialisation
    # (timm's test_* models): the name of a config in ``configs``, with ``test_overrides``
    # (keys of that config) on top to make it small and fast on 8 images of 32 px.
    test_config: str | None = None
    test_overrides: Mapping[str, Any] = field(default_factory=dict)
    # Further files its factory or training may load (an ImageNet encoder); listed and
    # fetched by ``colorbench weights`` with the default weights and the tags.
    pretrained: tuple[Weights, ...] = ()

    def __post_init__(self) -> None:
        if not callable(self.factory):
            raise TypeError(f"ColorizerSpec {self.name!r}: factory must be callable")
        if self.test_config is not None or self.test_overrides:
            if self.train is None or self.test_config not in self.configs:
                raise TypeError(f"ColorizerSpec {self.name!r}: test_config {self.test_config!r} needs train= "
                                "and must name one of its configs")
            unknown = sorted(set(self.test_overrides) - set(self.configs[self.test_config]))
            if unknown:
                raise TypeError(f"ColorizerSpec {self.name!r}: test_overrides {unknown} are not keys of "
                                f"config {self.test_config!r}")
        if self.extra_columns:  # the columns come from colorize_with_info: declaring them declares it
            self.provides_info = True
        if self.weight_tags and self.option(WEIGHTS_OPTION) is None:
            raise TypeError(f"ColorizerSpec {self.name!r}: weight_tags need a {WEIGHTS_OPTION!r} option")

    @property
    def trainable(self) -> bool:
        return self.train is not None

    def declared_weights(self, options: Mapping[str, Any] | None = None) -> Weights | None:
        """The weights a build with ``options`` loads: the ``weights`` option's tag, else the default."""
        tag = (options or {}).get(WEIGHTS_OPTION)
        if tag is None and self.weight_tags:
            opt = self.option(WEIGHTS_OPTION)
            tag = opt.default if opt else None
        return self.weight_tags.get(tag, self.weights) if tag is not None else self.weights

    def all_weights(self) -> tuple[Weights, ...]:
        """The default weights, the tagged ones and ``pretrained``, each once."""
        found = [self.weights, *self.weight_tags.values(), *self.pretrained]
        return tuple({w.name: w for w in found if w is not None}.values())

    def weights_available(self, options: Mapping[str, Any] | None = None) -> bool:
        """True when nothing is needed or the declared file is shipped or cached (unverified)."""
        weights = self.declared_weights(options)
        return not self.needs_weights or (weights is not None and weights.locate() is not None)


@dataclass
class DatasetSpec(_Spec):
    """A dataset. ``factory(split=, root=, **options)`` returns a Dataset.

    ``needs_root``: the dataset reads files under ``--data-root/<name>`` (or
    ``$COLORBENCH_DATA/<name>``); ``root`` is None for generated or embedded sets.
    ``root_names``: other folder names accepted under the data root when ``<name>`` is
    absent (e.g. torchvision's ``flowers-102``), tried in order.
    """

    factory: Callable[..., Dataset] = field(default=None)  # type: ignore[assignment]
    needs_root: bool = False
    root_names: tuple[str, ...] = ()
    splits: tuple[str, ...] = ("test",)
    default_split: str | None = None
    homepage: str = ""
    licence: str = ""
    # test_fixture(directory): writes a tiny copy of the dataset's files there (a few small
    # images in its layout); the contract check then builds the dataset on that root.
    test_fixture: Callable[[Path], None] | None = None

    def __post_init__(self) -> None:
        if not callable(self.factory):
            raise TypeError(f"DatasetSpec {self.name!r}: factory must be callable")


MetricKind = Literal["per_image", "distribution"]


@dataclass
class MetricSpec(_Spec):
    """A metric over uint8 sRGB predictions and ground truths.

    Per-image metrics give ``fn`` (a function ``MetricBatch -> Tensor[B]``) or a
    ``factory(device=, **options)`` returning such a function (for metrics that build a
    network once). Distribution metrics give a factory returning an accumulator, a
    ``colorbench.Accumulator`` (``reset``, ``update(batch)``, ``merge``, ``compute() -> float``)
    built once per run; an object with only ``update`` and ``compute`` is built per pair.
    """

    fn: Callable[..., Any] | None = None
    factory: Callable[..., Any] | None = None
    display_name: str = ""
    higher_is_better: bool = True
    range: tuple[float, float] = (float("-inf"), float("inf"))
    kind: MetricKind = "per_image"
    citation: str = ""
    aliases: tuple[str, ...] = ()
    # Raises WeightsUnavailableError (one line: file, URL, where to put it) when the
    # metric cannot run here; None when it needs nothing.
    check_available: Callable[[], None] | None = None
    # Leaderboards show |dataset mean| (signed differences such as delta_colorfulness,
    # where 0 is best); per_image.csv and summary.csv keep the signed values.
    leaderboard_abs: bool = False
    # The accumulator (distribution kind) has info() -> dict stored beside its value in run.json.
    provides_info: bool = False
    # The pretrained files the metric loads (a backbone), listed by ``colorbench weights``.
    pretrained: tuple[Weights, ...] = ()
    # The definition's version: bump it when the numbers a metric gives change (another
    # convention, window, scale), so results computed under different definitions are
    # never ranked together (recorded in every result's protocol fingerprint).
    version: str = "1"
    # A per-image metric that needs no weights, no GPU and no state of the main process may
    # run in the DataLoader workers of ``colorbench score`` on the CPU, one image at a time,
    # right after decoding (docs/plugins.md). Off unless the plugin declares it.
    worker_safe: bool = False

    def __post_init__(self) -> None:
        if (self.fn is None) == (self.factory is None):
            raise TypeError(f"MetricSpec {self.name!r}: give exactly one of fn or factory")
        if self.kind == "distribution" and self.factory is None:
            raise TypeError(f"MetricSpec {self.name!r}: distribution metrics need a factory")
        if self.worker_safe and self.kind != "per_image":
            raise TypeError(f"MetricSpec {self.name!r}: only per-image metrics can be worker_safe")
        if not self.display_name:
            self.display_name = self.name.upper()

    def build(self, device: Any = "cpu", **options: Any) -> Any:
        if self.fn is not None:
            if options:
                import functools

                return functools.partial(self.fn, **options)
            return self.fn
        assert self.factory is not None
        return self.factory(device=device, **options)

    @property
    def arrow(self) -> str:
        return "↑" if self.higher_is_better else "↓"


@dataclass
class SegmenterSpec(_Spec):
    """A segmenter. ``factory(device=, **options)`` returns an object with
    ``segment(rgb: uint8 [H, W, 3]) -> int array [H, W]``."""

    factory: Callable[..., Any] = field(default=None)  # type: ignore[assignment]
    needs_weights: bool = False
    pretrained: tuple[Weights, ...] = ()  # the checkpoints it may load (listed by ``colorbench weights``)

    def __post_init__(self) -> None:
        if not callable(self.factory):
            raise TypeError(f"SegmenterSpec {self.name!r}: factory must be callable")
