"""Registers ``mse`` and ``cpsnr`` (alias ``psnr``)."""

from __future__ import annotations

from typing import Any

from colorbench import MetricSpec, hookimpl


def _mse(batch: Any) -> Any:
    from colorbench_metrics_pixel.functional import mse

    return mse(batch.pred, batch.gt)


def _cpsnr(batch: Any) -> Any:
    from colorbench_metrics_pixel.functional import cpsnr

    return cpsnr(batch.pred, batch.gt)


@hookimpl
def register_metrics(register: Any) -> None:
    register(MetricSpec(
        name="mse", fn=_mse, display_name="MSE",
        higher_is_better=False, range=(0.0, 1.0),
        description="mean squared error over R,G,B in [0,1]",
    ))
    register(MetricSpec(
        name="cpsnr", fn=_cpsnr, display_name="CPSNR",
        higher_is_better=True, range=(0.0, float("inf")), aliases=("psnr",),
        description="10·log10(255²/MSE), channels pooled (CT2 compare_psnr convention)",
        citation="Pang et al. 2013; Gomez Moreno et al. (seed 001)",
    ))
