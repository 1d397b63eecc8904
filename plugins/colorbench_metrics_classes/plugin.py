"""Registers ``cnr``, ``ccar``, ``tar``, ``tar_pixel`` (per image) and ``cnr_union``,
``ccar_union`` (per set: the paper's scale)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from colorbench import MetricSpec, Option, hookimpl

CITATION = "Gain, Raha, Debnath 2024, CCC++, eq. 9 and 19-21"
OPTIONS = (
    Option("alpha", float, 6.0, "bin size α of the a*b* class grid (eq. 9)"),
    Option("beta", float, 108.0, "shift β of the a*b* class grid (eq. 9)"),
    Option("delta", int, 36, "bins per axis Δ (Δ² classes)"),
    Option("class_set", str, None, "class ids: OUT/classes.json of `colorbench train ccc`, a JSON list or "
                                   "text; N_class = its size"),
    Option("n_class", int, None, "N_class of eq. 20 (default: the class set's size, else Δ²)"),
    Option("snap", bool, False, "snap every pixel's class to the nearest class of class_set first"),
)
ORDER = ("alpha", "beta", "delta", "class_set", "n_class", "snap")


def _mapper(options: dict[str, Any]) -> Any:
    from colorbench.color.classes import ClassMapper

    return ClassMapper.from_options(**{k: v for k, v in options.items() if k in ORDER and v is not None})


def _per_image(which: str) -> Callable[..., Any]:
    def factory(device: Any = "cpu", **options: Any) -> Callable[[Any], Any]:
        from colorbench_metrics_classes import functional as F

        mapper = _mapper(options)

        def fn(batch: Any) -> Any:
            if which == "tar_pixel":
                return F.tar_pixel(batch.pred, batch.gt)
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
    common = {"options": OPTIONS, "citation": CITATION, "higher_is_better": True, "version": "2"}
    unbounded = (0.0, float("inf"))
    register(MetricSpec(
        name="cnr", factory=_per_image("cnr"), worker_safe=True, display_name="CNR", range=unbounded,
        description="chromatic number ratio: distinct colour classes in pred / in gt, per image (eq. 19)",
        **common))
    register(MetricSpec(
        name="ccar", factory=_per_image("ccar"), worker_safe=True, display_name="CCAR", range=unbounded,
        description="colour class activation ratio: 100 · distinct classes in pred / N_class, per image "
                    "(eq. 20; the paper's tables use ccar_union)",
        **common))
    register(MetricSpec(
        name="tar", factory=_per_image("tar"), worker_safe=True, display_name="TAR", range=(0.0, 100.0),
        description="true activation ratio, colour-class reading: 100 · share of pixels whose pred class "
                    "equals the gt class (eq. 21 on the class maps)",
        **common))
    register(MetricSpec(
        name="tar_pixel", factory=_per_image("tar_pixel"), worker_safe=True, display_name="TAR(px)", range=(0.0, 100.0),
        description="true activation ratio, pixel-value reading: 100 · share of pixels whose RGB equals "
                    "the gt's exactly (eq. 21 on the pixel values)",
        **{**common, "version": "1"}))
    register(MetricSpec(
        name="cnr_union", factory=_union("cnr"), kind="distribution", provides_info=True, display_name="CNR∪",
        range=unbounded,
        description="CNR over the whole set: distinct classes in all predictions / in all ground truths "
                    "(Tables VI, X)",
        **common))
    register(MetricSpec(
        name="ccar_union", factory=_union("ccar"), kind="distribution", provides_info=True, display_name="CCAR∪",
        range=unbounded,
        description="CCAR over the whole set: 100 · distinct classes in all predictions / N_class "
                    "(Tables VI, X; no cap: 111.45 in Table VI)",
        **common))
