"""The typed manifest of a run directory (run.json): ``RunManifest`` with one ``PairRecord``
per (dataset, model) pair, a schema version, and ``load`` for every reader.

The JSON layout stays flat and stable for scripts: a pair's distribution-metric values are
top-level keys of its record (``"fid": 12.3``, ``"fid_info": {...}``). Files written before
the schema was versioned (no ``schema_version``) load as version 1 with defaults for the
fields they lack; keys this version does not know are kept and written back unchanged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from colorbench.errors import ColorbenchError
from colorbench.results.files import write_json

SCHEMA_VERSION = 2
MANIFEST = "run.json"


@dataclass
class PairRecord:
    """What run.json keeps of one (dataset, model) pair."""

    config: str | None = None  # digest of the protocol fingerprint; resume compares it
    fingerprint: dict[str, Any] = field(default_factory=dict)  # what the digest covers
    images_per_s: float | None = None
    protocol: dict[str, Any] = field(default_factory=dict)  # what the leaderboard compares (empty: unknown)
    gray_gt: dict[str, Any] = field(default_factory=dict)  # chroma-free ground truths: ids, skipped
    values: dict[str, float | None] = field(default_factory=dict)  # distribution metric -> value
    info: dict[str, dict[str, Any]] = field(default_factory=dict)  # distribution metric -> info()
    extra: dict[str, Any] = field(default_factory=dict)  # keys of other versions, kept as they are

    def to_dict(self) -> dict[str, Any]:
        """The record as run.json stores it (distribution values as flat keys)."""
        out: dict[str, Any] = {}
        if self.config is not None:
            out["config"] = self.config
        if self.fingerprint:
            out["fingerprint"] = self.fingerprint
        if self.protocol:
            out["protocol"] = self.protocol
        if self.gray_gt:
            out["gray_gt"] = self.gray_gt
        if self.images_per_s is not None or "images_per_s" in self.extra:
            out["images_per_s"] = self.images_per_s
        for mid, value in self.values.items():
            out[mid] = value
            if mid in self.info:
                out[f"{mid}_info"] = self.info[mid]
        return {**out, **{k: v for k, v in self.extra.items() if k not in out}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PairRecord:
        """A record from run.json (any schema): numeric keys are distribution values."""
        rec = cls(config=data.get("config"), fingerprint=dict(data.get("fingerprint") or {}),
                  images_per_s=_number(data.get("images_per_s")),
                  protocol=dict(data.get("protocol") or {}), gray_gt=dict(data.get("gray_gt") or {}))
        known = {"config", "fingerprint", "images_per_s", "protocol", "gray_gt"}
        for key, value in data.items():
            if key in known or key.endswith("_info"):
                continue
            if isinstance(value, (int, float, str)) and not isinstance(value, bool) and _number(value) is not None:
                rec.values[key] = _number(value)
                if isinstance(data.get(f"{key}_info"), dict):
                    rec.info[key] = data[f"{key}_info"]
            elif value is None and isinstance(data.get(f"{key}_info"), dict):
                rec.values[key] = None
                rec.info[key] = data[f"{key}_info"]
            else:
                rec.extra[key] = value
        taken = {f"{m}_info" for m in rec.info}
        rec.extra.update({k: v for k, v in data.items() if k.endswith("_info") and k not in taken})
        return rec


def _number(value: Any) -> float | None:
    """Numbers as written by ``write_json`` ("inf"/"-inf" for infinities) back to float."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if value in ("inf", "-inf"):
        return float(value)
    return None


