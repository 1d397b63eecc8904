"""Registers ``colorfulness``, ``delta_colorfulness`` and ``deltae2000``."""

from __future__ import annotations

from typing import Any

from colorbench import MetricSpec, hookimpl

HASLER = "Hasler & Süsstrunk 2003, Measuring colourfulness in natural images (M3)"


def _cf(b: Any) -> Any:
    from colorbench_metrics_color.functional import colorfulness

    return b.cached("colorfulness_pred", lambda: colorfulness(b.pred))


def _delta_cf(b: Any) -> Any:
    from colorbench_metrics_color.functional import colorfulness

    pred = b.cached("colorfulness_pred", lambda: colorfulness(b.pred))
    return pred - b.cached("colorfulness_gt", lambda: colorfulness(b.gt))


def _de2000(b: Any) -> Any:
    from colorbench_metrics_color.functional import mean_ciede2000

    return mean_ciede2000(b.gt_lab32, b.pred_lab32)


@hookimpl
def register_metrics(register: Any) -> None:
    register(MetricSpec(
        name="colorfulness", fn=_cf, display_name="CF",
        higher_is_better=True, range=(0.0, float("inf")),
        description="σ + 0.3μ of rg = R−G, yb = ½(R+G)−B on the prediction, 0..255, population std",
        citation=HASLER,
    ))
    register(MetricSpec(
        name="delta_colorfulness", fn=_delta_cf, display_name="ΔCF",
        higher_is_better=False, range=(float("-inf"), float("inf")), leaderboard_abs=True,
        description="CF(pred) − CF(gt), signed per image; leaderboards show |mean|",
        citation=HASLER,
    ))
    register(MetricSpec(
        name="deltae2000", fn=_de2000, display_name="ΔE2000",
        higher_is_better=False, range=(0.0, float("inf")),
        description="mean CIEDE2000 between Lab(gt) and Lab(pred) (sRGB D65, kL=kC=kH=1)",
        citation="Sharma, Wu, Dalal 2005, Color Res. Appl. 30(1)",
    ))
