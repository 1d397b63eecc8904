"""router against seed 001: the paper config's values, held-out labels (a member trained on the
labelling images is refused), failures kept in every row of the evaluation, exactly 10
frozen blocks, the recall summary."""

from __future__ import annotations

from pathlib import Path

import colorbench_router.plugin
import numpy as np
import pytest
import torch
from colorbench_router import data, model
from colorbench_router.evaluate import evaluate, markdown, summary
from colorbench_router.labels import best_member, run_pool
from colorbench_router.overlap import check_members, from_command
from router_helpers import ToyPlugin, ToyRoute
from torchvision.models.mobilenetv2 import InvertedResidual

from colorbench.errors import ColorbenchError
from colorbench.reporting import Reporter
from colorbench.training import TrainContext, resolve_train_config
from colorbench.training.provenance import training_data

PAPER = colorbench_router.plugin.CONFIGS["paper"]


@pytest.mark.parametrize(("key", "value"), [
    ("width_mult", 1.0), ("freeze_blocks", 10), ("dropout", 0.2), ("input_size", 64), ("epochs", 20),
    ("label_metric", "cpsnr"), ("label_split", "val"), ("allow_overlap", False), ("smote_k", 5),
])
def test_paper_config_matches_seed_001(key: str, value: object) -> None:
    assert PAPER[key] == value


def test_paper_head_split_and_rule() -> None:
    assert model.HEAD == (256, 100, 50) and data.PARTS == (0.7, 0.2, 0.1)
    net = model.build_classifier(4, PAPER)
    linear = [m for m in net.head if isinstance(m, torch.nn.Linear)]
    drops = [m.p for m in net.head if isinstance(m, torch.nn.Dropout)]
    assert [m.out_features for m in linear] == [256, 100, 50, 4] and drops == [0.2] * 4
    parts = data.split_parts(100, 0)
    assert np.bincount(parts).tolist() == [70, 20, 10]
    assert best_member(np.array([[20.0, 30.0, 25.0]])).tolist() == [1]  # argmax CPSNR, not argmin


def test_pretrained_freezes_the_stem_and_exactly_10_blocks() -> None:
    n = model.frozen_features({**PAPER, "pretrained": True})
    net = model.build_classifier(2, PAPER)
    frozen = net.features[:n]
    assert not isinstance(frozen[0], InvertedResidual)  # the stem conv
    assert sum(isinstance(m, InvertedResidual) for m in frozen) == 10
    assert isinstance(net.features[n], InvertedResidual)  # the 11th block trains
    assert model.frozen_features(PAPER) == 0  # from scratch: nothing frozen


def test_evaluate_keeps_failed_choices_in_every_row() -> None:
    # member b failed on image 2, which the router picks: the image stays in every row
    scores = np.array([[20.0, 30.0], [25.0, 21.0], [22.0, np.nan]])
    y = best_member(scores)
    prob = np.array([[0.2, 0.8], [0.9, 0.1], [0.1, 0.9]])
    ev = evaluate(scores, y, prob, ["a", "b"])
    s, failed = ev["scores"], ev["failed"]
    assert ev["failure_score"] == 20.0  # the worst score of the part
    assert s["router (predicted member)"] == pytest.approx((30 + 25 + 20) / 3)
    assert s["b alone"] == pytest.approx((30 + 21 + 20) / 3)
    assert s["a alone"] == pytest.approx((20 + 25 + 22) / 3)
    assert failed["router (predicted member)"] == 1 and failed["b alone"] == 1 and failed["a alone"] == 0
    assert "| router (predicted member) | 25.00 | 1 |" in markdown(ev, ["a", "b"], "cpsnr")


