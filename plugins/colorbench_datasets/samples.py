"""``samples``: colour photographs bundled inside installed packages (no download).

scikit-image's astronaut, chelsea, coffee, rocket, motorcycle_left and hubble_deep_field,
and scikit-learn's china and flower (``load_sample_images``): 8 photos, split ``test``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from colorbench.errors import DatasetError
from colorbench.evaluation.images import load_rgb
from colorbench.plugin.specs import Sample

FILES = (
    ("skimage.data", "astronaut.png"),
    ("skimage.data", "chelsea.png"),
    ("skimage.data", "coffee.png"),
    ("skimage.data", "rocket.jpg"),
    ("skimage.data", "motorcycle_left.png"),
    ("skimage.data", "hubble_deep_field.jpg"),
    ("sklearn.datasets", "images/china.jpg"),
    ("sklearn.datasets", "images/flower.jpg"),
)


def _path(package: str, name: str) -> Path:
    return Path(str(resources.files(package).joinpath(name)))


class Samples:
    files = property(lambda self: self.paths)  # the file of each id: resume notices changed images

    def __init__(self, split: str | None = None, root: object = None):
        if split not in (None, "test"):
            raise DatasetError(f"dataset 'samples' has only the split 'test' (asked for {split!r})")
        self.paths = [_path(pkg, name) for pkg, name in FILES]
        missing = [str(p) for p in self.paths if not p.is_file()]
        if missing:
            raise DatasetError(f"dataset 'samples': bundled photos missing ({', '.join(missing)}); reinstall scikit-image and scikit-learn")
        self.ids = [p.stem for p in self.paths]

    def __len__(self) -> int:
        return len(self.ids)

    def load(self, index: int) -> Sample:
        path = self.paths[index]
        return Sample(id=self.ids[index], image=load_rgb(path), path=str(path))
