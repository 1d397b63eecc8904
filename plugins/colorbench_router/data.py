"""The router's training data (seed 001 §3.2, §4.1): the pool's labels, the 70/20/10 split,
the classifier inputs and the SMOTE-balanced training part.

``prepare`` is the data-derived state of a training run: the trainer computes it once on
rank 0 (labelling through the run engine, SMOTE) and broadcasts it to every rank; it
writes ``pool_scores.csv`` and ``balance.json`` and returns tensors and plain containers
only, so it is stored in (and resumed from) every checkpoint.
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np
import torch

from colorbench.errors import ColorbenchError
from colorbench.evaluation.protocol import lightness, resize, to_tensor
from colorbench.training.provenance import training_data
from colorbench_router.balance import balance
from colorbench_router.labels import SCORES_FILE, label_dataset, run_pool, write_scores
from colorbench_router.model import classifier_input

PARTS = (0.7, 0.2, 0.1)  # train, test, val (seed 001 §4.1)
PART_NAMES = ("train", "test", "val")  # part codes 0, 1, 2; -1: every member failed on the image


def parse_pool(text: Any) -> list[str]:
    """The ``pool`` setting as a list of two or more distinct colorizer names."""
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


class RouterInputs(torch.utils.data.Dataset):
    """Items ``{"x": [1,S,S] input, "y": label}``; each load flips ``x`` horizontally with
    probability 1/2, drawn from torch's RNG (the loop seeds it per (seed, epoch, index))."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor):
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        x = self.x[index]
        return {"x": x.flip(-1) if bool(torch.rand(()) < 0.5) else x, "y": self.y[index]}


def prepare(ctx: Any, cfg: dict[str, Any], report: Any) -> dict[str, Any]:
    """Label the labelling split's images with the pool's best member (run engine, resumable in
    OUT/labels/), split them, write pool_scores.csv, balance the training part with SMOTE
    (balance.json). Returns the pool's metadata and ``data``: the score table, each image's
    part, the balanced training inputs/labels and the validation inputs/labels."""
    t0 = time.perf_counter()
    table, members = run_pool(ctx, parse_pool(cfg.get("pool")), cfg)
    pool, best = table.pool, table.best()
    usable = np.flatnonzero(~np.isnan(table.scores).all(1))
    if len(usable) < len(table.ids):
        report.warn(f"router: {len(table.ids) - len(usable)} images failed for every pool member; left out")
    parts = np.full(len(table.ids), -1, dtype=np.int64)
    parts[usable] = split_parts(len(usable), ctx.seed)
    write_scores(ctx.out_dir / SCORES_FILE, table, {table.ids[i]: PART_NAMES[parts[i]] for i in usable})
    counts = {pool[c]: int((best[usable] == c).sum()) for c in range(len(pool))}
    report.info(f"router labels ({table.metric}, {len(usable)} images): "
                + ", ".join(f"{m} best on {n}" for m, n in counts.items()))
    label_seconds = time.perf_counter() - t0
    size, label_size = int(cfg["input_size"]), int(cfg["label_size"])
    images = label_dataset(ctx, table.split)
    X = {p: load_inputs(images, np.flatnonzero(parts == p).tolist(), label_size, size) for p in (0, 2)}
    Xb, yb, info = balance(X[0], best[parts == 0], int(cfg["smote_k"]), ctx.seed)
    bal = {"method": info.method, "k_neighbors": {pool[c]: k for c, k in info.k_neighbors.items()},
           "representation": f"flattened {size}x{size} gray classifier input (L*/100)",
           "before": {pool[c]: n for c, n in info.before.items()},
           "after": {pool[c]: n for c, n in info.after.items()}}
    (ctx.out_dir / "balance.json").write_text(json.dumps(bal, indent=2) + "\n", encoding="utf-8")
    report.info(f"router balance ({info.method}, k={bal['k_neighbors']}): before {bal['before']} after {bal['after']}")
    if len(info.before) < 2:
        report.warn("router: every training image has the same best member; the classifier can only learn that one")
    return {"pool": pool, "members": members, "metric": table.metric, "higher_is_better": table.higher_is_better,
            "balance": bal, "label_counts": counts, "label_seconds": label_seconds,
            "label_split": table.split, "overlap": table.audit,
            "label_data": training_data(ctx.dataset_name, table.split, table.ids),
            "data": {"scores": torch.from_numpy(table.scores), "parts": torch.from_numpy(parts),
                     "best": torch.from_numpy(np.asarray(best, dtype=np.int64)),
                     "train_x": torch.from_numpy(np.ascontiguousarray(Xb)),
                     "train_y": torch.from_numpy(np.asarray(yb, dtype=np.int64)),
                     "val_x": torch.from_numpy(X[2]),
                     "val_y": torch.from_numpy(np.asarray(best[parts == 2], dtype=np.int64))}}
