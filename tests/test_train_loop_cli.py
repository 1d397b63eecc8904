"""`colorbench train` with a third-party trainer written on the one loop (the example of
docs/training.md): resume, the settings check before anything is written, precision."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import torch
from torch import nn

from colorbench import ColorizerSpec, hookimpl
from colorbench.models.checkpoints import load_checkpoint
from colorbench.training import ColorPairs, Stage, Trainer
from colorbench.training.validation import validate_colorizer

CONFIGS = {"tiny": {"steps": 4, "batch_size": 4, "lr": 1e-2, "size": 16, "width": 4, "log_every": 1,
                    "save_every": 0, "workers": 0}}


def build(cfg: dict) -> nn.Module:
    w = int(cfg["width"])
    return nn.Sequential(nn.Conv2d(1, w, 3, padding=1), nn.ReLU(), nn.Conv2d(w, 2, 3, padding=1))


def train(ctx) -> None:
    t = Trainer(ctx, "mynet/1", terms=("loss",), val_terms=("val_cpsnr",))
    cfg = t.config
    net = t.add_model("model", build(cfg), lambda p: torch.optim.Adam(p, lr=float(cfg["lr"])))

    def step(t: Trainer, batch: dict) -> dict:
        L, ab = batch["L"].to(t.device), batch["ab"].to(t.device)
        with t.autocast():
            pred = net(L / 100.0) * 100.0
        loss = nn.functional.l1_loss(pred.float(), ab)
        t.optimize("model", loss)
        return {"loss": loss}

    def validate(t: Trainer, stage: Stage) -> dict:
        colorize = lambda L: t.models["model"](L / 100.0) * 100.0  # noqa: E731
        return validate_colorizer(t, colorize, ctx.val_dataset, int(cfg["size"]), 4) if ctx.val_dataset else {}

    pairs = ColorPairs(ctx.dataset, int(cfg["size"]), seed=ctx.seed)
    t.fit([Stage("train", int(cfg["steps"]), pairs, step)], validate=validate)


class MyNet:
    @hookimpl
    def register_colorizers(self, register):
        def factory(checkpoint=None, device="cpu", **options):
            raise NotImplementedError

        register(ColorizerSpec(name="mynet", factory=factory, train=train, configs=CONFIGS, default_config="tiny"))


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_train_resume_and_refused_settings(cli, tmp_path: Path) -> None:
    cli.add_plugin("mynet", MyNet())
    out = tmp_path / "out"
    cli("train", "mynet", "--dataset", "shapes", "--out", out, "--precision", "bf16")
    assert json.loads((out / "config.json").read_text())["precision"] == "bf16"
    rows = _rows(out / "train_log.csv")
    assert [r["step"] for r in rows] == ["1", "2", "3", "4"] and rows[0]["stage"] == "train"
    assert 5 < float(rows[-1]["val_cpsnr"]) < 60
    cli("train", "mynet", "--dataset", "shapes", "--out", out, "--steps", "6", "--resume", "--precision", "bf16")
    assert load_checkpoint(out / "checkpoint.pt")["step"] == 6 and len(_rows(out / "train_log.csv")) == 6

    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file() and p.name != ".lock"}
    result = cli("train", "mynet", "--dataset", "shapes", "--out", out, "--steps", "8", "--resume",
                 "--set", "width=8", ok=False)
    text = " ".join(result.output.split())
    assert result.exit_code != 0 and "other settings (width 4 -> 8)" in text and "Traceback" not in text
    after = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file() and p.name != ".lock"}
    assert after == before  # nothing overwritten
