"""A toy trainer on the one training loop: two stages, two models (one DDP-wrapped, one
averaged by the loop), dropout, random augmentation and data-derived state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from colorbench.reporting import Reporter
from colorbench.training import Stage, TrainContext, Trainer

FORMAT = "toy/1"
CALLS = {"shared": 0}


class Points(torch.utils.data.Dataset):
    """n fixed points; each load adds noise from torch's RNG (the loop seeds it per item)."""

    def __init__(self, n: int = 16, noise: float = 0.1):
        gen = torch.Generator().manual_seed(7)
        self.x = torch.randn(n, 4, generator=gen)
        self.y = self.x @ torch.tensor([1.0, -2.0, 0.5, 3.0]) + 0.3
        self.noise = noise
        self.ids = [str(i) for i in range(n)]

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"x": self.x[i] + self.noise * torch.randn(4), "y": self.y[i:i + 1]}


def context(out: Path, resume: bool = False, **cfg: Any) -> TrainContext:
    config = {"batch_size": 4, "log_every": 1, "save_every": 0, "lr": 0.05, "dropout": 0.2,
              "steps_a": 5, "steps_b": 4, **cfg}
    return TrainContext(dataset=Points(), config=config, out_dir=out, device=torch.device("cpu"),
                        resume=resume, seed=3, reporter=Reporter(quiet=True))


def train(ctx: TrainContext) -> Trainer:
    """Stage a trains ``net`` (DDP) on MSE; stage b trains ``head`` (loop-averaged gradients,
    called twice before one backward) on top of the frozen ``net``."""
    t = Trainer(ctx, FORMAT, terms=("loss", "mse"))
    cfg = t.config
    offset = t.shared("offset", lambda: _count_and(0.25))
    net = t.add_model("net", nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(float(cfg["dropout"])),
                                           nn.Linear(16, 1)),
                      lambda p: torch.optim.Adam(p, lr=float(cfg["lr"])),
                      lambda o: torch.optim.lr_scheduler.StepLR(o, 20, 0.5))

    def step_a(t: Trainer, b: dict[str, torch.Tensor]) -> dict[str, Any]:
        with t.autocast():
            pred = net(b["x"])
        loss = (pred.float() - b["y"] - offset).pow(2).mean()
        t.optimize("net", loss)
        return {"loss": loss, "mse": loss}

    def start_b(t: Trainer) -> None:
        t.add_model("head", nn.Linear(1, 1), lambda p: torch.optim.SGD(p, lr=0.1), ddp=False)

    def step_b(t: Trainer, b: dict[str, torch.Tensor]) -> dict[str, Any]:
        head = t.models["head"]
        with torch.no_grad():
            base = t.models["net"](b["x"])
        loss = 0.5 * ((head(base) - b["y"]).pow(2).mean() + (head(base + 0.1) - b["y"]).pow(2).mean())
        t.optimize("head", loss)
        return {"loss": loss}

    data = Points()
    t.fit([Stage("a", int(cfg["steps_a"]), data, step_a),
           Stage("b", int(cfg["steps_b"]), data, step_b, start=start_b)])
    return t


def _count_and(value: float) -> float:
    CALLS["shared"] += 1
    return value


def weights(t: Trainer) -> dict[str, torch.Tensor]:
    return {f"{m}.{k}": v.clone() for m, net in t.models.items() for k, v in net.state_dict().items()}
