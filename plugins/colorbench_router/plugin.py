"""Registers the ``router`` colorizer (seed 001, "Best Colorizer Guesser"): a MobileNetV2
classifier predicts which colorizer of a pool suits each gray image; only that member runs.

torch is imported only inside the factory and the training function, so ``colorbench
list`` stays fast. The pool (any registered colorizers), the members' options and
checkpoints are training settings stored in the router's checkpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from colorbench import ColorizerSpec, Weights, hookimpl
from colorbench.models.weights import torchvision_weights

HERE = Path(__file__).resolve().parent
WEIGHTS_FILE = "router_ccc_gan_imagenet_sample.pt"
WEIGHTS = Weights(
    name="router.ccc_gan_imagenet_sample",
    file=WEIGHTS_FILE,
    sha256="5ebc25be67c22b4efe85f0c36d07f43f2068c06c83765504fb3edb3fdde4b0af",
    licence="MIT (weights); trained on ImageNet images: non-commercial research use",
    training=(
        "colorbench train router --dataset ../shared/data/imagenet-sample --split train --seed 0 --config tiny "
        "--set pool=ccc,gan --set member_checkpoints=ccc=runs/ablations/ccc-class-weighted-loss/weighted,"
        "gan=runs/ablations/gan-adversarial/l1-adversarial --set threads=1 --out runs/ablations/router-choice/router "
        "&& python benchmarks/ablations/ship.py --only ccc,gan,router (the arm router-choice/router of "
        "benchmarks/ablations/claims.yaml; members rewritten to the shipped ccc and gan files, exported from those "
        "arms; labels from the val split, 111 images neither member was trained on: ccc best on 71, gan on 40; "
        "70/20/10 = 78/22/11; 3 min 12 s on 2 shared CPU cores; see docs/models/router.md)"
    ),
    path=HERE / WEIGHTS_FILE,
)
# torchvision's MobileNet_V2_Weights.IMAGENET1K_V1 file in $TORCH_HOME/hub/checkpoints: the
# backbone a training with pretrained=true starts from (model.py loads it)
IMAGENET = torchvision_weights("mobilenet_v2-b0353104.pth", "ImageNet MobileNetV2 (torchvision)",
                               "torchvision MobileNet_V2_Weights.IMAGENET1K_V1 (ImageNet-1k classification)")

_COMMON: dict[str, Any] = {
    "pool": "ccc,gan",  # comma-separated colorizer names (any registered ones; two or more)
    "label_split": "val",  # labels from images no member was trained on ('': the training split)
    "allow_overlap": False,  # true: label even on images a member was trained on (recorded)
    "label_metric": "cpsnr",  # per-image metric that picks the best member (seed 001: CPSNR)
    "member_checkpoints": "",  # MEMBER=PATH,... (default: each member's own weights)
    "member_set": "",  # MEMBER.KEY=VALUE,... options of the members
    "label_size": 256,  # the run protocol's size: members are scored as `colorbench run` scores them
    "label_batch": 8,
    "label_workers": 0,  # decoding workers of the labelling run (0: in the main process)
    "label_limit": None,  # label only the first N images (None: all)
    "input_size": 64,  # seed 001 §3.1: images resized to 64x64, gray
    "pretrained": False,  # ImageNet MobileNetV2 from the torchvision cache, first blocks frozen
    "freeze_blocks": 10,  # seed 001 §3.3: "the first 10 blocks"
    "dropout": 0.2,
    "smote_k": 5,  # imbalanced-learn's default k_neighbors
    "lr": 1e-3,
    "weight_decay": 0.0,
    "steps": None,  # None: epochs x batches of the balanced training part
    "threads": 0,  # torch intra-op threads (0: torch's default)
    # the training loop's settings (docs/models/router.md); None: once per epoch
    "log_every": None, "val_every": None, "save_every": None, "stop_at": 0, "workers": 0, "prefetch": 2,
    "precision": None, "accumulate": 1, "sync_bn": False, "dist_timeout": 1800.0,
}
CONFIGS: dict[str, dict[str, Any]] = {
    # Seed 001: MobileNetV2 (width 1.0), 20 epochs.
    "paper": {**_COMMON, "width_mult": 1.0, "epochs": 20, "batch_size": 32},
    # CPU scale: width 0.35, 12 epochs; the shipped weights.
    "tiny": {**_COMMON, "width_mult": 0.35, "epochs": 12, "batch_size": 32},
}

# The contract tests' 2-step variant: label 8 images at 32 px with gray and ccc (its shipped
# weights), one global batch of 4 per epoch (5 training images before SMOTE; a batch of 1
# would break BatchNorm).
TEST_OVERRIDES: dict[str, Any] = {"pool": "gray,ccc", "label_size": 32, "label_limit": 8, "input_size": 32,
                                  "batch_size": 4}


def _build(device: Any = "cpu", checkpoint: Path | str | None = None, registries: Any = None, **_: Any) -> Any:
    """``checkpoint``: resolved and verified by the core factory; members come from ``registries``."""
    import torch

    from colorbench_router.colorizer import RouterColorizer, load_router

    device = torch.device(device)
    from colorbench.models.checkpoints import checkpoint_file

    net, state = load_router(checkpoint, device)
    return RouterColorizer(net, state, device, registries=registries,
                           identity=str(checkpoint_file(checkpoint).resolve()))


def _train(ctx: Any) -> None:
    from colorbench_router.train import train

    train(ctx)


@hookimpl
def register_colorizers(register: Any) -> None:
    register(ColorizerSpec(
        name="router",
        factory=_build,
        description="best-colorizer router: MobileNetV2 picks one pool member per image, only it runs (Gomez Moreno et al. 2024)",
        needs_weights=True,
        weights=WEIGHTS,
        pretrained=(IMAGENET,),
        train=_train,
        configs=CONFIGS,
        default_config="paper",
        test_config="tiny",
        test_overrides=TEST_OVERRIDES,
        extra_columns=("member",),
        provides_info=True,
        composite=True,
    ))
