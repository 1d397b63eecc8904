"""semantic training: the colorizer learns from the map (true map beats a blank map and gray
on shapes), stop/resume is bit-identical inside either stage (pseudo-labels read back, not
refitted), 2 torchrun processes share rank 0's labeler and end identical, datasets without
maps are a clear error, map override via files."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from colorbench_datasets.shapes import Shapes
from colorbench_semantic.colorizer import SemanticColorizer, load_networks, save_map
from colorbench_semantic.data import SemanticPairs
from colorbench_semantic.model import normalize_ab, normalize_L, normalize_labels
from colorbench_semantic.plugin import CONFIGS
from colorbench_semantic.pseudo import PseudoLabeler
from colorbench_semantic.train import train

from colorbench.errors import ColorbenchError
from colorbench.models.checkpoints import load_checkpoint
from colorbench.training import TrainContext

SMALL = {"size": 32, "scale": 36, "width": 0.125, "seg_width": 0.25, "workers": 0, "val_images": 0,
         "log_every": 5, "save_every": 1000, "threads": 1}


class Gray:
    """A dataset's images without their maps (pseudo-labels must not need them)."""

    def __init__(self, data: Any):
        self.data, self.ids = data, data.ids

    def load(self, i: int) -> Any:
        sample = self.data.load(i)
        sample.semantic = None
        return sample


def _train(out: Path, dataset: Any, resume: bool = False, **over: Any) -> dict[str, Any]:
    cfg = {**CONFIGS["tiny"], **SMALL, **over}
    train(TrainContext(dataset=dataset, config=cfg, out_dir=out, device=torch.device("cpu"), resume=resume))
    return load_checkpoint(out / "checkpoint.pt")


def test_colorizer_uses_the_true_map_and_beats_gray(tmp_path: Path) -> None:
    """Trained on (gray, true map): on the objects (map > 0), given the true map it beats the
    same network given a blank map, and beats gray (a*=b*=0), on the images it trained on."""
    data = Shapes("train", size=32, n_images=16)
    state = _train(tmp_path, data, stage="colorizer", steps=80, lr=3e-3, batch_size=8, width=0.25, vflip=False)
    col = load_networks(tmp_path / "checkpoint.pt")["colorizer"].eval()
    pairs = SemanticPairs(data, 32, 36, train=False)
    batch = [pairs[i] for i in range(len(data))]
    L = normalize_L(torch.stack([b["L"] for b in batch]))
    ab = normalize_ab(torch.stack([b["ab"] for b in batch]))
    sem = torch.stack([b["semantic"] for b in batch])
    n = int(state["config"]["n_classes"])
    assert n == 5 and state["classes"][1] == "disc"
    objects = (sem > 0)[:, None].expand_as(ab)
    with torch.no_grad():
        true_err = float((col(L, normalize_labels(sem, n)) - ab).abs()[objects].mean())
        blank_err = float((col(L, normalize_labels(torch.zeros_like(sem), n)) - ab).abs()[objects].mean())
    gray_err = float(ab.abs()[objects].mean())
    assert true_err < 0.75 * blank_err, (true_err, blank_err)
    assert true_err < 0.7 * gray_err, (true_err, gray_err)


def _rows(out: Path) -> list[dict[str, str]]:
    with open(out / "train_log.csv", newline="") as f:
        return list(csv.DictReader(f))


def _assert_same_networks(a: dict[str, Any], b: dict[str, Any]) -> None:
    for key in ("segmenter", "colorizer"):
        assert a[key].keys() == b[key].keys()
        for k, v in a[key].items():
            assert torch.equal(v, b[key][k]), (key, k)


@pytest.mark.parametrize("stop", [2, 5])  # inside the segmenter stage, inside the colorizer stage
def test_stop_and_resume_is_bit_identical(tmp_path: Path, stop: int) -> None:
    data = Shapes("train", size=32, n_images=8)
    run = {"steps": 6, "seg_steps": 3, "batch_size": 4, "log_every": 1}
    full = _train(tmp_path / "full", data, **run)
    stopped = _train(tmp_path / "part", data, stop_at=stop, **run)
    assert stopped["step"] == stop and stopped["stage"] == ("segmenter" if stop <= 3 else "colorizer")
    part = _train(tmp_path / "part", data, resume=True, **run)
    assert part["step"] == full["step"] == 6 and part["boundary"] == 3
    _assert_same_networks(full, part)
    a, b = _rows(tmp_path / "full"), _rows(tmp_path / "part")
    assert [(r["step"], r["stage"]) for r in b] == [(str(s), "segmenter" if s <= 3 else "colorizer") for s in range(1, 7)]
    assert [(r["loss_seg"], r["loss_color"], r["epoch"]) for r in a] == [(r["loss_seg"], r["loss_color"], r["epoch"]) for r in b]


