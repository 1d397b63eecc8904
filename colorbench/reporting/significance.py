"""Paired bootstrap over images: is the top model's lead on a metric more than chance?

For two models scored on the same images, the images both scored (status ok, finite
value) are resampled with replacement ``n_boot`` times; each resample gives the
difference of the leaderboard statistic (the mean, or |mean| for signed metrics such as
ΔCF). The two-sided p-value is ``min(1, 2·min(P(d* ≤ 0), P(d* ≥ 0)))`` over the
resampled differences ``d*`` (the percentile-bootstrap test, Efron & Tibshirani 1993,
§16; Koehn 2004 uses the same paired resampling for MT metrics). The generator is
seeded, so a leaderboard regenerates with identical p-values.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

N_BOOT = 2000
ALPHA = 0.05
CHUNK_ELEMENTS = 4_000_000  # resampled indices held at once (32 MB)


def aligned(a: Mapping[str, float], b: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """Values of the images both models scored with a finite value, in a fixed order."""
    ids = sorted(k for k in a.keys() & b.keys() if np.isfinite(a[k]) and np.isfinite(b[k]))
    return (np.array([a[k] for k in ids], dtype=np.float64),
            np.array([b[k] for k in ids], dtype=np.float64))


def paired_bootstrap(a: np.ndarray, b: np.ndarray, *, absolute: bool = False,
                     n_boot: int = N_BOOT, seed: int = 0) -> float | None:
    """Two-sided p-value for "statistic(a) == statistic(b)" (statistic = mean, or |mean|
    with ``absolute``) from paired resamples of the images. None below 2 images."""
    n = len(a)
    if n < 2 or len(b) != n:
        return None
    rng = np.random.default_rng(seed)
    diff = a - b
    parts = []
    chunk = max(1, min(n_boot, CHUNK_ELEMENTS // n))  # bounded memory for large test sets
    for start in range(0, n_boot, chunk):
        idx = rng.integers(0, n, size=(min(chunk, n_boot - start), n))
        if absolute:  # |mean| of each model: both means are needed
            parts.append(np.abs(a[idx].mean(axis=1)) - np.abs(b[idx].mean(axis=1)))
        else:  # mean(a) - mean(b) = mean(a - b): one gather
            parts.append(diff[idx].mean(axis=1))
    d = np.concatenate(parts)
    if not np.any(d):  # identical outputs: no evidence of a difference
        return 1.0
    p = 2.0 * min(float(np.mean(d <= 0)), float(np.mean(d >= 0)))
    return min(1.0, p)
