"""Class balancing (seed 001 §3.2): SMOTE from imbalanced-learn.

What is oversampled: the classifier's own input, the 64x64 gray image in [0, 1] flattened
to 4096 values. SMOTE draws a synthetic sample on the segment between a minority image
and one of its k nearest same-class neighbours, i.e. a cross-fade of two gray images of
the same class, which is itself a valid classifier input (features of the network would
change while it trains, and the paper feeds the balanced set to the CNN). Only the
training part is balanced; validation and test images stay real.

Degenerate cases (documented in docs/models/router.md):
- fewer than two classes present: nothing to balance, returned unchanged;
- a class with fewer samples than ``k_neighbors + 1``: k is reduced to (smallest class
  size - 1); when a class has a single sample (k would be 0) SMOTE cannot interpolate and
  imbalanced-learn's RandomOverSampler (duplicates) is used instead.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np


@dataclass
class BalanceInfo:
    method: str  # smote | random | none
    k_neighbors: int | None
    before: dict[int, int]
    after: dict[int, int]


def balance(X: np.ndarray, y: np.ndarray, k_neighbors: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray, BalanceInfo]:
    """Oversample every class to the majority count. ``X`` [N, D] float, ``y`` [N] int.
    The original rows come first, synthetic ones after."""
    y = np.asarray(y)
    before = {int(c): int(n) for c, n in sorted(Counter(y.tolist()).items())}
    if len(before) < 2 or len(set(before.values())) == 1:
        return X, y, BalanceInfo("none", None, before, dict(before))
    smallest = min(before.values())
    k = min(int(k_neighbors), smallest - 1)
    if k >= 1:
        from imblearn.over_sampling import SMOTE

        sampler = SMOTE(k_neighbors=k, random_state=seed)
        method = "smote"
    else:
        from imblearn.over_sampling import RandomOverSampler

        sampler = RandomOverSampler(random_state=seed)
        method, k = "random", None
    Xb, yb = sampler.fit_resample(X.reshape(len(X), -1), y)
    Xb = np.asarray(Xb, dtype=X.dtype).reshape(-1, *X.shape[1:])
    after = {int(c): int(n) for c, n in sorted(Counter(np.asarray(yb).tolist()).items())}
    return Xb, np.asarray(yb), BalanceInfo(method, k, before, after)
