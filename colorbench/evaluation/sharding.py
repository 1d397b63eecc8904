"""Evaluation sharded over the ranks of ``torchrun`` (one node or several), with results
that do not depend on the number of processes.

Every rank builds the same datasets and models. For each (dataset, model) pair rank 0
decides what is left to do (resume) and broadcasts that plan; each rank takes one
contiguous block of it, writes its rows to its own shard file
``RUN/shards/<dataset>/<model>.rank-<r>.csv`` (rank 0 writes per_image.csv itself) and feeds
its own distribution accumulators. At the end of the pair the ranks send rank 0 their
accumulator states (``Accumulator.state()``), failures and counts; rank 0 merges them in
rank order (so list states keep the dataset order), computes the set metrics and folds the
shard rows into per_image.csv. At the end of the run rank 0 puts per_image.csv in dataset
order. A run killed at any point leaves shard files that the next run, with any number of
processes, folds in before it starts. Without torchrun there is one rank and every step
here is a no-op, so one process runs exactly this code path.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path
from typing import Any

import torch

from colorbench import distributed
from colorbench.errors import ColorbenchError
from colorbench.evaluation.accumulator import Accumulator
from colorbench.evaluation.failures import ERRORS_LOG, ErrorLog, Failure
from colorbench.evaluation.metricset import SET, MetricSet, PairState
from colorbench.results.files import PerImageWriter, read_rows

SHARD_DIR = "shards"
TIMEOUT_ENV = "COLORBENCH_DIST_TIMEOUT"


class Shard:
    """This process's part of a (possibly) sharded evaluation writing ``run_dir``."""

    def __init__(self, run_dir: Path, info: distributed.DistInfo):
        self.run_dir, self.info = Path(run_dir), info

    @classmethod
    def join(cls, run_dir: Path, device: torch.device) -> Shard:
        """Join torchrun's process group when launched by it (gloo, on the CPU and with GPUs:
        the ranks exchange a few objects per pair; each rank computes on the GPU of its
        LOCAL_RANK, several ranks may share one); one rank of one otherwise.
        ``$COLORBENCH_DIST_TIMEOUT`` (seconds) bounds every wait for the other ranks."""
        timeout = float(os.environ.get(TIMEOUT_ENV, "0") or 0) or None
        return cls(run_dir, distributed.setup(device, timeout, backend="gloo"))

    @property
    def is_main(self) -> bool:
        return self.info.is_main

    @property
    def device(self) -> torch.device:
        return self.info.device

    @property
    def label(self) -> str:
        """`` (rank r of W)`` under torchrun, else ""."""
        return f" (rank {self.info.rank} of {self.info.world_size})" if self.info.enabled else ""

    # ------------------------------------------------------------- agreement
    def on_main(self, fn: Callable[[], Any]) -> Any:
        """``fn()`` on rank 0, its value (or its exception) on every rank."""
        return distributed.compute_once(fn, self.info)

    def guard(self, context: AbstractContextManager[Any], stack: ExitStack) -> None:
        """Enter ``context`` (e.g. the run directory's lock) on rank 0 inside ``stack``; when
        that raises, every rank raises instead of waiting in a collective."""
        self.on_main(lambda: (stack.enter_context(context), None)[1])

    def all_ok(self, error: str | None) -> str | None:
        """None when no rank had an ``error``, else the first rank's (every rank agrees)."""
        errors = [e for e in distributed.gather_objects(error, self.info) if e]
        return str(errors[0]) if errors else None

    def part(self, items: Sequence[Any]) -> list[Any]:
        """This rank's contiguous block of ``items`` (blocks in rank order cover them once)."""
        n, world, rank = len(items), self.info.world_size, self.info.rank
        return list(items[n * rank // world: n * (rank + 1) // world])

    # ----------------------------------------------------------------- files
    def _rows_path(self, dataset: str, model: str, rank: int) -> Path:
        return self.run_dir / SHARD_DIR / dataset / f"{model}.rank-{rank}.csv"

    def error_log(self) -> ErrorLog:
        """errors.log for rank 0, ``shards/errors.rank-<r>.log`` for the others (folded in)."""
        if self.is_main:
            return ErrorLog(self.run_dir / ERRORS_LOG)
        return ErrorLog(self.run_dir / SHARD_DIR / f"errors.rank-{self.info.rank}.log")

    @contextmanager
    def writer(self, main: PerImageWriter | None, columns: Sequence[str], dataset: str,
               model: str) -> Iterator[PerImageWriter]:
        """Where this rank writes one pair's rows: ``main`` (per_image.csv, rank 0), else its
        shard file with the same ``columns`` (closed on leaving the block)."""
        if self.is_main:
            assert main is not None
            yield main
            return
        shard = PerImageWriter(self._rows_path(dataset, model, self.info.rank), columns)
        try:
            yield shard
        finally:
            shard.close()

    def fold(self, main: PerImageWriter, pair: tuple[str, str] | None = None) -> int:
        """Rank 0: append shard rows to ``main`` (per_image.csv) and delete their files: those of
        one ``(dataset, model)`` pair once its ranks have closed them, or (``pair`` None, while
        no other rank writes) every shard file of this run or of a killed earlier one, of any
        number of ranks, and the ranks' error logs into errors.log. Returns the rows added."""
        root = self.run_dir / SHARD_DIR
        if not self.is_main or not root.is_dir():
            return 0
        files = (sorted(root.rglob("*.csv")) if pair is None else
                 sorted((root / pair[0]).glob(f"{pair[1]}.rank-*.csv")))
        before = len(main.rows)
        for path in files:
            main.append(read_rows(path)[1])
            path.unlink()
        if pair is None:
            logs = sorted(root.glob("errors.rank-*.log"))
            if logs:
                with open(self.run_dir / ERRORS_LOG, "a", encoding="utf-8", errors="surrogateescape") as out:
                    out.writelines(log.read_text(encoding="utf-8", errors="surrogateescape") for log in logs)
            shutil.rmtree(root)
        return len(main.rows) - before

    def clear(self) -> None:
        """Rank 0: delete leftover shard files (a run that starts afresh)."""
        if self.is_main:
            shutil.rmtree(self.run_dir / SHARD_DIR, ignore_errors=True)

    def barrier(self) -> None:
        distributed.barrier(self.info)

    # ----------------------------------------------------------- set metrics
    def gather_pair(self, metric_set: PairState | MetricSet, errors: ErrorLog, key: str, processed: int,
                    written: int, elapsed: float, gray: list[str]) -> tuple[int, int, float, list[str]]:
        """Send rank 0 this rank's accumulator states (of the pair's ``PairState``, or of a
        metric set's current pair), set-metric failures and failure counts
        of pair ``key``; rank 0 merges them (in rank order) into its own. Returns the pair's
        totals over ranks: images processed, rows written, the slowest rank's seconds and the
        chroma-free ground truths' ids."""
        if not self.info.enabled:
            return processed, written, elapsed, gray
        accs = metric_set.accumulators
        payload = {
            "states": {m: a.state() for m, a in accs.items()
                       if isinstance(a, Accumulator) and m not in metric_set.pair_failures},
            "failures": {m: Failure(SET, f.message, m) for m, f in metric_set.pair_failures.items()},
            "counts": {m: [Failure(f.image_id, f.message, f.metric) for f in fs]
                       for m, fs in errors.counts.get(key, {}).items()},
            "totals": (processed, written, elapsed),
            "gray": gray,
        }
        gathered = distributed.gather_objects(payload, self.info)
        if self.is_main:
            for other in gathered[1:]:
                self._merge(metric_set, errors, key, other)  # type: ignore[arg-type]
        totals = [g["totals"] for g in gathered]  # type: ignore[index]
        return (sum(t[0] for t in totals), sum(t[1] for t in totals), max(t[2] for t in totals),
                [i for g in gathered for i in g["gray"]])  # type: ignore[index]

    @staticmethod
    def _merge(metric_set: PairState | MetricSet, errors: ErrorLog, key: str, other: dict[str, Any]) -> None:
        for mid, failure in other["failures"].items():
            metric_set.pair_failures.setdefault(mid, failure)
        for mid, acc in metric_set.accumulators.items():
            if mid in metric_set.pair_failures:
                continue
            if not isinstance(acc, Accumulator):
                metric_set.pair_failures[mid] = Failure(
                    SET, f"{type(acc).__name__} is not a colorbench.Accumulator, so its shards cannot be "
                    "merged; run it in one process (without torchrun)", mid)
            elif mid not in other["states"]:
                raise ColorbenchError(f"metric {mid}: a rank sent no state")
            else:
                acc.merge_state(other["states"][mid])
        for metric, failures in other["counts"].items():
            errors.counts.setdefault(key, {}).setdefault(metric, []).extend(failures)
