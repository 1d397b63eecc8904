"""benchmarks/ablations/ship.py: ship: keys map to the plugins' declared files, @claim/arm to
training directories, and a shipped router's members are pointed at the shipped files."""

from __future__ import annotations

from pathlib import Path

import pytest
import ship
import torch
from ablation_fixtures import claims_header

from colorbench.errors import ColorbenchError
from colorbench.models.checkpoints import load_checkpoint, save_checkpoint
from colorbench.plugin import manager


def test_targets_are_the_declared_shipped_files() -> None:
    regs = manager.load()
    assert ship.target(regs, "semantic.shapes")[1].name == "semantic_tiny_shapes.pt"
    assert ship.target(regs, "semantic")[1].name == "semantic_tiny_imagenet_sample_pseudo.pt"
    assert ship.target(regs, "ccc") == ("ccc", regs.colorizers.get("ccc").weights.path)
    with pytest.raises(ColorbenchError, match="declares no shipped weights"):
        ship.target(regs, "gray")


def test_arm_references() -> None:
    assert ship.arm_dir("@c/a", Path("runs/ablations")) == Path("runs/ablations/c/a")
    with pytest.raises(ColorbenchError, match="not @CLAIM/ARM"):
        ship.arm_dir("c/a", Path("runs"))


def test_router_members_that_are_shipped_arms_point_at_the_shipped_files(tmp_path: Path) -> None:
    arm = tmp_path / "runs" / "ccc-claim" / "weighted"
    members = {"ccc": {"checkpoint": str(arm / "checkpoint.pt"), "sha256": "old", "options": {}},
               "gan": {"checkpoint": str(tmp_path / "elsewhere"), "sha256": "g", "options": {}}}
    path = save_checkpoint({"members": members, "classifier": {"w": torch.zeros(1)}}, tmp_path / "router.pt")
    ship.rewrite_members(path, {"ccc": (arm, "new"), "gan": (tmp_path / "other-arm", "x")})
    out = load_checkpoint(path)["members"]
    assert out["ccc"] == {"checkpoint": None, "sha256": "new", "options": {}}
    assert out["gan"]["checkpoint"] == str(tmp_path / "elsewhere") and out["gan"]["sha256"] == "g"


def test_only_names_unknown_keys(tmp_path: Path) -> None:
    claims = tmp_path / "claims.yaml"
    claims.write_text(claims_header(0) + "  c:\n    paper: P\n    claim: C\n    metrics: [cpsnr]\n"
                      "    mechanism: a\n    arms:\n      a: {model: ccc, train: [--steps, '1']}\n"
                      "      b: {model: gray}\n"
                      'ship:\n  ccc: "@c/a"\n')
    with pytest.raises(ColorbenchError, match="--only gan: not in ship:"):
        ship.main(["--claims", str(claims), "--only", "gan", "--dry-run"])
    with pytest.raises(ColorbenchError, match="train the arm first"):
        ship.main(["--claims", str(claims), "--runs", str(tmp_path), "--dry-run"])
