"""colorbench from Python (docs/api.md): score folders or tensors, run models on datasets,
per-image metric functions for a training loop, and the colorizer factory.

Thin wrappers over the engine the command line uses: ``score`` goes through
``evaluation.scoring.score_dirs`` (folders) or the one batch scorer (tensors), ``evaluate``
builds a ``RunConfig`` for the ``Runner``, ``metric`` wraps a ``MetricSet`` of one metric and
``create_model`` is ``models.factory.create_colorizer``. Every function is also exported from
``colorbench`` itself; torch loads on first use, not on ``import colorbench``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from colorbench.errors import ColorbenchError

if TYPE_CHECKING:
    import pandas
    import torch

    from colorbench.evaluation.config import RunResult
    from colorbench.plugin.manager import Registries
    from colorbench.plugin.specs import Colorizer, MetricSpec

__all__ = ["Metric", "Scores", "create_model", "evaluate", "list_datasets", "list_metrics", "list_models",
           "metric", "registries", "score"]

ROW_COLUMNS = ("status", "error", "failed_metrics")  # kept beside the metric columns
TENSORS = "tensors"  # the dataset name of scored tensors
_loaded: dict[str, Any] = {}


def registries(refresh: bool = False) -> Registries:
    """The installed plugins' registries, loaded once per process (``COLORBENCH_DISABLE_PLUGINS``
    honoured; broken plugins reported on stderr and skipped)."""
    if refresh or "regs" not in _loaded:
        from colorbench.plugin import manager

        _loaded["regs"] = manager.load()
        manager.report_failures(_loaded["regs"])
    return _loaded["regs"]


def list_models(regs: Registries | None = None) -> list[str]:
    """Names of the registered colorizers (``colorbench list colorizers``)."""
    return (regs or registries()).colorizers.names()


def list_datasets(regs: Registries | None = None) -> list[str]:
    """Names of the registered datasets."""
    return (regs or registries()).datasets.names()


def list_metrics(regs: Registries | None = None) -> list[str]:
    """Ids of the registered metrics (per-image and distribution)."""
    return (regs or registries()).metrics.names()


def create_model(name: str, device: Any = "cpu", checkpoint: str | Path | None = None,
                 options: Mapping[str, Any] | None = None, regs: Registries | None = None) -> Colorizer:
    """Build colorizer ``name`` through the one factory: declared weights (hash-checked) unless
    ``checkpoint`` (a file or a ``train --out`` folder) is given; ``options`` are its ``--set``
    options. ``colorize(L)`` maps L* [B,1,H,W] in [0, 100] to a*b* [B,2,H,W]."""
    from colorbench.models.factory import create_colorizer

    return create_colorizer(regs or registries(), name, checkpoint=checkpoint, device=device, options=options)


def as_uint8(images: torch.Tensor, what: str = "images") -> torch.Tensor:
    """RGB [B,3,H,W] (or [3,H,W]) as uint8: uint8 is kept, float in [0, 1] is quantized as the
    protocol does (clip, x255, round half up). Other dtypes or float beyond [0, 1]: one line."""
    import torch

    from colorbench.color import quantize

    x = images.unsqueeze(0) if images.dim() == 3 else images
    if x.dim() != 4 or x.shape[1] != 3:
        raise ColorbenchError(f"{what}: shape {tuple(images.shape)}; expected RGB [B, 3, H, W]")
    if x.dtype == torch.uint8:
        return x
    if not x.is_floating_point():
        raise ColorbenchError(f"{what}: dtype {x.dtype}; pass uint8 (0-255) or float in [0, 1]")
    if x.numel() and (float(x.min()) < -1e-3 or float(x.max()) > 1 + 1e-3):
        raise ColorbenchError(f"{what}: float values in [{float(x.min()):g}, {float(x.max()):g}]; floats must "
                              "be in [0, 1] (pass uint8 for 0-255 values)")
    return quantize(x.detach().float())


class Metric:
    """A per-image metric as a function ``(pred, gt) -> float64 tensor [B]`` (on the CPU) for a
    training loop: the registered metric through the engine's ``MetricSet``, so the values are
    those ``colorbench run`` and ``score`` write. Not differentiable (metrics see uint8)."""

    def __init__(self, spec: MetricSpec, device: Any = "cpu", options: Mapping[str, Any] | None = None):
        from colorbench.evaluation.metricset import MetricSet
        from colorbench.models.factory import build_options

        if spec.kind != "per_image":
            raise ColorbenchError(f"metric {spec.name} is a per-set (distribution) metric; score a whole set "
                                  f"with colorbench.score(pred, gt, metrics=[{spec.name!r}])")
        if spec.check_available is not None:
            spec.check_available()  # missing weights: one line with the URL and the cache folder
        self.spec, self.device = spec, device
        self._set = MetricSet([spec], device, {spec.name: build_options(spec, options)})

    @property
    def higher_is_better(self) -> bool:
        return self.spec.higher_is_better

    def __call__(self, pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
        import torch

        from colorbench.evaluation.batch import MetricBatch

        p, g = as_uint8(pred, "pred").to(self.device), as_uint8(gt, "gt").to(self.device)
        values, failed = self._set.score(MetricBatch(p, g))
        bad = next((f for cells in failed for f in cells.values()), None)
        if bad is not None:
            raise ColorbenchError(f"metric {self.spec.name} failed on image {bad.image_id}: {bad.message}")
        return torch.tensor(values[self.spec.name], dtype=torch.float64)


def metric(name: str, device: Any = "cpu", regs: Registries | None = None, **options: Any) -> Metric:
    """The per-image metric ``name`` (an id or alias, e.g. ``"psnr"``) as a callable; ``options``
    are its ``--metric-set`` options (e.g. ``alpha=6`` for cnr)."""
    return Metric((regs or registries()).metrics.get(name), device, options)


@dataclass
class Scores:
    """What ``score`` gives: ``per_image`` (a pandas DataFrame indexed by image id: status, error,
    failed_metrics and one column per per-image metric), ``summary`` (the summary.csv row:
    dataset means over finite values, 95 % intervals, counts, distribution metrics such as
    fid) and ``out_dir`` (the results folder, None when none was asked for)."""

    per_image: pandas.DataFrame
    summary: dict[str, Any]
    out_dir: Path | None = None


def _frame(rows: list[dict[str, Any]], metric_ids: list[str]) -> pandas.DataFrame:
    import pandas

    from colorbench.results.files import parse_value

    def number(v: Any) -> float | None:
        return parse_value(v) if isinstance(v, str) else v

    table = [{"image_id": r["image_id"], **{c: r.get(c) or None for c in ROW_COLUMNS},
              **{m: number(r.get(m)) for m in metric_ids}} for r in rows]
    frame = pandas.DataFrame(table, columns=["image_id", *ROW_COLUMNS, *metric_ids])
    return frame.set_index("image_id")


def score(pred: str | Path | torch.Tensor, gt: str | Path | torch.Tensor, metrics: Sequence[str] | None = None,
          *, out: str | Path | None = None, device: Any = "cpu", batch_size: int = 16, resize_pred: bool = False,
          ids: Sequence[str] | None = None, metric_options: Mapping[str, Mapping[str, Any]] | None = None,
          strict: bool = False, quiet: bool = True, regs: Registries | None = None) -> Scores:
    """Score predictions against ground truths with ``metrics`` (default: every available one).

    Folders: files matched by relative path without extension, exactly ``colorbench score
    --pred PRED --gt GT`` (``out``: keep its results folder; ``resize_pred`` as the flag).
    Tensors: RGB [B,3,H,W] uint8 or float in [0, 1] (``ids``: row names, default "0".."B-1").
    A metric whose weights are missing is skipped with a warning (``strict``: an error)."""
    import torch

    from colorbench.evaluation.selection import resolve_metrics, unavailable_note
    from colorbench.reporting import Reporter

    specs, unavailable = resolve_metrics(regs or registries(), list(metrics) if metrics else None, strict=strict)
    reporter = Reporter(quiet=quiet)
    for line in unavailable_note(unavailable, requested=bool(metrics)):
        reporter.warn(line)
    options = {k: dict(v) for k, v in (metric_options or {}).items()}
    per_image_ids = [s.name for s in specs if s.kind == "per_image"]
    if isinstance(pred, torch.Tensor) or isinstance(gt, torch.Tensor):
        return _score_tensors(pred, gt, specs, per_image_ids, ids, device, options, reporter)
    from colorbench import results
    from colorbench.device import resolve_device
    from colorbench.evaluation.scoring import score_dirs

    with tempfile.TemporaryDirectory(prefix="colorbench-score-") as tmp:
        out_dir = Path(out) if out is not None else Path(tmp) / "score"
        summary = score_dirs(Path(pred), Path(gt), specs, out_dir, resize_pred=resize_pred, batch_size=batch_size,
                             workers=0, device=resolve_device(str(device)), reporter=reporter,
                             unavailable=unavailable, metric_options=options)
        _, rows = results.read_rows(out_dir / "per_image.csv")
        return Scores(_frame(rows, per_image_ids), summary[0], Path(out) if out is not None else None)


def _score_tensors(pred: Any, gt: Any, specs: list[MetricSpec], per_image_ids: list[str],
                   ids: Sequence[str] | None, device: Any, options: dict[str, dict[str, Any]],
                   reporter: Any) -> Scores:
    import os

    import torch

    from colorbench.evaluation.batch_scorer import BatchScorer
    from colorbench.evaluation.failures import ErrorLog
    from colorbench.evaluation.loader import Item
    from colorbench.evaluation.metricset import MetricSet
    from colorbench.results.manifest import PairRecord
    from colorbench.results.summary import summarize

    p, g = as_uint8(torch.as_tensor(pred), "pred"), as_uint8(torch.as_tensor(gt), "gt")
    if p.shape != g.shape:
        raise ColorbenchError(f"pred {tuple(p.shape)} and gt {tuple(g.shape)} differ in shape")
    names = [str(i) for i in (ids if ids is not None else range(len(p)))]
    if len(names) != len(p) or len(set(names)) != len(names):
        raise ColorbenchError(f"ids: {len(names)} names for {len(p)} images; give one unique id per image")
    mset = MetricSet(specs, device, options)
    scorer = BatchScorer(mset, torch.device(device), ErrorLog(Path(os.devnull)))
    base, record = {"dataset": TENSORS, "model": "pred"}, PairRecord()
    mset.start_pair()
    rows, _ = scorer.process(base, [Item(n, rgb=g[k], pred=p[k]) for k, n in enumerate(names)])
    for failure in mset.finish(record, reporter.warn):
        reporter.warn(f"metric {failure.metric} failed: {failure.message}")
    summary = summarize(rows, mset.metadata(), {f"{TENSORS}/pred": record})[0]
    return Scores(_frame(rows, per_image_ids), summary)


def _entries(given: Mapping[str, Any] | Sequence[str] | None) -> list[str]:
    """``{"KEY": value}`` -> ``["KEY=value"]`` (lists of "KEY=VALUE" pass through)."""
    if given is None:
        return []
    if isinstance(given, Mapping):
        return [f"{k}={v}" for k, v in given.items()]
    return list(given)


def evaluate(models: Sequence[str] | None = None, datasets: Sequence[str] = ("samples",),
             metrics: Sequence[str] | None = None, *, out: str | Path = "runs", name: str | None = None,
             limit: int | None = None, size: int = 256, resize: str = "crop", split: str | None = None,
             device: str = "auto", batch_size: int = 16, workers: int = 0, save_images: bool = False,
             resume: bool = True, seed: int = 0, checkpoints: Mapping[str, str | Path] | Sequence[str] | None = None,
             options: Mapping[str, Any] | Sequence[str] | None = None,
             metric_options: Mapping[str, Any] | Sequence[str] | None = None, quiet: bool = False,
             regs: Registries | None = None, **settings: Any) -> RunResult:
    """Run ``models`` (default: every one whose weights are here) on ``datasets`` (names or
    image folders) with ``metrics``: ``colorbench run`` from Python, same run directory
    ``out/name`` and resume. ``checkpoints``: ``{model: path}``; ``options`` and
    ``metric_options``: ``{"KEY" or "NAME.KEY": value}`` (``--set``, ``--metric-set``);
    ``settings``: any other ``RunConfig`` field (``precision``, ``data_root``, ``strict``, ...).
    ``workers=0`` decodes in this process (notebooks). Returns the ``RunResult``."""
    from colorbench.evaluation.config import RunConfig
    from colorbench.evaluation.runner import Runner
    from colorbench.reporting import Reporter

    config = RunConfig(models=list(models) if models else None, datasets=list(datasets),
                       metrics=list(metrics) if metrics else None, out=str(out), name=name, limit=limit,
                       size=size, resize=resize, split=split, device=device, batch_size=batch_size,
                       workers=workers, save_images=save_images, resume=resume, seed=seed,
                       checkpoints=_entries(checkpoints), options=_entries(options),
                       metric_options=_entries(metric_options), **settings)
    return Runner(config, regs or registries(), Reporter(quiet=quiet)).run()
