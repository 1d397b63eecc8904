"""A toy routing task for the router tests: two constant-colour colorizers and a dataset
where each is best on a different, gray-visible subset of the images.

``toyroute`` images are bright reddish or dark bluish textured squares (2 of 3 red, so the
labels are imbalanced). ``toy_red`` paints every pixel the red family's a*b*, ``toy_blue``
the blue family's: toy_red has the higher CPSNR on red images and toy_blue on blue ones,
and the two subsets differ in brightness, which the classifier sees.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from colorbench import ColorizerSpec, DatasetSpec, Sample, hookimpl
from colorbench.color import rgb_to_lab

RED, BLUE = (200, 70, 60), (40, 60, 150)


def _ab(rgb: tuple[int, int, int]) -> tuple[float, float]:
    lab = rgb_to_lab(torch.tensor(rgb, dtype=torch.uint8).view(3, 1, 1))
    return float(lab[1]), float(lab[2])


class ToyRoute:
    def __init__(self, split: str = "train", n: int = 60, size: int = 32):
        self.split, self.size = split, size
        self.ids = [f"{split}{i:03d}" for i in range(n)]

    def is_red(self, index: int) -> bool:
        return index % 3 != 2

    def load(self, index: int) -> Sample:
        rng = np.random.default_rng([len(self.split), index])
        base = np.array(RED if self.is_red(index) else BLUE, dtype=np.float64)
        texture = 0.85 + 0.3 * rng.random((self.size, self.size, 1))
        img = np.clip(base * texture, 0, 255).astype(np.uint8)
        return Sample(id=self.ids[index], image=img)


class ConstantAB:
    def __init__(self, ab: tuple[float, float], calls: list[int]):
        self.ab, self.calls = ab, calls

    def colorize(self, L: torch.Tensor) -> torch.Tensor:
        self.calls.append(L.shape[0])
        out = torch.empty(L.shape[0], 2, *L.shape[2:], device=L.device)
        out[:, 0], out[:, 1] = self.ab
        return out


class ToyPlugin:
    """Registers toy_red, toy_blue and the toyroute dataset; counts builds and images."""

    def __init__(self) -> None:
        self.builds: dict[str, int] = {"toy_red": 0, "toy_blue": 0}
        self.calls: dict[str, list[int]] = {"toy_red": [], "toy_blue": []}

    def _factory(self, name: str, rgb: tuple[int, int, int]) -> Any:
        def make(device: Any = "cpu", checkpoint: Any = None, **_: Any) -> ConstantAB:
            self.builds[name] += 1
            return ConstantAB(_ab(rgb), self.calls[name])

        return make

    @hookimpl
    def register_colorizers(self, register: Any) -> None:
        register(ColorizerSpec(name="toy_red", factory=self._factory("toy_red", RED), description="constant red a*b*"))
        register(ColorizerSpec(name="toy_blue", factory=self._factory("toy_blue", BLUE), description="constant blue a*b*"))

    @hookimpl
    def register_datasets(self, register: Any) -> None:
        register(DatasetSpec(name="toyroute", factory=lambda split=None, root=None, **kw: ToyRoute(split or "train"),
                             splits=("train", "val", "test"), default_split="test", description="toy routing task"))

    def images(self) -> int:
        return sum(sum(v) for v in self.calls.values())
