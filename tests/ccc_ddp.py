"""Run by tests/test_ccc_train.py under torchrun (2 gloo processes): ``ccc_ddp.py OUT``.

``grads(OUT/grads)``: one step's loss and gradients on a fixed batch of 8, rank r taking its
contiguous half (BatchNorm in eval mode, so only eq. 15's weights couple the pixels of the
batch) -> grads{rank}.pt; the test calls it in one process for the reference.
``train(OUT/train)``: 3 training steps -> rank{rank}.pt (the final state dict).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch
from ccc_helpers import config, context, shapes
from colorbench_ccc.train import run_training, setup

from colorbench import distributed
from colorbench.training import ColorPairs


def grads(out: Path, teardown: bool = True) -> None:
    t, step, _ = setup(context(out, config()))
    net = t.models["model"].eval()
    t.optimize = lambda name, loss: loss.backward()  # type: ignore[method-assign]  # keep the gradients
    pairs = ColorPairs(shapes(8), 32, train=False)
    share = 8 // t.info.world_size
    items = [pairs[i] for i in range(t.info.rank * share, (t.info.rank + 1) * share)]
    loss = step(t, {k: torch.stack([it[k] for it in items]) for k in ("L", "ab")})["loss"]
    torch.save({"loss": loss.detach(), **{k: p.grad.clone() for k, p in net.named_parameters()}},
               out / f"grads{t.info.rank}.pt")
    if t.log is not None:
        t.log.close()
    if teardown:
        distributed.teardown(t.info)


def train(out: Path) -> None:
    net = run_training(context(out, config(steps=3)))
    torch.save(net.state_dict(), out / f"rank{os.environ.get('RANK', '0')}.pt")


if __name__ == "__main__":
    torch.set_num_threads(1)
    grads(Path(sys.argv[1]) / "grads", teardown=False)  # the process group serves both
    train(Path(sys.argv[1]) / "train")