@dataclass
class RunManifest:
    """run.json of ``colorbench run`` (kind ``run``) or ``colorbench score`` (kind ``score``)."""

    kind: str = "run"
    name: str = ""
    schema_version: int = SCHEMA_VERSION
    config: dict[str, Any] = field(default_factory=dict)  # RunConfig as given (run)
    resolved: dict[str, Any] = field(default_factory=dict)  # models, datasets, metrics, options
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> metadata
    metric_options: dict[str, Any] = field(default_factory=dict)
    unavailable_metrics: list[str] = field(default_factory=list)
    environment: dict[str, Any] = field(default_factory=dict)
    device: str = ""
    device_name: str = ""
    precision: str | None = None  # None: not recorded (schema 1)
    plugins: dict[str, Any] = field(default_factory=dict)
    checkpoints: dict[str, dict[str, Any]] = field(default_factory=dict)
    colorizers: dict[str, dict[str, Any]] = field(default_factory=dict)
    pairs: dict[str, PairRecord] = field(default_factory=dict)  # "dataset/model" -> record
    errors: list[str] = field(default_factory=list)
    started: str | None = None
    finished: str | None = None
    score: dict[str, Any] = field(default_factory=dict)  # score only: pred, gt, resize_pred, protocol, unmatched
    extra: dict[str, Any] = field(default_factory=dict)  # keys of other versions, kept as they are

    def pair(self, key: str) -> PairRecord:
        """The record of ``key`` ("dataset/model"), created when absent."""
        return self.pairs.setdefault(key, PairRecord())

    def to_dict(self) -> dict[str, Any]:
        """run.json's content, in field order (score keys and unknown keys last)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("extra", "score"):
                continue
            out[f.name] = {k: p.to_dict() for k, p in value.items()} if f.name == "pairs" else value
        out.update(self.score)
        return {**out, **{k: v for k, v in self.extra.items() if k not in out}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunManifest:
        """A manifest from run.json's content; absent fields take their defaults."""
        names = {f.name for f in fields(cls)} - {"extra", "score"}
        kw: dict[str, Any] = {k: data[k] for k in names if k in data and data[k] is not None}
        kw["schema_version"] = int(data.get("schema_version", 1))
        kw["pairs"] = {k: PairRecord.from_dict(v or {}) for k, v in (data.get("pairs") or {}).items()}
        for key in ("started", "finished", "precision"):
            kw[key] = data.get(key)
        score = {k: data[k] for k in SCORE_KEYS if k in data}
        extra = {k: v for k, v in data.items() if k not in names and k not in SCORE_KEYS}
        return cls(**kw, score=score, extra=extra)

    def write(self, run_dir: Path) -> None:
        """Write ``run_dir/run.json`` atomically."""
        write_json(Path(run_dir) / MANIFEST, self.to_dict())


SCORE_KEYS = ("pred", "gt", "resize_pred", "protocol", "unmatched")


def read(run_dir: Path) -> RunManifest | None:
    """The manifest of ``run_dir`` (a run directory or its run.json); None when there is none."""
    path = Path(run_dir)
    path = path if path.name == MANIFEST and path.is_file() else path / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ColorbenchError(f"{path}: not a readable run manifest ({type(exc).__name__}: "
                              f"{' '.join(str(exc).split())}); restore it, rerun with --no-resume or choose another --name/--out") from None
    if not isinstance(data, dict):
        raise ColorbenchError(f"{path}: not a run manifest (expected a JSON object); restore it, rerun with "
                              "--no-resume or choose another --name/--out")
    try:
        version = int(data.get("schema_version", 1))
        if version > SCHEMA_VERSION:
            raise ColorbenchError(f"{path}: schema version {version} is newer than this colorbench reads "
                                  f"({SCHEMA_VERSION}); upgrade colorbench")
        return RunManifest.from_dict(data)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:  # a field of the wrong type
        raise ColorbenchError(f"{path}: not a valid run manifest ({type(exc).__name__}: "
                              f"{' '.join(str(exc).split())}); restore it, rerun with --no-resume or "
                              "choose another --name/--out") from None


def load(run_dir: Path) -> RunManifest:
    """The manifest of ``run_dir``; ColorbenchError (one line) when it has no run.json."""
    manifest = read(run_dir)
    if manifest is None:
        raise ColorbenchError(f"{run_dir}: no {MANIFEST}; not a colorbench run directory "
                              "(give the directory that run or score wrote)")
    return manifest
