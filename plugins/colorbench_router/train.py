"""``colorbench train router``: label with the pool, split 70/20/10, SMOTE, train the
MobileNetV2 router, evaluate on the test part.

Files in ``--out``: ``labels/`` (the pool's run: per_image.csv, run.json, summary),
``pool_scores.csv`` (every member's score per image, best member, part), ``balance.json``
(class counts before/after SMOTE), ``train_log.csv``, ``checkpoint.pt``,
``evaluation.json`` and ``evaluation.md``.
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from colorbench.errors import ColorbenchError
from colorbench.evaluation.protocol import lightness, resize, to_tensor
from colorbench.models.checkpoints import load_checkpoint, save_checkpoint
from colorbench.training import TrainLog
from colorbench_router import evaluate
from colorbench_router.balance import balance
from colorbench_router.labels import SCORES_FILE, run_pool, write_scores
from colorbench_router.model import (
    build_classifier,
    classifier_input,
    freeze_eval,
    load_imagenet_blocks,
    precise_bn,
)

LOG_COLUMNS = ("step", "epoch", "loss", "train_acc", "val_loss", "val_acc", "seconds")
PARTS = (0.7, 0.2, 0.1)  # train, test, val (seed 001 §4.1)


def parse_pool(text: Any) -> list[str]:
    pool = [p.strip() for p in str(text or "").split(",") if p.strip()]
    if len(set(pool)) != len(pool):
        raise ColorbenchError(f"router pool {text!r}: a member is listed twice")
    if len(pool) < 2:
        raise ColorbenchError(f"router pool {text!r}: give at least two colorizers, e.g. --set pool=ccc,gan")
    if "router" in pool:
        raise ColorbenchError("router pool: the router cannot route to itself")
    return pool


def split_parts(n: int, seed: int) -> np.ndarray:
    """Part of each of ``n`` items: 0 train (70%), 1 test (20%), 2 val (10%), seeded."""
    order = np.random.default_rng([seed, 1]).permutation(n)
    n_test, n_val = round(PARTS[1] * n), round(PARTS[2] * n)
    if n - n_test - n_val < 1:
        raise ColorbenchError(f"router: {n} labelled images are too few for a 70/20/10 split")
    parts = np.zeros(n, dtype=np.int64)
    parts[order[:n_test]] = 1
    parts[order[n_test:n_test + n_val]] = 2
    return parts


def load_inputs(dataset: Any, indices: list[int], label_size: int, input_size: int) -> np.ndarray:
    """Classifier inputs [N, 1, S, S] float32: each image as the run engine sees it
    (centre crop, ``label_size``), its L*, then ``classifier_input``."""
    out = np.zeros((len(indices), 1, input_size, input_size), dtype=np.float32)
    for n, i in enumerate(indices):
        rgb = resize(dataset.load(i).image, label_size, "crop")
        L = lightness(to_tensor(rgb)).unsqueeze(0)
        out[n] = classifier_input(L, input_size)[0].numpy()
    return out


def _batches(n: int, bs: int, epoch: int, seed: int) -> list[np.ndarray]:
    order = np.random.default_rng([seed, 2, epoch]).permutation(n)
    return [order[i:i + bs] for i in range(0, n, bs)]


@torch.no_grad()
def predict(net: torch.nn.Module, X: np.ndarray, device: torch.device, bs: int = 64) -> np.ndarray:
    net.eval()
    probs = [F.softmax(net(torch.from_numpy(X[i:i + bs]).to(device)).float(), 1).cpu().numpy()
             for i in range(0, len(X), bs)]
    return np.concatenate(probs) if probs else np.zeros((0, 0), dtype=np.float32)


def train(ctx: Any) -> None:
    cfg = dict(ctx.config)
    if int(cfg.get("threads") or 0) > 0:
        torch.set_num_threads(int(cfg["threads"]))
    report, out, device = ctx.reporter, ctx.out_dir, ctx.device
    pool = parse_pool(cfg.get("pool"))
    t_start = time.perf_counter()

    # 1. labels: the pool through the run engine (resumable), best member per image
    table, members = run_pool(ctx, pool, cfg)
    pool = table.pool
    usable = np.flatnonzero(~np.isnan(table.scores).all(1))
    if len(usable) < len(table.ids):
        report.warn(f"router: {len(table.ids) - len(usable)} images failed for every pool member; left out")
    labels_all = table.best()
    parts_u = split_parts(len(usable), ctx.seed)
    part_of = {table.ids[i]: ("train", "test", "val")[p] for i, p in zip(usable, parts_u, strict=True)}
    write_scores(out / SCORES_FILE, table, part_of)
    idx = {name: usable[parts_u == p] for p, name in enumerate(("train", "test", "val"))}
    y = {k: labels_all[v] for k, v in idx.items()}
    counts = {pool[c]: int((labels_all[usable] == c).sum()) for c in range(len(pool))}
    report.info(f"router labels ({table.metric}, {len(usable)} images): "
                + ", ".join(f"{m} best on {n}" for m, n in counts.items()))
    label_seconds = time.perf_counter() - t_start

    # 2. classifier inputs and SMOTE on the training part
    size, label_size = int(cfg["input_size"]), int(cfg["label_size"])
    X = {k: load_inputs(ctx.dataset, v.tolist(), label_size, size) for k, v in idx.items()}
    Xb, yb, info = balance(X["train"], y["train"], int(cfg["smote_k"]), ctx.seed)
    names = {c: pool[c] for c in range(len(pool))}
    bal = {"method": info.method, "k_neighbors": {names[c]: k for c, k in info.k_neighbors.items()},
           "representation":
           f"flattened {size}x{size} gray classifier input (L*/100)",
           "before": {names[c]: n for c, n in info.before.items()},
           "after": {names[c]: n for c, n in info.after.items()}}
    (out / "balance.json").write_text(json.dumps(bal, indent=2) + "\n", encoding="utf-8")
    report.info(f"router balance ({info.method}, k={bal['k_neighbors']}): before {bal['before']} after {bal['after']}")
    if len(info.before) < 2:
        report.warn("router: every training image has the same best member; the classifier can only learn that one")

    # 3. classifier
    torch.manual_seed(ctx.seed)
    net = build_classifier(len(pool), cfg)
    frozen = 0
    pretrained = "none (trained from scratch)"
    if cfg.get("pretrained"):
        frozen = int(cfg["freeze_blocks"])
        pretrained = load_imagenet_blocks(net, frozen)
    net.to(device)
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=float(cfg["lr"]), weight_decay=float(cfg.get("weight_decay") or 0.0))
    bs = int(cfg["batch_size"])
    per_epoch = max(1, -(-len(Xb) // bs))
    total = int(cfg["steps"]) if cfg.get("steps") else int(cfg["epochs"]) * per_epoch
    step = 0
    if ctx.resume and ctx.checkpoint_path.is_file():
        state = load_checkpoint(ctx.checkpoint_path)
        if state.get("pool") != pool:
            raise ColorbenchError(f"--resume: checkpoint pool {state.get('pool')} differs from {pool}")
        net.load_state_dict(state["classifier"])
        if "optimizer" in state:
            opt.load_state_dict(state["optimizer"])
        step = int(state.get("step", 0))
        report.info(f"router: resuming at step {step} of {total}")

    def save(ev: dict[str, Any] | None = None) -> None:
        save_checkpoint({
            "kind": "router", "classifier": net.state_dict(), "optimizer": opt.state_dict(),
            "config": {k: v for k, v in cfg.items() if isinstance(v, (str, int, float, bool, type(None)))},
            "pool": pool, "members": members, "metric": table.metric,
            "higher_is_better": table.higher_is_better, "pretrained": pretrained,
            "step": step, "epoch": step / per_epoch, "balance": bal, "evaluation": ev,
            "label_seconds": label_seconds,
        }, ctx.checkpoint_path)

    Xt, yt = torch.from_numpy(Xb), torch.from_numpy(np.asarray(yb, dtype=np.int64))
    running: list[float] = []
    correct = seen = 0
    t0 = time.perf_counter()
    net.train()
    freeze_eval(net, frozen)
    with TrainLog(out / "train_log.csv", LOG_COLUMNS, resume_step=step if ctx.resume else None) as log:
        while step < total:
            epoch, b = divmod(step, per_epoch)
            batch = _batches(len(Xb), bs, epoch, ctx.seed)[b]
            xb, tb = Xt[batch].to(device), yt[batch].to(device)
            # horizontal flips drawn from (seed, step): a resumed run flips the same images
            flip = torch.from_numpy(np.random.default_rng([ctx.seed, 3, step]).random(len(batch)) < 0.5).to(device)
            xb[flip] = xb[flip].flip(-1)
            logits = net(xb)
            loss = F.cross_entropy(logits, tb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            running.append(float(loss.detach()))
            correct += int((logits.argmax(1) == tb).sum())
            seen += len(batch)
            if step % per_epoch == 0 or step == total:
                precise_bn(net, Xt, device, frozen)
                val_loss = val_acc = None
                if len(X["val"]):
                    p = predict(net, X["val"], device)
                    val_loss = float(-np.log(np.clip(p[np.arange(len(p)), y["val"]], 1e-12, None)).mean())
                    val_acc = float((p.argmax(1) == y["val"]).mean())
                log.write(step=step, epoch=round(step / per_epoch, 3), loss=float(np.mean(running)),
                          train_acc=correct / max(seen, 1), val_loss=val_loss, val_acc=val_acc,
                          seconds=time.perf_counter() - t0)
                report.info(f"router step {step}/{total}: loss {np.mean(running):.4f} "
                            f"val_acc {val_acc if val_acc is None else round(val_acc, 3)}")
                running, correct, seen = [], 0, 0
                save()
                net.train()
                freeze_eval(net, frozen)

    # 4. evaluation on the test part
    prob = predict(net, X["test"], device) if len(X["test"]) else np.zeros((0, len(pool)))
    ev = evaluate.evaluate(table.scores[idx["test"]], y["test"], prob, pool, table.higher_is_better)
    ev["train_images"], ev["val_images"] = len(idx["train"]), len(idx["val"])
    ev["label_counts_all"] = counts
    ev["balance"] = bal
    ev["pretrained"] = pretrained
    ev["wall_seconds"] = {"labelling": label_seconds, "total": time.perf_counter() - t_start}
    evaluate.write(out, ev, pool, table.metric)
    save(ev)
    report.info(f"router evaluation: {out / 'evaluation.md'}")
