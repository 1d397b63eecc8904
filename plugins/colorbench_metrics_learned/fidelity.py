"""FID and KID per (dataset, model) set with torch-fidelity's Inception-v3 features, streamed.

``FidelityAccumulator`` follows the accumulator protocol (``colorbench.Accumulator``:
reset / update / merge / compute): the engine builds it, and so loads Inception, once per run
and resets it before each (dataset, model) pair. ``fid`` and ``kid`` are the pure functions of
the features. Each batch's predictions and ground truths go through the feature extractor once; FID keeps
running sums (mean and covariance, float64), KID keeps the 2048-d features (8 KB per image),
never the images. Values use torch-fidelity's own formulas (``fid_statistics_to_metric``,
``kid_features_to_metric``), so they equal ``torch_fidelity.calculate_metrics(input1=predictions,
input2=ground truths)`` on the same uint8 images.

The ground-truth side is cached (``reference.py``): a pair whose reference is in the cache
featurises only its predictions, with the very statistics a recomputation would give.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from colorbench.errors import ColorbenchError
from colorbench.evaluation.accumulator import Accumulator, Reference
from colorbench.models.checkpoints import load_checkpoint
from colorbench_metrics_learned.reference import (
    FORMAT,
    CacheProblem,
    Stored,
    cache_file,
    file_identity,
    load_cached,
    load_published,
    module_identity,
    save_cached,
)

FEATURE_LAYER = "2048"
EXTRACTOR = "inception-v3-compat"
RESIZE = "299x299 bilinear, TF1-compatible (torch-fidelity interpolate_bilinear_2d_like_tensorflow1x)"
FID_STABLE_N = 2048  # below the feature dimension the covariance is rank deficient
KID_SUBSETS, KID_SUBSET_SIZE = 100, 1000


def inception(weights_path: str | Path, device: Any = "cpu") -> torch.nn.Module:
    """torch-fidelity's Inception-v3 with the state dict at ``weights_path``.

    The file is read by colorbench with ``load_checkpoint`` (weights_only=True); torch-fidelity
    gets no path (it would ``torch.load(path, weights_only=False)``, i.e. unpickle the file,
    and with None it downloads), only an in-memory copy of those already-loaded tensors."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    state = load_checkpoint(weights_path)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ColorbenchError(f"fid: {weights_path} is not a state dict of tensors")
    buffer = io.BytesIO()
    torch.save(dict(state), buffer)
    buffer.seek(0)
    net = FeatureExtractorInceptionV3(EXTRACTOR, [FEATURE_LAYER], feature_extractor_weights_path=buffer)
    return net.to(device).eval()


class FeatureStats:
    """Running count, sum and sum of outer products of features (float64)."""

    def __init__(self) -> None:
        self.n = 0
        self.sum: torch.Tensor | None = None
        self.outer: torch.Tensor | None = None
        self.features: list[torch.Tensor] = []

    def add(self, f: torch.Tensor, keep: bool) -> None:
        f64 = f.detach().to("cpu", torch.float64)
        if self.sum is None:
            self.sum = torch.zeros(f64.shape[1], dtype=torch.float64)
            self.outer = torch.zeros(f64.shape[1], f64.shape[1], dtype=torch.float64)
        assert self.outer is not None
        self.n += f64.shape[0]
        self.sum += f64.sum(0)
        self.outer += f64.T @ f64
        if keep:
            self.features.append(f.detach().to("cpu", torch.float32))

    def merge(self, other: FeatureStats) -> None:
        """Add ``other``'s count, sums and features to these."""
        if other.sum is None or other.outer is None:
            return
        if self.sum is None or self.outer is None:
            self.sum, self.outer = other.sum.clone(), other.outer.clone()
        else:
            self.sum, self.outer = self.sum + other.sum, self.outer + other.outer
        self.n += other.n
        self.features += other.features

    def statistics(self) -> dict[str, Any]:
        """Mean and sample covariance (as ``np.cov``), numpy float64."""
        if self.n < 2 or self.sum is None or self.outer is None:
            raise ValueError(f"needs at least 2 images, got {self.n}")
        mu = self.sum / self.n
        sigma = (self.outer - self.n * torch.outer(mu, mu)) / (self.n - 1)
        return {"mu": mu.numpy(), "sigma": sigma.numpy()}


