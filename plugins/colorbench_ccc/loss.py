"""CCC++ losses (seed 000 §III-C5..6): class-weighted cross entropy (eq. 15-16) computed per
batch, and the plain cross entropy of eq. 13-14 (``loss=ce``, the ablation)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def class_weights(target: torch.Tensor, n_classes: int, p_percent: float = 10.0,
                  psi: float | None = None) -> torch.Tensor:
    """Eq. 15 weights W_new [n_classes] of one batch of targets (logit indices [B,H,W]).

    N_c = count of class c in the batch; Ψ = (H·W·B / n_C) · P% (or ``psi`` when given);
    N_c^adj = Ψ if N_c < Ψ else N_c;  W_new = H·W·B / (N_c^adj + max(N_c) / Ψ).
    """
    total = float(target.numel())  # Σ_H Σ_W Σ_B 1
    counts = torch.bincount(target.reshape(-1), minlength=n_classes).to(torch.float64)
    psi = total / n_classes * (p_percent / 100.0) if psi is None else float(psi)
    adjusted = torch.where(counts < psi, torch.full_like(counts, psi), counts)
    return (total / (adjusted + counts.max() / psi)).to(torch.float32)


def cbce_loss(logits: torch.Tensor, target: torch.Tensor, p_percent: float = 10.0,
              psi: float | None = None) -> torch.Tensor:
    """Eq. 16: -Σ_{H,W} W_new[κ] log softmax(logits)[κ], divided by the constant H·W·B
    (a mean over pixels, so the scale does not grow with the batch; see the model card)."""
    w = class_weights(target, logits.shape[1], p_percent, psi).to(logits.device)
    ce = F.cross_entropy(logits.float(), target, reduction="none")  # eq. 17 softmax inside
    return (w[target] * ce).mean()


def ce_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Eq. 13-14: every class weighted 1/n_C, a constant; the mean cross entropy."""
    return F.cross_entropy(logits.float(), target)


def compute_loss(kind: str, logits: torch.Tensor, target: torch.Tensor, p_percent: float = 10.0,
                 psi: float | None = None) -> torch.Tensor:
    if kind == "ce":
        return ce_loss(logits, target)
    if kind == "cbce":
        return cbce_loss(logits, target, p_percent, psi)
    raise ValueError(f"loss={kind!r}: choose cbce (eq. 15-16) or ce (eq. 13-14)")