def test_more_steps_on_resume_continue_the_colorizer(tmp_path: Path) -> None:
    """--resume with a longer --steps keeps the boundary of the first run (3), the result is
    the longer run's."""
    data = Shapes("train", size=32, n_images=16)
    full = _train(tmp_path / "full", data, steps=6, seg_steps=3, batch_size=4)
    _train(tmp_path / "part", data, steps=4, seg_steps=3, batch_size=4)
    part = _train(tmp_path / "part", data, resume=True, steps=6, seg_steps=2, batch_size=4)
    assert part["step"] == 6 and part["boundary"] == 3
    _assert_same_networks(full, part)
    # rows of the first run up to its checkpoint (steps 3, 4), then the resumed run's (5, 6)
    assert [(r["step"], r["stage"]) for r in _rows(tmp_path / "part")] == [
        ("3", "segmenter"), ("4", "colorizer"), ("5", "colorizer"), ("6", "colorizer")]


def test_stage_colorizer_after_a_segmenter_run(tmp_path: Path) -> None:
    """stage=segmenter then --resume with stage=colorizer: the colorizer's steps follow the
    segmenter's (3, 4 after 1, 2) and the segmenter is left as it was."""
    data = Shapes("train", size=32, n_images=16)
    seg_only = _train(tmp_path, data, stage="segmenter", steps=2, batch_size=4, log_every=1)
    assert seg_only["step"] == 2 and seg_only["boundary"] == 2
    both = _train(tmp_path, data, resume=True, stage="colorizer", steps=2, batch_size=4, log_every=1)
    assert both["step"] == 4 and both["boundary"] == 2
    for k, v in seg_only["segmenter"].items():
        assert torch.equal(v, both["segmenter"][k]), k
    assert any(not torch.equal(v, both["colorizer"][k]) for k, v in seg_only["colorizer"].items())
    assert [(r["step"], r["stage"]) for r in _rows(tmp_path)] == [
        ("1", "segmenter"), ("2", "segmenter"), ("3", "colorizer"), ("4", "colorizer")]
    again = _train(tmp_path, data, resume=True, stage="colorizer", steps=3, batch_size=4, log_every=1)
    assert again["step"] == 5 and again["boundary"] == 2  # 3 colorizer steps in all


def test_segmenter_loss_falls(tmp_path: Path) -> None:
    data = Shapes("train", size=32, n_images=16)
    _train(tmp_path, data, stage="segmenter", steps=40, lr=3e-3, batch_size=8, log_every=10)
    losses = [float(r["loss_seg"]) for r in _rows(tmp_path)]
    assert losses[-1] < 0.8 * losses[0], losses


def test_dataset_without_maps_is_a_clear_error(tmp_path: Path) -> None:
    class NoMaps:
        ids = ("a", "b")

        def load(self, i: int) -> Any:
            from colorbench.plugin.specs import Sample

            return Sample(id=self.ids[i], image=np.zeros((8, 8, 3), np.uint8))

    with pytest.raises(ColorbenchError, match=r"no semantic maps.*labels=pseudo"):
        _train(tmp_path, NoMaps(), steps=1)
    with pytest.raises(ColorbenchError, match="labels=maps: choose dataset or pseudo"):
        _train(tmp_path / "l", NoMaps(), steps=1, labels="maps")


def test_pseudo_labels_train_and_are_stored(tmp_path: Path) -> None:
    state = _train(tmp_path, Gray(Shapes("train", size=32, n_images=8)), labels="pseudo", pseudo_classes=3, pseudo_area=32, steps=2,
                   seg_steps=1, batch_size=4)
    assert len(state["pseudo"]["centres"]) == 3 and state["config"]["n_classes"] == 3
    nets = load_networks(tmp_path / "checkpoint.pt")
    c = SemanticColorizer(nets["segmenter"], nets["colorizer"], nets["config"], torch.device("cpu"),
                          nets["classes"], labeler=nets["labeler"], maps="pseudo", size=32)
    ab, info = c.colorize_with_info(torch.rand(1, 1, 40, 24) * 100, ["x"])
    assert ab.shape == (1, 2, 40, 24) and info == {"semantic_map": ["pseudo"]}


PSEUDO = {"labels": "pseudo", "pseudo_classes": 3, "pseudo_area": 32, "pseudo_fit_images": 4, "steps": 4,
          "seg_steps": 2, "batch_size": 4, "log_every": 1}


