"""``sam``: Segment Anything (Kirillov et al. 2023) automatic masks, flattened to a label map.

Checkpoints (not downloaded: 0.4-2.4 GB): ``checkpoint=PATH`` or the torch hub cache
``$TORCH_HOME/hub/checkpoints/<file>`` with the official file names below. The official files
are declared as ``Weights`` with the md5 Meta's files are known by (the suffix in each name
is the md5's first 6 hex digits, not a sha256 prefix; no sha256 is published): a cached file
whose md5 differs is never loaded. A ``checkpoint=PATH`` the user gives is not checked, only
its sha256 recorded. Either way the file is read with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from colorbench.errors import ColorbenchError, WeightsUnavailableError
from colorbench.models.checkpoints import load_checkpoint, sha256
from colorbench.models.weights import Weights

URL = "https://dl.fbaipublicfiles.com/segment_anything/{}"
_MD5 = {  # as listed for these URLs by several downloaders (iopaint, gdown hash specs, ...)
    "vit_b": ("sam_vit_b_01ec64.pth", "01ec64d29a2fca3f0661936605ae66f8"),
    "vit_l": ("sam_vit_l_0b3195.pth", "0b3195507c641ddb6910d2bb5adee89c"),
    "vit_h": ("sam_vit_h_4b8939.pth", "4b8939a88964f0f4ff5f5b2642c598a6"),
}
WEIGHTS = {kind: Weights(name=f"sam-{kind.replace('_', '-')}", file=file, sha256="", md5=md5,
                         url=URL.format(file), licence="Apache-2.0 (Meta, segment-anything)",
                         training="SA-1B (Kirillov et al. 2023)", description=f"SAM {kind}")
           for kind, (file, md5) in _MD5.items()}
FILES = {kind: w.file for kind, w in WEIGHTS.items()}


def checkpoint_path(model_type: str, checkpoint: str | None = None) -> Path:
    """The given checkpoint, else the cached official file with its md5 checked; one clear
    line when missing (WeightsUnavailableError) or wrong (WeightsHashError)."""
    return checkpoint_record(model_type, checkpoint)[0]


def checkpoint_record(model_type: str, checkpoint: str | None = None) -> tuple[Path, dict[str, Any]]:
    """``checkpoint_path`` and what was loaded: path, sha256, verified (declared md5 checked)."""
    if model_type not in WEIGHTS:
        raise ColorbenchError(f"sam: model_type={model_type!r}: choose one of {', '.join(WEIGHTS)}")
    weights = WEIGHTS[model_type]
    path = Path(checkpoint).expanduser() if checkpoint else weights.cache_path
    if not path.is_file():
        raise WeightsUnavailableError(
            f"sam: checkpoint {path} not found; download {weights.url} "
            f"there or pass --set sam_checkpoint=PATH")
    digest = sha256(path) if checkpoint else weights.verify(path)
    return path, {"path": str(path), "sha256": digest, "verified": not checkpoint}


def labels_from_masks(masks: list[dict[str, Any]], shape: tuple[int, int]) -> np.ndarray:
    """SAM's overlapping masks -> one label per pixel: larger masks painted first, smaller
    ones on top; pixels no mask covers get -1 (left alone by harmonization)."""
    labels = np.full(shape, -1, dtype=np.int64)
    for k, m in enumerate(sorted(masks, key=lambda m: -int(m["area"]))):
        labels[np.asarray(m["segmentation"], dtype=bool)] = k
    return labels


class Sam:
    """segment(rgb uint8 [H,W,3]) -> int64 labels [H,W] from SamAutomaticMaskGenerator."""

    def __init__(self, model: Any, checkpoint: dict[str, Any] | None = None, **generator: Any):
        from segment_anything import SamAutomaticMaskGenerator

        self.checkpoint = checkpoint or {}  # path, sha256, verified (declared md5 checked)
        self.generator = SamAutomaticMaskGenerator(model, **generator)

    def segment(self, rgb: np.ndarray) -> np.ndarray:
        rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
        return labels_from_masks(self.generator.generate(rgb), rgb.shape[:2])


def build(device: Any = "cpu", checkpoint: str = "", model_type: str = "vit_b", points_per_side: int = 32,
          pred_iou_thresh: float = 0.88, stability_score_thresh: float = 0.95, **_: Any) -> Sam:
    from segment_anything import sam_model_registry

    path, record = checkpoint_record(model_type, checkpoint or None)
    model = sam_model_registry[model_type]()
    model.load_state_dict(load_checkpoint(path))
    return Sam(model.to(device).eval(), record, points_per_side=points_per_side,
               pred_iou_thresh=pred_iou_thresh, stability_score_thresh=stability_score_thresh)
