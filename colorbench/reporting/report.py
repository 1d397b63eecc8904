"""Visual comparison of a run: one self-contained HTML page per dataset and PNG contact sheets.

Reads a run directory (docs/run-directory.md) (run.json, per_image.csv, summary.csv and the images
under ``outputs/<dataset>/<model>/<image_id>.png`` that ``colorbench run --save-images``
writes, ground truth in ``outputs/<dataset>/_ground_truth/``). The gray input column is the
ground truth's L* alone (a* = b* = 0), rebuilt with the evaluation protocol's colour code.

Pages embed small JPEG thumbnails (base64 data URIs, 4:4:4 chroma so JPEG does not smear the
very colours being compared) and inline CSS/JS only: they work offline and need no server.
"""

from __future__ import annotations

import re
from pathlib import Path

from colorbench import results
from colorbench.errors import ColorbenchError
from colorbench.reporting.contact_sheet import SHEET_GAP, SHEET_LABEL, pick_ids, write_contact_sheet
from colorbench.reporting.report_html import render_index, render_page
from colorbench.reporting.run_view import format_metric, views_with_images
from colorbench.reporting.thumbnails import make_thumbnails

__all__ = ["SHEET_GAP", "SHEET_LABEL", "format_metric", "pick_ids", "slug", "write_contact_sheet", "write_report"]


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "dataset"


def write_report(run_dir: Path, out_dir: Path, *, thumb: int = 128, max_images: int | None = None,
                 contact_sheets: bool = True) -> list[Path]:
    """Write ``<out>/<dataset>.html`` for every dataset of the run that has saved images, a
    contact sheet ``<out>/<dataset>.contact.png`` for each (unless ``contact_sheets`` is
    False) and ``<out>/index.html`` linking them. Returns the paths written, index last.
    ``max_images`` keeps the first N images of each dataset (run order)."""
    if thumb < 8:
        raise ColorbenchError(f"--thumb {thumb}: must be at least 8 pixels")
    if max_images is not None and max_images < 1:
        raise ColorbenchError(f"--max-images {max_images}: must be at least 1")
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    manifest, views = views_with_images(run_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    entries = []
    for view in views:
        if max_images is not None:
            view.ids = view.ids[:max_images]
        page = out_dir / f"{slug(view.name)}.html"
        results.atomic_write_text(page, render_page(view, manifest, make_thumbnails(view, thumb), thumb))
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
