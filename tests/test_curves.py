"""colorbench.reporting.curves (the model cards' training-curve PNGs) and every plugin's card plot on
a synthetic train_log.csv with the columns that plugin logs."""

from __future__ import annotations

import csv
import importlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from colorbench.reporting.curves import COLOURS, Panel, Series, log_series, plot_panels


def colours_in(path: Path) -> set[tuple[int, int, int]]:
    arr = np.asarray(Image.open(path).convert("RGB")).reshape(-1, 3)
    return {tuple(int(v) for v in c) for c in np.unique(arr, axis=0)}


def test_plot_panels_draws_each_series_in_its_colour(tmp_path: Path) -> None:
    line = [(float(x), float(100 - x)) for x in range(0, 100, 5)]
    panels = [Panel("a", {"train": Series(line), "val": Series([(50.0, 40.0)], dots=True)}, marker=(30.0, "phase")),
              Panel("b", {"other": Series([(0.0, 1.0), (99.0, 2.0)])}),
              Panel("empty")]
    out = plot_panels(panels, tmp_path / "c.png", width=400, height=200)
    assert Image.open(out).size == (400, 600)
    found = colours_in(out)
    assert COLOURS[0] in found and COLOURS[1] in found  # line and dots of panel a
    # panel b's only series is drawn in the first colour, in the second band
    band = np.asarray(Image.open(out).convert("RGB"))[200:400]
    assert (band.reshape(-1, 3) == COLOURS[0]).all(axis=1).any()


def test_log_series_filters_and_smooths() -> None:
    rows = [{"step": str(i), "loss": str(v), "model": m} for i, (v, m) in
            enumerate([(1, "a"), (3, "a"), (5, "b"), (7, "a"), ("", "a")])]
    assert log_series(rows, "loss", where={"model": "a"}) == [(0.0, 1.0), (1.0, 3.0), (3.0, 7.0)]
    assert log_series(rows, "loss", smooth=2) == [(1.0, 2.0), (2.0, 4.0), (3.0, 6.0)]


CARDS = {  # module, function, columns of its train_log.csv
    "colorbench_gan.card": ("plot", ["step", "phase", "l1_ab", "val_l1_ab", "loss_D_fake", "loss_D_real", "loss_G_GAN"]),
    "colorbench_semantic.card": ("plot", ["step", "loss_seg", "pixel_acc", "val_pixel_acc", "l1_ab", "val_l1_ab"]),
    "colorbench_router.card": ("plot", ["epoch", "loss", "val_loss", "train_acc", "val_acc"]),
    "colorbench_profile.card": ("plot", ["step", "model", "loss", "acc", "val_acc", "l1_ab", "val_l1_ab"]),
    "colorbench_ccc.curve": ("plot_log", ["step", "loss"]),
}


@pytest.mark.parametrize("module", sorted(CARDS))
def test_model_card_plots_draw_their_logs(module: str, tmp_path: Path) -> None:
    fn_name, cols = CARDS[module]
    rng = np.random.default_rng(0)
    log = tmp_path / "train_log.csv"
    with open(log, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        for i in range(1, 41):
            row = {c: f"{rng.uniform(0, 5) + 10 / i:.4f}" for c in cols}
            row.update({"step": str(i * 10), "epoch": str(i)})
            row["phase"] = "pretrain" if i < 20 else "adversarial"
            row["model"] = "predictor" if i % 2 else "profile0"
            w.writerow({c: row[c] for c in cols})
    out = getattr(importlib.import_module(module), fn_name)(log, tmp_path / "card.png")
    img = Image.open(out)
    assert img.size[0] >= 600 and COLOURS[0] in colours_in(Path(out))
