"""Decoding and protocol preprocessing in DataLoader workers; failures travel as data."""

from __future__ import annotations

import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from colorbench.evaluation.failures import Failure
from colorbench.evaluation.fingerprint import chroma_free
from colorbench.evaluation.packed import PackedItems
from colorbench.evaluation.protocol import lightness, resize, to_tensor
from colorbench.plugin.specs import Dataset


@dataclass
class Item:
    """One image as the batch scorer receives it: for ``run`` the ground truth and its L*,
    for ``score`` the ground truth and the saved prediction; or the reason it failed."""

    id: str
    rgb: torch.Tensor | None = None  # ground truth, uint8 [3, H, W] after the protocol's resize
    L: torch.Tensor | None = None  # float32 [1, H, W] (run)
    pred: torch.Tensor | None = None  # uint8 [3, H, W] (score: the prediction read from disk)
    error: str | None = None
    trace: str | None = None  # the traceback of ``error``
    load_seconds: float = 0.0
    gray: bool = False  # the ground truth is chroma-free (``fingerprint.chroma_free``)
    # score on the CPU: the per-image metrics computed in the worker (worker_metrics), and
    # their failed cells (metric id -> Failure); None when the main process computes them all
    values: dict[str, float | None] | None = None
    cell_failures: dict[str, Failure] = field(default_factory=dict)


class ProtocolDataset(torch.utils.data.Dataset[Item]):
    """Wraps a colorbench Dataset: decode, resize, take L*; never raises for one bad image."""

    def __init__(self, dataset: Dataset, indices: Sequence[int], size: int, mode: str):
        self.dataset, self.indices, self.size, self.mode = dataset, list(indices), size, mode

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, k: int) -> Item:
        index = self.indices[k]
        image_id = str(self.dataset.ids[index])
        t0 = time.perf_counter()
        try:
            sample = self.dataset.load(index)
            rgb = to_tensor(resize(sample.image, self.size, self.mode))
            L = lightness(rgb)
        except (Exception, SystemExit) as exc:  # a plugin's sys.exit() is its failure
            text = " ".join(str(exc).split()) or type(exc).__name__
            return Item(image_id, error=text, trace=traceback.format_exc(), load_seconds=time.perf_counter() - t0)
        return Item(image_id, rgb, L, load_seconds=time.perf_counter() - t0, gray=chroma_free(rgb))


def collate(items: list[Item]) -> list[Item]:
    """The batch as a list of Items, packed into one tensor per field when it leaves a worker."""
    return PackedItems(items)


def _one_thread(_: int) -> None:
    torch.set_num_threads(1)  # workers decode in parallel; no intra-op oversubscription


def make_loader(
    dataset: Dataset, indices: Sequence[int], *, size: int, mode: str, batch_size: int,
    workers: int, pin_memory: bool = False, items: type[ProtocolDataset] = ProtocolDataset,
) -> torch.utils.data.DataLoader[Item]:
    """Batches (lists of Items) of ``dataset[indices]``, prepared by ``items`` in the workers
    (``device_decode.JpegBytesDataset`` for ``--decode-device cuda``)."""
    return torch.utils.data.DataLoader(
        items(dataset, indices, size, mode),
        batch_size=batch_size,
        shuffle=False,
        num_workers=workers,
        collate_fn=collate,
        pin_memory=pin_memory,
        persistent_workers=False,
        prefetch_factor=4 if workers > 0 else None,
        worker_init_fn=_one_thread if workers > 0 else None,
    )


def group_by_shape(items: Sequence[Item]) -> list[list[Item]]:
    """Split a batch into runs of equal image size (``--resize none`` mixes sizes)."""
    groups: dict[tuple[int, ...], list[Item]] = {}
    for it in items:
        assert it.rgb is not None
        groups.setdefault(tuple(it.rgb.shape), []).append(it)
    return list(groups.values())
