"""The one sampling scheme of every trainer, and the persistent DataLoader that feeds it.

A batch is a pure function of (seed, step): epoch ``e`` visits the ``n`` training items in
``randperm(n)`` seeded by (seed, e); step ``s`` of the epoch takes the global batch
``order[s*B:(s+1)*B]`` and rank ``r`` of ``R`` its contiguous slice of ``B/R`` items. So a
run resumed at any step sees exactly the batches an uninterrupted one would, and 2
processes x B/2 see the same global batch as 1 process x B. An item's random augmentation
is seeded by (seed, epoch, index), whichever worker process loads it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from colorbench.errors import ColorbenchError

Key = tuple[int, int]  # (epoch, item index)


def mix(*parts: int) -> int:
    """A 63-bit seed from integers (splitmix-style), stable across processes and runs."""
    h = 0x9E3779B97F4A7C15
    for p in parts:
        h = (h ^ (int(p) & 0xFFFFFFFFFFFFFFFF)) * 0xBF58476D1CE4E5B9 & 0xFFFFFFFFFFFFFFFF
        h ^= h >> 31
    return h & 0x7FFFFFFFFFFFFFFF


def per_rank_batch(global_batch: int, world_size: int, n_items: int, accumulate: int = 1) -> int:
    """``batch_size`` is the global batch: each of ``world_size`` ranks takes an equal share,
    split into ``accumulate`` equal micro-batches. Anything else is a one-line error."""
    if global_batch < 1:
        raise ColorbenchError(f"batch_size {global_batch}: must be at least 1")
    if global_batch % world_size:
        raise ColorbenchError(f"batch_size {global_batch} (the global batch) does not divide over {world_size} "
                              f"processes; use a multiple of {world_size}")
    per_rank = global_batch // world_size
    if per_rank % accumulate:
        raise ColorbenchError(f"batch_size {global_batch} over {world_size} process(es) gives {per_rank} per "
                              f"process, which {accumulate} accumulation steps do not divide")
    if n_items < global_batch:
        raise ColorbenchError(f"the training set has {n_items} images, fewer than one batch of {global_batch}; "
                              "lower --batch-size or add images")
    return per_rank


class ShardedBatches:
    """This rank's batches of (epoch, index) keys for steps ``start+1, start+2, ...``
    (infinite; the loop stops it). ``epoch_of(step)`` names the epoch of a 1-based step."""

    def __init__(self, n_items: int, global_batch: int, rank: int, world_size: int, seed: int, start: int = 0):
        self.n, self.batch, self.rank, self.world = n_items, global_batch, rank, world_size
        self.seed, self.start = seed, start
        self.per_rank = global_batch // world_size
        self.steps_per_epoch = max(1, n_items // global_batch)  # the last partial batch is dropped

    def epoch_of(self, step: int) -> int:
        return (step - 1) // self.steps_per_epoch

    def order(self, epoch: int) -> list[int]:
        gen = torch.Generator().manual_seed(mix(self.seed, epoch))
        return torch.randperm(self.n, generator=gen).tolist()

    def __iter__(self) -> Iterator[list[Key]]:
        step = self.start
        while True:
            epoch, pos = divmod(step, self.steps_per_epoch)
            order = self.order(epoch)
            for b in range(pos, self.steps_per_epoch):
                lo = b * self.batch + self.rank * self.per_rank
                yield [(epoch, i) for i in order[lo:lo + self.per_rank]]
            step = (epoch + 1) * self.steps_per_epoch


class KeyedItems(Dataset):
    """``data[index]`` for a key (epoch, index): the epoch goes to ``data.set_epoch`` when it
    has one, and torch's RNG is seeded by (seed, epoch, index) around the call (without
    touching the caller's RNG), so augmentation does not depend on the worker."""

    def __init__(self, data: Any, seed: int):
        self.data, self.seed = data, seed

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, key: Key) -> Any:
        epoch, index = key
        if hasattr(self.data, "set_epoch"):
            self.data.set_epoch(epoch)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(mix(self.seed, epoch, index))
            return self.data[index]


def make_loader(data: Any, batches: ShardedBatches, workers: int, pin: bool, prefetch: int = 2) -> DataLoader:
    """One DataLoader for a whole stage: persistent workers, ``prefetch`` batches per worker,
    pinned tensor batches on CUDA, and its own generator (creating it draws nothing from
    the global RNG that dropout uses)."""
    return DataLoader(KeyedItems(data, batches.seed), batch_sampler=batches, num_workers=workers,
                      pin_memory=pin, persistent_workers=workers > 0,
                      prefetch_factor=prefetch if workers > 0 else None,
                      generator=torch.Generator().manual_seed(mix(batches.seed, batches.start)))


def micro_batches(batch: Any, parts: int) -> list[Any]:
    """Split a collated batch (a dict of tensors or lists) into ``parts`` equal pieces."""
    if parts == 1:
        return [batch]
    out: list[dict[str, Any]] = [{} for _ in range(parts)]
    for key, value in batch.items():
        size = len(value) // parts
        for i in range(parts):
            out[i][key] = value[i * size:(i + 1) * size]
    return out
