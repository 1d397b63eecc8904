"""Loss curve of a ``colorbench train`` run as a PNG (Pillow only), for model cards.

    python -m colorbench_ccc.curve OUT/train_log.csv docs/models/ccc_loss.png
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path


def plot_log(log: str | Path, png: str | Path, title: str = "CCC++ tiny: training loss (eq. 16); light: logged, dark: moving average",
             size: tuple[int, int] = (640, 360)) -> Path:
    from PIL import Image, ImageDraw

    with open(log, newline="", encoding="utf-8") as f:
        rows = [(int(r["step"]), float(r["loss"])) for r in csv.DictReader(f)]
    if not rows:
        raise ValueError(f"{log}: no rows")
    w, h = size
    left, right, top, bottom = 60, 20, 30, 40
    steps, losses = [s for s, _ in rows], [v for _, v in rows]
    s0, s1 = min(steps), max(max(steps), min(steps) + 1)
    lo, hi = min(losses), max(losses)
    hi = hi if hi > lo else lo + 1.0
    img = Image.new("RGB", size, "white")
    d = ImageDraw.Draw(img)
    d.rectangle([left, top, w - right, h - bottom], outline="black")

    def xy(s: int, v: float) -> tuple[float, float]:
        x = left + (s - s0) / (s1 - s0) * (w - left - right)
        return x, top + (hi - v) / (hi - lo) * (h - top - bottom)

    d.line([xy(s, v) for s, v in rows], fill=(240, 170, 170), width=1)  # every logged row
    k = max(1, len(rows) // 40)  # moving average over k rows
    smooth = [(rows[i][0], sum(v for _, v in rows[max(0, i - k + 1):i + 1]) / len(rows[max(0, i - k + 1):i + 1]))
              for i in range(len(rows))]
    d.line([xy(s, v) for s, v in smooth], fill=(160, 20, 20), width=2)
    for k in range(5):  # y ticks
        v = lo + (hi - lo) * k / 4
        y = xy(s0, v)[1]
        d.line([left - 4, y, left, y], fill="black")
        d.text((4, y - 6), f"{v:.1f}", fill="black")
    for k in range(5):  # x ticks
        s = round(s0 + (s1 - s0) * k / 4)
        x = xy(s, lo)[0]
        d.line([x, h - bottom, x, h - bottom + 4], fill="black")
        d.text((x - 12, h - bottom + 8), str(s), fill="black")
    d.text((left, 8), title, fill="black")
    d.text((w // 2 - 10, h - 16), "step", fill="black")
    Path(png).parent.mkdir(parents=True, exist_ok=True)
    img.save(png)
    return Path(png)


if __name__ == "__main__":
    plot_log(sys.argv[1], sys.argv[2])
