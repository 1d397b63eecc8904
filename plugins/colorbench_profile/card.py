"""Model-card figures (Pillow only): training curves and a montage of the profiles found.

    python -m colorbench_profile.card plot OUT/train_log.csv docs/models/profile_curves.png
    python -m colorbench_profile.card montage OUT/checkpoint.pt DATASET_DIR OUT.png [--split train]
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw

COLOURS = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
           (227, 119, 194), (127, 127, 127))


def _panel(draw: ImageDraw.ImageDraw, top: int, W: int, H: int, title: str,
           series: dict[str, tuple[list[tuple[float, float]], bool]]) -> None:
    """One panel: ``series`` name -> (points, as_dots)."""
    pad = 60
    pts = [p for s, _ in series.values() for p in s]
    draw.rectangle([pad, top + pad // 2, W - pad, top + H - pad], outline="black")
    draw.text((pad, top + 8), title, fill="black")
    if not pts:
        return
    x0, x1 = min(p[0] for p in pts), max(p[0] for p in pts)
    y0, y1 = min(p[1] for p in pts), max(p[1] for p in pts)
    y0, y1 = y0 - 0.05 * (y1 - y0 + 1e-9), y1 + 0.05 * (y1 - y0 + 1e-9)

    def xy(x: float, y: float) -> tuple[float, float]:
        return (pad + (x - x0) / (x1 - x0 or 1) * (W - 2 * pad),
                top + H - pad - (y - y0) / (y1 - y0) * (H - 1.5 * pad))

    for frac in (0.0, 0.5, 1.0):
        _, yy = xy(x0, y0 + frac * (y1 - y0))
        draw.text((4, yy - 6), f"{y0 + frac * (y1 - y0):.3g}", fill="black")
        xx, _ = xy(x0 + frac * (x1 - x0), y0)
        draw.text((xx - 12, top + H - pad + 6), f"{x0 + frac * (x1 - x0):.0f}", fill="black")
    for k, (name, (points, dots)) in enumerate(series.items()):
        colour = COLOURS[k % len(COLOURS)]
        if dots:
            for x, y in points:
                cx, cy = xy(x, y)
                draw.ellipse([cx - 3, cy - 3, cx + 3, cy + 3], fill=colour)
        elif len(points) > 1:
            draw.line([xy(x, y) for x, y in points], fill=colour, width=2)
        draw.text((W - pad - 170, top + pad // 2 + 6 + 14 * k), name, fill=colour)
    draw.text((W // 2 - 40, top + H - pad + 24), "global step", fill="black")


def plot(log: Path, out: Path) -> Path:
    """Panel 1: predictor cross entropy, train and held-out accuracy. Panel 2: each
    colorizer's mean |Δa*b*| (train, lines) and held-out (dots)."""
    with open(log, newline="") as f:
        rows = list(csv.DictReader(f))

    def series(model: str, key: str) -> list[tuple[float, float]]:
        return [(float(r["step"]), float(r[key])) for r in rows if r["model"] == model and r.get(key)]

    W, H = 900, 320
    img = Image.new("RGB", (W, 2 * H), "white")
    draw = ImageDraw.Draw(img)
    _panel(draw, 0, W, H, "profile predictor: cross entropy (train), accuracy (train line, held-out dots)",
           {"cross entropy": (series("predictor", "loss"), False), "train accuracy": (series("predictor", "acc"), False),
            "held-out accuracy": (series("predictor", "val_acc"), True)})
    models = list(dict.fromkeys(r["model"] for r in rows if r["model"] != "predictor"))
    cols: dict[str, tuple[list[tuple[float, float]], bool]] = {}
    for m in models:
        cols[f"{m} train"] = (series(m, "l1_ab"), False)
        cols[f"{m} held-out"] = (series(m, "val_l1_ab"), True)
    _panel(draw, H, W, H, "colorizers: mean |a*b* error| (CIE units)", cols)
    out.parent.mkdir(parents=True, exist_ok=True)
    img.save(out)
    return out


def montage(checkpoint: Path, root: Path, out: Path, split: str = "train", per: int = 8, thumb: int = 48) -> Path:
    """One row per profile: its mean colour, size and route, then ``per`` of its images."""

    from colorbench_datasets.folder import Folder

    from colorbench.checkpoints import load_checkpoint
    from colorbench.color import lab_to_rgb
    from colorbench.protocol import resize

    state = load_checkpoint(checkpoint)
    prof = state["profiles"]
    ds = Folder(split=split, root=root)
    assignment = list(prof["assignment"])
    if len(assignment) != len(ds.ids):
        raise SystemExit(f"{checkpoint} was trained on {len(assignment)} images, {root} --split {split} has {len(ds.ids)}")
    label_w = 150
    img = Image.new("RGB", (label_w + per * (thumb + 2), len(prof["sizes"]) * (thumb + 4)), "white")
    draw = ImageDraw.Draw(img)
    for k, size in enumerate(prof["sizes"]):
        top = k * (thumb + 4)
        lab = prof["mean_lab"][k].view(3, 1, 1).float()
        swatch = tuple(int(v) for v in (lab_to_rgb(lab).view(3) * 255).round().tolist())
        draw.rectangle([2, top + 2, 26, top + thumb], fill=swatch)
        draw.text((32, top + 6), f"profile {k}", fill="black")
        draw.text((32, top + 20), f"{size} images", fill="black")
        draw.text((32, top + 34), f"-> {prof['routes'][k]}", fill="black")
        members = [i for i, a in enumerate(assignment) if a == k][:per]
        for j, i in enumerate(members):
            small = resize(ds.load(i).image, thumb, "crop")
            img.paste(Image.fromarray(small), (label_w + j * (thumb + 2), top + 2))
    out.parent.mkdir(parents=True, exist_ok=True)
    img.quantize(256).save(out, optimize=True)  # a palette PNG: small enough for the repo
    return out


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    split = "train"
    if "--split" in args:
        k = args.index("--split")
        split = args[k + 1]
        del args[k:k + 2]
    if len(args) == 3 and args[0] == "plot":
        print(plot(Path(args[1]), Path(args[2])))
    elif len(args) == 4 and args[0] == "montage":
        print(montage(Path(args[1]), Path(args[2]), Path(args[3]), split=split))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
