"""PNG contact sheets: a grid of gray input, every model and the ground truth per image."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from colorbench.reporting.run_view import GRAY_COLUMN, GT_COLUMN, load_run
from colorbench.reporting.thumbnails import display_size, gray_input, load_image

SHEET_GAP = 2  # pixels between contact-sheet cells and around the border
SHEET_LABEL = 16  # height of the contact sheet's label band


def pick_ids(ids: list[str], n: int) -> list[str]:
    """``n`` ids evenly spaced over the sorted ids (the middle of n equal bins)."""
    ids = sorted(ids)
    if len(ids) <= n:
        return ids
    return [ids[(2 * k + 1) * len(ids) // (2 * n)] for k in range(n)]


def _font(size: int) -> Any:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: fixed-size bitmap font
        return ImageFont.load_default()


def _label(draw: ImageDraw.ImageDraw, text: str, x: int, y: int, width: int, font: Any) -> None:
    """Centre ``text`` in ``width`` pixels, shortened with an ellipsis when it does not fit."""
    while text and draw.textlength(text, font=font) > width - 2:
        text = text[:-2] + "…" if len(text) > 2 else ""
    tw = draw.textlength(text, font=font)
    draw.text((x + (width - tw) / 2, y), text, fill=(20, 20, 20), font=font)


def write_contact_sheet(run_dir: Path, dataset: str, path: Path, *, n_images: int = 6,
                        thumb: int = 96) -> Path | None:
    """A PNG grid: rows = ``n_images`` images evenly spaced over the sorted ids; columns =
    gray input, each model of the run, ground truth, labelled on top. Each cell is
    ``thumb`` x ``thumb`` (image fitted and centred), ``SHEET_GAP`` pixels apart, under a
    ``SHEET_LABEL``-pixel label band. Returns None when the run saved no images for
    ``dataset``."""
    _, views = load_run(Path(run_dir))
    view = next((v for v in views if v.name == dataset), None)
    if view is None or not view.has_images():
        return None
    ids = pick_ids([i for i in view.ids if view.gt_path(i).is_file()], n_images)
    if not ids:
        return None
    columns = [GRAY_COLUMN, *view.models, GT_COLUMN]
    gap, band = SHEET_GAP, SHEET_LABEL
    width = len(columns) * (thumb + gap) + gap
    height = band + len(ids) * (thumb + gap) + gap
    sheet = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    font = _font(11)
    labels = {GRAY_COLUMN: "gray input", GT_COLUMN: "ground truth"}
    for c, col in enumerate(columns):
        _label(draw, labels.get(col, col), gap + c * (thumb + gap), 2, thumb, font)
    for r, image_id in enumerate(ids):
        gt = load_image(view.gt_path(image_id))
        y = band + gap + r * (thumb + gap)
        for c, col in enumerate(columns):
            x = gap + c * (thumb + gap)
            if col == GT_COLUMN:
                img = gt
            elif col == GRAY_COLUMN:
                img = gray_input(gt) if gt is not None else None
            else:
                img = load_image(view.image_path(col, image_id))
            if img is None:
                draw.rectangle((x, y, x + thumb - 1, y + thumb - 1), fill=(235, 235, 235))
                _label(draw, "failed", x, y + thumb // 2 - 6, thumb, font)
                continue
            img = img.resize(display_size(img, thumb), Image.Resampling.LANCZOS)
            sheet.paste(img, (x + (thumb - img.width) // 2, y + (thumb - img.height) // 2))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path, format="PNG", optimize=True)
    return path
