"""Registers the ``gan`` colorizer (seed 002: pix2pix cGAN, ResNet18 U-Net generator).

torch is imported only inside the factory and the training function, so ``colorbench
list`` stays fast. The architecture (``generator=unet|resnet18-unet`` and widths) is a
training setting stored in the checkpoint; ``run`` rebuilds whatever the checkpoint holds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from colorbench import ColorizerSpec, Option, Weights, hookimpl
from colorbench.models.weights import torchvision_weights

HERE = Path(__file__).resolve().parent
WEIGHTS_FILE = "gan_tiny_imagenet_sample.pt"
WEIGHTS = Weights(
    name="gan.tiny_imagenet_sample",
    file=WEIGHTS_FILE,
    sha256="75497b35226ebf174c02b2b16921db9520fd3c5d892f7d1858520467eb75bd05",
    licence="MIT (weights); trained on ImageNet images: non-commercial research use",
    training=(
        "colorbench train gan --dataset ../shared/data/imagenet-sample --split train --seed 0 --config tiny "
        "--steps 1000 --set phase=both --set pretrain_steps=500 --set threads=1 "
        "--out runs/ablations/gan-adversarial/l1-adversarial && python benchmarks/ablations/ship.py --only gan "
        "(the arm gan-adversarial/l1-adversarial of benchmarks/ablations/claims.yaml; train split, 767 images; "
        "12 min 12 s on 2 CPU cores shared with other jobs; generator only, float16; see docs/models/gan.md)"
    ),
    path=HERE / WEIGHTS_FILE,
)
# the ImageNet encoder a training with pretrained_encoder=true starts from (colorizer.py loads it)
RESNET18 = torchvision_weights("resnet18-f37072fd.pth", "ImageNet ResNet18 (torchvision)",
                               "torchvision ResNet18_Weights.IMAGENET1K_V1 (ImageNet-1k classification)")

_COMMON: dict[str, Any] = {
    "generator": "resnet18-unet",  # or "unet" (the paper's pix2pix baseline)
    "decoder": "dynamic",  # resnet18-unet: fastai's DynamicUnet (the paper's) | compact (the shipped tiny weights')
    "pretrained_encoder": False,  # ImageNet ResNet18 (RESNET18: colorbench weights fetch resnet18)
    "init_generator": None,  # a gan checkpoint whose generator starts training
    "phase": "both",  # pretrain | adversarial | both
    "pretrain_steps": None,  # None: from pretrain_epochs (or the share of --steps)
    "gan_mode": "bce",  # bce (cGAN log-loss, BCE-with-logits) | lsgan
    "lambda_l1": 100.0,
    "lr": 2e-4,
    "pretrain_lr": 2e-4,
    "beta1": 0.5,
    "beta2": 0.999,
    "dropout": True,  # unet only: dropout 0.5 in the inner decoder blocks
    "d_layers": 3,  # PatchGAN n_layers=3: 70x70 receptive field
    "steps": None,
    # the training loop's settings (docs/models/gan.md, "Training settings")
    "precision": "fp32",  # fp32 | bf16 | fp16 (fp16 with a GradScaler); --precision
    "accumulate": 1,  # micro-batches per optimizer step (batch_size stays the global batch)
    "prefetch": 2,  # batches each DataLoader worker loads ahead
    "sync_bn": False,  # SyncBatchNorm across torchrun processes (CUDA only)
    "threads": 0,  # torch intra-op threads (0: torch's default)
    "dist_timeout": 1800.0,  # seconds any torchrun collective may wait
    "stop_at": 0,  # end after this global step with a checkpoint (--resume continues); 0: run to the end
}
CONFIGS: dict[str, dict[str, Any]] = {
    # Seed 002 at full scale: 256x256, L1 pretraining 20 epochs, adversarial 50 epochs,
    # "a batch of 250" (global, split over torchrun ranks), the ImageNet ResNet18 encoder and
    # fastai's DynamicUnet decoder; the baseline (generator=unet) has seven blocks (§4).
    "paper": {**_COMMON, "size": 256, "batch_size": 250, "pretrain_epochs": 20, "epochs": 50,
              "pretrained_encoder": True, "resnet_width": 64, "unet_downs": 7, "ngf": 64, "ndf": 64, "workers": 4,
              "log_every": 20, "save_every": 500, "val_every": 500, "val_images": 256},
    # CPU scale: 64x64, widths / 4, random init, the compact decoder: the shipped weights.
    "tiny": {**_COMMON, "decoder": "compact", "size": 64, "batch_size": 16, "pretrain_epochs": 10, "epochs": 10,
             "resnet_width": 16, "unet_downs": 6, "ngf": 16, "ndf": 16, "workers": 1,
             "log_every": 10, "save_every": 200, "val_every": 200, "val_images": 32},
}

# The contract tests' 2-step variant: 32 px, batch 4 (8 images), narrow encoder and critic.
TEST_OVERRIDES: dict[str, Any] = {"size": 32, "batch_size": 4, "resnet_width": 8, "ndf": 8, "workers": 0,
                                  "log_every": 1, "val_images": 0}


def _build(device: Any = "cpu", checkpoint: Path | str | None = None,
           dropout_at_inference: bool = False, inference_size: int = -1, **_: Any) -> Any:
    """``checkpoint``: resolved and verified by the core factory."""
    import torch

    from colorbench_gan.colorizer import GanColorizer, load_generator

    device = torch.device(device)
    net, cfg = load_generator(checkpoint, device)
    size = int(cfg.get("size", 0)) if inference_size < 0 else inference_size
    return GanColorizer(net, device, dropout_at_inference=dropout_at_inference, size=size)


def _train(ctx: Any) -> None:
    from colorbench_gan.train import train

    train(ctx)


@hookimpl
def register_colorizers(register: Any) -> None:
    register(ColorizerSpec(
        name="gan",
        factory=_build,
        description="pix2pix cGAN, ResNet18 U-Net generator, L1 pretraining then cGAN+100·L1 (Pyngrope & Kumar 2022)",
        needs_weights=True,
        weights=WEIGHTS,
        pretrained=(RESNET18,),
        options=(Option("dropout_at_inference", bool, False,
                        "unet generator: keep dropout on at test time as pix2pix does"),
                 Option("inference_size", int, -1,
                        "predict a*b* with the shorter side at this size, upsample to the input "
                        "(-1: the checkpoint's training size; 0: the input's own size)")),
        train=_train,
        configs=CONFIGS,
        default_config="paper",
        test_config="tiny",
        test_overrides=TEST_OVERRIDES,
    ))