def test_summary_reports_auc_and_recall() -> None:
    scores = np.array([[20.0, 30.0], [25.0, 21.0], [22.0, 24.0], [26.0, 20.0]])
    y = best_member(scores)  # b, a, b, a
    prob = np.array([[0.2, 0.8], [0.9, 0.1], [0.6, 0.4], [0.7, 0.3]])
    ev = evaluate(scores, y, prob, ["a", "b"])
    assert ev["recall"] == {"a": 1.0, "b": 0.5} and ev["recall_macro"] == 0.75
    line = summary(ev)
    assert "recall macro 0.750 (a 1.000, b 0.500)" in line and "AUC 1.000" in line  # ranking perfect, argmax not


def test_shipped_members_record_their_training_split() -> None:
    from colorbench_ccc.plugin import WEIGHTS as CCC
    from colorbench_gan.plugin import WEIGHTS as GAN

    for w in (CCC, GAN):
        assert from_command(w.training) == {"dataset": "imagenet-sample", "split": "train", "ids": None}
    assert from_command("colorbench train x --dataset shapes --split val --out o")["split"] == "val"


def test_check_members_refuses_overlap_unless_allowed() -> None:
    rec = training_data("/data/toyroute", "train", ["a", "b", "c"])
    assert rec["dataset"] == "toyroute" and rec["n_images"] == 3
    warns: list[str] = []
    with pytest.raises(ColorbenchError, match=r"trained on 2 of the 3 labelling images.*allow_overlap"):
        check_members({"m": rec}, "toyroute", "val", ["b", "c", "d"], False, warns.append)
    audit = check_members({"m": rec}, "toyroute", "val", ["b", "c", "d"], True, warns.append)
    assert audit == {"allowed": True, "members": {"m": {"trained_on": {"dataset": "toyroute", "split": "train"},
                                                        "overlap_images": 2}}}
    ok = check_members({"m": rec, "u": None}, "toyroute", "val", ["d"], False, warns.append)
    assert ok["members"]["m"]["overlap_images"] == 0 and ok["members"]["u"]["overlap_images"] is None
    assert any("'u' records no training data" in w for w in warns)
    # no ids recorded: the same dataset and split counts as a full overlap
    split_only = {"dataset": "toyroute", "split": "val", "ids": None}
    with pytest.raises(ColorbenchError, match="trained on 1 of"):
        check_members({"m": split_only}, "toyroute", "val", ["d"], False, warns.append)


def _ctx(regs, out: Path, sets: list[str]) -> TrainContext:
    cfg = resolve_train_config(regs.colorizers.get("router"), "tiny", {},
                               ["pool=toy_red,toy_blue", "label_size=32", "label_limit=6", *sets])
    return TrainContext(dataset=ToyRoute("train"), config=cfg, out_dir=out, device=torch.device("cpu"),
                        seed=0, reporter=Reporter(quiet=True), dataset_name="toyroute", split="train",
                        registries=regs)


def test_labels_come_from_the_val_split_and_a_trained_member_is_refused(regs_with, tmp_path: Path) -> None:
    plugin = ToyPlugin()
    regs = regs_with(("toy", plugin), ("router", colorbench_router.plugin))
    member = tmp_path / "red.pt"
    torch.save({"training_data": training_data("toyroute", "train", ToyRoute("train").ids)}, member)
    sets = [f"member_checkpoints=toy_red={member}"]
    table, _ = run_pool(_ctx(regs, tmp_path / "a", sets), ["toy_red", "toy_blue"], _ctx(regs, tmp_path, sets).config)
    assert table.split == "val" and table.ids[0] == "val000"
    assert table.audit["members"]["toy_red"]["overlap_images"] == 0
    with pytest.raises(ColorbenchError, match="'toy_red' was trained on 6 of the 6"):
        ctx = _ctx(regs, tmp_path / "b", [*sets, "label_split=train"])
        run_pool(ctx, ["toy_red", "toy_blue"], ctx.config)
    assert plugin.images() == 12  # the refused labelling ran nothing
    ctx = _ctx(regs, tmp_path / "c", [*sets, "label_split=train", "allow_overlap=true"])
    table, _ = run_pool(ctx, ["toy_red", "toy_blue"], ctx.config)
    assert table.audit["allowed"] and table.audit["members"]["toy_red"]["overlap_images"] == 6
