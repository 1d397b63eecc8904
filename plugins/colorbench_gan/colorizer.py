"""Inference with the trained generator, checkpoint export, and the ImageNet encoder weights."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from colorbench.errors import ColorbenchError, WeightsUnavailableError
from colorbench.models.checkpoints import export_cli, load_checkpoint, save_checkpoint
from colorbench.plugin.specs import Dataset
from colorbench_gan.model import ResNet18Encoder, build_generator, normalize_ab, normalize_L, to_ab
from colorbench_gan.plugin import RESNET18

# Config keys that fix the generator's architecture (read from a checkpoint, never from the CLI).
ARCH_KEYS = ("generator", "decoder", "unet_downs", "ngf", "dropout", "resnet_width", "ndf", "d_layers")


class GanColorizer:
    """The generator alone. ``eval()`` mode: batch norm uses its running statistics and
    dropout is off, so a given L* always gives the same a*b* (pix2pix instead keeps dropout
    on at test time; ``dropout_at_inference=True`` does that, seeded by the run's seed).

    ``size``: L* is resized so its shorter side is ``size`` (the training resolution: the
    network sees objects at the scale it learned), a*b* are predicted there and upsampled
    bilinearly to the input size; 0 predicts at the input's own size.
    """

    def __init__(self, generator: nn.Module, device: torch.device, dropout_at_inference: bool = False,
                 size: int = 0):
        self.net = generator.to(device).eval()
        self.device, self.size = device, size
        self.multiple = int(getattr(generator, "multiple", 1))
        if dropout_at_inference:
            for m in self.net.modules():
                if isinstance(m, nn.Dropout):
                    m.train()

    def colorize(self, L: torch.Tensor) -> torch.Tensor:
        H, W = L.shape[-2:]
        if self.size and min(H, W) != self.size:
            scale = self.size / min(H, W)
            shape = (max(1, round(H * scale)), max(1, round(W * scale)))
            small = F.interpolate(L.float(), size=shape, mode="bilinear", antialias=True, align_corners=False)
            ab = self._predict(small)
            return F.interpolate(ab, size=(H, W), mode="bilinear", align_corners=False)
        return self._predict(L)

    def _predict(self, L: torch.Tensor) -> torch.Tensor:
        h, w = L.shape[-2:]
        k = self.multiple
        ph, pw = (-h) % k, (-w) % k  # pad to a multiple of the network's total stride
        x = normalize_L(L.float())
        if ph or pw:
            mode = "reflect" if ph < h and pw < w else "replicate"
            x = F.pad(x, (0, pw, 0, ph), mode=mode)
        if self.device.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
        out = self.net(x)[..., :h, :w]
        return to_ab(out.float())


def load_generator(checkpoint: str | Path, device: Any = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """The generator of a training checkpoint or of an exported weights file."""
    state = load_checkpoint(checkpoint, map_location="cpu")
    if not isinstance(state, dict) or "generator" not in state or "config" not in state:
        raise ColorbenchError(f"checkpoint {checkpoint}: not a gan checkpoint (no generator/config)")
    cfg = dict(state["config"])
    cfg.setdefault("decoder", "compact")  # checkpoints from before decoder=dynamic
    cfg.setdefault("unet_downs", 8)  # ... and from before the 7-block default
    net = build_generator(cfg)
    weights = {k: v.float() if v.is_floating_point() else v for k, v in state["generator"].items()}
    net.load_state_dict(weights)
    return net.to(device), cfg


def export_generator(checkpoint: str | Path, out: str | Path, half: bool = False) -> Path:
    """Inference weights: generator + architecture config + step (no D, no optimizers)."""
    state = load_checkpoint(checkpoint)
    gen = {k: (v.half() if half and v.is_floating_point() else v) for k, v in state["generator"].items()}
    cfg = {k: state["config"][k] for k in (*ARCH_KEYS, "size") if k in state["config"]}
    return save_checkpoint({"format": "colorbench-gan-generator/1", "config": cfg,
                            "step": state["step"], "generator": gen}, out)


@torch.no_grad()
def validation_l1(G: nn.Module, dataset: Dataset, size: int, n: int, device: torch.device,
                  info: Any = None) -> float:
    """Mean |Δa*b*| (CIE units) of G in eval mode on the first ``n`` images, centre-cropped;
    under torchrun (``info``: the trainer's DistInfo) each rank scores its share and the sums
    are all-reduced, so every rank returns the same value."""
    from colorbench import distributed
    from colorbench.training import ColorPairs

    pairs = ColorPairs(dataset, size, train=False)
    rank, world = (info.rank, info.world_size) if info is not None else (0, 1)
    was_training = G.training
    G.eval()
    sums = torch.zeros(2, dtype=torch.float64, device=device)
    for i in range(rank, min(n, len(pairs)), world):
        item = pairs[i]
        out = G(normalize_L(item["L"][None].to(device)))
        sums[0] += (out.float() - normalize_ab(item["ab"][None].to(device))).abs().mean().double()
        sums[1] += 1
    G.train(was_training)
    if info is not None:
        distributed.all_reduce_sum(sums, info)
    return float(sums[0] / sums[1].clamp(min=1)) * to_ab(torch.ones(())).item()


def load_imagenet_encoder(encoder: ResNet18Encoder) -> None:
    """torchvision's ImageNet ResNet18 weights (``RESNET18``: from $TORCH_HOME/hub/checkpoints,
    downloaded there when a network is available, sha256 checked, read with weights_only)
    into the 1-channel encoder: conv1's RGB filters are summed over colour (fastai's rule for
    n_in=1), avgpool/fc dropped."""
    if encoder.conv1.out_channels != 64:
        raise ColorbenchError("pretrained_encoder=true needs resnet_width=64 (the ImageNet ResNet18 layout)")
    try:
        path = RESNET18.ensure()
    except WeightsUnavailableError as exc:  # missing, or the hash differs (WeightsHashError)
        raise type(exc)(f"{exc}; or train with --set pretrained_encoder=false") from None
    state = {k: v for k, v in load_checkpoint(path).items() if not k.startswith("fc.")}
    state["conv1.weight"] = state["conv1.weight"].sum(dim=1, keepdim=True)
    encoder.load_state_dict(state)


def main(argv: list[str] | None = None) -> None:
    export_cli(export_generator, "python -m colorbench_gan.colorizer TRAIN_CHECKPOINT OUT.pt [--half]", argv)


if __name__ == "__main__":
    main()
