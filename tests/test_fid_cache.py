"""FID/KID reference statistics: cached by reference key + extractor weights, reused across
runs and models with the values of a recomputation, and published statistics (--fid-ref).

A small random projection stands in for Inception (loaded from a weights file, so that its
sha256 is the extractor identity) and counts the images it featurises."""

from __future__ import annotations

import hashlib
import json
import types

import numpy as np
import pytest
import torch
from conftest import load_regs, make_folder, write_image
from test_metrics_learned import _TintPlugin

from colorbench.evaluation.accumulator import Reference, reference_for
from colorbench.evaluation.batch import MetricBatch
from colorbench.evaluation.runner import RunConfig, Runner
from colorbench.reporting import Reporter

SEEN: list[int] = []  # batch sizes the stub extractor featurised


class Tiny(torch.nn.Module):
    """4-d features: a random projection of 4x4-pooled images; counts what it sees."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        self.proj = torch.nn.Linear(3 * 4 * 4, 4)
        g = torch.Generator().manual_seed(seed)
        torch.nn.init.normal_(self.proj.weight, generator=g)
        torch.nn.init.normal_(self.proj.bias, generator=g)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        SEEN.append(x.shape[0])
        return self.proj(torch.nn.functional.adaptive_avg_pool2d(x.float() / 255, 4).flatten(1))


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A tmp cache, a stub Inception read from a weights file, 8 images; ``run(**cfg)``."""
    from colorbench_metrics_learned import fidelity, plugin, weights

    monkeypatch.setenv("COLORBENCH_CACHE", str(tmp_path / "cache"))
    wfile = tmp_path / weights.INCEPTION.file
    torch.save(Tiny(0).state_dict(), wfile)

    def stub_inception(path, device="cpu"):
        net = Tiny()
        net.load_state_dict(torch.load(path, weights_only=True))
        return net.eval()

    monkeypatch.setattr(weights, "INCEPTION", types.SimpleNamespace(file=wfile.name, ensure=lambda: wfile))
    monkeypatch.setattr(fidelity, "inception", stub_inception)
    imgs = make_folder(tmp_path / "imgs", 8, size=(24, 20))
    regs = load_regs([("learned", plugin), ("tint", _TintPlugin())])
    counter = iter(range(100))

    def run(**cfg):
        SEEN.clear()
        base = dict(models=["gray"], datasets=[str(imgs)], metrics=["fid", "kid"], size=16, batch_size=3,
                    workers=0, out=str(tmp_path / "runs"), name=f"r{next(counter)}")
        result = Runner(RunConfig(**{**base, **cfg}), regs, Reporter(quiet=True)).run()
        assert not result.errors, result.errors
        pairs = json.loads((result.run_dir / "run.json").read_text())["pairs"]
        (record,) = pairs.values()
        return record, sum(SEEN)

    return types.SimpleNamespace(run=run, cache=tmp_path / "cache" / "fid-ref", imgs=imgs, wfile=wfile)


def _files(cache):
    return sorted(p.name for p in cache.glob("*.npz")) if cache.is_dir() else []


def test_second_run_uses_the_cache_with_the_values_of_a_recomputation(env) -> None:
    first, seen = env.run()
    assert seen == 2 * 2 * 8  # fid and kid each featurise 8 predictions and 8 ground truths
    files = _files(env.cache)
    assert len(files) == 2 and files[0].startswith("fid-") and files[1].startswith("kid-")
    assert first["fid_info"]["reference"] == {"source": "computed", "images": 8,
                                              "cached_to": str(env.cache / files[0])}
    second, seen = env.run()
    assert seen == 2 * 8  # the ground truths are not featurised again
    for m in ("fid", "kid"):
        assert second[m] == pytest.approx(first[m], abs=1e-9, rel=0)
        assert second[f"{m}_info"]["reference"]["source"] == "cached"
        assert second[f"{m}_info"]["reference"]["images"] == 8
    # another model reuses it too, with the value a run without the cache computes
    tint, seen = env.run(models=["tint"])
    assert seen == 2 * 8 and tint["fid_info"]["reference"]["source"] == "cached"
    fresh, seen = env.run(models=["tint"], metric_options=["cache=false"])
    assert seen == 2 * 2 * 8 and fresh["fid_info"]["reference"]["cached_to"] is None
    for m in ("fid", "kid"):
        assert tint[m] == pytest.approx(fresh[m], abs=1e-9, rel=0)
        assert tint[m] != pytest.approx(first[m], rel=1e-6)  # another model, another value
    assert _files(env.cache) == files


