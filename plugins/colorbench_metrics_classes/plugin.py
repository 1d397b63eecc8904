"""Registers ``cnr``, ``ccar``, ``tar`` (per image) and ``cnr_union``, ``ccar_union`` (per set)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from colorbench import MetricSpec, Option, hookimpl

CITATION = "Gain, Raha, Debnath 2024, CCC++, eq. 9 and 19-21"
OPTIONS = (
    Option("alpha", float, 6.0, "bin size α of the a*b* class grid (eq. 9)"),
    Option("beta", float, 108.0, "shift β of the a*b* class grid (eq. 9)"),
    Option("delta", int, 36, "bins per axis Δ (Δ² classes)"),
    Option("class_set", str, None, "file of class ids (JSON list or text); pixels snap to the "
                                   "nearest listed class and N_class = its size"),
)
ORDER = ("alpha", "beta", "delta", "class_set")


def _mapper(options: dict[str, Any]) -> Any:
    from colorbench.color.classes import ClassMapper

    return ClassMapper.from_options(**{k: v for k, v in options.items() if k in ORDER and v is not None})


def _per_image(which: str) -> Callable[..., Any]:
    def factory(device: Any = "cpu", **options: Any) -> Callable[[Any], Any]:
        from colorbench_metrics_classes import functional as F

        mapper = _mapper(options)

        def fn(batch: Any) -> Any:
            pred, gt = F.batch_classes(batch, mapper)
            if which == "cnr":
                return F.cnr(pred, gt, mapper.id_space)
            if which == "ccar":
                return F.ccar(pred, mapper.id_space, mapper.n_classes)
            return F.tar(pred, gt)
        return fn
    return factory


def _union(which: str) -> Callable[..., Any]:
    def factory(device: Any = "cpu", **options: Any) -> Any:
        from colorbench_metrics_classes.functional import UnionAccumulator

        return UnionAccumulator(which, _mapper(options))
    return factory


@hookimpl
def register_metrics(register: Any) -> None:
    common = {"options": OPTIONS, "citation": CITATION, "higher_is_better": True}
    register(MetricSpec(
        name="cnr", factory=_per_image("cnr"), display_name="CNR", range=(0.0, float("inf")),
        description="chromatic number ratio: distinct colour classes in pred / in gt, per image (eq. 19)",
        **common))
    register(MetricSpec(
        name="ccar", factory=_per_image("ccar"), display_name="CCAR", range=(0.0, 100.0),
        description="colour class activation ratio: 100 · distinct classes in pred / N_class, per image (eq. 20)",
        **common))
    register(MetricSpec(
        name="tar", factory=_per_image("tar"), display_name="TAR", range=(0.0, 100.0),
        description="true activation ratio: 100 · share of pixels whose pred class equals the gt class (eq. 21)",
        **common))
    register(MetricSpec(
        name="cnr_union", factory=_union("cnr"), kind="distribution", provides_info=True, display_name="CNR∪",
        range=(0.0, float("inf")),
        description="CNR over the whole set: distinct classes in all predictions / in all ground truths",
        **common))
    register(MetricSpec(
        name="ccar_union", factory=_union("ccar"), kind="distribution", provides_info=True, display_name="CCAR∪",
        range=(0.0, 100.0),
        description="CCAR over the whole set: 100 · distinct classes in all predictions / N_class",
        **common))
