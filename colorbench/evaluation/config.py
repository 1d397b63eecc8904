"""What a run is asked to do: ``RunConfig`` (the command line or a suite, resolved), the
per-dataset ``Protocol`` and the checks that refuse an unusable one."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from colorbench.errors import ColorbenchError
from colorbench.evaluation.protocol import RESIZE_MODES
from colorbench.results.names import check_name


@dataclass
class RunConfig:
    models: list[str] | None = None  # None: every colorizer whose weights are available
    datasets: list[str] = field(default_factory=lambda: ["samples"])
    metrics: list[str] | None = None  # None: every available metric
    split: str | None = None  # None: each dataset's default split
    limit: int | None = None
    size: int = 256
    resize: str = "crop"
    skip_gray_gt: bool = False  # leave out chroma-free ground truths (the ctest10k convention)
    device: str = "auto"
    precision: str = "fp32"  # autocast of the colorizers: fp32, bf16 or fp16 (recorded, fingerprinted)
    decode_device: str = "cpu"  # cuda: JPEG ground truths decoded on the run's GPU (device_decode.py)
    batch_size: int = 16
    workers: int = field(default_factory=lambda: min(2, os.cpu_count() or 1))
    checkpoints: list[str] = field(default_factory=list)  # MODEL=PATH
    options: list[str] = field(default_factory=list)  # --set KEY=VALUE
    metric_options: list[str] = field(default_factory=list)  # --metric-set KEY=VALUE
    data_root: str | None = None
    out: str = "runs"
    name: str | None = None
    resume: bool = True
    save_images: bool | str = False  # True or "full": every output as PNG; "thumbs": report thumbnails only
    seed: int = 0
    batch_timeout: float | None = None  # seconds a colorizer call may take (watchdog.py)
    strict: bool = False  # unavailable requested metrics and plugin problems are errors
    fail_on_error: bool = False  # any failed image or metric cell makes the run's exit status 1
    # per-dataset protocol overrides, keyed by the entry in ``datasets``: any of split,
    # limit, size, resize (benchmark suites give each dataset its own protocol)
    dataset_settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    benchmark: dict[str, Any] | None = None  # the suite this run comes from (provenance)
    reported: list[dict[str, Any]] = field(default_factory=list)  # the suite's reported rows (reported.yaml)


PROTOCOL_KEYS = ("split", "limit", "size", "resize", "skip_gray_gt")


@dataclass(frozen=True)
class Protocol:
    """The protocol one dataset runs under: the run's settings plus its overrides."""

    split: str | None
    limit: int | None
    size: int
    resize: str
    skip_gray_gt: bool = False


@dataclass
class RunResult:
    """What a run leaves: its directory, summary rows, errors (exit status 1) and boards."""

    run_dir: Path
    summary: list[dict[str, Any]]
    errors: list[str]
    leaderboards: list[Path]
    failed_images: int = 0  # over the rows this invocation selected
    failed_cells: int = 0  # metric cells of scored images that failed


def protocol_for(cfg: RunConfig, entry: str) -> Protocol:
    o = cfg.dataset_settings.get(entry, {})
    limit = o.get("limit", cfg.limit)
    return Protocol(split=o.get("split", cfg.split), limit=None if limit is None else int(limit),
                    size=int(o.get("size", cfg.size)), resize=str(o.get("resize", cfg.resize)),
                    skip_gray_gt=bool(o.get("skip_gray_gt", cfg.skip_gray_gt)))


MAX_SEED = 2**63 - 1


def check_number(value: Any, what: str, minimum: int, maximum: int | None = None, *,
                 optional: bool = False) -> None:
    """One ColorbenchError unless ``value`` is an integer (not a bool) in
    [minimum, maximum]; None passes when ``optional``."""
    if value is None and optional:
        return
    if not isinstance(value, int) or isinstance(value, bool):
        raise ColorbenchError(f"{what} {value!r}: must be a whole number")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise ColorbenchError(f"{what} {value}: must be {bound}")


def _check_types(config: RunConfig) -> None:
    check_number(config.limit, "--limit", 1, optional=True)
    check_number(config.size, "--size", 0)
    check_number(config.batch_size, "--batch-size", 1)
    check_number(config.workers, "--workers", 0, 64)
    check_number(config.seed, "--seed", 0, MAX_SEED)
    if config.batch_timeout is not None and not (isinstance(config.batch_timeout, (int, float))
                                                 and 0 < config.batch_timeout < 1e9):
        raise ColorbenchError(f"--batch-timeout {config.batch_timeout!r}: must be a positive number of seconds")
    if not isinstance(config.save_images, bool) and config.save_images != "thumbs":
        raise ColorbenchError(f"save_images {config.save_images!r}: must be true or false (YAML booleans, unquoted) "
                              "or thumbs")
    for entry, settings in config.dataset_settings.items():
        check_number(settings.get("limit"), f"dataset {entry!r}: limit", 1, optional=True)
        check_number(settings.get("size"), f"dataset {entry!r}: size", 0, optional=True)
        for key in ("split", "resize"):
            if settings.get(key) is not None and not isinstance(settings[key], str):
                raise ColorbenchError(f"dataset {entry!r}: {key} {settings[key]!r}: must be a string")


def validate(config: RunConfig) -> None:
    """One clear line for a protocol setting no run can use (before anything is written)."""
    _check_types(config)
    if config.name is not None:  # a suite's name too: never a path out of --out
        check_name(config.name, "run name")
    if config.resize not in RESIZE_MODES:
        raise ColorbenchError(f"--resize {config.resize!r}: choose one of {', '.join(RESIZE_MODES)}")
    if config.size < 8 and config.resize != "none":
        raise ColorbenchError(f"--size {config.size}: must be at least 8 pixels")
    if config.batch_size < 1:
        raise ColorbenchError("--batch-size must be at least 1")
    for entry, settings in config.dataset_settings.items():
        unknown = sorted(set(settings) - set(PROTOCOL_KEYS))
        if unknown:
            raise ColorbenchError(f"dataset {entry!r}: unknown protocol setting(s) {', '.join(unknown)}; "
                                  f"use {', '.join(PROTOCOL_KEYS)}")
        proto = protocol_for(config, entry)
        if proto.resize not in RESIZE_MODES:
            raise ColorbenchError(f"dataset {entry!r}: resize {proto.resize!r}: choose one of {', '.join(RESIZE_MODES)}")
        if proto.size < 8 and proto.resize != "none":
            raise ColorbenchError(f"dataset {entry!r}: size {proto.size}: must be at least 8 pixels")


SAVE_THUMB = 128  # longer side of the images --save-thumbs writes (the report's default --thumb)


def save_mode(value: bool | str | None) -> str | None:
    """``save_images`` as ``"full"`` (True: every output as a full-size PNG, what ``score``
    rereads), ``"thumbs"`` (only ``SAVE_THUMB``-pixel thumbnails, what the report shows) or None."""
    if value is None or value is False:
        return None
    if value is True or value == "thumbs":
        return "full" if value is True else "thumbs"
    raise ColorbenchError(f"save_images {value!r}: must be true or false (YAML booleans, unquoted) or thumbs")
