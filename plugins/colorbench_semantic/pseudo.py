"""Pseudo semantic maps from the gray image alone (for photos without annotations).

Fixed recipe (``labels=pseudo``):

1. SLIC superpixels of L* (scikit-image ``slic``, ``channel_axis=None``, compactness 0.1 on
   L*/100, about one superpixel per ``area`` pixels, ``start_label=0``).
2. Per superpixel, six gray-level texture descriptors: mean L*/100, std L*/100, mean
   gradient magnitude (Sobel), mean |Laplacian|, relative row of the centroid (0 top .. 1
   bottom) and the superpixel's share of the image.
3. Standardize with the mean/std of the fitting set and assign the nearest of K k-means
   centres (fitted once, before training, on superpixels of ``fit_images`` training crops,
   ``sklearn.cluster.KMeans(K, n_init=4, random_state=seed)``). Classes are renumbered by
   the centres' mean L* (class 0 = darkest) so the one-channel normalized label is ordinal.

The centres, mean and std are stored in the checkpoint: training and inference assign the
same classes. No colour is used anywhere, so the map adds no information the gray input
lacks; it only groups pixels by gray-level texture and position.
"""

from __future__ import annotations

from typing import Any

import numpy as np

N_FEATURES = 6


def superpixels(L: np.ndarray, area: int = 64) -> np.ndarray:
    from skimage.segmentation import slic

    h, w = L.shape
    n = max(2, round(h * w / area))
    return slic(L.astype(np.float64) / 100.0, n_segments=n, compactness=0.1, channel_axis=None,
                start_label=0, enforce_connectivity=True)


def descriptors(L: np.ndarray, seg: np.ndarray) -> np.ndarray:
    """[n_segments, 6] descriptors of the superpixels ``0..seg.max()``."""
    from scipy import ndimage

    x = L.astype(np.float64) / 100.0
    grad = np.hypot(ndimage.sobel(x, 0), ndimage.sobel(x, 1))
    lap = np.abs(ndimage.laplace(x))
    rows = np.broadcast_to(np.linspace(0.0, 1.0, x.shape[0])[:, None], x.shape)
    n = int(seg.max()) + 1
    flat = seg.ravel()
    count = np.maximum(np.bincount(flat, minlength=n), 1).astype(np.float64)

    def mean(v: np.ndarray) -> np.ndarray:
        return np.bincount(flat, weights=np.ascontiguousarray(v).ravel(), minlength=n) / count

    m = mean(x)
    std = np.sqrt(np.maximum(mean(x * x) - m * m, 0.0))
    return np.stack([m, std, mean(grad), mean(lap), mean(rows), count / flat.size], 1)


class PseudoLabeler:
    def __init__(self, centres: np.ndarray, mean: np.ndarray, std: np.ndarray, area: int = 64):
        self.centres, self.mean, self.std, self.area = (np.asarray(centres, np.float64),
                                                        np.asarray(mean, np.float64),
                                                        np.asarray(std, np.float64), int(area))

    @property
    def n_classes(self) -> int:
        return len(self.centres)

    def __call__(self, L: np.ndarray) -> np.ndarray:
        """L* [H, W] in 0..100 -> class map [H, W] uint8."""
        seg = superpixels(L, self.area)
        z = (descriptors(L, seg) - self.mean) / self.std
        cls = ((z[:, None, :] - self.centres[None]) ** 2).sum(-1).argmin(1)
        return cls.astype(np.uint8)[seg]

    def state(self) -> dict[str, Any]:
        return {"centres": self.centres.tolist(), "mean": self.mean.tolist(), "std": self.std.tolist(),
                "area": self.area}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> PseudoLabeler:
        return cls(np.array(state["centres"]), np.array(state["mean"]), np.array(state["std"]),
                   int(state.get("area", 64)))

    @classmethod
    def fit(cls, images: list[np.ndarray], k: int, seed: int = 0, area: int = 64) -> PseudoLabeler:
        """k-means over the superpixel descriptors of gray images (L* [H, W] each)."""
        from sklearn.cluster import KMeans

        feats = np.concatenate([descriptors(L, superpixels(L, area)) for L in images])
        mean, std = feats.mean(0), feats.std(0) + 1e-6
        km = KMeans(n_clusters=k, n_init=4, random_state=seed).fit((feats - mean) / std)
        centres = km.cluster_centers_
        order = np.argsort(centres[:, 0])  # class 0 = darkest mean L*
        return cls(centres[order], mean, std, area)
