"""Registers the CCC++ colorizers (seed 000): ``ccc`` and ``ccc-harmonized`` (Algorithm 1 on
the segments of any registered segmenter). torch loads only inside the factories."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from colorbench import ColorizerSpec, Option, Weights, hookimpl
from colorbench.models.weights import torchvision_weights

PAPER_MIN_FRACTION = 500 / 109_885_440  # = colorbench_ccc.classes.PAPER_MIN_FRACTION
HERE = Path(__file__).parent

WEIGHTS = Weights(
    name="ccc.tiny_imagenet-sample",
    file="ccc_tiny_imagenet-sample.pt",
    sha256="f5e9d15f633866ce7f4a0553b40edc53843e9cb1a8e0a619cb78f745a7cbc507",
    licence="MIT (weights trained by colorbench on ../shared/data/imagenet-sample; see docs/models/ccc.md)",
    training=(
        "colorbench train ccc --dataset ../shared/data/imagenet-sample --split train --seed 0 --config tiny "
        "--steps 500 --set loss=cbce --set threads=1 --out runs/ablations/ccc-class-weighted-loss/weighted && "
        "python benchmarks/ablations/ship.py --only ccc (the arm ccc-class-weighted-loss/weighted of "
        "benchmarks/ablations/claims.yaml; train split, 767 images; 12 min 17 s on 2 CPU cores shared with other "
        "jobs; optimizer state stripped; see docs/models/ccc.md and leaderboards/ablations.md)"
    ),
    path=HERE / "ccc_tiny_imagenet-sample.pt",
)
# the ImageNet encoder a training with pretrained_encoder=true starts from (model.py loads it)
DENSENET121 = torchvision_weights("densenet121-a639ec97.pth", "ImageNet DenseNet-121 (torchvision)",
                                  "torchvision DenseNet121_Weights.IMAGENET1K_V1 (ImageNet-1k classification)")

_COMMON: dict[str, Any] = {
    # colour classes (eq. 9-12, Table V)
    "alpha": 6.0, "beta": 108.0, "delta": 36,
    "class_set": "fit", "class_min_fraction": PAPER_MIN_FRACTION, "class_min_count": None,
    # fit-classes: fit_images random training images (None: all), drawn with the run's seed,
    # at input_size with targets at target_size (the training targets' own pipeline)
    "fit_images": None,
    # loss (eq. 15-16; Table V P = 10 %); psi=None: Ψ from the formula
    "loss": "cbce", "p_percent": 10.0, "psi": None,
    # optimizer (§IV-B)
    "lr": 1e-3, "betas": [0.5, 0.999],
    "pretrained_encoder": False, "flip": True,
    # the training loop's settings (colorbench.training.settings; batch_size is the global batch)
    "threads": 0,  # torch intra-op threads in the training process (0: torch's default)
    "precision": "fp32", "accumulate": 1, "sync_bn": False, "prefetch": 2, "stop_at": 0, "dist_timeout": 1800.0,
}

CONFIGS: dict[str, dict[str, Any]] = {
    "paper": {**_COMMON, "growth_rate": 32, "block_config": [6, 12, 24, 16], "num_init_features": 64,
              "bn_size": 4, "decoder": [1024, 512, 512], "input_size": 224, "target_size": 56,
              "batch_size": 64, "epochs": 10, "steps": None, "workers": 4,
              "fit_images": 35_040,  # §IV-A: 35,040 random Places365 val images
              "save_every": 2000, "val_every": 0, "val_images": 500, "log_every": 50},
    "tiny": {**_COMMON, "growth_rate": 12, "block_config": [2, 2, 2, 2], "num_init_features": 24,
             "bn_size": 2, "decoder": [64, 48, 32], "input_size": 128, "target_size": 32,
             "batch_size": 16, "epochs": None, "steps": 300, "workers": 1,
             "save_every": 100, "val_every": 0, "val_images": 32, "log_every": 10},
}

# The contract tests' 2-step variant: 32 px inputs, 8 px targets, batch 4, a DenseNet of
# 1-layer blocks; colour classes kept when seen twice in the 8 images.
TEST_OVERRIDES: dict[str, Any] = {
    "growth_rate": 4, "block_config": [1, 1, 1, 1], "num_init_features": 8, "bn_size": 2, "decoder": [16, 16, 16],
    "input_size": 32, "target_size": 8, "batch_size": 4, "workers": 0, "save_every": 0, "val_images": 0,
    "log_every": 1, "class_min_count": 2, "class_min_fraction": None}

DECODE = (
    Option("decode", str, "argmax", "argmax (eq. 18) or annealed (Zhang et al. 2016 annealed mean)",
           choices=("argmax", "annealed")),
    Option("temperature", float, 0.38, "annealed-mean temperature T"),
)
HARMONIZE = (
    Option("segmenter", str, "slic", "segmenter plugin for Algorithm 1 (slic, sam, ...)"),
    Option("delta_a", float, 8.0, "δa of Algorithm 1"),
    Option("delta_b", float, 8.0, "δb of Algorithm 1"),
    Option("sam_checkpoint", str, "", "SAM checkpoint file (default: the torch hub cache)"),
    Option("sam_model_type", str, "vit_b", "SAM model type: vit_b, vit_l or vit_h"),
)


def _build(device: Any = "cpu", checkpoint: Any = None, decode: str = "argmax",
           temperature: float = 0.38, **_: Any) -> Any:
    """``checkpoint``: resolved and verified by the core factory."""
    from colorbench_ccc.model import load_colorizer

    return load_colorizer(checkpoint, device, decode=decode, temperature=temperature)


def _build_harmonized(device: Any = "cpu", checkpoint: Any = None, decode: str = "argmax",
                      temperature: float = 0.38, segmenter: str = "slic", delta_a: float = 8.0,
                      delta_b: float = 8.0, sam_checkpoint: str = "", sam_model_type: str = "vit_b",
                      registries: Any = None, **_: Any) -> Any:
    """ccc plus Algorithm 1; the segmenter is built from ``registries`` by the core factory."""
    from colorbench.models.factory import create_segmenter
    from colorbench_ccc.harmonize import Harmonizer
    from colorbench_ccc.model import load_colorizer

    seg = create_segmenter(registries, segmenter, device,
                           {"checkpoint": sam_checkpoint, "model_type": sam_model_type})
    return load_colorizer(checkpoint, device, decode=decode, temperature=temperature,
                          harmonizer=Harmonizer(seg, delta_a, delta_b))


def _train(ctx: Any) -> None:
    from colorbench_ccc.train import run_training

    run_training(ctx)


@hookimpl
def register_colorizers(register: Any) -> None:
    common = {"needs_weights": True, "weights": WEIGHTS, "configs": CONFIGS, "default_config": "paper",
              "pretrained": (DENSENET121,)}
    register(ColorizerSpec(
        name="ccc", factory=_build, train=_train, options=DECODE, test_config="tiny", test_overrides=TEST_OVERRIDES,
        description="CCC++ (Gain et al.): DenseNet-121 colour-class classifier, class-weighted CE",
        **common))
    register(ColorizerSpec(
        name="ccc-harmonized", factory=_build_harmonized, options=DECODE + HARMONIZE,
        description="CCC++ with object-selective colour harmonization (Algorithm 1; --set segmenter=slic|sam)",
        variant_of="ccc", composite=True,
        **common))
