"""Which leaderboard rows may be ranked together: rows are grouped by their protocol
fingerprint (run.json ``pairs.*.protocol``), and each group's heading names what differs."""

from __future__ import annotations

import json
from pathlib import PurePath
from typing import Any

UNKNOWN = "unknown protocol"
UNKNOWN_NOTE = ("these results were written before colorbench recorded protocol fingerprints "
                "(run.json without pairs.*.protocol): their size, resize and image set are unknown, "
                "so they are not ranked with other results; rerun them to compare")


def key(protocol: dict[str, Any] | None) -> str:
    """A stable identity of a fingerprint ("" for an unknown one)."""
    return json.dumps(protocol, sort_keys=True, default=str) if protocol else ""


def differing(protocols: list[dict[str, Any]]) -> list[str]:
    """The fingerprint keys whose values are not the same in every (known) protocol."""
    known = [p for p in protocols if p]
    keys = sorted({k for p in known for k in p})
    return [k for k in keys if len({json.dumps(p.get(k), sort_keys=True, default=str) for p in known}) > 1]


def _value(k: str, v: Any) -> str:
    if v is None:
        return "none"
    if k in ("root", "gt", "folder"):
        return PurePath(str(v)).name or str(v)  # never a machine's absolute path on a page
    return str(v)


def describe(protocol: dict[str, Any] | None, keys: list[str]) -> str:
    """A short heading naming the ``keys`` of ``protocol``, e.g. "size 256 crop, 10 images"."""
    if not protocol:
        return UNKNOWN
    keys = keys or ["size", "resize", "images"]  # set apart only from unknown protocols: the main settings
    parts: list[str] = []
    if "size" in keys or "resize" in keys:
        size = protocol.get("size")
        parts.append(f"size {size} {protocol.get('resize')}" if size else f"native size ({protocol.get('resize')})")
    for k in keys:
        if k in ("size", "resize"):
            continue
        v = protocol.get(k)
        if k == "images":
            parts.append(f"{v} images")
        elif k == "ids_sha256":
            if "images" not in keys:
                parts.append(f"image set {str(v)[:8]}")
        elif k == "metric_versions":
            parts.append("metric versions " + ", ".join(f"{m} v{x}" for m, x in sorted((v or {}).items())))
        elif k == "skip_gray_gt":
            parts.append("gray ground truths skipped" if v else "gray ground truths kept")
        else:
            parts.append(f"{k} {_value(k, v)}")
    return ", ".join(parts)


def group(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Rows grouped by fingerprint (first-seen order)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(key(r.get("_protocol")), []).append(r)
    return list(out.values())
