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

Rarity weights (paper §4.3, ``rarity=``): ``joint`` (the paper's) — per profile, the joint
64x64 a*b* histogram of the profile's pixels, frequencies f (counts / pixels), w =
1/sqrt(f + 1e-7) per (a*, b*) bin, the [64, 64] array normalised to sum 1; a pixel's a* and
b* errors both take the weight of its (a*, b*) bin. ``marginal`` (colorbench's first
reading, kept as an option) — 64-bin histograms of a* and of b*, one [2, 64] array
normalised to sum 1; the a* error takes its a* bin's weight, the b* error its b* bin's.
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
RARITY = ("joint", "marginal")


def joint_bins(lab: np.ndarray, bins: int = 64) -> np.ndarray:
    """Flat joint (a*, b*) bin index a_bin·bins + b_bin of every pixel (uint16), over [-128, 128)."""
    idx = ab_bins(torch.from_numpy(np.ascontiguousarray(lab[:, 1:3])), bins).numpy()
    return (idx[:, 0] * bins + idx[:, 1]).astype(np.uint16)


def rarity_counts(flat_bins: np.ndarray, kind: str, bins: int = 64) -> np.ndarray:
    """Counts of the pixels' joint bins: [bins, bins] (``joint``) or its [2, bins] a*/b* marginals."""
    joint = np.bincount(np.asarray(flat_bins, dtype=np.int64).ravel(), minlength=bins * bins)
    joint = joint.reshape(bins, bins).astype(np.float64)
    if kind == "joint":
        return joint
    if kind == "marginal":
        return np.stack([joint.sum(1), joint.sum(0)])
    from colorbench.errors import ColorbenchError

    raise ColorbenchError(f"--set rarity={kind}: choose one of {', '.join(RARITY)}")


def rarity_weights(counts: np.ndarray) -> np.ndarray:
    """Counts -> weights 1/sqrt(f + 1e-7), normalised to sum 1 (paper §4.3). ``[bins, bins]``
    joint counts: f = counts / pixels; ``[2, bins]`` marginals: f per row (a*, b*)."""
    joint = counts.shape[0] == counts.shape[1] and counts.shape[0] != 2
    total = counts.sum() if joint else counts.sum(axis=1, keepdims=True)
    freq = counts / np.maximum(total, 1.0)
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
    weights: dict[str, np.ndarray] = field(default_factory=dict)  # model -> [64, 64] joint or [2, 64]
    counts: dict[str, np.ndarray] = field(default_factory=dict)  # model -> the histogram behind them
    mean_lab: np.ndarray | None = None  # [K, 3] mean Lab colour of each profile's images
    assignment: list[int] = field(default_factory=list)  # training image -> profile
    rarity: str = "joint"  # the histogram of the weights (RARITY)

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
            "descriptor": self.descriptor, "rarity": self.rarity, "centers": torch.from_numpy(self.centers).float(),
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
                   assignment=[int(a) for a in state.get("assignment", [])],
                   rarity=str(state.get("rarity", "marginal")))  # checkpoints before the joint histogram


def fallback_routes(sizes: list[int], min_images: int) -> list[str]:
    """The fallback rule: a profile with fewer than ``min_images`` training images gets no
    colorizer of its own and routes to the ``global`` colorizer (trained on every image)."""
    return [f"profile{k}" if s >= min_images else "global" for k, s in enumerate(sizes)]


def cluster(descriptors: np.ndarray, pixel_bins: np.ndarray, means: np.ndarray, cfg: dict[str, Any],
            seed: int = 0) -> Profiles:
    """k-means (scikit-learn) of the descriptors into K profiles + fallback + rarity weights.

    ``descriptors``: [n, D], NaN rows for images that failed to load (assignment -1, left
    out of every profile); ``pixel_bins``: [n, P] joint a*b* bin of every pixel per image
    (``joint_bins``); ``means``: [n, 3] mean Lab per image."""
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
                    mean_lab=np.stack([means[assignment == j].mean(0) for j in range(k)]),
                    rarity=str(cfg.get("rarity", "joint")))
    for model in prof.models:
        counts = rarity_counts(pixel_bins[prof.members(model)], prof.rarity)
        prof.counts[model] = counts
        prof.weights[model] = rarity_weights(counts)
    return prof
