"""Loss curve of a ``colorbench train`` run as a PNG (colorbench.reporting.curves), for model cards.

    python -m colorbench_ccc.curve OUT/train_log.csv docs/models/ccc_loss.png
"""

from __future__ import annotations

import sys
from pathlib import Path

from colorbench.reporting.curves import Panel, Series, log_series, plot_panels, read_log


def plot_log(log: str | Path, png: str | Path,
             title: str = "CCC++ tiny: training loss (eq. 16); logged and moving average") -> Path:
    rows = read_log(log)
    if not rows:
        raise ValueError(f"{log}: no rows")
    series = {"loss (logged)": Series(log_series(rows, "loss"))}
    k = len(rows) // 40
    if k > 1:  # a moving average over k rows once the log is long enough to be noisy
        series[f"moving average ({k} rows)"] = Series(log_series(rows, "loss", smooth=k))
    return plot_panels([Panel(title, series)], png, width=700, height=380)


if __name__ == "__main__":
    print(plot_log(sys.argv[1], sys.argv[2]))
