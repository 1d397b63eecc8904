"""LPIPS / FID / KID code paths with random networks, and the offline-weights message."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import linalg

from colorbench.evaluation.batch import MetricBatch


def _batch(n: int, seed: int, size: int = 32) -> MetricBatch:
    g = torch.Generator().manual_seed(seed)
    gt = torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=g)
    noise = torch.randint(-40, 40, gt.shape, generator=g)
    return MetricBatch((gt.int() + noise).clamp(0, 255).to(torch.uint8), gt)


def _spec(name: str):
    from colorbench_metrics_learned.plugin import register_metrics

    found = {}
    register_metrics(lambda s: found.setdefault(s.name, s))
    return found[name]


def test_lpips_random_backbone_is_batched_and_zero_on_identical() -> None:
    torch.manual_seed(0)
    fn = _spec("lpips").build(device="cpu", random_backbone=True)
    b = _batch(5, 1, size=64)
    whole = fn(b)
    parts = torch.cat([fn(MetricBatch(b.pred[k:k + 2], b.gt[k:k + 2])) for k in range(0, 5, 2)])
    assert whole.shape == (5,) and torch.allclose(whole, parts, atol=1e-6)
    assert (whole > 0).all()
    same = fn(MetricBatch(b.gt, b.gt))
    assert torch.allclose(same, torch.zeros(5, dtype=same.dtype), atol=1e-7)


class _TinyExtractor(torch.nn.Module):
    """A fixed random projection of 8x8-pooled images: 16-d features."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = torch.nn.Linear(3 * 8 * 8, 16)
        torch.nn.init.normal_(self.proj.weight, generator=torch.Generator().manual_seed(0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(torch.nn.functional.adaptive_avg_pool2d(x.float() / 255, 8).flatten(1))


def _fid_numpy(f1: np.ndarray, f2: np.ndarray) -> float:
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


def test_fid_and_kid_stream_batches_and_match_direct_formulas() -> None:
    from torch_fidelity.metric_kid import kid_features_to_metric

    ext = _TinyExtractor().eval()
    batches = [_batch(7, s) for s in range(4)]
    accs = {k: _spec(k).build(device="cpu", extractor=ext) for k in ("fid", "kid")}
    for b in batches:
        for acc in accs.values():
            acc.update(b)
    with torch.no_grad():
        fp = torch.cat([ext(b.pred) for b in batches]).double()
        fg = torch.cat([ext(b.gt) for b in batches]).double()
    assert accs["fid"].compute() == pytest.approx(_fid_numpy(fp.numpy(), fg.numpy()), rel=1e-6)
    kid = kid_features_to_metric(fp.float(), fg.float(), kid_subsets=100, kid_subset_size=28, verbose=False)
    assert accs["kid"].compute() == pytest.approx(kid["kernel_inception_distance_mean"], rel=1e-5)
    info = accs["fid"].info()
    assert info["images"] == 28 and any("kid" in w for w in info["warnings"])
    # batch-size independence: one batch of 28 gives the same FID
    one = _spec("fid").build(device="cpu", extractor=ext)
    one.update(MetricBatch(torch.cat([b.pred for b in batches]), torch.cat([b.gt for b in batches])))
    assert one.compute() == pytest.approx(accs["fid"].compute(), rel=1e-5)  # float32 features


def test_fid_with_a_random_weights_inception_file(tmp_path, monkeypatch) -> None:
    from torch_fidelity import feature_extractor_inceptionv3 as inc

    monkeypatch.setattr(inc, "load_state_dict_from_url", lambda *a, **k: None)
    monkeypatch.setattr(inc.FeatureExtractorInceptionV3, "load_state_dict", lambda self, sd: None)
    torch.manual_seed(0)
    net = inc.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    monkeypatch.undo()
    path = tmp_path / "random-inception.pth"
    torch.save(net.state_dict(), path)
    acc = _spec("fid").build(device="cpu", weights_path=str(path))
    acc.update(_batch(2, 0))
    acc.update(_batch(1, 1))
    value = acc.compute()
    assert np.isfinite(value) and value >= -1e-6
    assert acc.pred.n == 3 and acc.pred.sum.shape == (2048,)
    assert acc.info()["feature_layer"] == "2048"


def test_offline_weights_raise_one_line_naming_file_and_url(tmp_path, monkeypatch) -> None:
    from colorbench.errors import WeightsUnavailableError

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("COLORBENCH_OFFLINE", "1")
    for name, file in (("lpips", "alexnet-owt-7be5be79.pth"), ("lpips-vgg", "vgg16-397923af.pth"),
                       ("fid", "weights-inception-2015-12-05-6726825d.pth")):
        with pytest.raises(WeightsUnavailableError) as err:
            _spec(name).check_available()
        msg = str(err.value)
        assert "\n" not in msg and file in msg and "https://" in msg and str(tmp_path) in msg


def test_accumulators_reset_and_merge_like_one_pass() -> None:
    """reset() forgets a pair; merge() of two halves == one accumulator fed everything."""
    from colorbench_metrics_classes.plugin import register_metrics as register_classes

    found = {}
    register_classes(lambda s: found.setdefault(s.name, s))
    ext = _TinyExtractor().eval()
    batches = [_batch(5, s) for s in range(4)]
    builds = {"fid": lambda: _spec("fid").build(device="cpu", extractor=ext),
              "kid": lambda: _spec("kid").build(device="cpu", extractor=ext),
              "cnr_union": lambda: found["cnr_union"].build()}
    for name, build in builds.items():
        whole, left, right = build(), build(), build()
        whole.update(_batch(3, 9))  # a previous pair's images, forgotten by reset()
        whole.reset()
        for b in batches:
            whole.update(b)
        for b in batches[:2]:
            left.update(b)
        for b in batches[2:]:
            right.update(b)
        before = right.compute()
        assert left.merge(right) is left
        assert left.compute() == pytest.approx(whole.compute(), rel=1e-9), name
        assert right.compute() == before  # the merged-in accumulator is left as it was
    with pytest.raises(TypeError, match="cannot merge"):
        builds["fid"]().merge(builds["cnr_union"]())


def test_fid_over_two_models_builds_its_extractor_once(tmp_path, monkeypatch) -> None:
    """The accumulator is built once per run and reset per (dataset, model) pair."""
    import types

    from colorbench_metrics_learned import fidelity, plugin, weights
    from conftest import load_regs, make_folder

    from colorbench.evaluation.runner import RunConfig, Runner
    from colorbench.reporting import Reporter

    built: list[str] = []

    def stub_inception(path, device="cpu"):
        built.append(path)
        return _TinyExtractor().eval()

    fake = types.SimpleNamespace(file=weights.INCEPTION.file, ensure=lambda: tmp_path / weights.INCEPTION.file)
    monkeypatch.setattr(weights, "INCEPTION", fake)
    monkeypatch.setattr(fidelity, "inception", stub_inception)
    make_folder(tmp_path / "imgs", 4, size=(24, 20))
    cfg = RunConfig(models=["gray", "tint"], datasets=[str(tmp_path / "imgs")], metrics=["fid", "cpsnr"],
                    size=16, batch_size=2, workers=0, out=str(tmp_path / "runs"), name="r")
    regs = load_regs([("learned", plugin), ("tint", _TintPlugin())])
    result = Runner(cfg, regs, Reporter(quiet=True)).run()
    assert built == [str(tmp_path / weights.INCEPTION.file)]
    assert not result.errors
    fids = {s["model"]: s["fid"] for s in result.summary}
    assert fids["gray"] != fids["tint"] and all(np.isfinite(v) for v in fids.values())
    # the second pair's value is that of a fresh accumulator over that pair's images alone
    tint_only = Runner(RunConfig(**{**cfg.__dict__, "models": ["tint"], "name": "t"}), regs,
                       Reporter(quiet=True)).run()
    assert tint_only.summary[0]["fid"] == pytest.approx(fids["tint"], rel=1e-9)
    assert len(built) == 2


class _TintPlugin:
    from colorbench import hookimpl

    @hookimpl
    def register_colorizers(self, register):
        from colorbench import ColorizerSpec

        class Tint:
            def colorize(self, L):
                return torch.cat([(L - 50.0) * 0.5, torch.sin(L / 9.0) * 25.0], dim=1)

        register(ColorizerSpec(name="tint", factory=lambda **kw: Tint(), description="test tint"))
