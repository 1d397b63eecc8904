"""``colorbench train router``: label with the pool, split 70/20/10, SMOTE, train the
MobileNetV2 router on the one training loop, evaluate on the test part.

Schedule: the labelling and the balancing (``data.prepare``) are shared state, computed
once on rank 0 and broadcast (and read back from the checkpoint on ``--resume``: the pool
is not run again); then one stage trains the classifier. At each epoch's end the
validation hook recomputes the batch-norm statistics ("precise BN") and scores the val
part; after the last step rank 0 evaluates the checkpoint on the test part.

Files in ``--out`` (rank 0 alone writes): ``labels/`` (the pool's run), ``pool_scores.csv``,
``balance.json``, ``train_log.csv``, ``checkpoint.pt``, ``evaluation.json`` and ``.md``.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import torch
import torch.nn.functional as F

from colorbench.training import Stage, Trainer
from colorbench_router import evaluate
from colorbench_router.data import RouterInputs, parse_pool, prepare
from colorbench_router.model import (
    build_classifier,
    freeze_eval,
    frozen_features,
    load_imagenet_blocks,
    logits,
    precise_bn,
)

FORMAT = "colorbench-router/2"  # /1: the trainer before the one loop (its weights still run, not resume)
# read by the factory (colorizer.load_router / RouterColorizer) at the checkpoint's top level
META = ("pool", "members", "metric", "higher_is_better", "balance", "label_seconds", "label_split", "overlap")
PER_EPOCH = ("log_every", "val_every", "save_every")  # None in the config: once per epoch


def train(ctx: Any) -> Trainer:
    """Train the router into ``ctx.out_dir``; returns the finished Trainer."""
    t_start = time.perf_counter()
    parse_pool(ctx.config.get("pool"))  # a bad pool fails before the process group waits on it
    t = Trainer(ctx, FORMAT, terms=("loss", "train_acc"), val_terms=("val_loss", "val_acc"))
    cfg = t.config
    labels = t.shared("labels", lambda: prepare(ctx, cfg, t.reporter))
    # the classifier learns from the labelling images, not from the training split
    t.extra.update({k: labels.get(k) for k in META}, kind="router", evaluation=None, training_data=labels["label_data"])
    d, pool = labels["data"], list(labels["pool"])
    data = RouterInputs(d["train_x"], d["train_y"])
    per_epoch = max(1, len(data) // t.settings.batch_size)  # the loop drops the last partial batch
    total = int(cfg["steps"]) if cfg.get("steps") else int(cfg["epochs"]) * per_epoch
    t.settings = dataclasses.replace(t.settings, **{k: per_epoch for k in PER_EPOCH if cfg.get(k) is None})
    frozen = frozen_features(cfg)
    nets: dict[str, torch.nn.Module] = {}

    def start(t: Trainer) -> None:
        net = build_classifier(len(pool), cfg)
        t.extra["pretrained"] = load_imagenet_blocks(net, frozen) if cfg.get("pretrained") else \
            "none (trained from scratch)"
        nets["classifier"] = t.add_model("classifier", net, lambda p: torch.optim.Adam(
            p, lr=float(cfg["lr"]), weight_decay=float(cfg.get("weight_decay") or 0.0)))

    def step(t: Trainer, b: dict[str, torch.Tensor]) -> dict[str, Any]:
        freeze_eval(t.models["classifier"], frozen)  # frozen ImageNet blocks keep their statistics
        x, y = b["x"].to(t.device, non_blocking=True), b["y"].to(t.device, non_blocking=True)
        with t.autocast():
            out = nets["classifier"](x)
        loss = F.cross_entropy(out.float(), y)
        t.optimize("classifier", loss)
        return {"loss": loss, "train_acc": (out.argmax(1) == y).float().mean()}

    def validate(t: Trainer, stage: Stage) -> dict[str, float]:
        """Every rank alike: precise BN over the balanced training inputs, then the val part."""
        net = t.models["classifier"]
        precise_bn(net, d["train_x"], t.device, frozen)
        if not len(d["val_y"]):
            return {"val_loss": float("nan"), "val_acc": float("nan")}
        out = logits(net, d["val_x"], t.device)
        return {"val_loss": float(F.cross_entropy(out, d["val_y"])),
                "val_acc": float((out.argmax(1) == d["val_y"]).float().mean())}

    t.fit([Stage("classifier", total, data, step, start=start)], validate=validate)
    if t.info.is_main and t.step >= total:
        ev = evaluate.finish(ctx, t.device, labels, time.perf_counter() - t_start)
        t.reporter.info(evaluate.summary(ev) + f"; {ctx.out_dir / 'evaluation.md'}")
    return t
