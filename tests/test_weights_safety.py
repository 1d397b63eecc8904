"""Third-party weights are data: a pickle planted in the torch hub cache under a metric's file
name never runs (sha256 checked first, then torch.load(weights_only=True) by colorbench
itself); ``Weights.verify`` names both hashes; missing files offline are one line; a wrong
file is neither loaded nor downloaded over; pretrained encoders map their keys exactly."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import pickle
import subprocess
import sys
import warnings
from pathlib import Path

import colorbench_metrics_learned.plugin
import pytest
import torch
from colorbench_metrics_learned import weights as metric_weights
from conftest import make_folder, pin_weights

from colorbench.errors import WeightsHashError, WeightsUnavailableError
from colorbench.models import weights as weights_module
from colorbench.models.checkpoints import sha256
from colorbench.models.weights import Weights

PAYLOAD = """
import sys, torch

class Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):  # runs on unpickling: creates the marker file
        return (open, (self.marker, "w"))

torch.save({"features.0.weight": Payload(sys.argv[2])}, sys.argv[1])
"""


def _plant(path: Path, marker: Path) -> Path:
    """A live pickle payload at ``path`` (written in a subprocess: nothing runs here)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-c", PAYLOAD, str(path), str(marker)], check=True)
    return path


def _unpickle_in_subprocess(path: Path) -> None:
    code = "import sys, torch; torch.load(sys.argv[1], weights_only=False)"
    subprocess.run([sys.executable, "-c", code, str(path)], check=False, capture_output=True)


@pytest.fixture
def planted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, list[Path]]:
    """$TORCH_HOME with payloads under the LPIPS AlexNet and FID Inception names; the marker."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("COLORBENCH_OFFLINE", "1")
    marker = tmp_path / "PWNED"
    hub = tmp_path / "torch" / "hub" / "checkpoints"
    files = [_plant(hub / w.file, marker) for w in (metric_weights.ALEXNET, metric_weights.INCEPTION)]
    return marker, files


def test_payload_is_live(planted: tuple[Path, list[Path]]) -> None:
    """The fixture's files do run code when unpickled: the tests below can fail."""
    marker, files = planted
    for f in files:
        _unpickle_in_subprocess(f)
        assert marker.is_file()
        marker.unlink()


def _assert_refused(lines: list[str], marker: Path) -> None:
    """Nothing ran; lpips and fid each have a line naming the file and the expected hash."""
    assert not marker.exists(), "a planted weights file was unpickled"
    for name, w in (("lpips", metric_weights.ALEXNET), ("fid", metric_weights.INCEPTION)):
        line = next(u for u in lines if f"metric {name} unavailable" in u)
        assert w.file in line and f"expected {w.sha256}" in line and "not loaded" in line


@pytest.mark.parametrize("command", ["run", "score"])
def test_planted_pickles_never_run(command: str, planted, tmp_path: Path, cli) -> None:
    marker, _ = planted
    cli.add_plugin("metrics_learned", colorbench_metrics_learned.plugin)
    images = make_folder(tmp_path / "imgs", 3)
    if command == "run":
        res = cli("run", "--models", "gray", "--datasets", str(images), "--metrics", "lpips,fid,cpsnr",
                  "--out", str(tmp_path / "runs"), "--name", "r", "--device", "cpu", "--quiet")
        run_json = tmp_path / "runs" / "r" / "run.json"
    else:
        res = cli("score", "--pred", str(images), "--gt", str(images), "--metrics", "lpips,fid,cpsnr",
                  "--out", str(tmp_path / "score"))
        run_json = tmp_path / "score" / "run.json"
    _assert_refused([" ".join(res.output.split())], marker)
    run = json.loads(run_json.read_text())
    _assert_refused(run["unavailable_metrics"], marker)
    assert len(run["unavailable_metrics"]) == 2
    assert "cpsnr" in json.dumps(run["metrics"]) and "lpips" not in run["metrics"]


