"""``shapes``: synthetic scenes with per-pixel semantic maps, generated from a seed.

Each image is a textured background with 1..``max_objects`` objects. The colour family of
every region depends on its class, and the class can be told from the gray image (shape
and texture), so a colorizer can learn colour from L* alone: the fast learning tests use
this. Image i of a split is generated from ``numpy.random.default_rng([seed, split, i])``
and is identical on every machine.

Classes (semantic map values): 0 background (low-saturation orange-brown, noise
texture), 1 disc (red), 2 square (green), 3 triangle (blue), 4 ring (yellow).
"""

from __future__ import annotations

import colorsys

import numpy as np

from colorbench.errors import DatasetError
from colorbench.plugin.specs import Sample

CLASSES = ("background", "disc", "square", "triangle", "ring")
# class -> (hue, saturation range, value range)
FAMILIES = {
    0: (0.08, (0.15, 0.35), (0.35, 0.65)),
    1: (0.00, (0.65, 0.90), (0.55, 0.90)),
    2: (0.33, (0.55, 0.85), (0.45, 0.80)),
    3: (0.62, (0.60, 0.90), (0.50, 0.85)),
    4: (0.15, (0.70, 0.95), (0.70, 0.95)),
}
SPLITS = {"train": 0, "val": 1, "test": 2}
DEFAULT_COUNTS = {"train": 256, "val": 32, "test": 32}


def _rgb(cls: int, rng: np.random.Generator) -> np.ndarray:
    hue, (s0, s1), (v0, v1) = FAMILIES[cls]
    h = (hue + rng.uniform(-0.03, 0.03)) % 1.0
    return np.array(colorsys.hsv_to_rgb(h, rng.uniform(s0, s1), rng.uniform(v0, v1)))


def _smooth_noise(rng: np.random.Generator, size: int, cells: int = 8) -> np.ndarray:
    coarse = rng.random((cells + 1, cells + 1))
    x = np.linspace(0, cells, size)
    i = np.minimum(x.astype(int), cells - 1)
    f = x - i
    rows = coarse[i] * (1 - f)[:, None] + coarse[i + 1] * f[:, None]
    return rows[:, i] * (1 - f)[None, :] + rows[:, i + 1] * f[None, :]


def render(size: int, rng: np.random.Generator, max_objects: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """One scene: RGB uint8 [size, size, 3] and its class map uint8 [size, size]."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) + 0.5
    base = _rgb(0, rng)
    texture = 0.75 + 0.5 * _smooth_noise(rng, size)
    image = np.clip(base[None, None, :] * texture[..., None], 0, 1)
    labels = np.zeros((size, size), dtype=np.uint8)
    for _ in range(int(rng.integers(1, max_objects + 1))):
        cls = int(rng.integers(1, len(CLASSES)))
        r = rng.uniform(0.10, 0.22) * size
        cx, cy = rng.uniform(r, size - r, 2)
        dx, dy = xx - cx, yy - cy
        if cls == 1:
            mask = dx**2 + dy**2 <= r**2
        elif cls == 2:
            mask = (np.abs(dx) <= r * 0.85) & (np.abs(dy) <= r * 0.85)
        elif cls == 3:
            mask = (dy <= r * 0.8) & (dy >= -r + 2 * np.abs(dx))
        else:
            d2 = dx**2 + dy**2
            mask = (d2 <= r**2) & (d2 >= (0.55 * r) ** 2)
        color = _rgb(cls, rng)
        shade = 1.0 - 0.25 * (dy / (2 * r) + 0.5).clip(0, 1)  # vertical shading: L* varies
        image[mask] = np.clip(color[None, :] * shade[mask][:, None], 0, 1)
        labels[mask] = cls
    return (image * 255 + 0.5).astype(np.uint8), labels


class Shapes:
    def __init__(self, split: str | None = None, root: object = None, size: int = 64,
                 n_images: int = 0, seed: int = 0, max_objects: int = 4):
        split = split or "test"
        if split not in SPLITS:
            raise DatasetError(f"dataset 'shapes': unknown split {split!r}; choose one of {', '.join(SPLITS)}")
        if size < 16:
            raise DatasetError(f"dataset 'shapes': size must be at least 16 (got {size})")
        self.split, self.size, self.seed, self.max_objects = split, size, seed, max_objects
        n = n_images or DEFAULT_COUNTS[split]
        self.ids = [f"{split}-{i:05d}" for i in range(n)]
        self.classes = CLASSES

    def __len__(self) -> int:
        return len(self.ids)

    def load(self, index: int) -> Sample:
        rng = np.random.default_rng([self.seed, SPLITS[self.split], index])
        image, labels = render(self.size, rng, self.max_objects)
        return Sample(id=self.ids[index], image=image, semantic=labels)
