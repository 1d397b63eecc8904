"""Training curves as PNG (Pillow only, no plotting library) for model cards.

``plot_panels`` draws stacked panels that share the x axis. Each panel is a title and
named series of (x, y) points, drawn as a line or, for sparse values such as validation
scores, as dots. ``log_series`` reads one column of a ``train_log.csv``.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

COLOURS = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
           (140, 86, 75), (227, 119, 194), (127, 127, 127))
Points = list[tuple[float, float]]


@dataclass
class Series:
    points: Points
    dots: bool = False  # sparse values (e.g. validation): dots, not a line


@dataclass
class Panel:
    title: str
    series: dict[str, Series] = field(default_factory=dict)
    marker: tuple[float, str] | None = None  # a dashed vertical line at x, with a label


def read_log(path: str | Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def log_series(rows: Sequence[Mapping[str, str]], key: str, x: str = "step", smooth: int = 1,
               where: Mapping[str, str] | None = None) -> Points:
    """(x, value) for the rows where ``key`` is set (and every ``where`` column matches),
    with a centred moving average over ``smooth`` points."""
    pts = [(float(r[x]), float(r[key])) for r in rows
           if r.get(key) not in (None, "") and all(r.get(c) == v for c, v in (where or {}).items())]
    if smooth <= 1 or len(pts) <= smooth:
        return pts
    ys = np.convolve([p[1] for p in pts], np.ones(smooth) / smooth, mode="valid")
    return [(pts[i + smooth // 2][0], float(y)) for i, y in enumerate(ys)]


def plot_panels(panels: Sequence[Panel], out: str | Path, x_label: str = "step",
                width: int = 900, height: int = 320) -> Path:
    """Stacked panels, ``height`` pixels each; every panel scales its own y axis (5% margin)
    and all share the x range of the points drawn."""
    from PIL import Image, ImageDraw

    pad = 60
    img = Image.new("RGB", (width, height * len(panels)), "white")
    draw = ImageDraw.Draw(img)
    xs = [x for p in panels for s in p.series.values() for x, _ in s.points]
    x0, x1 = (min(xs), max(xs)) if xs else (0.0, 1.0)
    for n, panel in enumerate(panels):
        top = n * height
        draw.rectangle([pad, top + pad // 2, width - pad, top + height - pad], outline="black")
        draw.text((pad, top + 8), panel.title, fill="black")
        ys = [y for s in panel.series.values() for _, y in s.points if np.isfinite(y)]
        if not ys:
            continue
        y0, y1 = min(ys), max(ys)
        y0, y1 = y0 - 0.05 * (y1 - y0 + 1e-9), y1 + 0.05 * (y1 - y0 + 1e-9)

        def xy(x: float, y: float, top: int = top, y0: float = y0, y1: float = y1) -> tuple[float, float]:
            return (pad + (x - x0) / (x1 - x0 or 1) * (width - 2 * pad),
                    top + height - pad - (y - y0) / (y1 - y0) * (height - 1.5 * pad))

        for frac in (0.0, 0.5, 1.0):
            yv, xv = y0 + frac * (y1 - y0), x0 + frac * (x1 - x0)
            draw.text((4, xy(x0, yv)[1] - 6), f"{yv:.3g}", fill="black")
            draw.text((xy(xv, y0)[0] - 12, top + height - pad + 6), f"{xv:.0f}", fill="black")
        if panel.marker is not None and x0 < panel.marker[0] < x1:
            bx = xy(panel.marker[0], y0)[0]
            for yy in range(top + pad // 2, top + height - pad, 8):
                draw.line([bx, yy, bx, yy + 4], fill=(120, 120, 120))
            draw.text((bx + 4, top + pad // 2 + 4), panel.marker[1], fill=(90, 90, 90))
        for k, (name, s) in enumerate(panel.series.items()):
            colour = COLOURS[k % len(COLOURS)]
            if s.dots:
                for x, y in s.points:
                    cx, cy = xy(x, y)
                    draw.ellipse([cx - 3, cy - 3, cx + 3, cy + 3], fill=colour)
            elif len(s.points) > 1:
                draw.line([xy(x, y) for x, y in s.points], fill=colour, width=2)
            draw.text((width - pad - 170, top + pad // 2 + 6 + 14 * k), name, fill=colour)
        draw.text((width // 2 - 20, top + height - pad + 24), x_label, fill="black")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    img.save(out)
    return out
