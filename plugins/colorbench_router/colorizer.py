"""Inference: predict the best pool member per image, run only that member.

Members are built lazily, once each, the first time the classifier picks them, from the
registries (any installed colorizer, third-party ones included) with the options and
checkpoint the router was trained with (stored in its checkpoint; ``None`` = the member's
own default weights). A batch is grouped by chosen member; each group goes through its
member in one call.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import torch

from colorbench.errors import ColorbenchError
from colorbench.models.checkpoints import load_checkpoint, save_checkpoint
from colorbench_router.model import build_classifier, classifier_input


def load_router(checkpoint: str | Path, device: Any = "cpu") -> tuple[torch.nn.Module, dict[str, Any]]:
    state = load_checkpoint(checkpoint, map_location="cpu")
    if not isinstance(state, dict) or state.get("kind") != "router" or "classifier" not in state:
        raise ColorbenchError(f"checkpoint {checkpoint}: not a router checkpoint (no classifier/pool)")
    net = build_classifier(len(state["pool"]), dict(state["config"]))
    net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state["classifier"].items()})
    return net.to(device).eval(), state


class RouterColorizer:
    def __init__(self, net: torch.nn.Module, state: dict[str, Any], device: torch.device,
                 registries: Any = None, reporter: Any = None, identity: str | None = None):
        """``identity``: the router's checkpoint file; a member router whose checkpoint is
        one of its ancestors' (``chain``) is refused: a cycle would never end."""
        self.net, self.device = net.to(device).eval(), device
        self.chain: tuple[str, ...] = (identity,) if identity else ()
        self.pool: list[str] = list(state["pool"])
        self.members_info: dict[str, Any] = dict(state.get("members") or {})
        self.input_size = int(state["config"].get("input_size", 64))
        self._regs = registries
        self._members: dict[str, Any] = {}
        self._warn = reporter.warn if reporter is not None else (lambda m: print(f"warning: {m}", file=sys.stderr))

    # ---------------------------------------------------------------- members
    def member(self, name: str) -> Any:
        """The pool member ``name``, built once through the core factory (its checkpoint
        and options as recorded at training; its own verified default weights when none)."""
        if name not in self._members:
            from colorbench.models.factory import (
                build_options,
                create_colorizer,
                resolve_checkpoint,
            )

            if self._regs is None:
                raise ColorbenchError("router: members are built from the registries the factory passes "
                                      "(create it with colorbench.models.factory.create_colorizer)")
            spec = self._regs.colorizers.get(name)
            info = self.members_info.get(name, {})
            options = build_options(spec, dict(info.get("options") or {}))
            resolved = resolve_checkpoint(spec, info.get("checkpoint") or None, options)
            here = str(Path(resolved.path).resolve()) if resolved.path is not None else None
            if here is not None and here in self.chain:
                cycle = " -> ".join(Path(p).name for p in (*self.chain, here))
                raise ColorbenchError(f"router checkpoint {self.chain[0]}: member {name!r} is a router checkpoint "
                                      f"that names itself ({cycle}); retrain the router with another pool")
            if info.get("sha256") and resolved.sha256 != info["sha256"]:
                self._warn(f"router member {name!r}: weights {resolved.path} differ from those the router "
                           "was trained with (routing may be off)")
            member = create_colorizer(self._regs, name, resolved, self.device, options)
            if isinstance(member, RouterColorizer) and here is not None:
                member.chain = (*self.chain, here)
            self._members[name] = member
        return self._members[name]

    # --------------------------------------------------------------- predict
    @torch.no_grad()
    def choose(self, L: torch.Tensor) -> torch.Tensor:
        """Index of the predicted best member per image [B]."""
        x = classifier_input(L.to(self.device), self.input_size)
        return self.net(x).float().argmax(1)

    def colorize_with_info(self, L: torch.Tensor, ids: list[str] | None = None) -> tuple[torch.Tensor, dict[str, list[str]]]:
        choice = self.choose(L).cpu()
        ab = torch.empty((L.shape[0], 2, *L.shape[2:]), dtype=torch.float32, device=L.device)
        for k in sorted(set(choice.tolist())):
            rows = (choice == k).nonzero().flatten()
            model = self.member(self.pool[k])
            sub = L[rows.to(L.device)]
            if self._regs.colorizers.get(self.pool[k]).provides_info:
                out, _ = model.colorize_with_info(sub, [ids[i] for i in rows.tolist()] if ids else
                                                  [str(i) for i in rows.tolist()])
            else:
                out = model.colorize(sub)
            ab[rows.to(L.device)] = out.float().to(L.device)
        return ab, {"member": [self.pool[k] for k in choice.tolist()]}

    def colorize(self, L: torch.Tensor) -> torch.Tensor:
        return self.colorize_with_info(L)[0]


# training state that inference weights leave out (the loop's, and the broadcast training arrays)
TRAINING_ONLY = ("optimizer", "optimizers", "schedulers", "scaler", "rng", "labels")


def export(checkpoint: str | Path, out: str | Path, half: bool = False) -> Path:
    """Inference weights: classifier, pool, members, config, evaluation (no optimizer,
    RNG states or training arrays)."""
    state = load_checkpoint(checkpoint)
    for key in TRAINING_ONLY:
        state.pop(key, None)
    if half:
        state["classifier"] = {k: v.half() if v.is_floating_point() else v for k, v in state["classifier"].items()}
    return save_checkpoint(state, out)


if __name__ == "__main__":
    from colorbench.models.checkpoints import export_cli

    export_cli(export, "python -m colorbench_router.colorizer TRAIN_CHECKPOINT OUT.pt [--half]")