def test_another_image_list_size_or_extractor_misses_the_cache(env) -> None:
    env.run()
    assert len(_files(env.cache)) == 2
    shorter, seen = env.run(limit=6)
    assert seen == 2 * 2 * 6 and shorter["fid_info"]["reference"]["source"] == "computed"
    assert not shorter["fid_info"]["warnings"][:-1]  # a miss, not a rejected file (last: the n < 2048 note)
    bigger, seen = env.run(size=24)
    assert seen == 2 * 2 * 8 and bigger["kid_info"]["reference"]["source"] == "computed"
    assert len(_files(env.cache)) == 6
    torch.save(Tiny(1).state_dict(), env.wfile)  # other extractor weights
    other, seen = env.run()
    assert seen == 2 * 2 * 8 and other["fid_info"]["reference"]["source"] == "computed"
    assert len(_files(env.cache)) == 8


def test_same_number_of_images_but_other_ids_or_changed_files_miss(env) -> None:
    env.run()
    (env.imgs / "img007.png").rename(env.imgs / "img009.png")  # same count, another id
    renamed, seen = env.run()
    assert seen == 2 * 2 * 8 and renamed["fid_info"]["reference"]["source"] == "computed"
    assert not renamed["fid_info"]["warnings"][:-1]
    write_image(env.imgs / "img000.png", size=(24, 20), seed=50)  # same ids, another image
    changed, seen = env.run()
    assert seen == 2 * 2 * 8 and changed["fid"] != pytest.approx(renamed["fid"], rel=1e-6)
    assert len(_files(env.cache)) == 6


def test_corrupt_or_misshapen_cache_file_warns_once_recomputes_and_overwrites(env) -> None:
    first, _ = env.run()
    fid_file = next(env.cache.glob("fid-*.npz"))
    fid_file.write_bytes(b"not an npz")
    again, seen = env.run(metrics=["fid"])
    assert seen == 2 * 8 and again["fid"] == pytest.approx(first["fid"], abs=1e-9, rel=0)
    (line, _n_note) = again["fid_info"]["warnings"]
    assert str(fid_file) in line and "cannot be used" in line and "\n" not in line
    hit, seen = env.run(metrics=["fid"])  # the file was rewritten and is used again
    assert seen == 8 and hit["fid_info"]["reference"]["source"] == "cached"
    # right meta, but features of another dimension than the extractor's
    with np.load(fid_file) as z:
        meta = str(z["meta"])
    np.savez(fid_file, meta=np.array(meta), mu=np.zeros(3), sigma=np.eye(3))
    again, seen = env.run(metrics=["fid"])
    assert seen == 2 * 8 and again["fid"] == pytest.approx(first["fid"], abs=1e-9, rel=0)
    assert "3-d" in again["fid_info"]["warnings"][0]
    kid_file = next(env.cache.glob("kid-*.npz"))
    with np.load(kid_file) as z:
        np.savez(kid_file, meta=z["meta"], features=z["features"][:5])  # fewer rows than images
    again, seen = env.run(metrics=["kid"])
    assert seen == 2 * 8 and again["kid"] == pytest.approx(first["kid"], abs=1e-9, rel=0)
    assert "[8, d]" in again["kid_info"]["warnings"][0]


def _stats_file(tmp_path, mu, sigma, fmt="npz"):
    path = tmp_path / f"published.{fmt}"
    if fmt == "npz":
        np.savez(path, mu=mu, sigma=sigma)
    else:  # torch-fidelity's own cache format: a torch.save'd dict of numpy arrays
        from torch_fidelity.utils import torch_atomic_save

        torch_atomic_save({"mu": mu, "sigma": sigma}, str(path))
    return path


@pytest.mark.parametrize("fmt", ["npz", "pt"])
def test_fid_ref_on_score_replaces_the_ground_truths(env, cli, tmp_path, fmt) -> None:
    from colorbench_metrics_learned import plugin
    from torch_fidelity.metric_fid import fid_statistics_to_metric

    from colorbench.evaluation.images import load_rgb

    cli.add_plugin("learned", plugin)
    pred = tmp_path / "pred"
    for k in range(8):  # other images under the ground truths' names
        write_image(pred / f"img{k:03d}.png", size=(24, 20), seed=100 + k)
    rng = np.random.default_rng(3)
    a = rng.normal(size=(4, 4))
    mu, sigma = rng.normal(size=4), a @ a.T + np.eye(4)
    ref = _stats_file(tmp_path, mu, sigma, fmt)
    SEEN.clear()
    cli("score", "--pred", pred, "--gt", env.imgs, "--metrics", "fid", "--fid-ref", ref, "--out", tmp_path / "out")
    assert sum(SEEN) == 8  # predictions only
    record = json.loads((tmp_path / "out" / "run.json").read_text())["pairs"]["score/pred"]
    with torch.no_grad():
        f = Tiny()
        f.load_state_dict(torch.load(env.wfile, weights_only=True))
        x = torch.stack([torch.from_numpy(load_rgb(p)).permute(2, 0, 1) for p in sorted(pred.glob("*.png"))])
        feats = f(x).double().numpy()
    expected = fid_statistics_to_metric({"mu": feats.mean(0), "sigma": np.cov(feats, rowvar=False)},
                                        {"mu": mu, "sigma": sigma}, verbose=False)["frechet_inception_distance"]
    assert record["fid"] == pytest.approx(expected, rel=1e-6)
    assert record["fid_info"]["reference"] == {"source": "file", "file": str(ref.resolve()),
                                               "sha256": hashlib.sha256(ref.read_bytes()).hexdigest()}
    assert not _files(env.cache)


