"""Model-card helpers (no matplotlib): loss curves as a PNG drawn with Pillow, and the
Hasler–Süsstrunk colourfulness and CNR (seed 000 eq. 19) of saved run outputs (interim,
until the ``colorfulness`` / ``cnr`` metrics land in a metrics plugin).

    python -m colorbench_gan.card plot RUN/train_log.csv docs/models/gan_losses.png
    python -m colorbench_gan.card colorfulness RUNS/NAME/outputs/DATASET
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

COLOURS = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189))
PANELS = (
    ("generator L1: mean |a*b* error| in CIE units (train, val)", ("l1_ab", "val_l1_ab")),
    ("adversarial losses (BCE with logits)", ("loss_D_fake", "loss_D_real", "loss_G_GAN")),
)


def _series(rows: Sequence[dict[str, str]], key: str) -> list[tuple[float, float]]:
    return [(float(r["step"]), float(r[key])) for r in rows if r.get(key) not in (None, "")]


def _smooth(points: list[tuple[float, float]], k: int) -> list[tuple[float, float]]:
    if k <= 1 or len(points) <= k:
        return points
    ys = np.convolve([p[1] for p in points], np.ones(k) / k, mode="valid")
    return [(points[i + k // 2][0], float(y)) for i, y in enumerate(ys)]


def plot(log: Path, out: Path, smooth: int = 5) -> Path:
    """Two stacked panels over training steps; a dashed line marks the end of L1 pretraining."""
    with open(log, newline="") as f:
        rows = list(csv.DictReader(f))
    W, H, pad = 900, 320, 60
    img = Image.new("RGB", (W, H * len(PANELS)), "white")
    draw = ImageDraw.Draw(img)
    steps = [float(r["step"]) for r in rows]
    x0, x1 = 0.0, max(steps)
    boundary = max((float(r["step"]) for r in rows if r["phase"] == "pretrain"), default=None)
    for p, (title, keys) in enumerate(PANELS):
        top = p * H
        series = {k: _smooth(_series(rows, k), 1 if k.startswith("val") else smooth) for k in keys}
        ys = [y for s in series.values() for _, y in s]
        if not ys:
            continue
        y0, y1 = min(ys), max(ys)
        y0, y1 = y0 - 0.05 * (y1 - y0 + 1e-9), y1 + 0.05 * (y1 - y0 + 1e-9)

        def xy(x: float, y: float, top: int = top, y0: float = y0, y1: float = y1) -> tuple[float, float]:
            return (pad + (x - x0) / (x1 - x0 or 1) * (W - 2 * pad),
                    top + H - pad + (y - y0) / (y1 - y0) * (2 * pad - H) * 1.0 + 0 * pad)

        draw.rectangle([pad, top + pad // 2, W - pad, top + H - pad], outline="black")
        draw.text((pad, top + 8), title, fill="black")
        for frac in (0.0, 0.5, 1.0):
            yv = y0 + frac * (y1 - y0)
            _, yy = xy(x0, yv)
            draw.text((4, yy - 6), f"{yv:.3g}", fill="black")
            xv = x0 + frac * (x1 - x0)
            xx, _ = xy(xv, y0)
            draw.text((xx - 12, top + H - pad + 6), f"{xv:.0f}", fill="black")
        if boundary and boundary < x1:
            bx, _ = xy(boundary, y0)
            for yy in range(top + pad // 2, top + H - pad, 8):
                draw.line([bx, yy, bx, yy + 4], fill=(120, 120, 120))
            draw.text((bx + 4, top + pad // 2 + 4), "pretrain | adversarial", fill=(90, 90, 90))
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


def colorfulness(rgb: np.ndarray) -> float:
    """Hasler & Süsstrunk (2003) M3 on uint8 RGB: σ_rgyb + 0.3·μ_rgyb (population std)."""
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def colour_classes(rgb: np.ndarray) -> int:
    """Distinct CCC colour classes of uint8 RGB: floor((b+108)/6)·36 + floor((a+108)/6)."""
    import torch

    from colorbench.color import rgb_to_lab

    lab = rgb_to_lab(torch.from_numpy(np.array(rgb)).permute(2, 0, 1)).double()
    a = ((lab[1] + 108) / 6).floor().clamp(0, 35).long()
    b = ((lab[2] + 108) / 6).floor().clamp(0, 35).long()
    return int(torch.unique(b * 36 + a).numel())


def _load(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def folder_scores(folder: Path, gt: Path | None = None) -> dict[str, float]:
    """Mean colourfulness, and mean CNR (classes in pred / classes in gt) when ``gt`` is given."""
    files = sorted(folder.glob("*.png"))
    out = {"n": float(len(files)), "colorfulness": float(np.mean([colorfulness(_load(p)) for p in files]))}
    if gt is not None:
        out["cnr"] = float(np.mean([colour_classes(_load(p)) / colour_classes(_load(gt / p.name)) for p in files]))
    return out


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) == 3 and args[0] == "plot":
        print(plot(Path(args[1]), Path(args[2])))
    elif len(args) == 2 and args[0] == "colorfulness":
        gt = Path(args[1]) / "_ground_truth"
        for sub in sorted(p for p in Path(args[1]).iterdir() if p.is_dir()):
            scores = folder_scores(sub, gt if gt.is_dir() else None)
            print(sub.name, "  ".join(f"{k}={v:.3f}" for k, v in scores.items()), sep="\t")
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
