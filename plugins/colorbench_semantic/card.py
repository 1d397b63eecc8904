"""Model-card figure (Pillow only): the two training stages' curves over steps.

    python -m colorbench_semantic.card RUN/train_log.csv docs/models/semantic_losses.png
"""

from __future__ import annotations

import sys
from pathlib import Path

from colorbench.reporting.curves import Panel, Series, log_series, plot_panels, read_log

PANELS = (
    ("segmenter: cross-entropy (train) and pixel accuracy (train, val)", ("loss_seg", "pixel_acc", "val_pixel_acc")),
    ("colorizer: mean |a*b* error| in CIE units (train, val; val given the true map)", ("l1_ab", "val_l1_ab")),
)


def plot(log: Path, out: Path) -> Path:
    rows = read_log(log)
    return plot_panels([Panel(title, {k: Series(log_series(rows, k), dots=k.startswith("val")) for k in keys})
                        for title, keys in PANELS], out, height=300)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    print(plot(Path(sys.argv[1]), Path(sys.argv[2])))
