"""CCC++ losses (seed 000 §III-C5..6): class-weighted cross entropy (eq. 15-16) and the plain
cross entropy of eq. 13-14 (``loss=ce``, the ablation).

Eq. 15's weights belong to the whole batch. Under data parallelism each rank holds a share of
it, so the trainer sums ``class_counts`` over ranks and passes the sum as ``counts``: 2
processes x B/2 then weigh every pixel exactly as 1 process x B does.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

Reduce = Callable[[torch.Tensor], torch.Tensor]  # e.g. Trainer.all_reduce_sum


def class_counts(target: torch.Tensor, n_classes: int) -> torch.Tensor:
    """[N_0, ..., N_{n-1}, H·W·B] float64 of a batch of targets (logit indices [B,H,W]):
    eq. 15's class counts and pixel count, in one tensor to sum over ranks."""
    counts = torch.bincount(target.reshape(-1), minlength=n_classes).to(torch.float64)
    return torch.cat([counts, counts.new_full((1,), float(target.numel()))])


def class_weights(target: torch.Tensor, n_classes: int, p_percent: float = 10.0,
                  psi: float | None = None, counts: torch.Tensor | None = None) -> torch.Tensor:
    """Eq. 15 weights W_new [n_classes] of the batch of ``target`` or, given ``counts``
    (``class_counts`` summed over the shares of a batch), of that whole batch.

    N_c = count of class c in the batch; Ψ = (H·W·B / n_C) · P% (or ``psi`` when given);
    N_c^adj = Ψ if N_c < Ψ else N_c;  W_new = H·W·B / (N_c^adj + max(N_c) / Ψ).
    """
    stats = class_counts(target, n_classes) if counts is None else counts.to(torch.float64)
    counts, total = stats[:-1], stats[-1]  # N_c and Σ_H Σ_W Σ_B 1
    psi = total / n_classes * (p_percent / 100.0) if psi is None else torch.full_like(total, float(psi))
    adjusted = torch.where(counts < psi, psi, counts)
    return (total / (adjusted + counts.max() / psi)).to(torch.float32)


def cbce_loss(logits: torch.Tensor, target: torch.Tensor, p_percent: float = 10.0,
              psi: float | None = None, counts: torch.Tensor | None = None) -> torch.Tensor:
    """Eq. 16: -Σ_{H,W} W_new[κ] log softmax(logits)[κ], divided by the pixels of ``target``
    (a mean, so the scale does not grow with the batch; see the model card). With equal
    shares per rank, the ranks' mean of these means is the mean over the global batch."""
    w = class_weights(target, logits.shape[1], p_percent, psi, counts).to(logits.device)
    ce = F.cross_entropy(logits.float(), target, reduction="none")  # eq. 17 softmax inside
    return (w[target] * ce).mean()


def ce_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Eq. 13-14: every class weighted 1/n_C, a constant; the mean cross entropy."""
    return F.cross_entropy(logits.float(), target)


def compute_loss(kind: str, logits: torch.Tensor, target: torch.Tensor, p_percent: float = 10.0,
                 psi: float | None = None, reduce: Reduce | None = None) -> torch.Tensor:
    """``kind`` (cbce or ce) of one share of a batch; ``reduce`` sums eq. 15's counts over
    the shares (ranks) so the weights are those of the global batch."""
    if kind == "ce":
        return ce_loss(logits, target)
    if kind == "cbce":
        counts = class_counts(target, logits.shape[1])
        return cbce_loss(logits, target, p_percent, psi, counts if reduce is None else reduce(counts))
    raise ValueError(f"loss={kind!r}: choose cbce (eq. 15-16) or ce (eq. 13-14)")
