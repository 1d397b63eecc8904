"""Resume: what is left to do of one (dataset, model) pair in a run directory.

A pair's rows are kept only while its fingerprint (protocol, data source, model, options,
checkpoint, metrics, device type, precision) is the one recorded in run.json, and an
image's rows only while its file's size and mtime are the recorded ``source``. The
distribution metrics need every image of the set, so a pair with anything left to do
feeds all of them (and writes only the missing rows).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from colorbench.reporting.console import Reporter
from colorbench.results.files import PerImageWriter
from colorbench.results.manifest import PairRecord, RunManifest


def digest(obj: Any) -> str:
    """A short stable hash of a JSON-able fingerprint."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def plan_pair(manifest: RunManifest, writer: PerImageWriter, pair: tuple[str, str], fingerprint: dict[str, Any],
              ids: list[str], sources: dict[str, str], dist_ids: list[str], report: Reporter,
              run_dir: Path) -> tuple[list[int], list[str]] | None:
    """The indices of ``ids`` to process and the ids already scored (their rows are kept), or
    None when nothing is left; drops the rows of a changed config or changed images and
    records the pair's config in run.json before any row of it is written."""
    ds_name, model = pair
    key = f"{ds_name}/{model}"
    old = manifest.pairs.get(key)
    if old is None or old.config != digest(fingerprint):  # rows of another (or unrecorded) config
        dropped = writer.drop(ds_name, model)
        if dropped:
            report.warn(f"{key}: configuration, data source, device or checkpoint changed; "
                        f"recomputing {dropped} earlier rows")
        old = None
    record = manifest.pairs[key] = old or PairRecord(config=digest(fingerprint), fingerprint=fingerprint)
    done = writer.done(ds_name, model)
    changed = {i for i in ids if i in done and sources and done[i] != sources.get(i, "")}
    if changed:
        writer.drop(ds_name, model, changed)
        report.warn(f"{key}: {len(changed)} image(s) changed on disk since they were scored; recomputing them")
        done = {i: s for i, s in done.items() if i not in changed}
    todo = [k for k, i in enumerate(ids) if i not in done]
    need_dist = bool(dist_ids) and (bool(todo) or any(m not in record.values for m in dist_ids))
    # a run killed in this pair must leave rows that a rerun can tell from another config's
    manifest.write(run_dir)
    if not (need_dist or todo):
        report.info(f"{key}: all {len(ids)} images already scored; skipped (resume)")
        return None
    return (list(range(len(ids))) if need_dist else todo), list(done)
