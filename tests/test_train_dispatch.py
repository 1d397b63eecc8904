"""`colorbench train` dispatch to a plugin's train function, its output directory, resume,
and using the result with `run --checkpoint`. The trainable test plugin learns one
constant a*b* with Adam, using the building blocks core offers plugins
(ColorPairs, TrainLog, save_checkpoint / load_checkpoint)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

import pytest
import torch
from conftest import make_folder

from colorbench import ColorizerSpec, hookimpl
from colorbench.models.checkpoints import load_checkpoint, save_checkpoint
from colorbench.training import ColorPairs, TrainContext, TrainLog


class ConstAB:
    def __init__(self, ab: torch.Tensor):
        self.ab = ab.float()

    def colorize(self, L: torch.Tensor) -> torch.Tensor:
        return self.ab.to(L.device).view(1, 2, 1, 1).expand(L.shape[0], 2, *L.shape[2:]).clone()


def factory(device="cpu", checkpoint=None, **kw) -> ConstAB:
    if checkpoint is None:
        return ConstAB(torch.zeros(2))
    return ConstAB(load_checkpoint(checkpoint)["ab"])


def train(ctx: TrainContext) -> None:
    cfg = ctx.config
    param = torch.zeros(2, requires_grad=True)
    opt = torch.optim.Adam([param], lr=cfg["lr"])
    step = 0
    if ctx.resume:
        state = load_checkpoint(ctx.checkpoint_path)
        with torch.no_grad():
            param.copy_(state["ab"])
        opt.load_state_dict(state["opt"])
        step = int(state["step"])
    loader = torch.utils.data.DataLoader(ColorPairs(ctx.dataset, size=cfg["size"]),
                                         batch_size=cfg["batch_size"], shuffle=True)
    with TrainLog(ctx.out_dir / "train_log.csv", ["step", "loss"], resume_step=step if ctx.resume else None) as log:
        while step < cfg["steps"]:
            for batch in loader:
                loss = ((batch["ab"] - param.view(1, 2, 1, 1)) ** 2).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
                step += 1
                log.write(step=step, loss=loss.item())
                if step >= cfg["steps"]:
                    break
    save_checkpoint({"ab": param.detach().clone(), "opt": opt.state_dict(), "step": step}, ctx.checkpoint_path)


class ConstPlugin:
    @hookimpl
    def register_colorizers(self, register):
        register(ColorizerSpec(
            name="constab", factory=factory, description="learns one constant a*b*",
            needs_weights=True, train=train, default_config="tiny",
            configs={"tiny": {"steps": 20, "lr": 1.5, "batch_size": 8, "size": 24},
                     "paper": {"steps": 100000, "lr": 1e-3, "batch_size": 32, "size": 256}}))


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """Warm-toned photos: the learned constant a*b* must move towards positive a*, b*."""
    import numpy as np
    from PIL import Image

    root = tmp_path / "warm"
    rng = np.random.default_rng(0)
    root.mkdir()
    for i in range(24):
        base = np.array([200, 120, 60]) + rng.integers(-30, 30, 3)
        img = np.clip(base + rng.normal(0, 10, (30, 40, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(root / f"w{i:02d}.png")
    return root


def log_rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text())))


def test_train_writes_checkpoint_config_and_log_then_resume(cli, tmp_path: Path, data: Path) -> None:
    cli.add_plugin("constab", ConstPlugin())
    out = tmp_path / "t"
    result = cli("train", "constab", "--dataset", str(data), "--split", "all", "--val-split", "",
                 "--steps", "20", "--out", str(out), "--set", "lr=1.5")
    assert f"--checkpoint constab={out}" in result.output
    assert {p.name for p in out.iterdir()} == {"checkpoint.pt", "config.json", "train_log.csv", ".lock"}
    config = json.loads((out / "config.json").read_text())
    assert config["model"] == "constab" and config["dataset"] == "warm"
    assert config["steps"] == 20 and config["lr"] == 1.5 and config["batch_size"] == 8
    assert config["config_name"] == "tiny"
    rows = log_rows(out / "train_log.csv")
    assert [int(r["step"]) for r in rows] == list(range(1, 21))
    assert float(rows[-1]["loss"]) < float(rows[0]["loss"]) / 2
    state = load_checkpoint(out)
    assert state["step"] == 20
    a20, b20 = state["ab"].tolist()
    assert a20 > 5 and b20 > 5  # moving towards the warm tone

    result = cli("train", "constab", "--dataset", str(data), "--split", "all", "--val-split", "",
                 "--steps", "40", "--out", str(out), ok=False)
    assert result.exit_code == 2 and "already holds a checkpoint" in result.output

    cli("train", "constab", "--dataset", str(data), "--split", "all", "--val-split", "",
        "--steps", "40", "--out", str(out), "--resume")
    rows = log_rows(out / "train_log.csv")
    assert [int(r["step"]) for r in rows] == list(range(1, 41))
    state = load_checkpoint(out / "checkpoint.pt")
    assert state["step"] == 40
    assert state["ab"][0] > a20 and state["ab"][1] > b20

    # the checkpoint in a run: loaded by the factory, sha256 recorded
    runs = tmp_path / "runs"
    cli("run", "--models", "constab,gray", "--checkpoint", f"constab={out}", "--datasets", str(data),
        "--metrics", "mse,cpsnr", "--size", "24", "--workers", "0", "--out", str(runs), "--name", "r",
        "--quiet")
    manifest = json.loads((runs / "r" / "run.json").read_text())
    digest = hashlib.sha256((out / "checkpoint.pt").read_bytes()).hexdigest()
    assert manifest["checkpoints"]["constab"]["sha256"] == digest
    summary = {r["model"]: r for r in csv.DictReader(io.StringIO((runs / "r" / "summary.csv").read_text()))}
    assert float(summary["constab"]["mse"]) < float(summary["gray"]["mse"])  # learned the tone


def test_train_config_errors(cli, tmp_path: Path, data: Path) -> None:
    cli.add_plugin("constab", ConstPlugin())
    base = ["train", "constab", "--dataset", str(data), "--split", "all", "--val-split", "",
            "--out", str(tmp_path / "t")]
    for extra, needle in ((["--set", "lrr=1"], "--set lrr: not a training setting of 'constab'. Did you mean lr?"),
                          (["--config", "tiyn"], "Did you mean tiny?"),
                          (["--resume"], "no checkpoint.pt")):
        result = cli(*base, *extra, ok=False)
        assert result.exit_code == 2 and needle in result.output, result.output
    yaml_cfg = tmp_path / "my.yaml"
    yaml_cfg.write_text("base: tiny\nsteps: 3\n")
    cli(*base, "--config", str(yaml_cfg))
    assert json.loads((tmp_path / "t" / "config.json").read_text())["steps"] == 3
    assert len(log_rows(tmp_path / "t" / "train_log.csv")) == 3


def test_model_needing_weights_is_not_in_default_run_and_fails_clearly(cli, tmp_path: Path) -> None:
    cli.add_plugin("constab", ConstPlugin())
    make_folder(tmp_path / "imgs", 2)
    common = ["--datasets", str(tmp_path / "imgs"), "--metrics", "mse", "--size", "16", "--workers", "0",
              "--out", str(tmp_path / "runs"), "--quiet"]
    cli("run", *common, "--name", "default")
    models = {r["model"] for r in csv.DictReader(io.StringIO((tmp_path / "runs/default/per_image.csv").read_text()))}
    assert models == {"gray"}
    result = cli("run", "--models", "constab", *common, "--name", "noweights", ok=False)
    assert result.exit_code == 1
    assert "needs weights" in result.output and "--checkpoint constab=PATH" in result.output
    result = cli("run", "--models", "constab", "--checkpoint", f"constab={tmp_path / 'nothing'}", *common, ok=False)
    assert "no such file" in result.output


def test_checkpoints_load_weights_only(tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"x": Evil()}, tmp_path / "evil.pt")
    from colorbench.errors import ColorbenchError

    with pytest.raises(ColorbenchError, match="cannot load"):
        load_checkpoint(tmp_path / "evil.pt")


def test_color_pairs_are_reproducible_under_the_torch_seed(tmp_path: Path) -> None:
    from colorbench_datasets.folder import Folder

    root = make_folder(tmp_path / "f", 4, size=(60, 30))
    pairs = ColorPairs(Folder(root=root), size=16, train=True)

    def draw() -> list[torch.Tensor]:
        torch.manual_seed(123)
        return [pairs[i % 4]["ab"] for i in range(12)]

    first, second = draw(), draw()
    assert all(torch.equal(a, b) for a, b in zip(first, second, strict=True))
    assert len({tuple(t.flatten()[:20].tolist()) for t in first[::4]}) > 1 or any(
        not torch.equal(first[i], first[i + 4]) for i in range(4))  # crops/flips really vary
    val = ColorPairs(Folder(root=root), size=16, train=False)
    sample = val[0]
    assert sample["L"].shape == (1, 16, 16) and sample["ab"].shape == (2, 16, 16)
    assert torch.equal(val[0]["ab"], val[0]["ab"])


def test_train_log_resume_drops_rows_after_the_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "train_log.csv"
    with TrainLog(path, ["step", "loss"]) as log:
        for s in range(1, 6):
            log.write(step=s, loss=1.0 / s)
    with TrainLog(path, ["step", "loss"], resume_step=3) as log:
        log.write(step=4, loss=0.01)
    assert [(r["step"], r["loss"]) for r in log_rows(path)] == [("1", "1"), ("2", "0.5"), ("3", "0.333333"), ("4", "0.01")]
    save_checkpoint({"a": torch.ones(1)}, tmp_path / "x" / "checkpoint.pt")
    assert [p.name for p in (tmp_path / "x").iterdir()] == ["checkpoint.pt"]


def test_train_context_says_where_the_dataset_came_from(cli, tmp_path: Path, data: Path) -> None:
    """Plugins that drive the run engine over the training set (the router) get the dataset's
    resolvable name, split, data root and the registries."""
    seen: list[TrainContext] = []

    class Spy(ConstPlugin):
        @hookimpl
        def register_colorizers(self, register):
            register(ColorizerSpec(name="spy", factory=factory, description="records its context",
                                   train=lambda ctx: (seen.append(ctx), train(ctx)),
                                   configs={"tiny": {"steps": 1, "lr": 0.1, "batch_size": 2, "size": 16}}))

    cli.add_plugin("spy", Spy())
    cli("train", "spy", "--dataset", str(data), "--split", "all", "--val-split", "", "--out", str(tmp_path / "s"))
    cli("train", "spy", "--dataset", "shapes", "--split", "val", "--val-split", "", "--data-root", str(tmp_path),
        "--out", str(tmp_path / "s2"))
    (folder, shapes) = seen
    assert folder.dataset_name == str(data.resolve()) and folder.split == "all" and folder.data_root is None
    assert shapes.dataset_name == "shapes" and shapes.split == "val" and shapes.data_root == str(tmp_path)
    assert "spy" in shapes.registries.colorizers and "shapes" in shapes.registries.datasets