def test_planted_pickles_never_run_through_the_loaders(planted, monkeypatch: pytest.MonkeyPatch) -> None:
    """Even with the hash check passing (declared sha256 = the payload's), the files are read
    with weights_only=True: the load fails with one line and nothing runs."""
    from colorbench_metrics_learned.plugin import register_metrics

    from colorbench.errors import ColorbenchError

    marker, (alex, inception) = planted
    pin_weights(monkeypatch, metric_weights, "ALEXNET", alex)
    pin_weights(monkeypatch, metric_weights, "INCEPTION", inception)
    specs: dict = {}
    register_metrics(lambda s: specs.setdefault(s.name, s))
    for name in ("lpips", "fid"):
        specs[name].check_available()  # the hash now matches
        with pytest.raises(ColorbenchError, match="cannot load") as err:
            specs[name].build(device="cpu")
        assert "\n" not in str(err.value)
    assert not marker.exists()


# ------------------------------------------------------------------ Weights.verify
def test_verify_rejects_one_flipped_byte_and_accepts_a_prefix(tmp_path: Path) -> None:
    f = tmp_path / "w.pth"
    f.write_bytes(bytes(range(256)) * 4)
    digest = hashlib.sha256(f.read_bytes()).hexdigest()
    assert Weights("w", "w.pth", digest).verify(f) == digest
    assert Weights("w", "w.pth", digest[:8].upper()).verify(f) == digest  # torchvision's prefix
    data = bytearray(f.read_bytes())
    data[100] ^= 0x01
    f.write_bytes(bytes(data))
    flipped = hashlib.sha256(bytes(data)).hexdigest()
    for declared in (digest, digest[:8]):
        with pytest.raises(WeightsHashError) as err:
            Weights("w", "w.pth", declared, url="https://example.org/w.pth").verify(f)
        msg = str(err.value)
        assert "\n" not in msg and str(f) in msg and f"expected {declared}" in msg and flipped in msg
    with pytest.raises(ValueError):
        Weights("w", "w.pth", "abc")  # too short to mean anything


def test_md5_declared_weights(tmp_path: Path) -> None:
    f = tmp_path / "sam.pth"
    f.write_bytes(b"segment anything" * 100)
    md5 = hashlib.md5(f.read_bytes()).hexdigest()
    w = Weights("sam", "sam.pth", "", md5=md5)
    assert w.verify(f) == sha256(f)
    with pytest.raises(WeightsHashError, match=f"expected {'0' * 32}") as err:
        dataclasses.replace(w, md5="0" * 32).verify(f)
    assert md5 in str(err.value)
    with pytest.raises(ValueError):
        Weights("sam", "sam.pth", "")  # neither hash
    with pytest.raises(ValueError):
        Weights("sam", "sam.pth", "", md5="1234")


def test_sam_cached_checkpoint_is_md5_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from colorbench_segmenters import sam

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    cached = tmp_path / "hub" / "checkpoints" / sam.FILES["vit_b"]
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"not sam")
    with pytest.raises(WeightsHashError, match=r"md5 .*expected 01ec64d29a2fca3f0661936605ae66f8"):
        sam.checkpoint_path("vit_b")
    given = tmp_path / "mine.pth"
    given.write_bytes(b"my own sam")
    path, record = sam.checkpoint_record("vit_b", str(given))  # the user's file: recorded, not required
    assert path == given and record == {"path": str(given), "sha256": sha256(given), "verified": False}


# ----------------------------------------------------------- missing / wrong files
def test_missing_metric_weights_offline_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("COLORBENCH_OFFLINE", "1")
    for w in (metric_weights.ALEXNET, metric_weights.VGG16, metric_weights.INCEPTION):
        with pytest.raises(WeightsUnavailableError) as err:
            w.ensure()
        msg = str(err.value)
        assert "\n" not in msg and w.file in msg and w.url in msg and str(tmp_path / "hub" / "checkpoints") in msg
        assert not isinstance(err.value, WeightsHashError)


