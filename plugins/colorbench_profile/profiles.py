"""Colour profiles (seed 003): a colour descriptor per image, k-means over descriptors into
K profiles, the small-profile fallback rule, and the rarity weights of each profile.

Descriptors (``descriptor=``):

- ``dcd`` — Verdaguer's Dominant Colour Descriptor F = {(c_i, p_i)}: k-means
  (scikit-learn) over the image's Lab pixels gives N centroids c_i and their pixel shares
  p_i (sum 1). To compare images the N pairs are sorted by share (largest first) and
  flattened to [L/100, a/50, b/50, p] per colour (a*, b* scaled up: profiles are about
  colour, not lightness).
- ``abhist`` — the alternative of the issue: a coarse a*b* histogram (``hist_bins`` per
  axis over [-128, 128)), normalised to sum 1, square-rooted (Hellinger embedding, so
  Euclidean k-means compares distributions sensibly).

Rarity weights (paper §4.3): per profile, 64-bin histograms of a* and of b* over the
profile's pixels, frequencies f (counts / pixels), w = 1/sqrt(f + 1e-7) for a and for b,
the two arrays combined into one [2, 64] array normalised to sum 1.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

AB_RANGE = (-128.0, 128.0)
EPS = 1e-7


# ------------------------------------------------------------------ descriptors
def lab_pixels(rgb: np.ndarray, size: int) -> np.ndarray:
    """Centre-crop to a square, resize to ``size``, return Lab pixels [size*size, 3] (float64)."""
    from colorbench.color import rgb_to_lab
    from colorbench.evaluation.protocol import resize

    small = resize(rgb, size, "crop")
    lab = rgb_to_lab(torch.from_numpy(np.array(small, order="C")).permute(2, 0, 1)).double()
    return lab.reshape(3, -1).T.numpy()


def dominant_colors(lab: np.ndarray, n_colors: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """DCD of one image: (centroids [N,3] Lab, shares [N]) sorted by share, largest first.

    An image with fewer than N distinct colours gets repeated centroids with share 0."""
    from sklearn.cluster import KMeans

    distinct = np.unique(np.round(lab, 3), axis=0)
    k = min(n_colors, len(distinct))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        km = KMeans(n_clusters=k, n_init=2, random_state=seed).fit(lab)
    counts = np.bincount(km.labels_, minlength=k).astype(np.float64)
    order = np.argsort(-counts, kind="stable")
    centroids, shares = km.cluster_centers_[order], counts[order] / counts.sum()
    if k < n_colors:
        centroids = np.concatenate([centroids, np.repeat(centroids[-1:], n_colors - k, 0)])
        shares = np.concatenate([shares, np.zeros(n_colors - k)])
    return centroids, shares


def dcd_vector(centroids: np.ndarray, shares: np.ndarray) -> np.ndarray:
    scaled = centroids / np.array([100.0, 50.0, 50.0])
    return np.concatenate([scaled, shares[:, None]], 1).reshape(-1)


def abhist_vector(lab: np.ndarray, bins: int) -> np.ndarray:
    hist, _, _ = np.histogram2d(lab[:, 1], lab[:, 2], bins=bins, range=[AB_RANGE, AB_RANGE])
    return np.sqrt(hist.reshape(-1) / max(hist.sum(), 1.0))


def descriptor(lab: np.ndarray, cfg: dict[str, Any]) -> np.ndarray:
    kind = str(cfg.get("descriptor", "dcd"))
    if kind == "dcd":
        return dcd_vector(*dominant_colors(lab, int(cfg.get("dcd_colors", 3))))
    if kind == "abhist":
        return abhist_vector(lab, int(cfg.get("hist_bins", 8)))
    from colorbench.errors import ColorbenchError

    raise ColorbenchError(f"--set descriptor={kind}: choose dcd or abhist")


# --------------------------------------------------------------- rarity weights
def ab_marginals(lab: np.ndarray, bins: int = 64) -> np.ndarray:
    """Counts [2, bins] of a* and of b* over [-128, 128)."""
    edges = np.linspace(*AB_RANGE, bins + 1)
    return np.stack([np.histogram(np.clip(lab[:, c], AB_RANGE[0], AB_RANGE[1] - 1e-6), edges)[0]
                     for c in (1, 2)]).astype(np.float64)


def rarity_weights(counts: np.ndarray) -> np.ndarray:
    """[2, bins] counts -> [2, bins] weights 1/sqrt(f + 1e-7), f = counts / pixels, the
    combined array normalised to sum 1 (paper §4.3)."""
    freq = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
    w = 1.0 / np.sqrt(freq + EPS)
    return w / w.sum()


def ab_bins(ab: torch.Tensor, bins: int) -> torch.Tensor:
    """Bin index (long, same shape) of a*/b* values for ``bins`` bins over [-128, 128)."""
    width = (AB_RANGE[1] - AB_RANGE[0]) / bins
    return ((ab - AB_RANGE[0]) / width).floor().clamp(0, bins - 1).long()


# --------------------------------------------------------------------- profiles
@dataclass
class Profiles:
    """K profiles: k-means centres in descriptor space, sizes, the colorizer each profile
    routes to (its own, or ``global`` when it falls back) and the rarity weights per model."""

    descriptor: str
    centers: np.ndarray  # [K, D]
    sizes: list[int]
    routes: list[str]  # per profile: "profile<k>" or "global"
    weights: dict[str, np.ndarray] = field(default_factory=dict)  # model -> [2, 64]
    counts: dict[str, np.ndarray] = field(default_factory=dict)  # model -> [2, 64] a*/b* counts
    mean_lab: np.ndarray | None = None  # [K, 3] mean Lab colour of each profile's images
    assignment: list[int] = field(default_factory=list)  # training image -> profile

    @property
    def k(self) -> int:
        return len(self.sizes)

    @property
    def models(self) -> list[str]:
        """Colorizers to train, in training order (own profiles first, then ``global``)."""
        own = [r for r in dict.fromkeys(self.routes) if r != "global"]
        return own + (["global"] if "global" in self.routes else [])

    def members(self, model: str) -> list[int]:
        """Training image indices a model trains on (global: every image)."""
        if model == "global":
            return [i for i, p in enumerate(self.assignment) if p >= 0]
        k = int(model.removeprefix("profile"))
        return [i for i, p in enumerate(self.assignment) if p == k]

    def served(self, model: str) -> int:
        """Training images of the profiles routed to ``model`` (its share of the steps)."""
        return sum(s for s, r in zip(self.sizes, self.routes, strict=True) if r == model)

    def predict(self, descriptors: np.ndarray) -> np.ndarray:
        """Nearest profile centre of each descriptor (the k-means assignment rule)."""
        d = ((descriptors[:, None, :] - self.centers[None]) ** 2).sum(-1)
        return d.argmin(1)

    def to_state(self, with_assignment: bool = True) -> dict[str, Any]:
        state: dict[str, Any] = {
            "descriptor": self.descriptor, "centers": torch.from_numpy(self.centers).float(),
            "sizes": list(self.sizes), "routes": list(self.routes),
            "weights": {k: torch.from_numpy(v).float() for k, v in self.weights.items()},
            "counts": {k: torch.from_numpy(v).float() for k, v in self.counts.items()},
        }
        if self.mean_lab is not None:
            state["mean_lab"] = torch.from_numpy(self.mean_lab).float()
        if with_assignment:
            state["assignment"] = list(self.assignment)
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Profiles:
        return cls(descriptor=state["descriptor"], centers=state["centers"].double().numpy(),
                   sizes=[int(s) for s in state["sizes"]], routes=list(state["routes"]),
                   weights={k: v.double().numpy() for k, v in state["weights"].items()},
                   counts={k: v.double().numpy() for k, v in state.get("counts", {}).items()},
                   mean_lab=state["mean_lab"].double().numpy() if "mean_lab" in state else None,
                   assignment=[int(a) for a in state.get("assignment", [])])


def fallback_routes(sizes: list[int], min_images: int) -> list[str]:
    """The fallback rule: a profile with fewer than ``min_images`` training images gets no
    colorizer of its own and routes to the ``global`` colorizer (trained on every image)."""
    return [f"profile{k}" if s >= min_images else "global" for k, s in enumerate(sizes)]


def cluster(descriptors: np.ndarray, marginals: np.ndarray, means: np.ndarray, cfg: dict[str, Any],
            seed: int = 0) -> Profiles:
    """k-means (scikit-learn) of the descriptors into K profiles + fallback + rarity weights.

    ``descriptors``: [n, D], NaN rows for images that failed to load (assignment -1, left
    out of every profile); ``marginals``: [n, 2, 64] a*/b* counts per image; ``means``:
    [n, 3] mean Lab per image."""
    from sklearn.cluster import KMeans

    ok = ~np.isnan(descriptors).any(1)
    n = int(ok.sum())
    if n == 0:
        from colorbench.errors import ColorbenchError

        raise ColorbenchError("profile clustering: no training image could be read")
    k = min(int(cfg["profiles"]), n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        km = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(descriptors[ok])
    labels = km.labels_.astype(int)
    # order profiles by size (largest first) so profile numbers are stable and readable
    sizes = np.bincount(labels, minlength=k)
    order = np.argsort(-sizes, kind="stable")
    remap = np.empty(k, dtype=int)
    remap[order] = np.arange(k)
    labels, centers, sizes = remap[labels], km.cluster_centers_[order], sizes[order]
    routes = fallback_routes([int(s) for s in sizes], int(cfg.get("min_profile_images", 1)))
    assignment = np.full(len(descriptors), -1, dtype=int)
    assignment[ok] = labels
    prof = Profiles(descriptor=str(cfg.get("descriptor", "dcd")), centers=centers.astype(np.float64),
                    sizes=[int(s) for s in sizes], routes=routes, assignment=assignment.tolist(),
                    mean_lab=np.stack([means[assignment == j].mean(0) for j in range(k)]))
    for model in prof.models:
        counts = marginals[prof.members(model)].sum(0)
        prof.counts[model] = counts
        prof.weights[model] = rarity_weights(counts)
    return prof
