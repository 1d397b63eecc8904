"""benchmarks/ablations/ablate.py with the colorbench commands replaced by a fake: training
in dependency order, resume (a second invocation trains nothing new and re-scores nothing),
failures recorded without stopping the others, the records, --dry-run and --page-only."""

from __future__ import annotations

import csv
import functools
import json
from pathlib import Path

import ablate
import pytest
from ablation_fixtures import claims_header
from ablation_runner import Engine

from colorbench.results import FIXED_COLUMNS

CLAIMS = claims_header(7) + """  loss:
    paper: P
    claim: weighting helps
    metrics: [cpsnr]
    mechanism: weighted
    arms:
      weighted: {model: ccc, train: ["--steps", "2", "--set", "init=@base/pre"]}
      plain: {model: ccc, train: ["--steps", "2"]}
      gray: {model: gray}
      best: {derived: oracle, of: [weighted, plain], by: colorfulness}
  base:
    paper: Q
    claim: pretraining helps
    metrics: [cpsnr]
    mechanism: pre
    arms:
      pre: {model: gan, train: ["--steps", "1"]}
      shipped: {model: gan}
"""


class FakeColorbench:
    """Stands in for ``python -m colorbench``: train writes a checkpoint (kept on --resume),
    run writes per_image.csv with values that depend on the model and checkpoint."""

    def __init__(self, fail: tuple[str, ...] = (), metrics: tuple[str, ...] = ("cpsnr", "colorfulness")):
        self.calls: list[list[str]] = []
        self.fail, self.metrics = fail, list(metrics)  # metrics: what the suite scores

    def __call__(self, cmd: list[str], cwd: Path, log: Path) -> int:
        args = cmd[3:]  # after: python -m colorbench
        self.calls.append(args)
        log.parent.mkdir(parents=True, exist_ok=True)
        opt = {args[i]: args[i + 1] for i in range(len(args) - 1) if args[i].startswith("--")}
        if args[0] == "train":
            out = cwd / opt["--out"]
            if out.name in self.fail:
                log.write_text("epoch 1\nerror: loss is NaN at step 1\n", encoding="utf-8")
                return 2
            if "--resume" in args and (out / "checkpoint.pt").is_file():
                return 0
            out.mkdir(parents=True, exist_ok=True)
            (out / "checkpoint.pt").write_bytes(" ".join(args).encode())
            (out / "config.json").write_text(json.dumps({"threads": 1}), encoding="utf-8")
            (out / "train_log.csv").write_text("step,loss\n1,2.0\n2,1.0\n", encoding="utf-8")
            return 0
        model, run_dir = opt["--models"], cwd / opt["--out"] / opt["--name"]
        run_dir.mkdir(parents=True, exist_ok=True)
        metrics = self.metrics
        bonus = {"ccc": 2.0, "gan": 1.0, "gray": 0.0}[model] + len(opt.get("--checkpoint", "")) / 10
        with open(run_dir / "per_image.csv", "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow([*FIXED_COLUMNS, *metrics])
            for i in range(6):
                w.writerow(["shapes", model, f"img{i}", "ok", "", "0.1", "", "", *(str(bonus + i * (j + 1))
                                                                                    for j in range(len(metrics)))])
        return 0

    def trained(self) -> list[str]:
        return [c[c.index("--out") + 1] for c in self.calls if c[0] == "train"]

    def runs(self) -> list[str]:
        return [c[c.index("--name") + 1] for c in self.calls if c[0] == "run"]


@pytest.fixture
def project(tmp_path):
    (tmp_path / "claims.yaml").write_text(CLAIMS, encoding="utf-8")
    return tmp_path


def invoke(root: Path, fake: FakeColorbench, *extra: str) -> int:
    argv = ["--claims", str(root / "claims.yaml"), "--root", str(root), "--runs", str(root / "runs"),
            "--records", str(root / "records"), "--results", str(root / "results"),
            "--page", str(root / "page.md"), *extra]
    return ablate.main(argv, engine_factory=functools.partial(Engine, runner=fake, say=lambda _: None))


def test_first_invocation_trains_in_dependency_order_and_writes_everything(project):
    fake = FakeColorbench()
    assert invoke(project, fake) == 0
    assert fake.trained() == ["runs/base/pre", "runs/loss/weighted", "runs/loss/plain"]
    train = next(c for c in fake.calls if c[0] == "train" and "runs/loss/weighted" in c)
    assert train[:8] == ["train", "ccc", "--dataset", "shapes", "--split", "train", "--seed", "7"]
    assert "init=runs/base/pre" in train and "--resume" not in train
    assert fake.runs() == ["weighted", "plain", "gray", "pre", "shipped"]
    gray = next(c for c in fake.calls if c[0] == "run" and "gray" in c)
    assert "--checkpoint" not in gray and "--metrics" not in gray  # the suite's metrics
    rec = json.loads((project / "records" / "loss" / "weighted.json").read_text())
    assert rec["train"]["command"].startswith("colorbench train ccc --dataset shapes")
    assert rec["train"]["steps"] == 2 and rec["train"]["status"] == "ok" and rec["train"]["wall_s"] >= 0
    assert rec["eval"]["command"].startswith("colorbench run --models ccc --checkpoint ccc=runs/loss/weighted")
    assert set(rec["machine"]) == {"platform", "cpu", "cores", "torch", "threads"} and rec["machine"]["threads"] == 1
    assert {"started", "finished", "load_average_start", "load_average_end"} <= set(rec["train"])
    with open(project / "results" / "loss.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["dataset", "image_id", "arm", "cpsnr"]
    assert [r["arm"] for r in rows] == [a for a in ("weighted", "plain", "gray", "best") for _ in range(6)]
    value = {(r["arm"], r["image_id"]): float(r["cpsnr"]) for r in rows}
    assert len({value[("weighted", "img1")], value[("plain", "img1")]}) == 2  # the arms differ ...
    for i in range(6):  # ... and the oracle (by colorfulness, which rises with cpsnr here) takes the better
        assert value[("best", f"img{i}")] == max(value[("weighted", f"img{i}")], value[("plain", f"img{i}")])
    assert "## loss" in (project / "page.md").read_text() and "## base" in (project / "page.md").read_text()


def test_second_invocation_resumes_trains_nothing_and_rescores_nothing(project):
    invoke(project, FakeColorbench())
    before = (project / "records" / "loss" / "weighted.json").read_text()
    page = (project / "page.md").read_text()
    fake = FakeColorbench()
    assert invoke(project, fake) == 0
    assert [c for c in fake.calls if c[0] == "train"] == []  # recorded and unchanged: not even --resume
    assert fake.runs() == []
    assert (project / "records" / "loss" / "weighted.json").read_text() == before
    assert (project / "page.md").read_text() == page


def test_a_changed_checkpoint_is_resumed_not_skipped(project):
    invoke(project, FakeColorbench())
    (project / "runs" / "loss" / "plain" / "checkpoint.pt").write_bytes(b"half-trained weights")
    fake = FakeColorbench()
    assert invoke(project, fake) == 0
    trains = [c for c in fake.calls if c[0] == "train"]
    assert len(trains) == 1 and "--resume" in trains[0] and trains[0][trains[0].index("--out") + 1].endswith("plain")


def test_a_retrained_checkpoint_is_scored_again(project):
    invoke(project, FakeColorbench())
    (project / "runs" / "loss" / "plain" / "checkpoint.pt").write_bytes(b"other weights")
    fake = FakeColorbench()
    invoke(project, fake)
    assert fake.runs() == ["plain"]


def test_an_arm_scoring_a_retrained_reference_is_scored_again(project):
    text = (project / "claims.yaml").read_text().replace("shipped: {model: gan}", 'shipped: {model: gan, checkpoint: "@base/pre"}')
    (project / "claims.yaml").write_text(text, encoding="utf-8")
    invoke(project, FakeColorbench(), "--only", "base")
    (project / "runs" / "base" / "pre" / "checkpoint.pt").write_bytes(b"retrained")
    fake = FakeColorbench()
    invoke(project, fake, "--only", "base")
    assert fake.runs() == ["pre", "shipped"]
    shipped = next(c for c in fake.calls if c[0] == "run" and "shipped" in c)
    assert shipped[shipped.index("--checkpoint") + 1] == "gan=runs/base/pre"


def test_an_edited_suite_file_is_scored_again(project):
    (project / "suite.yaml").write_text("name: s\n", encoding="utf-8")
    invoke(project, FakeColorbench(), "--only", "base")
    fake = FakeColorbench()
    invoke(project, fake, "--only", "base")
    assert fake.runs() == []
    (project / "suite.yaml").write_text("name: s\nversion: 2\n", encoding="utf-8")
    invoke(project, fake, "--only", "base")
    assert fake.runs() == ["pre", "shipped"]


def test_a_failed_arm_is_recorded_and_the_others_go_on(project, capsys):
    fake = FakeColorbench(fail=("pre",))
    assert invoke(project, fake) == 1
    assert fake.trained() == ["runs/base/pre", "runs/loss/plain"]  # weighted needs @base/pre
    assert "weighted" not in fake.runs() and "plain" in fake.runs() and "shipped" in fake.runs()
    rec = json.loads((project / "records" / "base" / "pre.json").read_text())
    assert rec["train"]["status"] == "failed" and "loss is NaN at step 1" in rec["train"]["error"]
    err = capsys.readouterr().err
    assert "FAILED base/pre: exit status 2" in err and "FAILED loss/weighted: needs @base/pre" in err


def test_only_trains_the_chosen_claim_and_what_it_refers_to(project):
    fake = FakeColorbench()
    assert invoke(project, fake, "--only", "loss") == 0
    assert fake.trained() == ["runs/base/pre", "runs/loss/weighted", "runs/loss/plain"]
    assert fake.runs() == ["weighted", "plain", "gray"]
    assert not (project / "results" / "base.csv").exists()
    assert "Not run yet" in (project / "page.md").read_text().split("## base", 1)[1]


def test_dry_run_prints_the_commands_and_writes_nothing(project, capsys):
    fake = FakeColorbench()
    argv = ["--claims", str(project / "claims.yaml"), "--root", str(project), "--runs", str(project / "runs"),
            "--page", str(project / "page.md"), "--dry-run", "--only", "base"]
    assert ablate.main(argv, engine_factory=functools.partial(Engine, runner=fake)) == 0
    out = capsys.readouterr().out
    assert fake.calls == [] and not (project / "page.md").exists() and not (project / "runs").exists()
    assert "colorbench train gan --dataset shapes --split train --seed 7 --steps 1 --out runs/base/pre" in out
    assert "colorbench run --models gan --benchmark suite.yaml --out runs/base/eval --name shipped" in out


def test_page_only_renders_from_results_without_running_anything(project):
    invoke(project, FakeColorbench())
    page = (project / "page.md").read_text()
    (project / "page.md").unlink()
    fake = FakeColorbench()
    assert invoke(project, fake, "--page-only") == 0
    assert fake.calls == [] and (project / "page.md").read_text() == page


def test_bad_input_is_one_line_and_exit_status_2(project, capsys):
    assert invoke(project, FakeColorbench(), "--only", "nope") == 2
    assert capsys.readouterr().err.strip().startswith("error: --only nope: no such claim")


def test_a_suite_beside_the_claims_file_and_data_variables(project, monkeypatch):
    (project / "suite.yaml").write_text("name: s\n", encoding="utf-8")
    text = (project / "claims.yaml").read_text().replace("dataset: shapes", 'dataset: "${ABLATE_DATA}/photos"')
    (project / "claims.yaml").write_text(text, encoding="utf-8")
    monkeypatch.setenv("ABLATE_DATA", "data-root")
    fake = FakeColorbench()
    assert invoke(project, fake, "--only", "base") == 0
    train = next(c for c in fake.calls if c[0] == "train")
    assert train[train.index("--dataset") + 1] == "data-root/photos"  # expanded where it runs ...
    rec = json.loads((project / "records" / "base" / "pre.json").read_text())
    assert "--dataset '${ABLATE_DATA}/photos'" in rec["train"]["command"]  # ... not in the record
    run = next(c for c in fake.calls if c[0] == "run")
    assert run[run.index("--benchmark") + 1] == "suite.yaml"  # relative to the project root
    monkeypatch.delenv("ABLATE_DATA")
    (project / "runs" / "base" / "pre" / "checkpoint.pt").unlink()  # work to do: the variable is needed
    assert invoke(project, FakeColorbench(), "--only", "base") == 2


def test_an_arm_trained_earlier_by_hand_is_picked_up_with_a_note(project):
    out = project / "runs" / "base" / "pre"
    FakeColorbench()(["py", "-m", "colorbench", "train", "gan", "--out", "runs/base/pre"], project, out / "x.log")
    fake = FakeColorbench()
    assert invoke(project, fake, "--only", "base") == 0
    assert "--resume" in fake.calls[0] and (out / "checkpoint.pt").read_bytes() == b"train gan --out runs/base/pre"
    rec = json.loads((project / "records" / "base" / "pre.json").read_text())
    assert rec["train"]["note"].startswith("trained before this record was written")
    assert rec["commit"] == rec["train"]["commit"] and "uncommitted_changes" in rec["train"]


def test_a_claim_metric_the_suite_does_not_score_fails_that_claim_clearly(project, capsys):
    assert invoke(project, FakeColorbench(metrics=("cpsnr",)), "--only", "loss") == 1  # oracle's by: colorfulness
    assert "no colorfulness column: the claim's suite does not score it" in capsys.readouterr().err
    assert not (project / "results" / "loss.csv").exists()
