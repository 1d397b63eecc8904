"""Export the ablation arms named in claims.yaml's ``ship:`` section as the shipped weights.

    python benchmarks/ablations/ship.py [--claims benchmarks/ablations/claims.yaml] [--runs runs/ablations]
        [--only ccc,gan,router] [--dry-run]

Each entry ``MODEL[.TAG]: "@CLAIM/ARM"`` exports ``runs/ablations/CLAIM/ARM/checkpoint.pt``
with the model plugin's own export (optimizer, scheduler and RNG states dropped; float16
like the earlier shipped files, except ccc, shipped in float32 as before) over the file
its declared weights name (``TAG`` picks a ``weights`` tag, e.g. ``semantic.shapes``). A
router's members recorded as ablation arms that are shipped too are rewritten to the
shipped weights (checkpoint None, the new file's sha256), so the shipped router uses the
shipped members. Prints one line per file: model, file, sha256, step; the sha256 then goes
into the plugin's ``Weights`` entry (a changed file fails its hash check until it does).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ablation_claims import REF, load

from colorbench.errors import ColorbenchError
from colorbench.models.checkpoints import load_checkpoint, save_checkpoint, sha256
from colorbench.plugin import manager

EXPORTS = {  # model -> (module, function, float16)
    "ccc": ("colorbench_ccc.model", "export", False),
    "gan": ("colorbench_gan.colorizer", "export_generator", True),
    "profile": ("colorbench_profile.colorizer", "export", True),
    "semantic": ("colorbench_semantic.colorizer", "export", True),
    "router": ("colorbench_router.colorizer", "export", True),
}


def arm_dir(ref: str, runs: Path) -> Path:
    """``@CLAIM/ARM`` → its training directory."""
    match = REF.fullmatch(ref)
    if match is None:
        raise ColorbenchError(f"ship: {ref!r} is not @CLAIM/ARM (see benchmarks/ablations/claims.yaml)")
    return runs / match.group(1) / match.group(2)


def target(regs: Any, key: str) -> tuple[str, Path]:
    """``MODEL[.TAG]`` → (model, the shipped file its declared weights name)."""
    model, _, tag = key.partition(".")
    spec = regs.colorizers.get(model)
    weights = spec.declared_weights({"weights": tag} if tag else None)
    if weights is None or weights.path is None:
        raise ColorbenchError(f"ship: colorizer {model!r} declares no shipped weights{' tagged ' + tag if tag else ''}")
    return model, weights.path


def rewrite_members(path: Path, shipped: dict[str, tuple[Path, str]]) -> None:
    """Point a router's members that are shipped arms at the shipped weights."""
    state = load_checkpoint(path)
    for name, info in (state.get("members") or {}).items():
        recorded = Path(info.get("checkpoint") or "")
        recorded = recorded.parent if recorded.name == "checkpoint.pt" else recorded
        if info.get("checkpoint") and name in shipped and recorded.resolve() == shipped[name][0].resolve():
            info.update(checkpoint=None, sha256=shipped[name][1])
    save_checkpoint(state, path)


def main(argv: list[str] | None = None) -> None:
    """Export every ``ship:`` entry (see the module docstring)."""
    import importlib

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--claims", default="benchmarks/ablations/claims.yaml")
    p.add_argument("--runs", default="runs/ablations")
    p.add_argument("--only", default="", help="comma-separated ship: keys (default: all; a router needs its members with it)")
    p.add_argument("--dry-run", action="store_true", help="print what would be exported, write nothing")
    args = p.parse_args(argv)
    ship = load(Path(args.claims)).ship  # checked: every entry names an arm of the file
    only = [k for k in args.only.split(",") if k]
    unknown = sorted(set(only) - set(ship))
    if unknown:
        raise ColorbenchError(f"--only {','.join(unknown)}: not in ship: (choose from {', '.join(ship)})")
    ship = {k: v for k, v in ship.items() if not only or k in only}
    regs = manager.load()
    shipped: dict[str, tuple[Path, str]] = {}  # model -> (arm dir, new sha256)
    for key in sorted(ship, key=lambda k: k.startswith("router")):  # routers last: their members first
        model, out = target(regs, key)
        src = arm_dir(str(ship[key]), Path(args.runs))
        if not (src / "checkpoint.pt").is_file():
            raise ColorbenchError(f"ship {key}: {src}/checkpoint.pt not found; train the arm first "
                                  "(benchmarks/ablations/ablate.py)")
        if args.dry_run:
            print(f"{key}: {src}/checkpoint.pt -> {out}")
            continue
        module, function, half = EXPORTS[model]
        getattr(importlib.import_module(module), function)(src / "checkpoint.pt", out, half=half)
        if model == "router":
            rewrite_members(out, shipped)
        digest = sha256(out)
        shipped.setdefault(model, (src, digest))
        print(f"{key}\t{out.name}\t{digest}\tstep {load_checkpoint(out)['step']}")


if __name__ == "__main__":
    try:
        main()
    except ColorbenchError as exc:
        sys.exit(f"error: {exc}")