def test_fid_ref_on_run_and_its_refusals(env, cli, tmp_path) -> None:
    from colorbench_metrics_learned import plugin

    cli.add_plugin("learned", plugin)
    computed, _ = env.run(metrics=["fid"])
    stats = next(env.cache.glob("fid-*.npz"))
    with np.load(stats) as z:  # the ground truths' own statistics as a "published" file
        ref = _stats_file(tmp_path, z["mu"], z["sigma"])
    SEEN.clear()
    cli("run", "--models", "gray", "--datasets", env.imgs, "--metrics", "fid", "--size", "16", "--workers", "0", "--batch-size", "3",
        "--fid-ref", ref, "--out", tmp_path / "cli", "--name", "x", "--quiet")
    assert sum(SEEN) == 8
    (record,) = json.loads((tmp_path / "cli" / "x" / "run.json").read_text())["pairs"].values()
    assert record["fid"] == pytest.approx(computed["fid"], abs=1e-9, rel=0)
    assert record["fid_info"]["reference"]["source"] == "file"
    res = cli("run", "--models", "gray", "--datasets", env.imgs, "--metrics", "kid", "--size", "16",
              "--metric-set", f"kid.reference={ref}", "--out", tmp_path / "cli", "--name", "k", ok=False)
    assert res.exit_code == 1 and "KID needs the reference images' features" in " ".join(res.output.split())
    bad = _stats_file(tmp_path, np.zeros(3), np.eye(2))
    res = cli("run", "--models", "gray", "--datasets", env.imgs, "--metrics", "fid", "--size", "16",
              "--fid-ref", bad, "--out", tmp_path / "cli", "--name", "b", ok=False)
    text = " ".join(res.output.split())
    assert res.exit_code == 1 and "mu has shape [3] and sigma [2, 2]" in text


def _acc(kind="fid", seed=0):
    from colorbench_metrics_learned.plugin import register_metrics

    found = {}
    register_metrics(lambda s: found.setdefault(s.name, s))
    return found[kind].build(device="cpu", extractor=Tiny(seed))


def _batches():
    g = torch.Generator().manual_seed(0)
    return [MetricBatch(torch.randint(0, 256, (3, 3, 16, 16), dtype=torch.uint8, generator=g),
                        torch.randint(0, 256, (3, 3, 16, 16), dtype=torch.uint8, generator=g)) for _ in range(4)]


@pytest.mark.parametrize("kind", ["fid", "kid"])
def test_shards_merged_on_rank0_write_and_then_skip_the_ground_truths(tmp_path, monkeypatch, kind) -> None:
    """Two ranks: each feeds its shard, rank 1 merges into rank 0, only rank 0 computes."""
    monkeypatch.setenv("COLORBENCH_CACHE", str(tmp_path))
    ref, batches = Reference("ab" * 32, 12), _batches()
    values = []
    for _ in range(2):
        ranks = [_acc(kind), _acc(kind)]
        for r in ranks:
            r.reset()
            r.set_reference(ref)
        for k, b in enumerate(batches):
            ranks[k % 2].update(b)
        values.append(ranks[0].merge(ranks[1]).compute())
        gt_n = ranks[0].gt.n
    assert gt_n == 0 and values[1] == pytest.approx(values[0], abs=1e-9, rel=0)
    assert len(list((tmp_path / "fid-ref").glob(f"{kind}-*.npz"))) == 1
    # an injected extractor with other weights does not reuse it
    other = _acc(kind, seed=5)
    other.set_reference(ref)
    assert other.cached is None


