"""Class balancing (seed 001 §3.2): SMOTE from imbalanced-learn.

What is oversampled: the classifier's own input, the 64x64 gray image in [0, 1] flattened
to 4096 values. SMOTE draws a synthetic sample on the segment between a minority image
and one of its k nearest same-class neighbours, i.e. a cross-fade of two gray images of
the same class, which is itself a valid classifier input (features of the network would
change while it trains, and the paper feeds the balanced set to the CNN). Only the
training part is balanced; validation and test images stay real.

Degenerate cases (documented in docs/models/router.md):
- fewer than two classes present: nothing to balance, returned unchanged;
- each minority class is oversampled on its own, with k = min(``k_neighbors``, its size - 1)
  (SMOTE needs k + 1 samples of the class); a class with a single sample (k would be 0)
  cannot be interpolated and is duplicated instead (imbalanced-learn's RandomOverSampler).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np


@dataclass
class BalanceInfo:
    method: str  # smote | random | smote+random | none
    k_neighbors: dict[int, int]  # k used per SMOTE-oversampled class
    before: dict[int, int]
    after: dict[int, int]


def balance(X: np.ndarray, y: np.ndarray, k_neighbors: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray, BalanceInfo]:
    """Oversample every class to the majority count. ``X`` [N, ...] float, ``y`` [N] int.
    The original rows come first, synthetic ones after."""
    from imblearn.over_sampling import SMOTE, RandomOverSampler

    y = np.asarray(y)
    before = {int(c): int(n) for c, n in sorted(Counter(y.tolist()).items())}
    if len(before) < 2 or len(set(before.values())) == 1:
        return X, y, BalanceInfo("none", {}, before, dict(before))
    majority = max(before.values())
    Xf, yb = X.reshape(len(X), -1), y
    ks: dict[int, int] = {}
    methods: list[str] = []
    for c, n in before.items():
        if n == majority:
            continue
        k = min(int(k_neighbors), n - 1)
        if k >= 1:
            sampler: object = SMOTE(sampling_strategy={c: majority}, k_neighbors=k, random_state=seed)
            ks[c] = k
            methods.append("smote")
        else:
            sampler = RandomOverSampler(sampling_strategy={c: majority}, random_state=seed)
            methods.append("random")
        Xf, yb = sampler.fit_resample(Xf, yb)  # type: ignore[attr-defined]
    Xb = np.asarray(Xf, dtype=X.dtype).reshape(-1, *X.shape[1:])
    yb = np.asarray(yb)
    after = {int(c): int(n) for c, n in sorted(Counter(yb.tolist()).items())}
    method = "+".join(m for m in ("smote", "random") if m in methods)
    return Xb, yb, BalanceInfo(method, ks, before, after)
