"""Images for the report: loading saved PNGs, the gray input column, fitted JPEG thumbnails."""

from __future__ import annotations

import base64
import contextlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from colorbench.evaluation.protocol import lightness, rebuild
from colorbench.reporting.run_view import GRAY_COLUMN, GT_COLUMN, DatasetView


def load_image(path: Path) -> Image.Image | None:
    try:
        with Image.open(path) as img:
            return img.convert("RGB")
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Small images: torch's thread pool costs far more than it gives (40x slower with 2
    threads on a busy 2-core machine); the previous setting is restored."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def gray_input(gt: Image.Image) -> Image.Image:
    """The ground truth's L* only (a* = b* = 0), as the colorizers saw it: the same pixels
    as the ``gray`` colorizer's output."""
    rgb = torch.from_numpy(np.asarray(gt, dtype=np.uint8).copy()).permute(2, 0, 1)[None]
    with _one_thread():
        L = lightness(rgb)
        out = rebuild(L, torch.zeros((1, 2, *L.shape[2:]), dtype=torch.float32))
    return Image.fromarray(out[0].permute(1, 2, 0).numpy())


def _fit(img: Image.Image, box: int) -> Image.Image:
    """Shrink (never enlarge) so the longer side is at most ``box``."""
    img = img.copy()
    img.thumbnail((box, box), Image.Resampling.LANCZOS)
    return img


def data_uri(img: Image.Image, box: int, quality: int = 80) -> str:
    buf = io.BytesIO()
    _fit(img, box).save(buf, format="JPEG", quality=quality, subsampling=0, optimize=True)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def display_size(img: Image.Image, box: int) -> tuple[int, int]:
    """Size at which the page shows an image: its longer side scaled to ``box``."""
    w, h = img.size
    s = box / max(w, h)
    return max(1, round(w * s)), max(1, round(h * s))


@dataclass
class Thumb:
    uri: str
    width: int
    height: int


def make_thumbnails(view: DatasetView, box: int) -> dict[tuple[str, str], Thumb]:
    """(column, image_id) -> thumbnail, columns = GRAY_COLUMN, each model, GT_COLUMN."""
    out: dict[tuple[str, str], Thumb] = {}
    for image_id in view.ids:
        gt = load_image(view.gt_path(image_id))
        if gt is not None:
            w, h = display_size(gt, box)
            out[(GT_COLUMN, image_id)] = Thumb(data_uri(gt, box), w, h)
            out[(GRAY_COLUMN, image_id)] = Thumb(data_uri(gray_input(gt), box), w, h)
        for model in view.models:
            img = load_image(view.image_path(model, image_id))
            if img is not None:
                w, h = display_size(img, box)
                out[(model, image_id)] = Thumb(data_uri(img, box), w, h)
    return out
