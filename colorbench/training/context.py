"""Building blocks for colorizer plugins that train: config resolution, the training
context passed to ``ColorizerSpec.train``, L/ab training pairs, and train_log.csv."""

from __future__ import annotations

import csv
import difflib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from colorbench.color import rgb_to_lab
from colorbench.errors import ColorbenchError
from colorbench.evaluation.protocol import resize
from colorbench.plugin.specs import ColorizerSpec, Dataset
from colorbench.reporting import Reporter

if TYPE_CHECKING:
    from colorbench.plugin.manager import Registries

GENERIC_KEYS = ("steps", "epochs", "batch_size", "lr")


def load_sample(dataset: Dataset, index: int, tries: int = 16) -> Any:
    """``dataset.load(index)``, or the next loadable image: one broken file must not stop
    training (a broken stretch of ``tries`` consecutive images does, with one line)."""
    n = len(dataset.ids)
    for attempt in range(min(n, tries)):
        try:
            return dataset.load((index + attempt) % n)
        except Exception:
            continue
    raise ColorbenchError(f"{tries} consecutive images failed to load near index {index}")


@dataclass
class TrainContext:
    """Everything ``ColorizerSpec.train(ctx)`` receives.

    The plugin writes ``ctx.out_dir / "checkpoint.pt"`` (loadable by its factory's
    ``checkpoint=``) and ``ctx.out_dir / "train_log.csv"``; core has already written
    ``config.json``. With ``resume``, continue from the checkpoint in ``out_dir``.

    ``dataset_name``, ``split``, ``data_root`` and ``registries`` say where ``dataset``
    came from, for plugins that drive the run engine over it (e.g. the ``router`` scores a
    pool of colorizers on it with ``colorbench.evaluation.runner.Runner``); None when not known.
    """

    dataset: Dataset
    config: dict[str, Any]
    out_dir: Path
    device: torch.device
    val_dataset: Dataset | None = None
    resume: bool = False
    seed: int = 0
    reporter: Reporter = field(default_factory=Reporter)
    dataset_name: str | None = None  # a registered dataset name or an absolute folder path
    split: str | None = None
    data_root: str | None = None
    registries: Registries | None = None

    @property
    def checkpoint_path(self) -> Path:
        return self.out_dir / "checkpoint.pt"


