"""Model-card figure: the gan's training curves (colorbench.reporting.curves, Pillow only).

    python -m colorbench_gan.card plot RUN/train_log.csv docs/models/gan_losses.png
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from colorbench.reporting.curves import Panel, Series, log_series, plot_panels, read_log

PANELS = (
    ("generator L1: mean |a*b* error| in CIE units (train, val)", ("l1_ab", "val_l1_ab")),
    ("adversarial losses (BCE with logits)", ("loss_D_fake", "loss_D_real", "loss_G_GAN")),
)


def plot(log: Path, out: Path, smooth: int = 5) -> Path:
    """Two stacked panels over training steps; a dashed line marks the end of L1 pretraining."""
    rows = read_log(log)
    # the loop's logs name the phase in "stage"; logs of the trainer before it in "phase"
    boundary = max((float(r["step"]) for r in rows if r.get("stage", r.get("phase")) == "pretrain"), default=None)
    marker = (boundary, "pretrain | adversarial") if boundary is not None else None
    panels = [Panel(title, {k: Series(log_series(rows, k, smooth=1 if k.startswith("val") else smooth),
                                      dots=k.startswith("val")) for k in keys}, marker)
              for title, keys in PANELS]
    return plot_panels(panels, out)


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 3 or args[0] != "plot":
        raise SystemExit(__doc__)
    print(plot(Path(args[1]), Path(args[2])))


if __name__ == "__main__":
    main()
