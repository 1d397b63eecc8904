"""Registers ``colorfulness``, ``delta_colorfulness`` (the literature's absolute-opponent
convention), their strict Hasler-Süsstrunk M3 twins ``colorfulness_hs``,
``delta_colorfulness_hs``, and ``deltae2000``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from colorbench import MetricSpec, hookimpl

HASLER = "Hasler & Süsstrunk 2003, Measuring colourfulness in natural images (M3)"
DDCOLOR = ("Kang et al. 2023, DDColor (calculate_cf, after Hasler & Süsstrunk 2003); "
           "the CF convention of the DDColor / CT2 / ColorFormer tables")


def _cf_of(which: str, absolute: bool) -> Callable[[Any], Any]:
    """CF of the batch's ``which`` ("pred" / "gt"), cached per convention."""
    def get(b: Any) -> Any:
        from colorbench_metrics_color.functional import colorfulness

        key = f"{which}_colorfulness{'' if absolute else '_hs'}"  # gt_*: shared by the models
        return b.cached(key, lambda: colorfulness(getattr(b, which), absolute=absolute))
    return get


def _cf(absolute: bool) -> Callable[[Any], Any]:
    return _cf_of("pred", absolute)


def _delta_cf(absolute: bool) -> Callable[[Any], Any]:
    pred, gt = _cf_of("pred", absolute), _cf_of("gt", absolute)
    return lambda b: pred(b) - gt(b)


def _de2000(b: Any) -> Any:
    from colorbench_metrics_color.functional import mean_ciede2000

    return mean_ciede2000(b.gt_lab32, b.pred_lab32)


@hookimpl
def register_metrics(register: Any) -> None:
    register(MetricSpec(
        name="colorfulness", fn=_cf(True), worker_safe=True, display_name="CF", version="2",
        higher_is_better=True, range=(0.0, float("inf")),
        description="σ + 0.3μ of rg = |R−G|, yb = |½(R+G)−B| on the prediction, 0..255, population std "
                    "(DDColor's calculate_cf)",
        citation=DDCOLOR,
    ))
    register(MetricSpec(
        name="delta_colorfulness", fn=_delta_cf(True), worker_safe=True, display_name="ΔCF", version="2",
        higher_is_better=False, range=(float("-inf"), float("inf")), leaderboard_abs=True,
        description="CF(pred) − CF(gt) (absolute opponent channels), signed per image; leaderboards show |mean|",
        citation=DDCOLOR,
    ))
    register(MetricSpec(
        name="colorfulness_hs", fn=_cf(False), worker_safe=True, display_name="CF(M3)",
        higher_is_better=True, range=(0.0, float("inf")),
        description="strict Hasler-Süsstrunk M3: σ + 0.3μ of signed rg = R−G, yb = ½(R+G)−B, 0..255",
        citation=HASLER,
    ))
    register(MetricSpec(
        name="delta_colorfulness_hs", fn=_delta_cf(False), worker_safe=True, display_name="ΔCF(M3)",
        higher_is_better=False, range=(float("-inf"), float("inf")), leaderboard_abs=True,
        description="CF_M3(pred) − CF_M3(gt), signed per image; leaderboards show |mean|",
        citation=HASLER,
    ))
    register(MetricSpec(
        name="deltae2000", fn=_de2000, worker_safe=True, display_name="ΔE2000",
        higher_is_better=False, range=(0.0, float("inf")),
        description="mean CIEDE2000 between Lab(gt) and Lab(pred) (sRGB D65, kL=kC=kH=1)",
        citation="Sharma, Wu, Dalal 2005, Color Res. Appl. 30(1)",
    ))