def _count_fits(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    fits: list[int] = []
    fit = PseudoLabeler.fit.__func__  # type: ignore[attr-defined]

    def counting(cls: type, *args: Any, **kwargs: Any) -> PseudoLabeler:
        fits.append(1)
        return fit(cls, *args, **kwargs)

    monkeypatch.setattr(PseudoLabeler, "fit", classmethod(counting))
    return fits


def test_pseudo_labeler_is_restored_on_resume_not_refitted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fits = _count_fits(monkeypatch)
    data = Gray(Shapes("train", size=32, n_images=8))
    full = _train(tmp_path / "full", data, **PSEUDO)
    assert len(fits) == 1
    _train(tmp_path / "part", data, stop_at=3, **PSEUDO)
    part = _train(tmp_path / "part", data, resume=True, **PSEUDO)
    assert len(fits) == 2  # the resumed run read the centres back
    assert part["pseudo"] == full["pseudo"] and part["classes"] == ["pseudo 0", "pseudo 1", "pseudo 2"]
    _assert_same_networks(full, part)


DDP_SCRIPT = """
import os, sys, torch
from pathlib import Path
from colorbench_datasets.shapes import Shapes
from colorbench_semantic.plugin import CONFIGS
from colorbench_semantic.pseudo import PseudoLabeler
from colorbench_semantic.pseudo import PseudoLabeler
from colorbench_semantic.train import train
from colorbench.reporting import Reporter
from colorbench.training import TrainContext
sys.path.insert(0, sys.argv[2])
from test_semantic_train import PSEUDO, SMALL
fits, fit = [], PseudoLabeler.fit.__func__
PseudoLabeler.fit = classmethod(lambda cls, *a, **k: fits.append(1) or fit(cls, *a, **k))
out = Path(sys.argv[1])
cfg = {**CONFIGS["tiny"], **SMALL, **PSEUDO, "val_images": 3}
t = train(TrainContext(dataset=Shapes("train", size=32, n_images=8), val_dataset=Shapes("val", size=32, n_images=4),
                       config=cfg, out_dir=out, device=torch.device("cpu"), reporter=Reporter(quiet=True)))
torch.save({"nets": {m: n.state_dict() for m, n in t.models.items()}, "pseudo": t.extra["pseudo"],
            "classes": t.extra["classes"], "fits": len(fits)}, out / f"rank{os.environ['RANK']}.pt")
"""


def test_two_processes_under_torchrun_share_the_labeler_and_end_identical(tmp_path: Path) -> None:
    """gloo, 2 processes x 2 images: rank 0 alone fits the k-means, both ranks use its
    centres and end with identical networks (the checkpoint's)."""
    import os
    import subprocess
    import sys

    script = tmp_path / "ddp_semantic.py"
    script.write_text(DDP_SCRIPT)
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           str(script), str(tmp_path), str(Path(__file__).parent)],
                          capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert (r0["fits"], r1["fits"]) == (1, 0)
    assert r0["pseudo"] == r1["pseudo"] and r0["classes"] == r1["classes"]
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    assert state["world_size"] == 2 and state["pseudo"] == r0["pseudo"]
    for name in ("segmenter", "colorizer"):
        for k, v in r0["nets"][name].items():
            assert torch.equal(v, r1["nets"][name][k]) and torch.equal(v, state[name][k]), (name, k)
    rows = _rows(tmp_path)
    assert [r["step"] for r in rows] == ["1", "2", "3", "4"]
    # validation sharded over the ranks (2 + 1 images) = one process scoring all 3 with the
    # final networks (the segmenter is unchanged after its stage, step 2)
    nets = load_networks(tmp_path / "checkpoint.pt")
    val = SemanticPairs(Shapes("val", size=32, n_images=4), 32, 36, train=False, labeler=nets["labeler"])
    items = [val[i] for i in range(3)]
    x, sem = normalize_L(torch.stack([it["L"] for it in items])), torch.stack([it["semantic"] for it in items])
    ab = normalize_ab(torch.stack([it["ab"] for it in items]))
    with torch.no_grad():
        acc = float((nets["segmenter"].eval()(x).argmax(1) == sem).float().mean())
        l1 = float((nets["colorizer"].eval()(x, normalize_labels(sem, 3)) - ab).abs().mean()) * 110
    assert float(rows[1]["val_pixel_acc"]) == pytest.approx(acc, rel=1e-5) and rows[1]["val_l1_ab"] == ""
    assert float(rows[3]["val_l1_ab"]) == pytest.approx(l1, rel=1e-5) and rows[3]["val_pixel_acc"] == ""


def test_map_override_from_files(tmp_path: Path) -> None:
    data = Shapes("train", size=32, n_images=8)
    _train(tmp_path / "ck", data, steps=2, seg_steps=1, batch_size=4)
    nets = load_networks(tmp_path / "ck" / "checkpoint.pt")
    maps = tmp_path / "maps"
    save_map(np.full((48, 48), 3), maps / "a.png")  # any size: resized (nearest) to the model's
    args = (nets["segmenter"], nets["colorizer"], nets["config"], torch.device("cpu"), nets["classes"])
    auto, edited = SemanticColorizer(*args, size=32), SemanticColorizer(*args, semantic_maps=maps, size=32)
    L = torch.rand(2, 1, 32, 32) * 100
    with torch.no_grad():
        ab_auto, _ = auto.colorize_with_info(L, ["a", "b"])
        ab_edit, info = edited.colorize_with_info(L, ["a", "b"])
        direct = nets["colorizer"](normalize_L(L[:1]), normalize_labels(torch.full((1, 32, 32), 3), 5)) * 110
    assert info == {"semantic_map": ["file", "predicted"]}
    assert torch.allclose(ab_edit[:1], direct, atol=1e-4)
    assert torch.equal(ab_edit[1:], ab_auto[1:]) and not torch.allclose(ab_edit[:1], ab_auto[:1])
    assert (edited.last_maps["a"] == 3).all()
    with pytest.raises(ColorbenchError, match="not a directory"):
        SemanticColorizer(*args, semantic_maps=tmp_path / "missing")
