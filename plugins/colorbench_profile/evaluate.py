"""Held-out checks: profile-predictor accuracy (the profile of a held-out image is the
nearest profile centre of its colour descriptor, the k-means assignment rule) and a
colorizer's mean |Δa*b*| on held-out images of its profiles.

    python -m colorbench_profile.evaluate CHECKPOINT DATASET_DIR [--split test] [--limit N] [--routing]

``--routing`` also compares, by mean CPSNR under the run protocol (centre crop, 256), the
routed model (predicted profile), the oracle (the best profile colorizer per image: every
profile's colorizer is scored on the image and the highest CPSNR kept), descriptor routing
(the profile of the photograph's own colours) and every profile's colorizer forced on all
images.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import torch
from torch import nn

from colorbench.plugin.specs import Dataset
from colorbench_profile.model import normalize_L, predictor_input, to_ab
from colorbench_profile.profiles import Profiles, descriptor, lab_pixels


def _lab_grid(rgb: np.ndarray, size: int) -> torch.Tensor:
    """Lab [3, size, size] of the centre crop (the run protocol's crop) at ``size``."""
    return torch.from_numpy(lab_pixels(rgb, size).T.reshape(3, size, size)).float()


def true_profiles(profiles: Profiles, cfg: dict[str, Any], dataset: Dataset, n: int) -> list[tuple[int, int]]:
    """[(image index, profile)] for the first ``n`` readable images."""
    out: list[tuple[int, int]] = []
    for i in range(len(dataset.ids)):
        if len(out) >= n:
            break
        try:
            rgb = dataset.load(i).image
        except Exception:
            continue
        d = descriptor(lab_pixels(rgb, int(cfg.get("fit_size", 32))), cfg)
        out.append((i, int(profiles.predict(d[None])[0])))
    return out


@torch.no_grad()
def predictor_accuracy(net: nn.Module, profiles: Profiles, cfg: dict[str, Any], dataset: Dataset, n: int,
                       device: torch.device) -> dict[str, Any]:
    """Accuracy of the predictor on the first ``n`` images, and the confusion matrix
    (rows: true profile, columns: predicted)."""
    size = int(cfg["predictor_size"])
    truth = true_profiles(profiles, cfg, dataset, n)
    conf = np.zeros((profiles.k, profiles.k), dtype=int)
    for i, p in truth:
        L = _lab_grid(dataset.load(i).image, size)[:1][None].to(device)
        pred = int(net(predictor_input(L, size)).argmax(1)[0])
        conf[p, pred] += 1
    total = int(conf.sum())
    return {"accuracy": float(np.trace(conf) / total) if total else float("nan"), "n": total,
            "confusion": conf.tolist(),
            "majority": float(conf.sum(1).max() / total) if total else float("nan")}


@torch.no_grad()
def colorizer_val_l1(net: nn.Module, profiles: Profiles, model: str, cfg: dict[str, Any], dataset: Dataset,
                     n: int, device: torch.device) -> float:
    """Mean |Δa*b*| (CIE units) on held-out images whose profile routes to ``model``."""
    size = int(cfg["size"])
    truth = [i for i, p in true_profiles(profiles, cfg, dataset, len(dataset.ids) if model != "global" else n)
             if model == "global" or profiles.routes[p] == model][:n]
    errs = []
    for i in truth:
        lab = _lab_grid(dataset.load(i).image, size)[None].to(device)
        out = to_ab(net(normalize_L(lab[:, :1])).float())
        errs.append(float((out - lab[:, 1:]).abs().mean()))
    return float(np.mean(errs)) if errs else float("nan")


@torch.no_grad()
def routing_cpsnr(model: Any, profiles: Profiles, cfg: dict[str, Any], dataset: Dataset, n: int,
                  size: int = 256) -> dict[str, float]:
    """Mean CPSNR (run protocol: centre crop to ``size``) of predicted routing, the oracle (best
    profile colorizer per image), descriptor routing and each profile's colorizer forced."""
    from colorbench_metrics_pixel.functional import cpsnr

    from colorbench.evaluation.protocol import lightness, rebuild, resize, to_tensor

    truth = true_profiles(profiles, cfg, dataset, n)
    scores: dict[str, list[float]] = {"predicted": [], "oracle": [], "descriptor-routed": [],
                                      **{f"forced {k}": [] for k in range(profiles.k)}}
    for i, p in truth:
        gt = to_tensor(resize(dataset.load(i).image, size, "crop"))[None]
        L = lightness(gt)
        model.forced = -1
        outs = {"predicted": model.colorize(L)}
        for k in range(profiles.k):
            model.forced = k
            outs[f"forced {k}"] = model.colorize(L)
        outs["descriptor-routed"] = outs[f"forced {p}"]
        image = {name: float(cpsnr(rebuild(L, ab), gt)[0]) for name, ab in outs.items()}
        image["oracle"] = max(image[f"forced {k}"] for k in range(profiles.k))
        for name, value in image.items():
            scores[name].append(value)
    model.forced = -1
    return {k: float(np.mean([v for v in vals if np.isfinite(v)])) for k, vals in scores.items()}


def main(argv: list[str] | None = None) -> None:
    from colorbench_datasets.folder import Folder

    from colorbench_profile.colorizer import load_parts

    args = list(sys.argv[1:] if argv is None else argv)
    split, limit = "all", 10**9
    if "--split" in args:
        k = args.index("--split")
        split = args[k + 1]
        del args[k:k + 2]
    if "--limit" in args:
        k = args.index("--limit")
        limit = int(args[k + 1])
        del args[k:k + 2]
    routing = "--routing" in args
    args = [a for a in args if a != "--routing"]
    if len(args) != 2:
        raise SystemExit(__doc__)
    predictor, colorizers, profiles, cfg = load_parts(args[0])
    dataset = Folder(split=split, root=args[1])
    result = predictor_accuracy(predictor.eval(), profiles, cfg, dataset, limit, torch.device("cpu"))
    print(f"n={result['n']} accuracy={result['accuracy']:.3f} majority-class baseline={result['majority']:.3f}")
    print("confusion (rows true, columns predicted):")
    for row in result["confusion"]:
        print("  " + " ".join(f"{v:4d}" for v in row))
    if routing:
        from colorbench_profile.colorizer import ProfileColorizer

        model = ProfileColorizer(predictor, colorizers, profiles, torch.device("cpu"), size=int(cfg["size"]))
        for name, value in routing_cpsnr(model, profiles, cfg, dataset, limit).items():
            print(f"CPSNR {name}: {value:.2f} dB")


if __name__ == "__main__":
    main()