def fid(pred: FeatureStats, gt: FeatureStats | Stored) -> float:
    """FID of two feature sets, or of one and a stored reference (torch-fidelity's
    ``fid_statistics_to_metric``)."""
    from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_statistics_to_metric

    out = fid_statistics_to_metric(pred.statistics(), gt.statistics(), verbose=False)
    return float(out[KEY_METRIC_FID])


def kid(pred: FeatureStats, gt: FeatureStats | Stored) -> float:
    """KID (mean over subsets) of two kept feature sets (``kid_features_to_metric``)."""
    from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, kid_features_to_metric

    n = min(pred.n, gt.n)
    if n < 2:
        raise ValueError(f"needs at least 2 images, got {n}")
    out = kid_features_to_metric(torch.cat(pred.features), torch.cat(gt.features), kid_subsets=KID_SUBSETS,
                                 kid_subset_size=min(KID_SUBSET_SIZE, n), verbose=False)
    return float(out[KEY_METRIC_KID_MEAN])


class FidelityAccumulator(Accumulator):
    """``update(batch)`` per batch, ``compute()`` -> FID or KID of predictions vs the reference.

    ``extractor``: any module mapping uint8 [B,3,H,W] to features (tests inject small ones);
    by default torch-fidelity's Inception-v3 from ``weights_path`` (read with weights_only).

    The reference is the ground truths' features, unless ``reference`` names published FID
    statistics (``--fid-ref``; KID is refused: it needs features) or, with ``cache``, the
    pair's ``Reference`` (``set_reference``) finds them cached (``reference.py``): then the
    ground truths are not featurised at all. A complete reference computed here is cached by
    the process that calls ``compute()`` (rank 0 after the merge).
    """

    pred: FeatureStats
    gt: FeatureStats

    def __init__(self, kind: str, device: Any = "cpu", weights_path: str | None = None,
                 extractor: torch.nn.Module | None = None, weights_name: str = "",
                 reference: str | None = None, cache: bool = True):
        super().__init__()
        if kind not in ("fid", "kid"):
            raise ValueError(f"unknown fidelity metric {kind!r}")
        self.kind, self.device = kind, torch.device(device)
        if extractor is None and weights_path is None:
            raise ColorbenchError(f"{kind}: needs weights_path (the verified Inception file) or an extractor")
        if reference and kind == "kid":
            raise ColorbenchError(f"kid: reference={reference} refused: a statistics file holds only mu and sigma "
                                  "and KID needs the reference images' features; give it to fid only "
                                  "(--fid-ref, or --metric-set fid.reference=FILE)")
        self.published = load_published(reference) if reference else None
        self.reference_file = str(Path(reference).expanduser().resolve()) if reference else None
        self.net = extractor if extractor is not None else inception(str(weights_path), self.device)
        self.weights_name = weights_name
        self.extractor = f"{EXTRACTOR}-{FEATURE_LAYER}" if extractor is None else type(extractor).__name__
        self.identity = None if not cache else (
            file_identity(weights_path) if extractor is None else module_identity(extractor))
        self.add_state("pred", FeatureStats, "merge")
        self.add_state("gt", FeatureStats, "merge")
        self._clear_pair()

    def _clear_pair(self) -> None:
        self.pair: Reference | None = None
        self.cached: Stored | None = None
        self.used: dict[str, Any] = {}
        self.notes: list[str] = []

    def reset(self) -> None:
        super().reset()
        self._clear_pair()

    def _meta(self) -> dict[str, Any]:
        assert self.pair is not None and self.identity is not None
        return {"format": FORMAT, "kind": self.kind, "key": self.pair.key, "images": self.pair.images,
                "extractor": self.extractor, "weights_sha256": self.identity, "device": self.device.type}

    def _load_cached(self) -> Stored | None:
        try:
            return load_cached(cache_file(self._meta()), self._meta())
        except CacheProblem as exc:
            self.notes.append(str(exc))
            return None

    def set_reference(self, reference: Reference | None) -> None:
        """Look the pair's reference up in the cache (not with published statistics, nor
        without an extractor identity or with ``cache`` off)."""
        self._clear_pair()
        if reference is None or self.identity is None or self.published is not None:
            return
        self.pair = reference
        self.cached = self._load_cached()

    def _features(self, rgb: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            out = self.net(rgb.to(self.device))
        if isinstance(out, (tuple, list)):
            out = out[0]
        return out.reshape(rgb.shape[0], -1)

    def update(self, batch: Any) -> None:
        keep = self.kind == "kid"
        pred = self._features(batch.pred)
        dim = pred.shape[1]
        if self.published is not None and self.published[0].dim != dim:
            raise ColorbenchError(f"fid: reference statistics are {self.published[0].dim}-d but the extractor "
                                  f"gives {dim}-d features ({EXTRACTOR} pool3: {FEATURE_LAYER})")
        if self.cached is not None and self.cached.dim != dim:
            self.notes.append(f"cached reference {cache_file(self._meta())} is {self.cached.dim}-d, the features "
                              f"{dim}-d; recomputing it from the ground truths and overwriting the file")
            self.cached = None
        self.pred.add(pred, keep)
        if self.published is None and self.cached is None:  # gt_*: shared by the models of one pass
            self.gt.add(batch.cached(f"gt_features_{id(self.net)}", lambda: self._features(batch.gt)), keep)

    def _reference(self) -> FeatureStats | Stored:
        """The reference of this pair, recording which one in ``self.used``."""
        if self.published is not None:
            stats, digest = self.published
            self.used = {"source": "file", "file": self.reference_file, "sha256": digest}
            return stats
        pair = self.pair
        if pair is None or self.gt.n == pair.images:  # every ground truth of the pair
            self.used = {"source": "computed", "images": self.gt.n, "cached_to": None}
            if pair is not None and self.cached is None:
                path = cache_file(self._meta())
                problem = save_cached(path, self._meta(), self.gt)
                self.notes += [problem] if problem else []
                self.used["cached_to"] = None if problem else str(path)
            return self.gt
        cached = self.cached or self._load_cached()  # another rank or process may have written it
        if cached is None:
            self.used = {"source": "computed", "images": self.gt.n, "cached_to": None}
            self.notes.append(f"reference computed from {self.gt.n} of {pair.images} ground truths (the "
                              "other images failed); not cached")
            return self.gt
        self.used = {"source": "cached", "file": str(cache_file(self._meta())), "images": cached.n}
        if self.pred.n < cached.n:
            self.notes.append(f"reference over all {cached.n} ground truths (cached), predictions over "
                              f"{self.pred.n} (the other images failed)")
        return cached

    def compute(self) -> float:
        ref = self._reference()
        return fid(self.pred, ref) if self.kind == "fid" else kid(self.pred, ref)

    def info(self) -> dict[str, Any]:
        n = self.pred.n
        out: dict[str, Any] = {"images": n, "feature_extractor": EXTRACTOR, "feature_layer": FEATURE_LAYER,
                               "weights": self.weights_name, "resize": RESIZE, "reference": self.used,
                               "warnings": list(self.notes)}
        if self.kind == "kid":
            out.update(kid_subsets=KID_SUBSETS, kid_subset_size=min(KID_SUBSET_SIZE, n))
        elif n < FID_STABLE_N:
            out["warnings"].append(f"FID over {n} images is unstable and biased (fewer than "
                                   f"{FID_STABLE_N} = feature dimension); compare with kid instead")
        return out
