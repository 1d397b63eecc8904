"""Model-card figure (no matplotlib): the router's learning curves drawn with Pillow.

    python -m colorbench_router.card RUN/train_log.csv docs/models/router_curves.png
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from PIL import Image, ImageDraw

PANELS = (("cross-entropy (train mean per epoch, val)", ("loss", "val_loss")),
          ("accuracy (train on SMOTE-balanced part, val)", ("train_acc", "val_acc")))
COLOURS = ((31, 119, 180), (255, 127, 14))


def plot(log: Path, out: Path) -> Path:
    with open(log, newline="") as f:
        rows = list(csv.DictReader(f))
    W, H, pad = 800, 280, 56
    img = Image.new("RGB", (W, H * len(PANELS)), "white")
    draw = ImageDraw.Draw(img)
    xs = [float(r["epoch"]) for r in rows]
    x0, x1 = min([*xs, 0.0]), max([*xs, 1.0])
    for p, (title, keys) in enumerate(PANELS):
        top = p * H
        series = {k: [(float(r["epoch"]), float(r[k])) for r in rows if r.get(k)] for k in keys}
        ys = [y for s in series.values() for _, y in s] or [0.0, 1.0]
        y0, y1 = min(ys), max(ys)
        y0, y1 = y0 - 0.05 * (y1 - y0 + 1e-9), y1 + 0.05 * (y1 - y0 + 1e-9)

        def xy(x: float, y: float, top: int = top, y0: float = y0, y1: float = y1) -> tuple[float, float]:
            return (pad + (x - x0) / (x1 - x0) * (W - 2 * pad), top + H - pad - (y - y0) / (y1 - y0) * (H - 1.5 * pad))

        draw.rectangle([pad, top + pad // 2, W - pad, top + H - pad], outline="black")
        draw.text((pad, top + 8), title, fill="black")
        for frac in (0.0, 0.5, 1.0):
            yv, xv = y0 + frac * (y1 - y0), x0 + frac * (x1 - x0)
            draw.text((4, xy(x0, yv)[1] - 6), f"{yv:.3g}", fill="black")
            draw.text((xy(xv, y0)[0] - 8, top + H - pad + 6), f"{xv:.0f}", fill="black")
        for k, (key, pts) in enumerate(series.items()):
            if len(pts) > 1:
                draw.line([xy(x, y) for x, y in pts], fill=COLOURS[k], width=2)
            for x, y in pts:
                cx, cy = xy(x, y)
                draw.ellipse([cx - 3, cy - 3, cx + 3, cy + 3], fill=COLOURS[k])
            draw.text((W - pad - 120, top + pad // 2 + 6 + 14 * k), key, fill=COLOURS[k])
        draw.text((W // 2 - 20, top + H - pad + 22), "epoch", fill="black")
    out.parent.mkdir(parents=True, exist_ok=True)
    img.save(out)
    return out


if __name__ == "__main__":
    print(plot(Path(sys.argv[1]), Path(sys.argv[2])))