def test_wrong_file_is_neither_loaded_nor_downloaded_over(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv("COLORBENCH_OFFLINE", raising=False)  # a download would be allowed
    calls: list[object] = []
    monkeypatch.setattr(weights_module.urllib.request, "urlopen", lambda *a, **k: calls.append(a))
    monkeypatch.setattr(torch.hub, "download_url_to_file", lambda *a, **k: calls.append(a))
    loads: list[object] = []
    monkeypatch.setattr(torch, "load", lambda *a, **k: loads.append(a))
    w = metric_weights.INCEPTION
    w.cache_path.parent.mkdir(parents=True)
    w.cache_path.write_bytes(pickle.dumps({"fc.weight": [0.0]}))
    before = w.cache_path.read_bytes()
    with pytest.raises(WeightsHashError):
        w.ensure()
    from colorbench_metrics_learned.plugin import register_metrics

    specs: dict = {}
    register_metrics(lambda s: specs.setdefault(s.name, s))
    with pytest.raises(WeightsHashError):
        specs["fid"].build(device="cpu")
    assert calls == [] and loads == [] and w.cache_path.read_bytes() == before


# ------------------------------------------------------ LPIPS loaded by colorbench
def test_lpips_trunk_and_heads_equal_lpips_own_loading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A random torchvision AlexNet file in the cache gives exactly lpips' values with the same
    features copied in (the slice key mapping is exact); the heads equal lpips' own."""
    import lpips
    import torchvision
    from colorbench_metrics_learned.perceptual import LPIPSMetric

    from colorbench.evaluation.batch import MetricBatch

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    torch.manual_seed(3)
    alexnet = torchvision.models.alexnet()
    file = tmp_path / "hub" / "checkpoints" / metric_weights.ALEXNET.file
    file.parent.mkdir(parents=True)
    torch.save(alexnet.state_dict(), file)
    pin_weights(monkeypatch, metric_weights, "ALEXNET", file)
    ours = LPIPSMetric("alex")

    with warnings.catch_warnings():  # torchvision's deprecated pretrained=, as lpips calls it
        warnings.simplefilter("ignore", UserWarning)
        ref = lpips.LPIPS(net="alex", version="0.1", pretrained=True, pnet_rand=True, verbose=False).eval()
    for slice_ in ref.net.children():  # lpips' sliceK holds features[x] under the name str(x)
        for x, module in slice_.named_children():
            module.load_state_dict(alexnet.features[int(x)].state_dict())
    ref_state, our_state = ref.state_dict(), ours.model.state_dict()
    assert ref_state.keys() == our_state.keys()
    for key in ref_state:
        assert torch.equal(ref_state[key], our_state[key]), key
    assert torch.equal(our_state["net.slice5.10.weight"], alexnet.features[10].weight)

    g = torch.Generator().manual_seed(0)
    gt = torch.randint(0, 256, (3, 3, 64, 64), dtype=torch.uint8, generator=g)
    pred = torch.randint(0, 256, (3, 3, 64, 64), dtype=torch.uint8, generator=g)
    with torch.no_grad():
        expected = ref(pred.float() / 127.5 - 1, gt.float() / 127.5 - 1).reshape(3).double()
    assert torch.equal(ours(MetricBatch(pred, gt)), expected)


def test_random_backbone_still_loads_the_shipped_heads() -> None:
    import lpips
    from colorbench_metrics_learned.perceptual import LPIPSMetric, heads_file

    shipped = torch.load(heads_file("alex"), map_location="cpu", weights_only=True)
    model = LPIPSMetric("alex", random_backbone=True).model
    assert isinstance(model, lpips.LPIPS)
    for key, value in shipped.items():
        assert torch.equal(model.state_dict()[key], value)


# ------------------------------------------------------------- pretrained encoders
def test_router_imagenet_blocks_load_from_the_verified_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import colorbench_router.model as router_model
    from torchvision.models import mobilenet_v2

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    torch.manual_seed(2)
    ref = mobilenet_v2(weights=None)
    file = tmp_path / "hub" / "checkpoints" / router_model.IMAGENET.file
    file.parent.mkdir(parents=True)
    torch.save(ref.state_dict(), file)
    net = router_model.RouterNet(3)
    with pytest.raises(WeightsHashError, match="pretrained=false"):
        router_model.load_imagenet_blocks(net, 4)
    pin_weights(monkeypatch, router_model, "IMAGENET", file)
    assert "features[0:4]" in router_model.load_imagenet_blocks(net, 4)
    assert torch.equal(net.features[3].conv[0][0].weight, ref.features[3].conv[0][0].weight)
    assert not torch.equal(net.features[5].conv[0][0].weight, ref.features[5].conv[0][0].weight)
    assert not any(p.requires_grad for p in net.features[3].parameters())
