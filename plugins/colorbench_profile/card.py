"""Model-card figures (Pillow only): training curves and a montage of the profiles found.

    python -m colorbench_profile.card plot OUT/train_log.csv docs/models/profile_curves.png
    python -m colorbench_profile.card montage OUT/checkpoint.pt DATASET_DIR OUT.png [--split train]
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw

from colorbench.reporting.curves import Panel, Series, log_series, plot_panels, read_log


def plot(log: Path, out: Path) -> Path:
    """Panel 1: predictor cross entropy, train and held-out accuracy. Panel 2: each
    colorizer's mean |Δa*b*| (train, lines) and held-out (dots)."""
    rows = read_log(log)
    by = "model" if rows and "model" in rows[0] else "stage"  # earlier logs named the model in "model"

    def series(model: str, key: str, dots: bool = False) -> Series:
        return Series(log_series(rows, key, where={by: model}), dots)

    predictor = Panel("profile predictor: cross entropy (train), accuracy (train line, held-out dots)",
                      {"cross entropy": series("predictor", "loss"), "train accuracy": series("predictor", "acc"),
                       "held-out accuracy": series("predictor", "val_acc", True)})
    colorizers = Panel("colorizers: mean |a*b* error| (CIE units)")
    for m in dict.fromkeys(r[by] for r in rows if r[by] != "predictor"):
        colorizers.series[f"{m} train"] = series(m, "l1_ab")
        colorizers.series[f"{m} held-out"] = series(m, "val_l1_ab", True)
    return plot_panels([predictor, colorizers], out, x_label="global step")


def montage(checkpoint: Path, root: Path, out: Path, split: str = "train", per: int = 8, thumb: int = 48) -> Path:
    """One row per profile: its mean colour, size and route, then ``per`` of its images."""

    from colorbench_datasets.folder import Folder

    from colorbench.color import lab_to_rgb
    from colorbench.evaluation.protocol import resize
    from colorbench.models.checkpoints import load_checkpoint

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
