"""The protocol fingerprint a leaderboard compares (run.json ``pairs.*.protocol``) and the
chroma-free ground-truth test: rows are ranked together only when these agree."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch

from colorbench.results.provenance import ids_sha256

GRAY_TOLERANCE = 3  # levels of 255: max over pixels of max(R,G,B) - min(R,G,B) at most this


def protocol_fingerprint(dataset: str, ids: Iterable[str], metrics: Mapping[str, Mapping[str, Any]],
                         **settings: Any) -> dict[str, Any]:
    """What two results must share to be ranked together: the dataset's name, the
    ``settings`` (source, root or ground-truth folder, split, limit, size, resize,
    skip_gray_gt), the image-id set (count and hash) and each metric definition's version."""
    ids = list(ids)
    return {"dataset": dataset, **settings, "images": len(ids), "ids_sha256": ids_sha256(ids),
            "metric_versions": {m: str(meta.get("version", "1")) for m, meta in sorted(metrics.items())}}


def run_protocol(dataset: str, ids: Iterable[str], metrics: Mapping[str, Mapping[str, Any]],
                 source: Mapping[str, Any], proto: Any) -> dict[str, Any]:
    """The fingerprint of a ``run`` pair: ``source`` is the dataset's resume fingerprint
    (plugin, folder, root), ``proto`` its ``Protocol``."""
    return protocol_fingerprint(dataset, ids, metrics, source=source.get("spec"), folder=source.get("folder"),
                                root=source.get("root"), split=proto.split, limit=proto.limit,
                                size=None if proto.resize == "none" else proto.size, resize=proto.resize,
                                skip_gray_gt=proto.skip_gray_gt)


def chroma_free(rgb: torch.Tensor) -> bool:
    """True for a ground truth without colour (a grayscale photo stored as RGB): at every
    pixel R, G and B lie within ``GRAY_TOLERANCE`` levels of each other (uint8 [3, H, W])."""
    x = rgb.to(torch.int16)
    return bool((x.amax(dim=0) - x.amin(dim=0)).max() <= GRAY_TOLERANCE)


def merge_gray(previous: Mapping[str, Any], found: Iterable[str], skipped: bool) -> dict[str, Any]:
    """run.json's ``gray_gt`` record: the ids found so far (kept over resumes) and whether
    they were left out (``--skip-gray-gt``)."""
    ids = sorted(set(previous.get("ids", [])) | set(found))
    return {"count": len(ids), "skipped": skipped, "ids": ids}
