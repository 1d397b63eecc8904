"""Registers ``mse``, ``cpsnr`` (alias ``psnr``), ``ssim``, ``ssim_skimage`` and ``uiqi``."""

from __future__ import annotations

from typing import Any

from colorbench import MetricSpec, hookimpl


def _sq_err(b: Any) -> Any:
    """Per-image squared error on 0..255, shared by mse and cpsnr through the batch cache."""
    from colorbench_metrics_pixel.functional import squared_error_255

    return b.cached("squared_error_255", lambda: squared_error_255(b.pred, b.gt))


def _mse(b: Any) -> Any:
    from colorbench_metrics_pixel.functional import mse

    return mse(b.pred, b.gt, _sq_err(b))


def _cpsnr(b: Any) -> Any:
    from colorbench_metrics_pixel.functional import cpsnr

    return cpsnr(b.pred, b.gt, _sq_err(b))


def _ssim(b: Any) -> Any:
    from colorbench_metrics_pixel.structural import ssim

    return ssim(b.pred, b.gt)


def _ssim_skimage(b: Any) -> Any:
    from colorbench_metrics_pixel.ssim_uniform import ssim_skimage

    return ssim_skimage(b.pred, b.gt)


def _uiqi(b: Any) -> Any:
    from colorbench_metrics_pixel.structural import uiqi

    return uiqi(b.pred, b.gt)


@hookimpl
def register_metrics(register: Any) -> None:
    register(MetricSpec(
        name="mse", fn=_mse, worker_safe=True, display_name="MSE",
        higher_is_better=False, range=(0.0, 1.0),
        description="mean squared error over R,G,B in [0,1]",
    ))
    register(MetricSpec(
        name="cpsnr", fn=_cpsnr, worker_safe=True, display_name="CPSNR",
        higher_is_better=True, range=(0.0, 100.0), aliases=("psnr",), version="2",
        description="10·log10(255²/MSE), channels pooled (CT2 compare_psnr convention), "
                    "capped at 100 dB (identical images)",
        citation="Pang et al. 2013; Gomez Moreno et al. 2024",
    ))
    register(MetricSpec(
        name="ssim", fn=_ssim, worker_safe=True, display_name="SSIM",
        higher_is_better=True, range=(-1.0, 1.0),
        description="Gaussian σ=1.5 11x11, K1=0.01, K2=0.03, data range 255, population "
                    "covariance, per channel then averaged (= skimage structural_similarity)",
        citation="Wang, Bovik, Sheikh, Simoncelli 2004, IEEE TIP 13(4)",
    ))
    register(MetricSpec(
        name="ssim_skimage", fn=_ssim_skimage, worker_safe=True, display_name="SSIM(sk)",
        higher_is_better=True, range=(-1.0, 1.0),
        description="scikit-image's default SSIM: 7x7 uniform window, sample covariance, K1=0.01, "
                    "K2=0.03, data range 255, per channel then averaged (what colorization repos call)",
        citation="Wang et al. 2004 as implemented by skimage.metrics.structural_similarity defaults",
    ))
    register(MetricSpec(
        name="uiqi", fn=_uiqi, worker_safe=True, display_name="UIQI",
        higher_is_better=True, range=(-1.0, 1.0),
        description="universal quality index, 8x8 sliding windows (valid, stride 1), "
                    "mean over windows then channels",
        citation="Wang & Bovik 2002, IEEE SPL 9(3)",
    ))
