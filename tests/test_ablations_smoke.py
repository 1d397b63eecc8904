"""benchmarks/ablations/ablate.py end to end on the smoke claims file: two ccc arms trained for
2 steps on shapes, scored on 4 test shapes with gray and two derived arms, page rendered."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ABLATIONS = ROOT / "benchmarks" / "ablations"


@pytest.mark.slow
def test_smoke_claims_train_score_and_render(tmp_path):
    cmd = [sys.executable, str(ABLATIONS / "ablate.py"), "--claims", str(ABLATIONS / "smoke.yaml"),
           "--runs", str(tmp_path / "runs"), "--records", str(tmp_path / "records"),
           "--results", str(tmp_path / "results"), "--page", str(tmp_path / "page.md")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "plugins"),
                                                        os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "smoke-weighted-loss/plain: trained (2 steps" in done.stdout
    with open(tmp_path / "results" / "smoke-weighted-loss.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["arm"] for r in rows] == [a for a in ("weighted", "plain", "gray", "random", "oracle") for _ in range(4)]
    gray_cf = [float(r["colorfulness"]) for r in rows if r["arm"] == "gray"]
    assert max(gray_cf) < 1.0  # the gray baseline has no colour
    by_arm = {(r["arm"], r["image_id"]): float(r["cpsnr"]) for r in rows}
    for image in {r["image_id"] for r in rows}:  # the oracle's CPSNR is the better ccc arm's
        assert by_arm[("oracle", image)] == max(by_arm[("weighted", image)], by_arm[("plain", image)])
    rec = json.loads((tmp_path / "records" / "smoke-weighted-loss" / "plain.json").read_text())
    assert rec["train"]["steps"] == 2 and "--set loss=ce" in rec["train"]["command"]
    page = (tmp_path / "page.md").read_text()
    assert "## smoke-weighted-loss" in page and "**Verdict: " in page and "| gray | " in page
