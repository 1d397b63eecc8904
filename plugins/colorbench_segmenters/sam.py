"""``sam``: Segment Anything (Kirillov et al. 2023) automatic masks, flattened to a label map.

Checkpoints (not downloadable here): ``checkpoint=PATH`` or the torch hub cache
``$TORCH_HOME/hub/checkpoints/<file>`` with the official file names below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from colorbench.errors import ColorbenchError, WeightsUnavailableError
from colorbench.models.checkpoints import torch_hub_dir

FILES = {"vit_b": "sam_vit_b_01ec64.pth", "vit_l": "sam_vit_l_0b3195.pth", "vit_h": "sam_vit_h_4b8939.pth"}
URL = "https://dl.fbaipublicfiles.com/segment_anything/{}"


def checkpoint_path(model_type: str, checkpoint: str | None = None) -> Path:
    """The given checkpoint or the cached official file; one clear line when missing."""
    if model_type not in FILES:
        raise ColorbenchError(f"sam: model_type={model_type!r}: choose one of {', '.join(FILES)}")
    path = Path(checkpoint).expanduser() if checkpoint else torch_hub_dir() / FILES[model_type]
    if not path.is_file():
        raise WeightsUnavailableError(
            f"sam: checkpoint {path} not found; download {URL.format(FILES[model_type])} "
            f"there or pass --set sam_checkpoint=PATH")
    return path


def labels_from_masks(masks: list[dict[str, Any]], shape: tuple[int, int]) -> np.ndarray:
    """SAM's overlapping masks -> one label per pixel: larger masks painted first, smaller
    ones on top; pixels no mask covers get -1 (left alone by harmonization)."""
    labels = np.full(shape, -1, dtype=np.int64)
    for k, m in enumerate(sorted(masks, key=lambda m: -int(m["area"]))):
        labels[np.asarray(m["segmentation"], dtype=bool)] = k
    return labels


class Sam:
    """segment(rgb uint8 [H,W,3]) -> int64 labels [H,W] from SamAutomaticMaskGenerator."""

    def __init__(self, model: Any, **generator: Any):
        from segment_anything import SamAutomaticMaskGenerator

        self.generator = SamAutomaticMaskGenerator(model, **generator)

    def segment(self, rgb: np.ndarray) -> np.ndarray:
        rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
        return labels_from_masks(self.generator.generate(rgb), rgb.shape[:2])


def build(device: Any = "cpu", checkpoint: str = "", model_type: str = "vit_b", points_per_side: int = 32,
          pred_iou_thresh: float = 0.88, stability_score_thresh: float = 0.95, **_: Any) -> Sam:
    import torch
    from segment_anything import sam_model_registry

    path = checkpoint_path(model_type, checkpoint or None)
    model = sam_model_registry[model_type]()
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return Sam(model.to(device).eval(), points_per_side=points_per_side,
               pred_iou_thresh=pred_iou_thresh, stability_score_thresh=stability_score_thresh)
