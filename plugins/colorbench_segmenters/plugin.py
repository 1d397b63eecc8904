"""Registers the ``slic`` and ``sam`` segmenters (heavy imports only inside the factories)."""

from __future__ import annotations

from typing import Any

from colorbench import Option, SegmenterSpec, hookimpl
from colorbench_segmenters.sam import WEIGHTS as SAM_WEIGHTS


def _slic(device: Any = "cpu", **options: Any) -> Any:
    from colorbench_segmenters.slic import Slic

    return Slic(**options)


def _sam(device: Any = "cpu", **options: Any) -> Any:
    from colorbench_segmenters.sam import build

    return build(device=device, **options)


@hookimpl
def register_segmenters(register: Any) -> None:
    register(SegmenterSpec(
        name="slic", factory=_slic, needs_weights=False,
        description="SLIC superpixels (scikit-image), no weights",
        options=(Option("n_segments", int, 64, "approximate number of superpixels"),
                 Option("compactness", float, 10.0, "colour vs space trade-off"),
                 Option("sigma", float, 1.0, "Gaussian pre-smoothing")),
    ))
    register(SegmenterSpec(
        name="sam", factory=_sam, needs_weights=True, pretrained=tuple(SAM_WEIGHTS.values()),
        description="Segment Anything automatic masks (segment-anything; vit_b default)",
        options=(Option("checkpoint", str, "", "SAM checkpoint (default: torch hub cache, official file name)"),
                 Option("model_type", str, "vit_b", "vit_b, vit_l or vit_h", choices=("vit_b", "vit_l", "vit_h")),
                 Option("points_per_side", int, 32, "prompt grid of the automatic mask generator"),
                 Option("pred_iou_thresh", float, 0.88, "mask quality threshold"),
                 Option("stability_score_thresh", float, 0.95, "mask stability threshold")),
    ))
