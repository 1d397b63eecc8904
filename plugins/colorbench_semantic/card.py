"""Model-card figure (Pillow only): the two training stages' curves over steps.

    python -m colorbench_semantic.card RUN/train_log.csv docs/models/semantic_losses.png
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from PIL import Image, ImageDraw

COLOURS = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40))
PANELS = (
    ("segmenter: cross-entropy (train) and pixel accuracy (train, val)", ("loss_seg", "pixel_acc", "val_pixel_acc")),
    ("colorizer: mean |a*b* error| in CIE units (train, val; val given the true map)", ("l1_ab", "val_l1_ab")),
)


def plot(log: Path, out: Path) -> Path:
    with open(log, newline="") as f:
        rows = list(csv.DictReader(f))
    W, H, pad = 900, 300, 60
    img = Image.new("RGB", (W, H * len(PANELS)), "white")
    draw = ImageDraw.Draw(img)
    x1 = max(float(r["step"]) for r in rows)
    for p, (title, keys) in enumerate(PANELS):
        top = p * H
        series = {k: [(float(r["step"]), float(r[k])) for r in rows if r.get(k) not in (None, "")] for k in keys}
        ys = [y for s in series.values() for _, y in s]
        if not ys:
            continue
        y0, y1 = min([*ys, 0.0]), max(ys) * 1.05 + 1e-9
        draw.rectangle([pad, top + pad // 2, W - pad, top + H - pad], outline="black")
        draw.text((pad, top + 8), title, fill="black")

        def xy(x: float, y: float, top: int = top, y0: float = y0, y1: float = y1) -> tuple[float, float]:
            return (pad + x / x1 * (W - 2 * pad), top + H - pad - (y - y0) / (y1 - y0) * (H - 1.5 * pad))

        for frac in (0.0, 0.5, 1.0):
            yv = y0 + frac * (y1 - y0)
            draw.text((4, xy(0, yv)[1] - 6), f"{yv:.3g}", fill="black")
            draw.text((xy(frac * x1, y0)[0] - 12, top + H - pad + 6), f"{frac * x1:.0f}", fill="black")
        for k, (key, pts) in enumerate(series.items()):
            colour = COLOURS[k % len(COLOURS)]
            if len(pts) > 1:
                draw.line([xy(x, y) for x, y in pts], fill=colour, width=2)
            for x, y in pts if key.startswith("val") else ():
                cx, cy = xy(x, y)
                draw.ellipse([cx - 3, cy - 3, cx + 3, cy + 3], fill=colour)
            draw.text((W - pad - 150, top + pad // 2 + 6 + 14 * k), key, fill=colour)
        draw.text((W // 2 - 20, top + H - pad + 24), "step", fill="black")
    out.parent.mkdir(parents=True, exist_ok=True)
    img.save(out)
    return out


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    print(plot(Path(sys.argv[1]), Path(sys.argv[2])))
