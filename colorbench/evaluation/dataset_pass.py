"""One pass over a dataset that feeds every selected model (``run``), or one pair (``score``).

Each image is decoded, resized and converted to L* once, in the loader, and offered to every
pair of the pass; a pair takes the images its resume plan needs, in its own batches of the
run's batch size (so its batches are the ones it would get alone), with its own accumulator
state (``PairState``) and its own random-number streams. The ground-truth tensors and their
``gt_*`` caches of a round are shared by the pairs (``GroundTruths``). What a pair writes,
logs and records is what it would if it ran alone.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from colorbench.evaluation.accumulator import Reference
from colorbench.evaluation.batch import GroundTruths
from colorbench.evaluation.failures import Failure
from colorbench.evaluation.fingerprint import merge_gray
from colorbench.evaluation.loader import Item
from colorbench.plugin.specs import ColorizerSpec
from colorbench.reporting.console import Reporter
from colorbench.results.files import PerImageWriter
from colorbench.results.manifest import PairRecord

if TYPE_CHECKING:
    from colorbench.evaluation.batch_scorer import BatchScorer
    from colorbench.evaluation.sharding import Shard


@dataclass
class PlannedPair:
    """A pair the runner has planned: its model, this rank's dataset indices (``mine``), the
    ids already scored (``done``: resume keeps their rows), image ``sources``, the
    ground-truth ``reference`` and the ``record`` the pass fills."""

    spec: ColorizerSpec
    colorizer: Any
    mine: list[int]
    done: list[str]
    sources: dict[str, str]
    reference: Reference
    record: PairRecord


class PairPass:
    """One (dataset, model) pair through a pass: with ``spec``/``colorizer`` (``run``) or
    the items' saved predictions (``score``); rows of images not in ``skip`` written to
    ``writer`` with their ``sources``, failures logged, accumulators fed. ``wanted``: the
    loader positions this pair needs (None: all); ``batch_size``: re-batch its items to this
    size (None: score the loader's batches as they come)."""

    def __init__(self, scorer: BatchScorer, base: Mapping[str, str], record: PairRecord,
                 writer: PerImageWriter, *, spec: ColorizerSpec | None = None, colorizer: Any = None,
                 skip: Collection[str] = (), sources: Mapping[str, str] | None = None,
                 reference: Reference | None = None, wanted: Iterable[int] | None = None,
                 batch_size: int | None = None):
        """``reference``: the pair's ground-truth side for its accumulators."""
        self.scorer, self.base, self.record, self.writer = scorer, base, record, writer
        self.spec, self.colorizer, self.skip, self.sources = spec, colorizer, skip, sources or {}
        self.key = f"{base['dataset']}/{base['model']}"
        self.state = scorer.metric_set.start_pair(reference)
        self.wanted = None if wanted is None else set(wanted)
        self.batch_size = batch_size
        self.pending: list[Item] = []
        self.processed = self.written = 0
        self.busy = 0.0  # seconds spent on this pair's own batches
        self.gray: list[str] = []
        self.rng: dict[str, Any] | None = None  # its own generators' state (several pairs in a pass)

    @contextmanager
    def _own_rng(self) -> Iterator[None]:
        if self.rng is None:
            yield
            return
        from colorbench.training.state import rng_state, set_rng_state

        set_rng_state(self.rng)
        try:
            yield
        finally:
            self.rng = rng_state()

    def offer(self, items: Sequence[Item], positions: Iterable[int], shared: GroundTruths | None) -> None:
        """Take those of ``items`` (at loader ``positions``) this pair needs; score each full batch."""
        if self.wanted is not None:
            items = [it for it, at in zip(items, positions, strict=True) if at in self.wanted]
        if self.batch_size is None:
            self._step(list(items), shared)
            return
        self.pending += items
        while len(self.pending) >= self.batch_size:
            batch, self.pending = self.pending[:self.batch_size], self.pending[self.batch_size:]
            self._step(batch, shared)

    def flush(self, shared: GroundTruths | None) -> None:
        """Score the last, partial batch."""
        batch, self.pending = self.pending, []
        self._step(batch, shared)

    def _step(self, items: list[Item], shared: GroundTruths | None) -> None:
        if not items:
            return
        t0 = time.perf_counter()
        scorer = self.scorer
        with self._own_rng():
            self.gray += [it.id for it in items if it.gray]
            if scorer.skip_gray_gt:
                items = [it for it in items if not it.gray]
            rows, failures = scorer.process(self.base, items, self.spec, self.colorizer, self.state, shared)
            rows = [{**r, "source": self.sources.get(r["image_id"])} for r in rows if r["image_id"] not in self.skip]
            self.writer.append(rows)
            scorer.errors.add(self.key, [f for f in failures if f.image_id not in self.skip])
        self.processed, self.written = self.processed + len(items), self.written + len(rows)
        self.busy += time.perf_counter() - t0

    def finish(self, reporter: Reporter, wait: float, shard: Shard | None = None) -> list[Failure]:
        """``record`` given images/s (images over this pair's own seconds plus the ``wait``
        for the loader) and the distribution values, failures shown. Returns the
        distribution metrics that failed. Under torchrun (``shard``) rank 0 merges the other
        ranks' accumulators and counts before computing; the other ranks return []."""
        scorer, key = self.scorer, self.key
        processed, written, elapsed, gray = self.processed, self.written, self.busy + wait, self.gray
        if shard is not None:
            processed, written, elapsed, gray = shard.gather_pair(self.state, scorer.errors, key,
                                                                  processed, written, elapsed, gray)
            if not shard.is_main:
                return []
        record = self.record
        record.gray_gt = merge_gray(record.gray_gt, gray, scorer.skip_gray_gt)
        record.images_per_s = processed / elapsed if elapsed > 0 else None
        with self._own_rng():
            set_failures = scorer.metric_set.finish(record, reporter.warn, self.state)
        scorer.errors.add(key, set_failures, count=False)
        for line in scorer.errors.pair_lines(key, written):
            reporter.warn(line)
        return set_failures


def pass_label(pairs: Sequence[PairPass]) -> str:
    """The progress bar's label: ``dataset/model``, or ``dataset/{a,b,c}`` for several models."""
    models = [p.base["model"] for p in pairs]
    return f"{pairs[0].base['dataset']}/{models[0] if len(models) == 1 else '{' + ','.join(models) + '}'}"


def run_pass(pairs: Sequence[PairPass], loader: Iterable[list[Item]], reporter: Reporter, label: str,
             total: int, positions: Sequence[int] | None = None) -> float:
    """Offer every batch of ``loader`` (``total`` items; ``positions``: the index each item
    stands for, default its position) to every pair, one progress bar for all; with several
    pairs, each draws random numbers from its own streams, all started from the state after
    the loader's iterator took its seed (as if each pair had the loader alone). Returns the
    seconds spent waiting for the loader."""
    shared = GroundTruths() if len(pairs) > 1 else None
    batches = iter(loader)
    if len(pairs) > 1:  # the training checkpoints' capture of every generator, reused
        from colorbench.training.state import rng_state

        start = rng_state()
        for pair in pairs:
            pair.rng = start
    wait, at = 0.0, 0
    with reporter.progress(label, total) as advance:
        while True:
            t0 = time.perf_counter()
            items = next(batches, None)
            wait += time.perf_counter() - t0
            if items is None:
                break
            where = range(at, at + len(items)) if positions is None else positions[at:at + len(items)]
            at += len(items)
            for pair in pairs:
                pair.offer(items, where, shared)
            if shared is not None:
                shared.clear()
            advance(len(items))
        for pair in pairs:
            pair.flush(shared)
    return wait
