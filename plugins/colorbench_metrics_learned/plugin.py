"""Registers ``lpips``, ``lpips-vgg`` (per image) and ``fid``, ``kid`` (per set).

Registration builds nothing: networks are made by the factories when a run uses them, and
``check_available`` finds (or downloads) the weights file and checks its sha256
(``weights.py``); a missing or wrong file makes the metric unavailable with one line.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from colorbench import MetricSpec, Option, hookimpl
from colorbench_metrics_learned.weights import ALEXNET, INCEPTION, VGG16

FIDELITY_OPTIONS = (
    Option("reference", str, None, "published statistics (.npz with mu and sigma, or torch-fidelity's "
                                   "*-stat-fid-2048.pt) used instead of the ground truths' (--fid-ref); "
                                   "fid only: kid refuses it"),
    Option("cache", bool, True, "reuse (and write) the ground truths' statistics cached in "
                                "$COLORBENCH_CACHE/fid-ref (default ~/.cache/colorbench/fid-ref)"),
)


def _lpips_factory(net: str) -> Callable[..., Any]:
    def factory(device: Any = "cpu", random_backbone: bool = False, **_: Any) -> Any:
        from colorbench_metrics_learned.perceptual import LPIPSMetric

        return LPIPSMetric(net, device=device, random_backbone=random_backbone)  # verifies the trunk file
    return factory


def _fidelity_factory(kind: str) -> Callable[..., Any]:
    def factory(device: Any = "cpu", weights_path: str | None = None, extractor: Any = None,
                reference: str | None = None, cache: bool = True, **_: Any) -> Any:
        from colorbench_metrics_learned.fidelity import FidelityAccumulator
        from colorbench_metrics_learned.weights import INCEPTION

        if extractor is None and weights_path is None:
            weights_path = str(INCEPTION.ensure())  # located and sha256-verified
        name = INCEPTION.file if weights_path and weights_path.endswith(INCEPTION.file) else str(weights_path or "injected")
        return FidelityAccumulator(kind, device=device, weights_path=weights_path, extractor=extractor,
                                   weights_name=name, reference=reference, cache=cache)
    return factory


def _check(name: str) -> Callable[[], None]:
    def check() -> None:
        from colorbench_metrics_learned import weights

        getattr(weights, name).ensure()
    return check


@hookimpl
def register_metrics(register: Any) -> None:
    lpips_cite = "Zhang, Isola, Efros, Shechtman, Wang 2018, The Unreasonable Effectiveness of Deep Features (LPIPS v0.1)"
    register(MetricSpec(
        name="lpips", factory=_lpips_factory("alex"), display_name="LPIPS", higher_is_better=False,
        range=(0.0, float("inf")), citation=lpips_cite, check_available=_check("ALEXNET"),
        pretrained=(ALEXNET,),
        description="LPIPS v0.1, AlexNet trunk (torchvision alexnet-owt-7be5be79), inputs in [-1,1]",
    ))
    register(MetricSpec(
        name="lpips-vgg", factory=_lpips_factory("vgg"), display_name="LPIPS-VGG", higher_is_better=False,
        range=(0.0, float("inf")), citation=lpips_cite, check_available=_check("VGG16"),
        pretrained=(VGG16,),
        description="LPIPS v0.1, VGG-16 trunk (torchvision vgg16-397923af), inputs in [-1,1]",
    ))
    fid_note = ("torch-fidelity inception-v3-compat (TF 2015-12-05 weights), pool3 2048-d, "
                "uint8 input resized to 299 TF1-style bilinear; per (dataset, model) set")
    register(MetricSpec(
        name="fid", factory=_fidelity_factory("fid"), kind="distribution", provides_info=True, display_name="FID",
        higher_is_better=False, range=(0.0, float("inf")), check_available=_check("INCEPTION"),
        pretrained=(INCEPTION,),
        options=FIDELITY_OPTIONS, description=f"Fréchet Inception Distance, predictions vs ground truths; {fid_note}",
        citation="Heusel et al. 2017 (NeurIPS); torch-fidelity (Obukhov et al.)",
    ))
    register(MetricSpec(
        name="kid", factory=_fidelity_factory("kid"), kind="distribution", provides_info=True, display_name="KID",
        higher_is_better=False, range=(float("-inf"), float("inf")), check_available=_check("INCEPTION"),
        pretrained=(INCEPTION,),
        options=FIDELITY_OPTIONS, description=f"Kernel Inception Distance (mean over 100 subsets of min(1000, n)); {fid_note}",
        citation="Bińkowski et al. 2018 (ICLR); torch-fidelity (Obukhov et al.)",
    ))
