"""Inference: predict each image's profile from L*, run that profile's colorizer (or the
``global`` one when the profile fell back); export of the inference weights.

    python -m colorbench_profile.colorizer TRAIN_CHECKPOINT OUT.pt [--half]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from colorbench.errors import ColorbenchError
from colorbench.models.checkpoints import export_cli, load_checkpoint, save_checkpoint
from colorbench_profile.model import (
    Predictor,
    UNet,
    build_predictor,
    build_unet,
    normalize_L,
    predictor_input,
    to_ab,
)
from colorbench_profile.profiles import Profiles

FORMAT = "colorbench-profile/2"  # training checkpoints of the one loop: models at the top level
LEGACY_FORMAT = "colorbench-profile/1"  # earlier training checkpoints: colorizers nested under "colorizers"
EXPORT_FORMAT = "colorbench-profile-weights/1"
ARCH_KEYS = ("unet_widths", "predictor_widths", "predictor_size", "predictor_hidden", "predictor_dropout",
             "size", "profiles", "descriptor", "dcd_colors", "hist_bins", "fit_size", "min_profile_images")


class ProfileColorizer:
    """Routes every image of a batch through the colorizer of its (predicted or forced)
    profile. Networks in eval mode, so a given L* always gives the same a*b*.

    ``size``: the colorizers predict at shorter side ``size`` (their training resolution)
    and a*b* are upsampled bilinearly to the input; 0 predicts at the input's own size."""

    def __init__(self, predictor: Predictor, colorizers: dict[str, UNet], profiles: Profiles,
                 device: torch.device, size: int = 0, profile: int = -1):
        if profile >= profiles.k:
            raise ColorbenchError(f"--set profile={profile}: this checkpoint has {profiles.k} profiles "
                                  f"(0..{profiles.k - 1}; -1 predicts)")
        self.device = torch.device(device)
        self.predictor = predictor.to(self.device).eval()
        self.colorizers = {k: v.to(self.device).eval() for k, v in colorizers.items()}
        self.profiles, self.size, self.forced = profiles, size, profile

    def predict_profiles(self, L: torch.Tensor) -> torch.Tensor:
        """Profile index [B] of each image (the forced one with ``profile=K``)."""
        if self.forced >= 0:
            return torch.full((L.shape[0],), self.forced, dtype=torch.long, device=L.device)
        logits = self.predictor(predictor_input(L, self.predictor.size))
        return logits.float().argmax(1)

    def colorize(self, L: torch.Tensor) -> torch.Tensor:
        return self.colorize_with_info(L, [""] * L.shape[0])[0]

    def colorize_with_info(self, L: torch.Tensor, ids: list[str]) -> tuple[torch.Tensor, dict[str, list[Any]]]:
        L = L.float()
        profiles = self.predict_profiles(L)
        ab = torch.zeros(L.shape[0], 2, *L.shape[2:], device=L.device)
        chosen = profiles.tolist()
        for model in dict.fromkeys(self.profiles.routes[p] for p in chosen):
            idx = torch.tensor([i for i, p in enumerate(chosen) if self.profiles.routes[p] == model], device=L.device)
            ab[idx] = self._run(self.colorizers[model], L[idx])
        return ab, {"profile": chosen}

    def _run(self, net: UNet, L: torch.Tensor) -> torch.Tensor:
        H, W = L.shape[-2:]
        if self.size and min(H, W) != self.size:
            scale = self.size / min(H, W)
            shape = (max(1, round(H * scale)), max(1, round(W * scale)))
            small = F.interpolate(L, size=shape, mode="bilinear", antialias=True, align_corners=False)
            return F.interpolate(self._predict(net, small), size=(H, W), mode="bilinear", align_corners=False)
        return self._predict(net, L)

    @staticmethod
    def _predict(net: UNet, L: torch.Tensor) -> torch.Tensor:
        h, w = L.shape[-2:]
        k = net.multiple
        ph, pw = (-h) % k, (-w) % k
        x = normalize_L(L)
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="reflect" if ph < h and pw < w else "replicate")
        return to_ab(net(x)[..., :h, :w].float())


def _float(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}


COLORIZER = "colorizer/"  # a colorizer's name in a training checkpoint: "colorizer/profile0", ...


def colorizer_states(state: dict[str, Any]) -> dict[str, dict[str, torch.Tensor]]:
    """Colorizer state dicts by model name, from a training checkpoint (top-level
    ``colorizer/<model>``) or an exported / earlier one (nested ``colorizers``)."""
    nested = dict(state.get("colorizers") or {})
    nested.update({k.removeprefix(COLORIZER): v for k, v in state.items() if k.startswith(COLORIZER)})
    return nested


def load_parts(checkpoint: str | Path) -> tuple[Predictor, dict[str, UNet], Profiles, dict[str, Any]]:
    """Predictor, colorizers, profiles and config of a training checkpoint or exported file."""
    state = load_checkpoint(checkpoint, map_location="cpu")
    if not isinstance(state, dict) or state.get("format") not in (FORMAT, LEGACY_FORMAT, EXPORT_FORMAT):
        raise ColorbenchError(f"checkpoint {checkpoint}: not a profile checkpoint")
    if "profiles" not in state or "predictor" not in state:
        raise ColorbenchError(f"checkpoint {checkpoint}: training stopped before the profile predictor existed; "
                              "resume it with 'colorbench train profile --resume'")
    cfg = dict(state["config"])
    profiles = Profiles.from_state(state["profiles"])
    states = colorizer_states(state)
    missing = [m for m in profiles.models if m not in states]
    if missing:
        raise ColorbenchError(f"checkpoint {checkpoint}: no trained colorizer for {', '.join(missing)} yet; "
                              "resume training with 'colorbench train profile --resume'")
    predictor = build_predictor(cfg, profiles.k)
    predictor.load_state_dict(_float(state["predictor"]))
    colorizers = {}
    for model in profiles.models:
        net = build_unet(cfg)
        net.load_state_dict(_float(states[model]))
        colorizers[model] = net
    return predictor, colorizers, profiles, cfg


def export(checkpoint: str | Path, out: str | Path, half: bool = False) -> Path:
    """Inference weights: predictor + colorizers + profiles (no optimizers, no assignment)."""
    state = load_checkpoint(checkpoint)

    def cast(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {k: (v.half() if half and v.is_floating_point() else v) for k, v in sd.items()}

    profiles = Profiles.from_state(state["profiles"])
    cfg = {k: state["config"][k] for k in ARCH_KEYS if k in state["config"]}
    return save_checkpoint({"format": EXPORT_FORMAT, "config": cfg, "step": state["step"],
                            "profiles": profiles.to_state(with_assignment=False),
                            "predictor": cast(state["predictor"]),
                            "colorizers": {k: cast(v) for k, v in colorizer_states(state).items()},
                            "training_data": state.get("training_data")}, out)


def param_count(nets: dict[str, nn.Module]) -> int:
    return sum(p.numel() for n in nets.values() for p in n.parameters())


def main(argv: list[str] | None = None) -> None:
    export_cli(export, "python -m colorbench_profile.colorizer TRAIN_CHECKPOINT OUT.pt [--half]", argv)


if __name__ == "__main__":
    main()
