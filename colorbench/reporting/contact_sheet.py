"""PNG contact sheets: a grid of gray input, every model and the ground truth per image.

The one builder of both the leaderboard's sheet and the report's: with the same defaults
(``SHEET_IMAGES`` images, ``SHEET_THUMB`` pixels) they show the same images, picked by
:func:`pick_ids` (evenly spaced over the sorted ids of the images whose ground truth was
saved: deterministic, whatever the models). Each row starts with its image id; column
labels and ids wrap over several lines instead of being cut.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from colorbench.reporting.run_view import GRAY_COLUMN, GT_COLUMN, load_run
from colorbench.reporting.thumbnails import display_size, gray_input, load_image

SHEET_GAP = 2  # pixels between contact-sheet cells and around the border
SHEET_LABEL = 16  # height of one line of the label band
SHEET_IMAGES = 6  # rows of a contact sheet (leaderboard and report alike)
SHEET_THUMB = 96  # cell size in pixels
BREAKS = " -_:./"  # a wrapped label breaks after one of these where it can


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


def visible(text: str) -> str:
    """``text`` with control characters and undecodable bytes escaped (a newline in an image id
    reads ``\\n``), so that a label is drawn on one line and nothing in it is hidden."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def wrap(draw: ImageDraw.ImageDraw, text: str, width: int, font: Any) -> list[str]:
    """``text`` (made :func:`visible`) in lines that each fit ``width`` pixels, broken after a
    separator where one fits, else between characters; nothing is dropped
    (``"".join(lines) == visible(text)``)."""
    text = visible(text)
    lines: list[str] = []
    while text:
        end = 1
        while end < len(text) and draw.textlength(text[:end + 1], font=font) <= width - 2:
            end += 1
        if end < len(text):
            cut = max(text.rfind(c, 0, end) for c in BREAKS)
            end = cut + 1 if cut > 0 else end
        lines.append(text[:end])
        text = text[end:]
    return lines


def _label(draw: ImageDraw.ImageDraw, lines: list[str], x: int, y: int, width: int, font: Any) -> None:
    """Centre each of ``lines`` in ``width`` pixels, one under the other from ``y``."""
    for k, line in enumerate(lines):
        tw = draw.textlength(line, font=font)
        draw.text((x + (width - tw) / 2, y + k * (SHEET_LABEL - 3)), line, fill=(20, 20, 20), font=font)


def write_contact_sheet(run_dir: Path, dataset: str, path: Path, *, n_images: int = SHEET_IMAGES,
                        thumb: int = SHEET_THUMB) -> Path | None:
    """A PNG grid: rows = ``n_images`` images picked by :func:`pick_ids`, each led by its id;
    columns = gray input, each model of the run, ground truth, labelled on top. Each cell is
    ``thumb`` x ``thumb`` (image fitted and centred), ``SHEET_GAP`` pixels apart, under a
    label band of ``SHEET_LABEL`` pixels per line of the longest wrapped label. Returns None
    when the run saved no images for ``dataset``."""
    _, views = load_run(Path(run_dir))
    view = next((v for v in views if v.name == dataset), None)
    if view is None or not view.has_images():
        return None
    ids = pick_ids([i for i in view.ids if view.gt_path(i).is_file()], n_images)
    if not ids:
        return None
    columns = [GRAY_COLUMN, *view.models, GT_COLUMN]
    names = {GRAY_COLUMN: "gray input", GT_COLUMN: "ground truth"}
    font = _font(11)
    draw = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    labels = [wrap(draw, names.get(col, col), thumb, font) for col in columns]
    gap, band = SHEET_GAP, SHEET_LABEL * max(len(lines) for lines in labels)
    width = (len(columns) + 1) * (thumb + gap) + gap  # the first column holds the image ids
    height = band + len(ids) * (thumb + gap) + gap
    sheet = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    _label(draw, ["image"], gap, 2, thumb, font)
    for c, lines in enumerate(labels, start=1):
        _label(draw, lines, gap + c * (thumb + gap), 2, thumb, font)
    for r, image_id in enumerate(ids):
        gt = load_image(view.gt_path(image_id))
        y = band + gap + r * (thumb + gap)
        id_lines = wrap(draw, image_id, thumb, font)
        _label(draw, id_lines, gap, y + (thumb - len(id_lines) * (SHEET_LABEL - 3)) // 2, thumb, font)
        for c, col in enumerate(columns, start=1):
            x = gap + c * (thumb + gap)
            if col == GT_COLUMN:
                img = gt
            elif col == GRAY_COLUMN:
                img = gray_input(gt) if gt is not None else None
            else:
                img = load_image(view.image_path(col, image_id))
            if img is None:
                draw.rectangle((x, y, x + thumb - 1, y + thumb - 1), fill=(235, 235, 235))
                _label(draw, ["failed"], x, y + thumb // 2 - 6, thumb, font)
                continue
            img = img.resize(display_size(img, thumb), Image.Resampling.LANCZOS)
            sheet.paste(img, (x + (thumb - img.width) // 2, y + (thumb - img.height) // 2))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path, format="PNG", optimize=True)
    return path
