"""Registers the ``profile`` colorizer (seed 003: colour profiles by k-means over dominant
colour descriptors, a profile predictor CNN on the gray image, one rarity-weighted U-Net
per profile). torch is imported only inside the factory and the training function."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from colorbench import ColorizerSpec, Option, Weights, hookimpl

HERE = Path(__file__).resolve().parent
WEIGHTS_FILE = "profile_tiny_imagenet_sample.pt"
WEIGHTS = Weights(
    name="profile.tiny_imagenet_sample",
    file=WEIGHTS_FILE,
    sha256="708b7cb156eed6e2e2cae9fe03410518d37350c9147d5e2f087067889364177d",
    licence="MIT (weights); trained on ImageNet images: non-commercial research use",
    training=(
        "colorbench train profile --dataset ../shared/data/imagenet-sample --split train --seed 0 --config tiny "
        "--steps 600 --set mse_blend=0.65 --set threads=1 --out runs/ablations/profile-rarity-weight/rarity-blend "
        "&& python benchmarks/ablations/ship.py --only profile (the arm profile-rarity-weight/rarity-blend of "
        "benchmarks/ablations/claims.yaml; train split, 767 images; predictor 90 steps, then profiles of 240, 222, "
        "199, 106 images for 160, 148, 132, 70 steps; 16 min 45 s on 2 CPU cores shared with other jobs; "
        "see docs/models/profile.md)"
    ),
    path=HERE / WEIGHTS_FILE,
)

_COMMON: dict[str, Any] = {
    # profiles (paper §2, §4.3): descriptor per image, k-means into K profiles
    "profiles": 4, "descriptor": "dcd", "dcd_colors": 3, "hist_bins": 8, "fit_size": 32,
    "min_profile_images": 500,  # fallback rule: smaller profiles use the global colorizer
    # colorizer loss: mse_blend·MSE + (1 - mse_blend)·rarity-weighted MSE
    "mse_blend": 0.65, "wmse_norm": "weighted_mean",
    "rarity": "joint",  # paper §4.3: one joint 64x64 a*b* histogram ("marginal": two 64-bin ones)
    "lr": 1e-3, "predictor_lr": 1e-3,  # Keras Adam defaults (the paper used Keras)
    "steps": None, "epochs": None, "predictor_share": 0.15, "flip": True, "val_images": 64,
    # the training loop's settings (docs/models/profile.md): batch_size is the global batch
    "precision": "fp32", "accumulate": 1, "prefetch": 2, "sync_bn": False, "threads": 0, "dist_timeout": 1800,
    "log_every": 10, "save_every": 200, "val_every": 200, "stop_at": 0,
}
CONFIGS: dict[str, dict[str, Any]] = {
    # Paper scale (Tiny ImageNet, 64x64 inputs, K = 4); widths are ours (not in the paper).
    # No augmentation: the paper describes none (random crop and flip are ours: tiny).
    "paper": {**_COMMON, "augment": False, "flip": False, "size": 64, "batch_size": 64, "unet_widths": [64, 128, 256, 512],
              "predictor_widths": [32, 64, 128], "predictor_size": 64, "predictor_hidden": 256,
              "predictor_dropout": 0.0, "predictor_epochs": 20, "colorizer_epochs": 50,
              "cache_size": 0, "workers": 4},
    # CPU scale: the shipped weights.
    "tiny": {**_COMMON, "augment": True, "size": 64, "batch_size": 16, "unet_widths": [8, 16, 32, 64, 128],
             "predictor_widths": [16, 32, 64], "predictor_size": 64, "predictor_hidden": 64,
             "predictor_dropout": 0.0, "predictor_epochs": 10, "colorizer_epochs": 20,
             "min_profile_images": 48, "cache_size": 80, "workers": 0, "val_images": 32},
}

# The contract tests' 2-step variant: 32 px, 2 profiles of at least 4 images (of 8), narrow nets.
TEST_OVERRIDES: dict[str, Any] = {
    "size": 32, "batch_size": 4, "unet_widths": [6, 12, 24], "predictor_widths": [4, 8], "predictor_size": 32,
    "predictor_hidden": 16, "profiles": 2, "fit_size": 16, "dcd_colors": 2, "min_profile_images": 4,
    "cache_size": 0, "workers": 0, "log_every": 1, "val_images": 0}


def _build(device: Any = "cpu", checkpoint: Path | str | None = None, profile: int = -1,
           inference_size: int = -1, **_: Any) -> Any:
    """``checkpoint``: resolved and verified by the core factory."""
    import torch

    from colorbench_profile.colorizer import ProfileColorizer, load_parts

    predictor, colorizers, profiles, cfg = load_parts(checkpoint)
    size = int(cfg.get("size", 0)) if inference_size < 0 else inference_size
    return ProfileColorizer(predictor, colorizers, profiles, torch.device(device), size=size, profile=profile)


def _train(ctx: Any) -> None:
    from colorbench_profile.train import train

    if ctx.config.get("epochs"):  # --epochs sets the colorizers' epochs
        ctx.config["colorizer_epochs"] = ctx.config["epochs"]
    train(ctx)


@hookimpl
def register_colorizers(register: Any) -> None:
    register(ColorizerSpec(
        name="profile",
        factory=_build,
        description="colour profiles (DCD k-means) + profile predictor + one rarity-weighted U-Net per profile (Robles & Budach 2024)",
        needs_weights=True,
        weights=WEIGHTS,
        options=(Option("profile", int, -1, "force this profile's colorizer for every image (-1: predict)"),
                 Option("inference_size", int, -1,
                        "predict a*b* with the shorter side at this size, upsample to the input "
                        "(-1: the checkpoint's training size; 0: the input's own size)")),
        train=_train,
        configs=CONFIGS,
        default_config="paper",
        test_config="tiny",
        test_overrides=TEST_OVERRIDES,
        extra_columns=("profile",),
        provides_info=True,
    ))
