"""Visual comparison of a run: one self-contained HTML page per dataset and PNG contact sheets.

Reads the run directory of DESIGN.md §6 (run.json, per_image.csv, summary.csv and the images
under ``outputs/<dataset>/<model>/<image_id>.png`` that ``colorbench run --save-images``
writes, ground truth in ``outputs/<dataset>/_ground_truth/``). The gray input column is the
ground truth's L* alone (a* = b* = 0), rebuilt with the evaluation protocol's colour code.

Pages embed small JPEG thumbnails (base64 data URIs, 4:4:4 chroma so JPEG does not smear the
very colours being compared) and inline CSS/JS only: they work offline and need no server.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import io
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from colorbench import results
from colorbench.engine import GT_DIR
from colorbench.errors import ColorbenchError
from colorbench.protocol import lightness, rebuild

GRAY_COLUMN, GT_COLUMN = "gray input (L*)", "ground truth"
# metrics shown under each thumbnail when the run has them (all metrics are in the tooltip)
MAIN_METRICS = ("cpsnr", "ssim", "colorfulness", "deltae2000", "lpips", "uiqi", "tar")
N_MAIN = 3
SHEET_GAP = 2  # pixels between contact-sheet cells and around the border
SHEET_LABEL = 16  # height of the contact sheet's label band


@dataclass
class DatasetView:
    """Everything a page or a contact sheet of one dataset needs."""

    run_dir: Path
    name: str
    models: list[str]
    ids: list[str]  # run order
    rows: dict[tuple[str, str], dict[str, str]]  # (model, image_id) -> per_image.csv row
    metrics: dict[str, dict[str, Any]]  # per-image metric id -> run.json metadata
    extras: dict[str, list[str]] = field(default_factory=dict)  # model -> extra columns with values
    means: dict[str, dict[str, float | None]] = field(default_factory=dict)  # model -> metric -> mean

    @property
    def image_dir(self) -> Path:
        return self.run_dir / "outputs" / self.name

    def image_path(self, model: str, image_id: str) -> Path:
        return self.image_dir / model / f"{image_id}.png"

    def gt_path(self, image_id: str) -> Path:
        return self.image_dir / GT_DIR / f"{image_id}.png"

    def has_images(self) -> bool:
        return self.image_dir.is_dir() and any(self.image_dir.rglob("*.png"))


def _num(text: str | None) -> float | None:
    if text in (None, ""):
        return None
    try:
        return float(text)
    except ValueError:
        return None


def load_run(run_dir: Path) -> tuple[dict[str, Any], list[DatasetView]]:
    """run.json and one DatasetView per dataset with rows; ColorbenchError when ``run_dir``
    is not a run directory."""
    run_dir = Path(run_dir)
    manifest = results.read_json(run_dir / "run.json")
    header, rows = results.read_rows(run_dir / "per_image.csv")
    if not manifest or not header:
        raise ColorbenchError(f"{run_dir}: not a colorbench run directory (needs run.json and per_image.csv)")
    meta = {k: v for k, v in manifest.get("metrics", {}).items() if v.get("kind", "per_image") == "per_image"}
    metric_ids = [m for m in meta if m in header]
    extra_cols = [c for c in header if c not in results.FIXED_COLUMNS and c not in meta]
    order = list(manifest.get("resolved", {}).get("models", []))
    means = _summary_means(run_dir / "summary.csv")
    views: dict[str, DatasetView] = {}
    for r in rows:
        ds = r["dataset"]
        view = views.get(ds)
        if view is None:
            view = views[ds] = DatasetView(run_dir, ds, [], [], {}, {m: meta[m] for m in metric_ids})
        if r["model"] not in view.models:
            view.models.append(r["model"])
        view.rows[(r["model"], r["image_id"])] = r
    for view in views.values():
        seen: dict[str, None] = {}
        for _model, image_id in view.rows:
            seen.setdefault(image_id)
        view.ids = list(seen)
        seen_models = list(view.models)  # first appearance breaks ties
        view.models.sort(key=lambda m: (order.index(m) if m in order else len(order), seen_models.index(m)))
        for model in view.models:
            cols = [c for c in extra_cols
                    if any(view.rows.get((model, i), {}).get(c) for i in view.ids)]
            if cols:
                view.extras[model] = cols
            view.means[model] = means.get((view.name, model), {})
    return manifest, list(views.values())


def _summary_means(path: Path) -> dict[tuple[str, str], dict[str, float | None]]:
    if not path.is_file():
        return {}
    with open(path, newline="", encoding="utf-8") as f:
        return {(r["dataset"], r["model"]): {k: _num(v) for k, v in r.items()} for r in csv.DictReader(f)}


def no_images_message(run_dir: Path) -> str:
    return (f"{run_dir}: the run saved no images, and the report shows them; run again with "
            "--save-images under a new --name (or with --no-resume): resuming a finished run "
            "skips the images already scored and saves nothing")


def _views_with_images(run_dir: Path) -> tuple[dict[str, Any], list[DatasetView]]:
    manifest, views = load_run(run_dir)
    if not views:
        raise ColorbenchError(f"{run_dir}: the run has no scored images yet (per_image.csv has no rows)")
    with_images = [v for v in views if v.has_images()]
    if not with_images:
        raise ColorbenchError(no_images_message(run_dir))
    return manifest, with_images


# ---------------------------------------------------------------------- images
def _load(path: Path) -> Image.Image | None:
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


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "dataset"


# ---------------------------------------------------------------- the report
def write_report(run_dir: Path, out_dir: Path, *, thumb: int = 128, max_images: int | None = None,
                 contact_sheets: bool = True) -> list[Path]:
    """Write ``<out>/<dataset>.html`` for every dataset of the run that has saved images, a
    contact sheet ``<out>/<dataset>.contact.png`` for each (unless ``contact_sheets`` is
    False) and ``<out>/index.html`` linking them. Returns the paths written, index last.
    ``max_images`` keeps the first N images of each dataset (run order)."""
    from colorbench.report_html import render_index, render_page

    if thumb < 8:
        raise ColorbenchError(f"--thumb {thumb}: must be at least 8 pixels")
    if max_images is not None and max_images < 1:
        raise ColorbenchError(f"--max-images {max_images}: must be at least 1")
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    manifest, views = _views_with_images(run_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    entries = []
    for view in views:
        if max_images is not None:
            view.ids = view.ids[:max_images]
        page = out_dir / f"{slug(view.name)}.html"
        results.atomic_write_text(page, render_page(view, manifest, _thumbnails(view, thumb), thumb))
        written.append(page)
        sheet = None
        if contact_sheets:
            sheet = write_contact_sheet(run_dir, view.name, out_dir / f"{slug(view.name)}.contact.png")
            if sheet is not None:
                written.append(sheet)
        entries.append((view, page.name, sheet.name if sheet else None))
    index = out_dir / "index.html"
    results.atomic_write_text(index, render_index(manifest, entries))
    written.append(index)
    return written


@dataclass
class Thumb:
    uri: str
    width: int
    height: int


def _thumbnails(view: DatasetView, box: int) -> dict[tuple[str, str], Thumb]:
    """(column, image_id) -> thumbnail, columns = GRAY_COLUMN, each model, GT_COLUMN."""
    out: dict[tuple[str, str], Thumb] = {}
    for image_id in view.ids:
        gt = _load(view.gt_path(image_id))
        if gt is not None:
            w, h = display_size(gt, box)
            out[(GT_COLUMN, image_id)] = Thumb(data_uri(gt, box), w, h)
            out[(GRAY_COLUMN, image_id)] = Thumb(data_uri(gray_input(gt), box), w, h)
        for model in view.models:
            img = _load(view.image_path(model, image_id))
            if img is not None:
                w, h = display_size(img, box)
                out[(model, image_id)] = Thumb(data_uri(img, box), w, h)
    return out


# ------------------------------------------------------------- contact sheets
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
        gt = _load(view.gt_path(image_id))
        y = band + gap + r * (thumb + gap)
        for c, col in enumerate(columns):
            x = gap + c * (thumb + gap)
            if col == GT_COLUMN:
                img = gt
            elif col == GRAY_COLUMN:
                img = gray_input(gt) if gt is not None else None
            else:
                img = _load(view.image_path(col, image_id))
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


def format_metric(value: float | None) -> str:
    """Compact display: 4 significant figures at most, ``inf`` for identical images."""
    if value is None or math.isnan(value):
        return "–"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    a = abs(value)
    if a >= 100:
        return f"{value:.1f}"
    if a >= 10:
        return f"{value:.2f}"
    return f"{value:.3f}"
