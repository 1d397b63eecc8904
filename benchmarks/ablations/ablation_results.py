"""Per-image results of a claim: gathered from the arms' run directories, derived arms
(random, oracle) computed from them, and the committed results/<claim>.csv."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from ablation_claims import Arm, Claim

from colorbench.errors import ColorbenchError
from colorbench.results import atomic_write_text, format_value, parse_value, read_rows

FIXED = ("dataset", "image_id", "arm")
Row = dict[str, object]  # dataset, image_id, arm: str; metric ids: float | None


def from_run(run_dir: Path, arm: Arm, metrics: list[str]) -> list[Row]:
    """The arm's scored images in its run directory (failed images left out)."""
    _, rows = read_rows(run_dir / "per_image.csv")
    return [{"dataset": r["dataset"], "image_id": r["image_id"], "arm": arm.name,
             **{m: parse_value(r.get(m, "")) for m in metrics}}
            for r in rows if r["model"] == arm.model and r.get("status") != "failed"]


def by_image(rows: list[Row], arm: str) -> dict[tuple[str, str], Row]:
    return {(str(r["dataset"]), str(r["image_id"])): r for r in rows if r["arm"] == arm}


def _finite(v: object) -> bool:
    return isinstance(v, float) and math.isfinite(v)


def derive(arm: Arm, rows: list[Row], higher_is_better: Mapping[str, bool]) -> list[Row]:
    """A derived arm's rows: per image scored by every arm of ``arm.of``, that image's row of
    one of them, chosen by a generator seeded with ``arm.seed`` (random) or the one best on
    ``arm.by`` in its direction, the first of ``of`` on ties (oracle)."""
    tables = [by_image(rows, o) for o in arm.of]
    keys = sorted(set.intersection(*(set(t) for t in tables))) if tables else []
    rng = np.random.default_rng(arm.seed)
    picks = rng.integers(0, len(tables), size=len(keys)) if arm.derived == "random" and tables else None
    out = []
    for i, key in enumerate(keys):
        if picks is not None:
            chosen = tables[int(picks[i])][key]
        else:
            sign = 1.0 if higher_is_better[str(arm.by)] else -1.0
            scored = [t[key] for t in tables if _finite(t[key].get(arm.by))]
            if not scored:
                continue
            chosen = max(scored, key=lambda r: sign * float(r[arm.by]))  # max keeps the first on ties
        out.append({**chosen, "arm": arm.name})
    return out


def with_derived(claim: Claim, rows: list[Row], higher_is_better: Mapping[str, bool]) -> list[Row]:
    """``rows`` and the rows of the claim's derived arms: arms in the claim's order, datasets
    in the order the runs scored them (the suite's), images by id."""
    out = list(rows)
    for arm in claim.arms.values():
        if arm.derived:
            out += derive(arm, rows, higher_is_better)
    order = {name: i for i, name in enumerate(claim.arms)}
    sets = {d: i for i, d in enumerate(dict.fromkeys(str(r["dataset"]) for r in rows))}  # the suite's order
    return sorted(out, key=lambda r: (order.get(str(r["arm"]), len(order)), sets[str(r["dataset"])], str(r["image_id"])))


def write(path: Path, rows: list[Row], metrics: list[str]) -> None:
    """results/<claim>.csv: dataset, image_id, arm and one column per metric."""
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([*FIXED, *metrics])
    for r in rows:
        w.writerow([r["dataset"], r["image_id"], r["arm"], *(format_value(r.get(m)) for m in metrics)])
    atomic_write_text(path, buf.getvalue())


def read(path: Path) -> tuple[list[str], list[Row]]:
    """The metric columns and rows of a results CSV ([] and [] when there is none)."""
    if not path.is_file():
        return [], []
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        header = list(reader.fieldnames or [])
        if tuple(header[:3]) != FIXED:
            raise ColorbenchError(f"{path}: not an ablation results file (header {','.join(header[:3])!r}); "
                                  "regenerate it with benchmarks/ablations/ablate.py")
        metrics = header[3:]
        rows: list[Row] = [{**{k: r[k] for k in FIXED}, **{m: parse_value(r[m] or "") for m in metrics}}
                           for r in reader]
    return metrics, rows