def _parse_scalar(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def resolve_train_config(spec: ColorizerSpec, config: str | None, overrides: Mapping[str, Any],
                         sets: Sequence[str] = ()) -> dict[str, Any]:
    """The plugin's named config (or a YAML/JSON file), then CLI overrides, then --set."""
    if config and Path(config).is_file():
        from colorbench.evaluation.bounded_yaml import load_yaml

        loaded = load_yaml(Path(config), "--config file") or {}
        if not isinstance(loaded, dict):
            raise ColorbenchError(f"--config {config}: expected a mapping of keys to values")
        base_name = loaded.pop("base", spec.default_config)
        base = dict(spec.configs.get(base_name, {})) if base_name else {}
        resolved = {**base, **loaded}
    else:
        name = config or spec.default_config or next(iter(spec.configs), None)
        if name is None:
            resolved = {}
        elif name not in spec.configs:
            close = difflib.get_close_matches(name, list(spec.configs), n=2)
            hint = f" Did you mean {' or '.join(close)}?" if close else ""
            raise ColorbenchError(f"--config {name}: colorizer {spec.name!r} has configs {', '.join(spec.configs) or 'none'} (or give a YAML file).{hint}")
        else:
            resolved = dict(spec.configs[name])
    resolved.setdefault("config_name", config or spec.default_config)
    for key, value in overrides.items():
        if value is not None:
            resolved[key] = value
    for entry in sets:
        key, sep, value = entry.partition("=")
        if not sep:
            raise ColorbenchError(f"--set {entry!r}: expected KEY=VALUE")
        key = key.strip()
        if key not in resolved:
            close = difflib.get_close_matches(key, list(resolved), n=2)
            hint = f" Did you mean {' or '.join(close)}?" if close else ""
            raise ColorbenchError(f"--set {key}: not a training setting of {spec.name!r}.{hint} Settings: {', '.join(sorted(resolved))}")
        resolved[key] = _parse_scalar(value.strip())
    return resolved


class ColorPairs(torch.utils.data.Dataset[dict[str, torch.Tensor]]):
    """Training pairs from any colorbench Dataset: ``L`` [1,S,S] in [0,100], ``ab`` [2,S,S],
    and ``semantic`` [S,S] (long) when the dataset has maps.

    ``train=True``: random square crop of the shorter side's size, resize, random
    horizontal flip; ``train=False``: the run protocol's centre crop. Unreadable images are
    skipped (the next readable one is used) so one bad file does not stop training.

    ``seed``: augmentation of item ``i`` in epoch ``e`` is drawn from
    ``default_rng([seed, e, i])`` (call ``set_epoch``), so a resumed run sees exactly the
    crops and flips of an uninterrupted one; ``None`` draws fresh randomness each time.
    """

    def __init__(self, dataset: Dataset, size: int, train: bool = True, flip: bool = True,
                 seed: int | None = None):
        self.dataset, self.size, self.train, self.flip = dataset, size, train, flip
        self.seed, self.epoch = seed, 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose augmentation a seeded dataset reproduces."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.dataset.ids)

    def _crop(self, arr: np.ndarray, rng: np.random.Generator) -> tuple[int, int, int]:
        h, w = arr.shape[:2]
        side = min(h, w)
        if self.train:
            return int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1)), side
        return (h - side) // 2, (w - side) // 2, side

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        sample = load_sample(self.dataset, index)
        # seeded: a function of (seed, epoch, index), so resumed runs match; unseeded: drawn
        # from torch's generator, so torch.manual_seed (train --seed) and the DataLoader's
        # per-worker seeds still make crops and flips reproducible
        if self.seed is not None:
            rng = np.random.default_rng([self.seed, self.epoch, index])
        else:
            rng = np.random.default_rng(int(torch.randint(0, 2**62, ()).item()))
        top, left, side = self._crop(sample.image, rng)
        image = resize(sample.image[top:top + side, left:left + side], self.size, "stretch")
        semantic = sample.semantic
        if semantic is not None:
            from PIL import Image

            crop = np.ascontiguousarray(semantic[top:top + side, left:left + side])
            semantic = np.array(Image.fromarray(crop).resize((self.size, self.size), Image.Resampling.NEAREST))
        if self.train and self.flip and rng.random() < 0.5:
            image = image[:, ::-1]
            semantic = semantic[:, ::-1] if semantic is not None else None
        lab = rgb_to_lab(torch.from_numpy(np.array(image, order="C")).permute(2, 0, 1)).float()
        out = {"L": lab[:1], "ab": lab[1:]}
        if semantic is not None:
            out["semantic"] = torch.from_numpy(np.ascontiguousarray(semantic)).long()
        return out


class TrainLog:
    """train_log.csv: appended and flushed per row; on resume, rows after ``resume_step`` are
    dropped so the log matches the checkpoint."""

    def __init__(self, path: Path, columns: Sequence[str], resume_step: int | None = None):
        self.path, self.columns = path, list(columns)
        kept: list[dict[str, str]] = []
        if resume_step is not None and path.is_file():
            with open(path, newline="", encoding="utf-8") as f:
                kept = [r for r in csv.DictReader(f) if r.get("step", "").isdigit() and int(r["step"]) <= resume_step]
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "w", newline="", encoding="utf-8")  # noqa: SIM115
        self._writer = csv.DictWriter(self._file, fieldnames=self.columns, extrasaction="ignore")
        self._writer.writeheader()
        self._writer.writerows(kept)
        self._file.flush()

    def write(self, **row: Any) -> None:
        self._writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> TrainLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
