"""A run directory read for display: one ``DatasetView`` per dataset (rows, metrics, means,
image paths) for the HTML report and the contact sheets."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from colorbench import results
from colorbench.errors import ColorbenchError
from colorbench.results.files import GT_DIR
from colorbench.results.manifest import RunManifest

GRAY_COLUMN, GT_COLUMN = "gray input (L*)", "ground truth"
# metrics shown under each thumbnail when the run has them (all metrics are in the tooltip)
MAIN_METRICS = ("cpsnr", "ssim", "colorfulness", "deltae2000", "lpips", "uiqi", "tar")
N_MAIN = 3


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
    # a score directory: image_id -> (prediction, ground truth) files (the folders it compared)
    files: dict[str, tuple[Path, Path]] = field(default_factory=dict)

    @property
    def image_dir(self) -> Path:
        return self.run_dir / "outputs" / self.name

    def image_path(self, model: str, image_id: str) -> Path:
        if self.files:
            return self.files[image_id][0] if image_id in self.files else self.run_dir / "missing"
        return self.image_dir / model / f"{image_id}.png"

    def gt_path(self, image_id: str) -> Path:
        if self.files:
            return self.files[image_id][1] if image_id in self.files else self.run_dir / "missing"
        return self.image_dir / GT_DIR / f"{image_id}.png"

    def has_images(self) -> bool:
        if self.files:
            return True
        return self.image_dir.is_dir() and any(self.image_dir.rglob("*.png"))


def _score_files(manifest: RunManifest) -> dict[str, tuple[Path, Path]]:
    """The (prediction, ground truth) files a score directory compared, matched again from
    the folders recorded in run.json (relative paths from the current directory)."""
    from colorbench.evaluation.scoring import match_files

    pred, gt = Path(manifest.score.get("pred", "")), Path(manifest.score.get("gt", ""))
    if not (pred.is_dir() and gt.is_dir()):
        raise ColorbenchError(f"the score compared {pred} with {gt}, which are not both folders here; "
                              "run the report from the directory score ran in")
    return {image_id: (p, g) for image_id, p, g in match_files(pred, gt).pairs}


def _num(text: str | None) -> float | None:
    if text in (None, ""):
        return None
    try:
        return float(text)
    except ValueError:
        return None


def load_run(run_dir: Path) -> tuple[RunManifest, list[DatasetView]]:
    """run.json and one DatasetView per dataset with rows; ColorbenchError when ``run_dir``
    is not a run directory."""
    run_dir = Path(run_dir)
    manifest = results.manifest.read(run_dir)
    header, rows = results.read_rows(run_dir / "per_image.csv")
    if manifest is None or not header:
        raise ColorbenchError(f"{run_dir}: not a colorbench run directory (needs run.json and per_image.csv)")
    meta = {k: v for k, v in manifest.metrics.items() if v.get("kind", "per_image") == "per_image"}
    metric_ids = [m for m in meta if m in header]
    extra_cols = [c for c in header if c not in results.FIXED_COLUMNS and c not in meta]
    order = list(manifest.resolved.get("models", []))
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
        if manifest.kind == "score":
            view.files = _score_files(manifest)
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


def views_with_images(run_dir: Path) -> tuple[RunManifest, list[DatasetView]]:
    manifest, views = load_run(run_dir)
    if not views:
        raise ColorbenchError(f"{run_dir}: the run has no scored images yet (per_image.csv has no rows)")
    with_images = [v for v in views if v.has_images()]
    if not with_images:
        raise ColorbenchError(no_images_message(run_dir))
    return manifest, with_images


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
