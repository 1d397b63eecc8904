"""Evaluation written by training (seed 001 §4): AUC (one-vs-rest, macro), per-class
recall, confusion matrix, and the label metric on the test part for each pool member alone,
the router, the per-image oracle and a uniformly random choice."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

# +inf CPSNR (an output identical to the ground truth) is capped for means
INF_CAP = 100.0


def auc(y: np.ndarray, prob: np.ndarray) -> float | None:
    """One-vs-rest macro AUC over the classes present in ``y``; None with fewer than two.
    Two present classes: the binary AUC of p(second) - p(first)."""
    from sklearn.metrics import roc_auc_score

    present = np.unique(y)
    if len(present) < 2:
        return None
    if len(present) == 2:
        score = prob[:, present[1]] - prob[:, present[0]]
        return float(roc_auc_score(y == present[1], score))
    p = prob[:, present]
    p = p / np.clip(p.sum(1, keepdims=True), 1e-12, None)
    return float(roc_auc_score(y, p, multi_class="ovr", average="macro", labels=present))


def confusion(y: np.ndarray, pred: np.ndarray, k: int) -> np.ndarray:
    m = np.zeros((k, k), dtype=np.int64)
    for t, p in zip(y.tolist(), pred.tolist(), strict=True):
        m[t, p] += 1
    return m


def _mean(values: np.ndarray) -> float:
    v = np.where(np.isposinf(values), INF_CAP, values)
    return float(v.mean()) if v.size else float("nan")


def failure_score(scores: np.ndarray, higher_is_better: bool = True) -> float:
    """The score a failed output counts with: the worst score any member got on these
    images (every row then averages the same images; the failures are counted beside)."""
    finite = scores[np.isfinite(scores)]
    if not finite.size:
        return 0.0
    return float(finite.min() if higher_is_better else finite.max())


def evaluate(scores: np.ndarray, y: np.ndarray, prob: np.ndarray, pool: list[str],
             higher_is_better: bool = True) -> dict[str, Any]:
    """``scores`` [N, K] label-metric values of the test images (NaN: the member failed),
    ``y`` [N] their labels, ``prob`` [N, K] the classifier's probabilities. Every row of the
    score table averages all N images: a failed output counts as ``failure_score`` and
    ``failed`` says how many of each row's images that was."""
    k = len(pool)
    pred = prob.argmax(1)
    cm = confusion(y, pred, k)
    recall = {pool[c]: (float(cm[c, c] / cm[c].sum()) if cm[c].sum() else None) for c in range(k)}
    present = [r for r in recall.values() if r is not None]
    floor = failure_score(scores, higher_is_better)
    filled = np.where(np.isnan(scores), floor, scores)
    rows = np.arange(len(y))
    choices = {f"{m} alone": np.full(len(y), c) for c, m in enumerate(pool)}
    choices["router (predicted member)"] = pred
    choices["oracle (best member per image)"] = y
    table = {name: _mean(filled[rows, pick]) for name, pick in choices.items()}
    failed = {name: int(np.isnan(scores[rows, pick]).sum()) for name, pick in choices.items()}
    # expected value of a uniform random member: the mean over members of each image
    capped = np.where(np.isposinf(filled), INF_CAP, filled)
    table["random member (expected)"] = float(capped.mean()) if len(y) else float("nan")
    failed["random member (expected)"] = int(np.isnan(scores).sum())  # member-image pairs
    return {
        "n_test": len(y),
        "accuracy": float((pred == y).mean()) if len(y) else None,
        "auc_ovr_macro": auc(y, prob) if len(y) else None,
        "recall": recall,
        "recall_macro": float(np.mean(present)) if present else None,  # balanced accuracy
        "confusion": cm.tolist(),
        "label_counts": {pool[c]: int((y == c).sum()) for c in range(k)},
        "predicted_counts": {pool[c]: int((pred == c).sum()) for c in range(k)},
        "scores": table,
        "failed": failed,
        "failure_score": floor,
    }