def test_partial_ground_truths_are_not_cached_and_a_file_written_meanwhile_is_used(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("COLORBENCH_CACHE", str(tmp_path))
    ref, batches = Reference("cd" * 32, 12), _batches()
    short = _acc()
    short.set_reference(ref)
    for b in batches[:3]:  # the fourth batch failed
        short.update(b)
    short.compute()
    assert not list(tmp_path.rglob("*.npz")) and "9 of 12" in short.info()["warnings"][0]
    forgotten = _acc()
    forgotten.set_reference(ref)
    forgotten.reset()  # a new pair without a reference: nothing is looked up or written
    for b in batches:
        forgotten.update(b)
    forgotten.compute()
    assert not list(tmp_path.rglob("*.npz")) and forgotten.info()["reference"]["source"] == "computed"
    late = _acc()
    late.set_reference(ref)  # rank 0 misses: nothing is cached yet
    full = _acc()
    full.set_reference(ref)
    for b in batches:
        full.update(b)
    expected = full.compute()  # another process writes the cache meanwhile
    hit = _acc()
    hit.set_reference(ref)  # rank 1 hits it
    assert hit.cached is not None
    late.update(batches[0])
    for b in batches[1:]:
        hit.update(b)
    late.merge(hit)
    assert late.gt.n == 3 and late.compute() == pytest.approx(expected, abs=1e-9, rel=0)
    assert late.info()["reference"]["source"] == "cached"


def test_reference_key_depends_on_ids_order_sources_and_protocol() -> None:
    side = {"dataset": {"name": "x"}, "size": 16}
    key = reference_for(side, ["a", "b"], {"a": "1:2"})
    assert key == reference_for(side, ["a", "b"], {"a": "1:2"}) and key.images == 2
    others = [reference_for(side, ["b", "a"], {"a": "1:2"}), reference_for(side, ["a", "c"], {"a": "1:2"}),
              reference_for(side, ["a", "b"], {"a": "1:3"}), reference_for({**side, "size": 24}, ["a", "b"])]
    assert len({key.key, *(o.key for o in others)}) == 5


def test_score_caches_the_ground_truths_of_its_gt_folder(env, cli, tmp_path) -> None:
    from colorbench_metrics_learned import plugin

    cli.add_plugin("learned", plugin)
    pred = tmp_path / "pred"
    for k in range(8):
        write_image(pred / f"img{k:03d}.png", size=(24, 20), seed=100 + k)
    values = []
    for out in ("o1", "o2"):
        SEEN.clear()
        cli("score", "--pred", pred, "--gt", env.imgs, "--metrics", "fid", "--out", tmp_path / out)
        values.append(json.loads((tmp_path / out / "run.json").read_text())["pairs"]["score/pred"])
        values[-1]["seen"] = sum(SEEN)
    assert [v["seen"] for v in values] == [16, 8]
    assert values[1]["fid"] == pytest.approx(values[0]["fid"], abs=1e-9, rel=0)
    assert values[1]["fid_info"]["reference"]["source"] == "cached"


def test_unwritable_cache_warns_and_bad_published_dimension_is_one_line(tmp_path, monkeypatch) -> None:
    from colorbench.errors import ColorbenchError

    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    monkeypatch.setenv("COLORBENCH_CACHE", str(blocker))
    acc, batches = _acc(), _batches()
    acc.set_reference(Reference("ef" * 32, 12))
    for b in batches:
        acc.update(b)
    assert np.isfinite(acc.compute())
    assert acc.info()["reference"]["cached_to"] is None and "reference not cached" in acc.info()["warnings"][0]
    from colorbench_metrics_learned.plugin import register_metrics

    found = {}
    register_metrics(lambda s: found.setdefault(s.name, s))
    ref = _stats_file(tmp_path, np.zeros(3), np.eye(3))
    pub = found["fid"].build(device="cpu", extractor=Tiny(), reference=str(ref))
    with pytest.raises(ColorbenchError, match="3-d but the extractor gives 4-d"):
        pub.update(batches[0])


def test_a_file_of_another_reference_under_this_name_is_rejected(tmp_path, monkeypatch) -> None:
    import shutil

    from colorbench_metrics_learned.reference import cache_file

    monkeypatch.setenv("COLORBENCH_CACHE", str(tmp_path))
    batches = _batches()
    mine = _acc()
    mine.set_reference(Reference("12" * 32, 12))
    for b in batches:
        mine.update(b)
    mine.compute()
    other = _acc()
    other.set_reference(Reference("34" * 32, 12))  # a miss; then plant mine under its name
    shutil.copy(mine.used["cached_to"], cache_file(other._meta()))
    other.set_reference(Reference("34" * 32, 12))
    assert other.cached is None and "another reference" in other.notes[0]
