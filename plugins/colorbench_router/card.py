"""Model-card figure (no matplotlib): the router's learning curves drawn with Pillow.

    python -m colorbench_router.card RUN/train_log.csv docs/models/router_curves.png
"""

from __future__ import annotations

import sys
from pathlib import Path

from colorbench.reporting.curves import Panel, Series, log_series, plot_panels, read_log

PANELS = (("cross-entropy (train mean per epoch, val)", ("loss", "val_loss")),
          ("accuracy (train on SMOTE-balanced part, val)", ("train_acc", "val_acc")))


def plot(log: Path, out: Path) -> Path:
    rows = read_log(log)
    return plot_panels([Panel(title, {k: Series(log_series(rows, k, x="epoch")) for k in keys})
                        for title, keys in PANELS], out, x_label="epoch", width=800, height=280)


if __name__ == "__main__":
    print(plot(Path(sys.argv[1]), Path(sys.argv[2])))
