"""FID and KID per (dataset, model) set with torch-fidelity's Inception-v3 features, streamed.

``FidelityAccumulator`` follows the accumulator protocol (``colorbench.Accumulator``:
reset / update / merge / compute): the engine builds it, and so loads Inception, once per run
and resets it before each (dataset, model) pair. ``fid`` and ``kid`` are the pure functions of
the features. Each batch's predictions and ground truths go through the feature extractor once; FID keeps
running sums (mean and covariance, float64), KID keeps the 2048-d features (8 KB per image),
never the images. Values use torch-fidelity's own formulas (``fid_statistics_to_metric``,
``kid_features_to_metric``), so they equal ``torch_fidelity.calculate_metrics(input1=predictions,
input2=ground truths)`` on the same
uint8 images.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from colorbench.errors import ColorbenchError
from colorbench.evaluation.accumulator import Accumulator
from colorbench.models.checkpoints import load_checkpoint

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


def fid(pred: FeatureStats, gt: FeatureStats) -> float:
    """FID of two feature sets (torch-fidelity's ``fid_statistics_to_metric``)."""
    from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_statistics_to_metric

    out = fid_statistics_to_metric(pred.statistics(), gt.statistics(), verbose=False)
    return float(out[KEY_METRIC_FID])


def kid(pred: FeatureStats, gt: FeatureStats) -> float:
    """KID (mean over subsets) of two kept feature sets (``kid_features_to_metric``)."""
    from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, kid_features_to_metric

    n = min(pred.n, gt.n)
    if n < 2:
        raise ValueError(f"needs at least 2 images, got {n}")
    out = kid_features_to_metric(torch.cat(pred.features), torch.cat(gt.features), kid_subsets=KID_SUBSETS,
                                 kid_subset_size=min(KID_SUBSET_SIZE, n), verbose=False)
    return float(out[KEY_METRIC_KID_MEAN])


class FidelityAccumulator(Accumulator):
    """``update(batch)`` per batch, ``compute()`` -> FID or KID of predictions vs ground truths.

    ``extractor``: any module mapping uint8 [B,3,H,W] to features (tests inject small ones);
    by default torch-fidelity's Inception-v3 from ``weights_path`` (read with weights_only).
    """

    pred: FeatureStats
    gt: FeatureStats

    def __init__(self, kind: str, device: Any = "cpu", weights_path: str | None = None,
                 extractor: torch.nn.Module | None = None, weights_name: str = ""):
        super().__init__()
        if kind not in ("fid", "kid"):
            raise ValueError(f"unknown fidelity metric {kind!r}")
        self.kind, self.device = kind, torch.device(device)
        if extractor is None and weights_path is None:
            raise ColorbenchError(f"{kind}: needs weights_path (the verified Inception file) or an extractor")
        self.net = extractor if extractor is not None else inception(str(weights_path), self.device)
        self.weights_name = weights_name
        self.add_state("pred", FeatureStats, "merge")
        self.add_state("gt", FeatureStats, "merge")

    def _features(self, rgb: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            out = self.net(rgb.to(self.device))
        if isinstance(out, (tuple, list)):
            out = out[0]
        return out.reshape(rgb.shape[0], -1)

    def update(self, batch: Any) -> None:
        keep = self.kind == "kid"
        self.pred.add(self._features(batch.pred), keep)
        self.gt.add(self._features(batch.gt), keep)

    def compute(self) -> float:
        return fid(self.pred, self.gt) if self.kind == "fid" else kid(self.pred, self.gt)

    def info(self) -> dict[str, Any]:
        n = self.pred.n
        out: dict[str, Any] = {"images": n, "feature_extractor": EXTRACTOR, "feature_layer": FEATURE_LAYER,
                               "weights": self.weights_name, "resize": RESIZE, "warnings": []}
        if self.kind == "kid":
            out.update(kid_subsets=KID_SUBSETS, kid_subset_size=min(KID_SUBSET_SIZE, n))
        elif n < FID_STABLE_N:
            out["warnings"].append(f"FID over {n} images is unstable and biased (fewer than "
                                   f"{FID_STABLE_N} = feature dimension); compare with kid instead")
        return out
