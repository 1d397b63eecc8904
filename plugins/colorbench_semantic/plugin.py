"""Registers the ``semantic`` colorizer (seed 004: GridNet segmentation + two-stream U-Net
with instance-normalized gray features).

torch is imported only inside the factory and the training function, so ``colorbench
list`` stays fast. Widths, class count and the label source are training settings stored
in the checkpoint; ``run`` rebuilds whatever the checkpoint holds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from colorbench import ColorizerSpec, Option, Weights, hookimpl

HERE = Path(__file__).resolve().parent
PHOTOS_FILE = "semantic_tiny_imagenet_sample_pseudo.pt"
SHAPES_FILE = "semantic_tiny_shapes.pt"
WEIGHTS = Weights(  # (b): real photos, pseudo-label maps; the default for `run`
    name="semantic.tiny_imagenet_sample_pseudo",
    file=PHOTOS_FILE,
    sha256="5a7f6445c9fca7e4e1fd90242a79edcc24a97db0bd88ff28832743ed67024449",
    licence="MIT (weights); trained on ImageNet images: non-commercial research use",
    training=(
        "colorbench train semantic --dataset ../shared/data/imagenet-sample --split train --seed 0 --config tiny "
        "--steps 400 --set labels=pseudo --set instance_norm=true --set threads=1 "
        "--out runs/ablations/semantic-instance-norm-photos/instance-norm && python benchmarks/ablations/ship.py "
        "--only semantic.photos (the arm semantic-instance-norm-photos/instance-norm of "
        "benchmarks/ablations/claims.yaml: steps 1-200 GridNet on 8 pseudo-label classes, 201-400 colorizer; "
        "train split, 767 images; 11 min 15 s on 2 CPU cores shared with other jobs; see docs/models/semantic.md)"
    ),
    path=HERE / PHOTOS_FILE,
)
SHAPES_WEIGHTS = Weights(  # (a): the synthetic shapes set with its exact maps (learning demo)
    name="semantic.tiny_shapes",
    file=SHAPES_FILE,
    sha256="552a9482e62458aeebd26ddece3770ed1aa0b7e41fc65d1f7fa0da9094cafd48",
    licence="MIT (weights); synthetic training data",
    training=(
        "colorbench train semantic --dataset shapes --split train --seed 0 --config tiny --steps 400 "
        "--set instance_norm=true --set threads=1 --out runs/ablations/semantic-instance-norm-shapes/instance-norm "
        "&& python benchmarks/ablations/ship.py --only semantic.shapes (the arm "
        "semantic-instance-norm-shapes/instance-norm of benchmarks/ablations/claims.yaml: steps 1-200 GridNet on "
        "the exact maps, 201-400 colorizer on the exact maps; shapes train split, 256 images; 11 min 3 s on 2 CPU "
        "cores shared with other jobs; see docs/models/semantic.md)"
    ),
    path=HERE / SHAPES_FILE,
)

_COMMON: dict[str, Any] = {
    "stage": "both",  # segmenter | colorizer | both
    "labels": "dataset",  # dataset (the dataset's semantic maps) | pseudo (from the gray image)
    "n_classes": None,  # None: from the dataset's class list (or pseudo_classes)
    "pseudo_classes": 8,
    "pseudo_area": 64,  # pixels per SLIC superpixel
    "pseudo_fit_images": 256,
    "instance_norm": True,  # false: the paper's ablation (no IN on the gray features)
    "skip_merge": "sum",  # Fig. 6: skips summed onto the up-sampled features ("concat": the earlier reading)
    "huber_delta": 1.0,
    "lr": 1e-4,
    "beta1": 0.9,
    "beta2": 0.999,
    "batch_size": 16,
    "vflip": True,
    "seg_steps": None,  # stage=both with --steps: segmenter steps (None: seg_share of --steps)
    "seg_share": 0.5,
    "steps": None,
    # the training loop's settings (colorbench.training.LoopSettings); batch_size is the global batch
    "threads": 0,  # torch intra-op threads (0: torch's default)
    "precision": "fp32",  # fp32 | bf16 | fp16 (fp16 with a GradScaler)
    "accumulate": 1,  # micro-batches per optimizer step
    "sync_bn": False,  # GridNet's BatchNorm synchronized over processes (torchrun on CUDA)
    "prefetch": 2,  # batches prefetched per DataLoader worker
    "val_every": 0,  # validate every N steps (0: at the end of each stage)
    "stop_at": 0,  # stop after this global step with a checkpoint (0: run to the end)
    "dist_timeout": 1800.0,  # seconds any collective may wait under torchrun
}
CONFIGS: dict[str, dict[str, Any]] = {
    # Seed 004 at full scale: scale 360, random crop 352, full widths, 1000 epochs per network.
    "paper": {**_COMMON, "size": 352, "scale": 360, "width": 1.0, "seg_width": 1.0, "seg_epochs": 1000,
              "epochs": 1000, "workers": 4, "log_every": 20, "save_every": 1000, "val_images": 64},
    # CPU scale: 48 px crops of 54 px images, widths / 4, lr 5e-4 (few steps).
    "tiny": {**_COMMON, "lr": 5e-4, "size": 48, "scale": 54, "width": 0.25, "seg_width": 0.25, "seg_epochs": 10,
             "epochs": 10, "workers": 1, "log_every": 10, "save_every": 200, "val_images": 32},
}

# The contract tests' 2-step variant (1 GridNet step, 1 colorizer step): 32 px crops, batch 4.
TEST_OVERRIDES: dict[str, Any] = {"size": 32, "scale": 36, "width": 0.125, "batch_size": 4, "workers": 0,
                                  "log_every": 1, "val_images": 0}


def _build(device: Any = "cpu", checkpoint: Path | str | None = None, semantic_maps: str = "",
           maps: str = "predicted", inference_size: int = -1, chroma_gain: float = 1.0, exact_maps: str = "",
           registries: Any = None, **_: Any) -> Any:
    """``checkpoint``: resolved and verified by the core factory (the ``weights`` option picks
    the shipped file: the spec's weight_tags); ``registries``: for ``exact_maps``' dataset."""
    import torch

    from colorbench_semantic.colorizer import SemanticColorizer, load_networks

    device = torch.device(device)
    nets = load_networks(checkpoint, device)
    given = None
    if exact_maps:
        from colorbench_semantic.exact_maps import dataset_maps

        given = dataset_maps(registries, exact_maps)
    size = int(nets["config"].get("size", 0)) if inference_size < 0 else inference_size
    return SemanticColorizer(nets["segmenter"], nets["colorizer"], nets["config"], device, nets["classes"],
                             labeler=nets["labeler"], semantic_maps=semantic_maps or None, maps=maps, size=size,
                             chroma_gain=chroma_gain, exact_maps=given)


def _train(ctx: Any) -> None:
    from colorbench_semantic.train import train

    train(ctx)


@hookimpl
def register_colorizers(register: Any) -> None:
    register(ColorizerSpec(
        name="semantic",
        factory=_build,
        description="semantic-driven: GridNet segmentation, then a two-stream U-Net with IN on gray features (Ho et al. 2021)",
        needs_weights=True,
        weights=WEIGHTS,
        options=(Option("semantic_maps", str, "",
                        "directory of user-supplied (edited) maps, DIR/<image id>.png; images without "
                        "a file use the predicted map"),
                 Option("maps", str, "predicted", "predicted (GridNet) or pseudo (the pseudo-label recipe "
                        "itself; pseudo-label checkpoints only)", choices=("predicted", "pseudo")),
                 Option("weights", str, "photos", "shipped weights without --checkpoint: photos (pseudo-label "
                        "maps, imagenet-sample) or shapes (exact maps, synthetic shapes)",
                        choices=("photos", "shapes")),
                 Option("exact_maps", str, "", "DATASET[:SPLIT[:KEY=VALUE...]]: that dataset's own maps "
                        "replace GridNet's, matched by image id (e.g. shapes:test; the exact-map evaluation)"),
                 Option("chroma_gain", float, 1.0, "multiply the predicted a*b* by this factor (1: the "
                        "paper's output; >1 counters the Huber regression's desaturation, see the model card)"),
                 Option("inference_size", int, -1,
                        "predict at SIZE x SIZE, upsample a*b* to the input (-1: the checkpoint's "
                        "training size; 0: the input's own size)")),
        train=_train,
        configs=CONFIGS,
        default_config="paper",
        test_config="tiny",
        test_overrides=TEST_OVERRIDES,
        extra_columns=("semantic_map",),
        provides_info=True,
        saves_maps=True,
        composite=True,  # exact_maps builds a dataset plugin through the registries
        weight_tags={"photos": WEIGHTS, "shapes": SHAPES_WEIGHTS},
    ))
