"""`colorbench weights list|download|verify` over a test plugin whose colorizer, metric and
segmenter declare weights; downloads served by a local http.server (no internet); the
`run` note naming colorizers skipped for missing weights; the factory's missing-weights
line (URL, cache folder, `colorbench weights download`); the built-in declarations."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from conftest import load_regs

from colorbench import ColorizerSpec, MetricSpec, SegmenterSpec, Weights, hookimpl
from colorbench.errors import WeightsHashError, WeightsUnavailableError
from colorbench.evaluation.selection import resolve_models, skipped_models_note
from colorbench.models.catalog import declared, select
from colorbench.models.factory import create_colorizer

NET, BACKBONE, SEG = b"fake colorizer weights" * 50, b"fake metric backbone" * 3000, b"fake segmenter"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FakePlugin:
    """A colorizer, a metric and a segmenter, each declaring one weights file at ``base``."""

    def __init__(self, base: str):
        self.net = Weights(name="fakenet-demo", file="fakenet_demo.pt", sha256=sha(NET), url=f"{base}/fakenet_demo.pt",
                           licence="MIT", description="fake colorizer")
        self.backbone = Weights(name="fake-backbone", file="fake_backbone-1234.bin", sha256=sha(BACKBONE)[:8],
                                url=f"{base}/fake_backbone-1234.bin", licence="BSD", size=len(BACKBONE))
        self.seg = Weights(name="fake-seg", file="fake_seg.pth", sha256="", md5=hashlib.md5(SEG).hexdigest(),
                           url=f"{base}/fake_seg.pth")

    @hookimpl
    def register_colorizers(self, register):
        register(ColorizerSpec(name="fakenet", factory=lambda **kw: None, needs_weights=True, weights=self.net))

    @hookimpl
    def register_metrics(self, register):
        register(MetricSpec(name="fakemetric", fn=lambda b: torch.zeros(len(b)), pretrained=(self.backbone,)))

    @hookimpl
    def register_segmenters(self, register):
        register(SegmenterSpec(name="fakeseg", factory=lambda **kw: None, pretrained=(self.seg,)))


class Server:
    """http.server on 127.0.0.1 serving ``root``; ``requests`` lists the paths asked for."""

    def __init__(self, root: Path):
        self.root, self.requests = root, []
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                server.requests.append(self.path)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("COLORBENCH_OFFLINE", "1")
    return tmp_path / "torch" / "hub" / "checkpoints"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    root = tmp_path / "served"
    root.mkdir()
    for name, data in (("fakenet_demo.pt", NET), ("fake_backbone-1234.bin", BACKBONE), ("fake_seg.pth", SEG)):
        (root / name).write_bytes(data)
    s = Server(root)
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


@pytest.fixture
def fake(cli, server: Server) -> FakePlugin:
    plugin = FakePlugin(server.base)
    cli.add_plugin("fake", plugin)
    return plugin


def entries_json(cli, *names: str) -> dict[str, dict]:
    return {e["name"]: e for e in json.loads(cli("weights", "list", *names, "--json").stdout)}


# ---------------------------------------------------------------------- list
def test_list_shows_every_declared_file_with_its_users_url_hash_and_place(cli, fake, hub: Path) -> None:
    got = entries_json(cli)
    assert {"fakenet-demo", "fake-backbone", "fake-seg"} <= set(got)
    net = got["fakenet-demo"]
    assert net["used_by"] == ["colorizer fakenet"] and net["url"] == fake.net.url and net["sha256"] == sha(NET)
    assert net["status"] == "absent" and not net["present"] and net["cache_path"] == str(hub / "fakenet_demo.pt")
    assert net["licence"] == "MIT" and net["size"] is None
    assert got["fake-backbone"]["used_by"] == ["metric fakemetric"] and got["fake-backbone"]["size"] == len(BACKBONE)
    assert got["fake-seg"]["used_by"] == ["segmenter fakeseg"] and got["fake-seg"]["md5"] == fake.seg.md5
    hub.mkdir(parents=True)
    (hub / "fakenet_demo.pt").write_bytes(NET)
    net = entries_json(cli, "fakenet")["fakenet-demo"]  # picked by the colorizer's name
    assert net["status"] == "cached" and net["path"] == str(hub / "fakenet_demo.pt") and net["size"] == len(NET)
    text = cli("weights", "list", "fake_seg").stdout  # by file stem, _ and - alike
    assert "fake-seg  [absent]  used by segmenter fakeseg" in text and fake.seg.url in text
    assert f"cache folder: {hub}" in text and "fakenet" not in text


def test_unknown_name_is_one_line_with_suggestions(cli, fake, hub: Path) -> None:
    result = cli("weights", "list", "fake-backbon", ok=False)
    assert result.exit_code == 2 and "unknown weights file 'fake-backbon'" in result.output
    assert "Did you mean 'fake-backbone'" in result.output


# -------------------------------------------------------------------- verify
def test_verify_checks_present_files_and_names_each_mismatch(cli, fake, hub: Path) -> None:
    hub.mkdir(parents=True)
    (hub / "fakenet_demo.pt").write_bytes(NET)
    (hub / "fake_seg.pth").write_bytes(SEG)
    result = cli("weights", "verify")
    assert f"fakenet-demo: ok, sha256 {sha(NET)}" in result.stdout and "fake-seg: ok" in result.stdout
    assert "fake-backbone: absent" in result.stdout  # absent and not asked for: not a failure
    (hub / "fakenet_demo.pt").write_bytes(b"tampered")
    (hub / "fake_seg.pth").write_bytes(b"tampered")
    result = cli("weights", "verify", ok=False)
    assert result.exit_code == 1
    assert f"fakenet-demo: {hub / 'fakenet_demo.pt'} has sha256 {sha(b'tampered')}, expected {sha(NET)}" in result.output
    assert f"expected {fake.seg.md5}" in result.output
    result = cli("weights", "verify", "fake-backbone", ok=False)  # asked for and absent
    assert result.exit_code == 1 and "fake-backbone: absent" in result.output and fake.backbone.url in result.output


# ------------------------------------------------------------------ download
def test_download_offline_gives_url_and_folder_per_file(cli, fake, hub: Path, server: Server) -> None:
    result = cli("weights", "download", "fakenet-demo", "fakemetric", ok=False)
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 2
    for line, w in zip(lines, (fake.net, fake.backbone), strict=True):
        assert w.name in line and w.url in line and str(hub) in line and "COLORBENCH_OFFLINE" in line
    assert server.requests == [] and not hub.exists()


def test_download_from_a_local_server_checks_hashes_and_keeps_good_files(
        cli, fake, hub: Path, server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLORBENCH_OFFLINE")
    result = cli("weights", "download", "fakenet", "fake-backbone")
    assert (hub / "fakenet_demo.pt").read_bytes() == NET and (hub / "fake_backbone-1234.bin").read_bytes() == BACKBONE
    assert "fakenet-demo: downloaded, hash ok" in result.stdout and "fake-backbone: downloaded, hash ok" in result.stdout
    assert "60.0/60.0 kB" in result.output  # the progress bar of the 60 kB file reached its end
    assert sorted(server.requests) == ["/fake_backbone-1234.bin", "/fakenet_demo.pt"]
    assert entries_json(cli, "fakenet-demo")["fakenet-demo"]["status"] == "cached"
    result = cli("weights", "download", "fakenet-demo")  # present: hash-checked, not fetched again
    assert "fakenet-demo: present, hash ok" in result.stdout and len(server.requests) == 2
    (server.root / "fake_seg.pth").write_bytes(b"not the declared file")
    result = cli("weights", "download", "--all", ok=False)
    assert result.exit_code == 1 and "fake-seg: the file downloaded from" in result.output
    assert "not the declared one" in result.output
    assert sorted(p.name for p in hub.iterdir()) == ["fake_backbone-1234.bin", "fakenet_demo.pt"]  # no partial file


def test_download_unreachable_and_without_names(cli, hub: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLORBENCH_OFFLINE")
    cli.add_plugin("fake", FakePlugin("http://127.0.0.1:9"))  # the discard port: nothing listens
    result = cli("weights", "download", "fake-seg", ok=False)
    assert result.exit_code == 1 and "download failed" in result.output
    assert "http://127.0.0.1:9/fake_seg.pth" in result.output and str(hub) in result.output
    result = cli("weights", "download", ok=False)
    assert result.exit_code == 2 and "--all" in result.output


def test_weights_download_reports_progress_and_refuses_a_wrong_file(tmp_path: Path, hub: Path, server: Server,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLORBENCH_OFFLINE")
    w = FakePlugin(server.base).backbone
    seen: list[tuple[int, int | None]] = []
    assert w.download(progress=lambda done, total: seen.append((done, total))) == hub / w.file
    assert seen[-1] == (len(BACKBONE), len(BACKBONE)) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert w.ensure() == hub / w.file
    bad = Weights(name="bad", file="bad.bin", sha256="0" * 64, url=f"{server.base}/fakenet_demo.pt")
    with pytest.raises(WeightsHashError, match=r"downloaded from .* has sha256"):
        bad.ensure()
    assert not (hub / "bad.bin").exists() and not list(hub.glob(".*part"))
    monkeypatch.setenv("COLORBENCH_OFFLINE", "1")
    with pytest.raises(WeightsUnavailableError, match="COLORBENCH_OFFLINE is set"):
        bad.download()


# --------------------------------------------- run's note and the factory
def test_default_run_names_skipped_colorizers_with_file_url_and_folder(hub: Path) -> None:
    plugin = FakePlugin("https://example.org/w")
    regs = load_regs([("fake", plugin)])
    assert [s.name for s in resolve_models(regs, None, [])] == ["gray"]
    (line,) = skipped_models_note(regs, None, [])
    assert line.startswith("skipped colorizers without weights: fakenet (fakenet_demo.pt: absent; ")
    assert "'colorbench weights download fakenet-demo'" in line and plugin.net.url in line and str(hub) in line
    assert "--checkpoint fakenet=PATH" in line
    assert skipped_models_note(regs, None, ["fakenet=x.pt"]) == []
    assert [s.name for s in resolve_models(regs, None, ["fakenet=x.pt"])] == ["fakenet", "gray"]
    assert skipped_models_note(regs, ["gray"], []) == []
    with pytest.raises(WeightsUnavailableError) as err:
        create_colorizer(regs, "fakenet")
    msg = str(err.value)
    assert "needs weights" in msg and plugin.net.url in msg and str(hub) in msg
    assert "colorbench weights download fakenet-demo" in msg and "--checkpoint fakenet=PATH" in msg
    assert "train" not in msg  # not trainable: training is not suggested


# ------------------------------------------------------------ the built-ins
def test_builtin_plugins_declare_backbones_sam_and_encoders() -> None:
    import colorbench_ccc.model
    import colorbench_ccc.plugin
    import colorbench_gan.plugin
    import colorbench_metrics_learned.plugin
    import colorbench_router.plugin
    import colorbench_segmenters.plugin

    regs = load_regs([(m.__name__.split(".")[0].removeprefix("colorbench_"), m) for m in (
        colorbench_ccc.plugin, colorbench_gan.plugin, colorbench_metrics_learned.plugin, colorbench_router.plugin,
        colorbench_segmenters.plugin)])
    users = {e.weights.name: {f"{k} {n}" for k, n in e.used_by} for e in declared(regs)}
    assert users["alexnet-owt"] == {"metric lpips"} and users["vgg16"] == {"metric lpips-vgg"}
    assert users["fid-inception-v3"] == {"metric fid", "metric kid"}
    assert users["sam-vit-b"] == users["sam-vit-h"] == users["sam-vit-l"] == {"segmenter sam"}
    assert users["densenet121"] == {"colorizer ccc", "colorizer ccc-harmonized"}
    assert users["resnet18"] == {"colorizer gan"} and users["mobilenet_v2"] == {"colorizer router"}
    assert colorbench_ccc.model.DENSENET121 is colorbench_ccc.plugin.DENSENET121  # one declaration
    (ccc,) = select(declared(regs), ["ccc.tiny_imagenet-sample"])
    assert ccc.status == "shipped" and ccc.weights.url is None
    assert [e.weights.name for e in select(declared(regs), ["sam_vit_h"])] == ["sam-vit-h"]


def test_run_without_models_names_the_colorizers_it_skipped(cli, fake, hub: Path, tmp_path: Path) -> None:
    """A plain `run` says which colorizer it left out for missing weights, with the file, the
    download command and the cache folder; with the file in place (or with --models) no such line."""
    args = ("run", "--datasets", "samples", "--metrics", "mse", "--limit", "1", "--size", "32",
            "--workers", "0", "-q", "--out", str(tmp_path / "runs"))
    result = cli(*args, "--name", "a")
    line = next(x for x in result.output.splitlines() if "skipped colorizers without weights" in x)
    assert "fakenet (fakenet_demo.pt: absent" in line and "colorbench weights download fakenet-demo" in line
    assert str(hub) in result.output.replace("\n", "")
    assert "skipped colorizers" not in cli(*args, "--name", "b", "--models", "gray").output
