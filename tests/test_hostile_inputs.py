"""Hostile inputs (issue 20): YAML and router checkpoints bounded; ``colorize`` keeps
relative paths, refuses collisions, flags non-finite and wrong-shape outputs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import load_regs, make_folder, write_image

from colorbench import ColorizerSpec, hookimpl
from colorbench.errors import ColorbenchError
from colorbench.evaluation.bounded_yaml import MAX_BYTES, load_yaml
from colorbench.evaluation.runner import RunConfig, Runner
from colorbench.reporting import Reporter
from colorbench.results import read_rows


def alias_bomb(levels: int = 9) -> str:
    lines = ["a: &a [" + ", ".join(["lol"] * 9) + "]"]
    for k in range(1, levels):
        lines.append(f"{chr(97 + k)}: &{chr(97 + k)} [" + ", ".join([f"*{chr(96 + k)}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_yaml_alias_bomb_is_refused_in_one_line(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(alias_bomb())
    assert bomb.stat().st_size < 600
    with pytest.raises(ColorbenchError, match=r"bomb\.yaml: suite expands to over 100000 values"):
        load_yaml(bomb, "suite")
    small = tmp_path / "small.yaml"
    small.write_text(alias_bomb(levels=3) + "name: ok\n")  # 9**3 values: ordinary aliases are fine
    assert load_yaml(small)["name"] == "ok" and len(load_yaml(small)["c"]) == 9


def test_yaml_self_reference_depth_and_size_are_refused(tmp_path: Path) -> None:
    cases = {"cycle.yaml": "a: &a [*a]\n", "deep.yaml": "[" * 1500 + "]" * 1500 + "\n",
             "huge.yaml": "x: " + "a" * MAX_BYTES + "\n"}
    needles = {"cycle.yaml": "refers to itself", "deep.yaml": "nested too deeply", "huge.yaml": "over the limit"}
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(ColorbenchError, match=needles[name]):
            load_yaml(tmp_path / name)


def test_suite_alias_bomb_through_the_cli_is_one_line(cli, tmp_path: Path) -> None:
    suite = tmp_path / "s.yaml"
    suite.write_text("name: s\nmodels: [gray]\n" + alias_bomb())
    result = cli("run", "--benchmark", suite, "--out", tmp_path / "runs", ok=False)
    assert result.exit_code == 2 and result.output.count("\n") == 1 and "expands to over" in result.output


@pytest.mark.slow  # builds the router's MobileNet twice
def test_router_checkpoint_naming_itself_is_refused(tmp_path: Path) -> None:
    import colorbench_router.plugin as router_plugin
    from colorbench_router.model import build_classifier

    from colorbench.models.checkpoints import save_checkpoint

    ckpt = tmp_path / "router.pt"
    config = {"input_size": 32}
    save_checkpoint({"kind": "router", "pool": ["router"], "config": config,
                     "classifier": build_classifier(1, config).state_dict(),
                     "members": {"router": {"checkpoint": str(ckpt)}}}, ckpt)
    make_folder(tmp_path / "imgs", 2, size=(16, 16))
    cfg = RunConfig(models=["router"], datasets=[str(tmp_path / "imgs")], metrics=["cpsnr"], size=32,
                    workers=0, out=str(tmp_path / "runs"), name="r", checkpoints=[f"router={ckpt}"])
    runner = Runner(cfg, load_regs([("router", router_plugin)]), Reporter(quiet=True))
    runner.run()
    rows = read_rows(runner._run_dir() / "per_image.csv")[1]
    assert [r["status"] for r in rows] == ["failed", "failed"]
    assert all("names itself (router.pt -> router.pt)" in r["error"] for r in rows)


# -------------------------------------------------------------------- colorize
class Broken:
    def __init__(self, kind: str):
        self.kind = kind

    def colorize(self, L: torch.Tensor) -> torch.Tensor:
        if self.kind == "nan":
            return torch.full((L.shape[0], 2, *L.shape[2:]), float("nan"))
        return torch.zeros(L.shape[0], 3, 5)  # wrong shape


class BrokenPlugin:
    @hookimpl
    def register_colorizers(self, register):
        for kind in ("nan", "shape"):
            register(ColorizerSpec(name=kind, factory=lambda device="cpu", checkpoint=None, _k=kind, **kw: Broken(_k)))


def test_colorize_refuses_two_inputs_with_one_output_name(cli, tmp_path: Path) -> None:
    one = write_image(tmp_path / "a" / "photo.png", size=(8, 8))
    two = write_image(tmp_path / "b" / "photo.jpg", size=(8, 8))
    result = cli("colorize", "gray", one, two, "--out", tmp_path / "out", ok=False)
    assert result.exit_code == 2 and "'photo'" in result.output and "photo.jpg" in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("model,needle", [("nan", "NaN or infinite"), ("shape", "expected a*b* of shape (1, 2, H, W)")])
def test_colorize_flags_bad_outputs_without_writing_them(cli, tmp_path: Path, model: str, needle: str) -> None:
    cli.add_plugin("broken", BrokenPlugin())
    photo = write_image(tmp_path / "photo.png", size=(8, 8))
    result = cli("colorize", model, photo, "--out", tmp_path / "out", "--size", "16", ok=False)
    assert result.exit_code == 1 and needle in result.output and "Traceback" not in result.output, result.output
    assert "wrote 0 images" in result.output and not list(tmp_path.glob("out/*.png"))


def test_checkpoint_over_the_size_limit_is_refused_before_loading(tmp_path: Path, monkeypatch) -> None:
    from colorbench.models.checkpoints import load_checkpoint, save_checkpoint

    path = save_checkpoint({"w": torch.zeros(64)}, tmp_path / "c.pt")
    assert load_checkpoint(path)["w"].shape == (64,)
    monkeypatch.setenv("COLORBENCH_MAX_CHECKPOINT_BYTES", "100")
    with pytest.raises(ColorbenchError, match=r"c\.pt: \d+ bytes is over the limit of 100"):
        load_checkpoint(path)