def _fmt(v: Any, digits: int = 2) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def markdown(ev: dict[str, Any], pool: list[str], metric: str) -> str:
    failed = ev.get("failed", {})
    lines = [f"Test part: {ev['n_test']} images; label metric: {metric}. Every row averages all of them: "
             f"a failed output counts as {_fmt(ev.get('failure_score'))} (the worst score of the part).",
             "", f"| choice | mean {metric} | failed |", "|---|---:|---:|"]
    lines += [f"| {name} | {_fmt(v)} | {failed.get(name, 0)} |" for name, v in ev["scores"].items()]
    lines += ["", f"AUC (one-vs-rest, macro): {_fmt(ev['auc_ovr_macro'], 3)} · "
              f"recall (macro): {_fmt(ev.get('recall_macro'), 3)} · accuracy: {_fmt(ev['accuracy'], 3)}",
              "", "| member | test images labelled | predicted | recall |", "|---|---:|---:|---:|"]
    lines += [f"| {m} | {ev['label_counts'][m]} | {ev['predicted_counts'][m]} | {_fmt(ev['recall'][m], 3)} |"
              for m in pool]
    lines += ["", "Confusion matrix (rows: best member, columns: predicted):", "",
              "| best \\ predicted | " + " | ".join(pool) + " |", "|---|" + "---:|" * len(pool)]
    lines += [f"| {m} | " + " | ".join(str(v) for v in row) + " |" for m, row in zip(pool, ev["confusion"], strict=True)]
    return "\n".join(lines) + "\n"


def summary(ev: dict[str, Any]) -> str:
    """One line: AUC, macro recall, per-class recall and accuracy on the test part."""
    per_class = ", ".join(f"{m} {_fmt(r, 3)}" for m, r in ev["recall"].items())
    return (f"router test part ({ev['n_test']} images): AUC {_fmt(ev['auc_ovr_macro'], 3)}, "
            f"recall macro {_fmt(ev.get('recall_macro'), 3)} ({per_class}), accuracy {_fmt(ev['accuracy'], 3)}")


def write(out_dir: Path, ev: dict[str, Any], pool: list[str], metric: str) -> None:
    (out_dir / "evaluation.json").write_text(json.dumps(ev, indent=2) + "\n", encoding="utf-8")
    (out_dir / "evaluation.md").write_text(markdown(ev, pool, metric), encoding="utf-8")


def finish(ctx: Any, device: Any, labels: dict[str, Any], wall_seconds: float) -> dict[str, Any]:
    """The trained checkpoint (loaded as inference loads it) on the test part: writes
    evaluation.json/.md and adds the evaluation to OUT/checkpoint.pt (rank 0 alone)."""
    import torch

    from colorbench.models.checkpoints import save_checkpoint
    from colorbench_router.colorizer import load_router
    from colorbench_router.data import load_inputs
    from colorbench_router.labels import label_dataset
    from colorbench_router.model import logits

    net, state = load_router(ctx.checkpoint_path, device)
    cfg, d, pool = state["config"], labels["data"], list(labels["pool"])
    test = np.flatnonzero(d["parts"].numpy() == 1)
    images = label_dataset(ctx, labels.get("label_split", ctx.split))
    X = torch.from_numpy(load_inputs(images, test.tolist(), int(cfg["label_size"]), int(cfg["input_size"])))
    prob = torch.softmax(logits(net, X, device), 1).numpy() if len(test) else np.zeros((0, len(pool)))
    ev = evaluate(d["scores"].numpy()[test], d["best"].numpy()[test], prob, pool, bool(labels["higher_is_better"]))
    ev["train_images"], ev["val_images"] = int((d["parts"] == 0).sum()), int((d["parts"] == 2).sum())
    ev.update(label_counts_all=labels["label_counts"], balance=labels["balance"], pretrained=state.get("pretrained"),
              label_split=labels.get("label_split"), overlap=labels.get("overlap"))
    ev["wall_seconds"] = {"labelling": labels["label_seconds"], "total": wall_seconds}
    write(ctx.out_dir, ev, pool, labels["metric"])
    state["evaluation"] = ev
    save_checkpoint(state, ctx.checkpoint_path)
    return ev
