"""What a run records about itself before its first pair: the run.json manifest of a
Runner (configuration, resolved selection, environment, capabilities), and the seeding."""

from __future__ import annotations

import random
from dataclasses import asdict
from typing import Any

import numpy as np
import torch

from colorbench.device import device_name
from colorbench.plugin.specs import ColorizerSpec
from colorbench.results.manifest import RunManifest
from colorbench.results.provenance import environment, now


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (numpy takes the seed modulo 2**32)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def capabilities(spec: ColorizerSpec) -> dict[str, Any]:
    """What run.json records of a colorizer's declared capabilities (leaderboards read it)."""
    return {"plugin": spec.plugin, "variant_of": spec.variant_of, "provides_info": spec.provides_info,
            "composite": spec.composite, "trainable": spec.trainable}


def new_manifest(runner: Any, name: str, previous: RunManifest | None) -> RunManifest:
    """The manifest a Runner starts with: its pairs carried over from ``previous`` (resume)."""
    r = runner
    return RunManifest(
        kind="run", name=name, config=asdict(r.cfg),
        resolved={"models": [m.name for m in r.models], "datasets": [d.name for d in r.datasets],
                  "metrics": [m.name for m in r.metrics], "options": r.options,
                  "metric_options": r.metric_options},
        metrics=r.metric_set.metadata(), unavailable_metrics=r.unavailable,
        environment={**environment(), "world_size": r.shard.info.world_size},
        device=str(r.device), device_name=device_name(r.device), precision=r.precision,
        plugins={p.name: {"version": p.version, "error": p.error} for p in r.regs.plugins},
        colorizers={m.name: capabilities(m) for m in r.models},
        pairs=dict(previous.pairs) if previous else {}, errors=r.errors, started=now())
