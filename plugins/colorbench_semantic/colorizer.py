"""Inference: GridNet predicts the semantic map, the two-stream U-Net colorizes from the gray
image and that map. A user-supplied (edited) map per image id replaces the prediction
(``semantic_maps=DIR``, ``DIR/<image id>.png``), the paper's interactive correction.

Map PNGs: palette ('P') images whose pixel values are the class ids (any editor that keeps
indexed colour keeps them); 8-bit gray ('L') PNGs with class ids as values are read too,
and RGB PNGs are mapped to the nearest palette colour.

    python -m colorbench_semantic.colorizer TRAIN_CHECKPOINT OUT.pt [--half]   # export
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from colorbench.errors import ColorbenchError
from colorbench.models.checkpoints import export_cli, load_checkpoint, save_checkpoint
from colorbench_semantic.model import (
    build_colorizer,
    build_segmenter,
    normalize_L,
    normalize_labels,
    to_ab,
)
from colorbench_semantic.pseudo import PseudoLabeler

EXPORT_FORMAT = "colorbench-semantic-inference/1"
ARCH_KEYS = ("n_classes", "width", "seg_width", "instance_norm", "skip_merge", "labels", "size")


def palette(n: int = 256) -> list[int]:
    """A fixed, well-separated palette: class k -> an RGB triple (class 0 black)."""
    rng = np.random.default_rng(4)
    base = [(0, 0, 0), (230, 25, 75), (60, 180, 75), (0, 130, 200), (255, 225, 25), (245, 130, 48),
            (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212),
            (0, 128, 128), (220, 190, 255), (170, 110, 40), (255, 250, 200), (128, 0, 0)]
    colours = base + [tuple(int(v) for v in rng.integers(0, 256, 3)) for _ in range(n - len(base))]
    return [v for c in colours[:n] for v in c]


def save_map(labels: np.ndarray, path: Path) -> Path:
    from PIL import Image

    img = Image.fromarray(labels.astype(np.uint8), mode="P")
    img.putpalette(palette())
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path


def read_map(path: Path, n_classes: int) -> np.ndarray:
    """Class ids [H, W] from a map PNG (see the module docstring)."""
    from PIL import Image

    try:
        img = Image.open(path)
        img.load()
    except Exception as exc:
        raise ColorbenchError(f"semantic map {path}: cannot read ({type(exc).__name__})") from None
    if img.mode == "P":
        labels = np.array(img)
    elif img.mode in ("L", "I", "I;16"):
        labels = np.array(img).astype(np.int64)
    else:
        rgb = np.array(img.convert("RGB")).astype(np.int64)
        pal = np.array(palette()[: 3 * n_classes]).reshape(-1, 3)
        labels = ((rgb[..., None, :] - pal) ** 2).sum(-1).argmin(-1)
    if labels.max() >= n_classes:
        raise ColorbenchError(f"semantic map {path}: class {int(labels.max())} but the model has "
                              f"{n_classes} classes (0..{n_classes - 1})")
    return labels.astype(np.int64)


class SemanticColorizer:
    """``size``: L* is resized to ``size`` x ``size`` (the training resolution), the map is
    predicted (or read and resized, nearest) there, a*b* are predicted there and upsampled
    bilinearly to the input size. ``maps='predicted'`` uses GridNet; ``maps='pseudo'`` (pseudo-label
    checkpoints only) computes the pseudo-label recipe directly instead."""

    def __init__(self, segmenter: nn.Module, colorizer: nn.Module, cfg: dict[str, Any], device: torch.device,
                 classes: list[str], labeler: PseudoLabeler | None = None, semantic_maps: str | Path | None = None,
                 maps: str = "predicted", size: int = 0, chroma_gain: float = 1.0,
                 exact_maps: dict[str, np.ndarray] | None = None):
        self.seg, self.col = segmenter.to(device).eval(), colorizer.to(device).eval()
        self.cfg, self.device, self.classes, self.labeler = cfg, device, classes, labeler
        self.n_classes = int(cfg["n_classes"])
        self.size = size
        self.maps_dir = Path(semantic_maps) if semantic_maps else None
        if self.maps_dir is not None and not self.maps_dir.is_dir():
            raise ColorbenchError(f"semantic_maps={self.maps_dir}: not a directory (one PNG per image id)")
        if maps not in ("predicted", "pseudo"):
            raise ColorbenchError(f"maps={maps}: choose predicted or pseudo")
        if maps == "pseudo" and labeler is None:
            raise ColorbenchError("maps=pseudo: this checkpoint was not trained on pseudo-labels")
        self.maps = maps
        self.exact_maps = exact_maps
        if not chroma_gain > 0:
            raise ColorbenchError(f"chroma_gain={chroma_gain}: must be positive")
        self.chroma_gain = float(chroma_gain)
        self.multiple = max(int(self.seg.multiple), int(self.col.multiple))
        self.last_maps: dict[str, np.ndarray] = {}

    # ------------------------------------------------------------------ public API
    def colorize(self, L: torch.Tensor) -> torch.Tensor:
        return self.colorize_with_info(L, [""] * L.shape[0])[0]

    def colorize_with_info(self, L: torch.Tensor, ids: list[str]) -> tuple[torch.Tensor, dict[str, list[Any]]]:
        H, W = L.shape[-2:]
        h, w = (self.size, self.size) if self.size else (H, W)
        h, w = max(self.multiple, -(-h // self.multiple) * self.multiple), max(self.multiple, -(-w // self.multiple) * self.multiple)
        x = L.float()
        if (h, w) != (H, W):
            x = F.interpolate(x, size=(h, w), mode="bilinear", antialias=True, align_corners=False)
        xn = normalize_L(x)
        sem, sources = self._maps(x, xn, ids)
        out = to_ab(self.col(xn, normalize_labels(sem, self.n_classes)).float()) * self.chroma_gain
        if (h, w) != (H, W):
            out = F.interpolate(out, size=(H, W), mode="bilinear", align_corners=False)
            full = F.interpolate(sem[:, None].float(), size=(H, W), mode="nearest")[:, 0].long()
        else:
            full = sem
        self.last_maps = {i or f"image{k}": full[k].cpu().numpy() for k, i in enumerate(ids)}
        return out, {"semantic_map": sources}

    def save_maps(self, directory: str | Path) -> list[Path]:
        """Write the maps of the last ``colorize_with_info`` call as ``DIR/<id>.png``."""
        return [save_map(m, Path(directory) / f"{i}.png") for i, m in self.last_maps.items()]

    # ------------------------------------------------------------------ internals
    def _maps(self, x: torch.Tensor, xn: torch.Tensor, ids: list[str]) -> tuple[torch.Tensor, list[str]]:
        h, w = x.shape[-2:]
        if self.maps == "pseudo":
            assert self.labeler is not None
            sem = torch.stack([torch.from_numpy(self.labeler(x[k, 0].cpu().numpy()).astype(np.int64))
                               for k in range(x.shape[0])]).to(self.device)
            sources = ["pseudo"] * len(ids)
        else:
            sem = self.seg(xn).argmax(1)
            sources = ["predicted"] * len(ids)
        if self.exact_maps is not None:
            for k, image_id in enumerate(ids):
                if image_id not in self.exact_maps:
                    raise ColorbenchError(f"exact_maps: no map for image {image_id!r}; run on the dataset "
                                          "and split the maps come from")
                sem[k] = self._resized(torch.from_numpy(self.exact_maps[image_id].astype(np.int64)), h, w)
                sources[k] = "exact"
        if self.maps_dir is not None:
            for k, image_id in enumerate(ids):
                path = self.maps_dir / f"{image_id}.png"
                if image_id and path.is_file():
                    sem[k] = self._resized(torch.from_numpy(read_map(path, self.n_classes)), h, w)
                    sources[k] = "file"
        return sem, sources

    def _resized(self, labels: torch.Tensor, h: int, w: int) -> torch.Tensor:
        """A class map [H, W] at the model's h x w (nearest), on the model's device."""
        out = F.interpolate(labels[None, None].float(), size=(h, w), mode="nearest")[0, 0].long()
        return out.to(self.device)


def load_networks(checkpoint: str | Path, device: Any = "cpu") -> dict[str, Any]:
    """Both networks, the config, the class names and the pseudo-labeler of a checkpoint."""
    state = load_checkpoint(checkpoint, map_location="cpu")
    if not isinstance(state, dict) or "segmenter" not in state or "colorizer" not in state:
        raise ColorbenchError(f"checkpoint {checkpoint}: not a semantic checkpoint (no segmenter/colorizer)")
    cfg = dict(state["config"])
    seg, col = build_segmenter(cfg), build_colorizer(cfg)
    for net, key in ((seg, "segmenter"), (col, "colorizer")):
        net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state[key].items()})
    labeler = PseudoLabeler.from_state(state["pseudo"]) if state.get("pseudo") else None
    return {"segmenter": seg.to(device), "colorizer": col.to(device), "config": cfg,
            "classes": list(state.get("classes") or []), "labeler": labeler, "step": state.get("step")}


def export(checkpoint: str | Path, out: str | Path, half: bool = False) -> Path:
    """Inference weights: both networks + architecture config + classes + pseudo-labeler."""
    state = load_checkpoint(checkpoint)

    def cast(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {k: (v.half() if half and v.is_floating_point() else v) for k, v in sd.items()}

    cfg = {k: state["config"][k] for k in ARCH_KEYS if k in state["config"]}
    return save_checkpoint({"format": EXPORT_FORMAT, "config": cfg, "step": state["step"],
                            "classes": state["classes"], "pseudo": state.get("pseudo"),
                            "segmenter": cast(state["segmenter"]), "colorizer": cast(state["colorizer"]),
                            "training_data": state.get("training_data")}, out)


def main(argv: list[str] | None = None) -> None:
    export_cli(export, "python -m colorbench_semantic.colorizer TRAIN_CHECKPOINT OUT.pt [--half]", argv)


if __name__ == "__main__":
    main()
