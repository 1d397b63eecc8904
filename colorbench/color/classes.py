"""Colour classes of CCC++ (Gain et al. 2024, eq. 9-11): a*b* grid bins, optional class subsets.

Shared by the ``cnr``/``ccar``/``tar`` metrics and by colorizers that predict classes, so
it lives in core (pure torch, batched). Defaults α=6, β=108, Δ=36 give 1296 classes
covering a*, b* in [-108, 108)::

    class = floor((b + β) / α) · Δ + floor((a + β) / α)     (each axis clamped to [0, Δ-1])
    a' = (class mod Δ) · α − β + α/2,   b' = (class div Δ) · α − β + α/2     (eq. 10-11)

A class subset (CCC++'s optimized set, ``--class-set FILE``) sets N_class of eq. 20 to its
size; with ``snap`` it also maps every class outside the subset to the subset class whose
centre (eq. 10-11) is nearest in the a*b* plane (one fixed-centroid k-means step, eq. 12;
ties go to the lower class id).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from colorbench.color import rgb_to_lab
from colorbench.errors import ColorbenchError

EDGE_MARGIN = 1e-3  # a*b* units; float32 Lab of 8-bit RGB is within 7e-5 of float64, and the
#                    edge test itself rounds by < 3e-5


@dataclass(frozen=True)
class ClassGrid:
    """Bin size ``alpha``, shift ``beta`` and bins per axis ``delta`` (Gain et al. 2024, eq. 9)."""

    alpha: float = 6.0
    beta: float = 108.0
    delta: int = 36

    def __post_init__(self) -> None:
        if self.alpha <= 0 or self.delta < 1:
            raise ColorbenchError(f"colour classes: need alpha > 0 and delta >= 1 (got {self.alpha}, {self.delta})")

    @property
    def n_classes(self) -> int:
        return self.delta * self.delta

    def axis_bin(self, v: torch.Tensor) -> torch.Tensor:
        """floor((v + β) / α) clamped to [0, Δ-1], as int64."""
        idx = torch.floor((v + self.beta) / self.alpha)
        return idx.clamp_(0, self.delta - 1).to(torch.int64)

    def classes(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Class ids (int64, same shape as ``a``) of a*, b* values (eq. 9)."""
        return self.axis_bin(b) * self.delta + self.axis_bin(a)

    def classes_of_lab(self, lab: torch.Tensor, dim: int = -3) -> torch.Tensor:
        """Class ids of an L*a*b* tensor (channels along ``dim``); the channel dim is removed."""
        return self.classes(lab.select(dim, 1), lab.select(dim, 2))

    def centres(self, classes: torch.Tensor | None = None, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """a*, b* bin centres (eq. 10-11) of ``classes`` (default: all), shape [..., 2]."""
        if classes is None:
            classes = torch.arange(self.n_classes)
        c = classes.to(torch.int64)
        a = (c % self.delta).to(dtype) * self.alpha - self.beta + self.alpha / 2
        b = torch.div(c, self.delta, rounding_mode="floor").to(dtype) * self.alpha - self.beta + self.alpha / 2
        return torch.stack((a, b), -1)


def nearest_class_table(grid: ClassGrid, subset: torch.Tensor) -> torch.Tensor:
    """Lookup table [n_classes] mapping every class to the nearest class of ``subset``."""
    subset = torch.unique(subset.to(torch.int64).cpu())  # sorted: ties go to the lower id
    if subset.numel() == 0:
        raise ColorbenchError("class set is empty")
    if int(subset.min()) < 0 or int(subset.max()) >= grid.n_classes:
        raise ColorbenchError(f"class set has ids outside [0, {grid.n_classes - 1}] for this grid")
    d = torch.cdist(grid.centres(), grid.centres(subset))  # [n_classes, K]
    return subset[d.argmin(dim=1)]


def load_class_set(path: str | Path, grid: ClassGrid | None = None) -> torch.Tensor:
    """Read class ids from the file ``colorbench train ccc`` writes (``OUT/classes.json``: a
    JSON object with ``alpha``, ``beta``, ``delta`` and the ``kept`` ids; its grid must equal
    ``grid`` when given), a JSON list, or a text file of integers (whitespace/comma separated,
    ``#`` starts a comment)."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise ColorbenchError(f"class set {path}: no such file (expected OUT/classes.json of ccc training, "
                              "a JSON list or text of class ids)")
    text = p.read_text(encoding="utf-8")
    try:
        if text.lstrip().startswith("{"):
            values = _kept_of_trainer_file(json.loads(text), grid)
        else:
            body = "\n".join(line.split("#", 1)[0] for line in text.splitlines())  # '#' comments
            values = json.loads(text) if text.lstrip().startswith("[") else body.replace(",", " ").split()
        if not isinstance(values, list):
            raise ValueError("not a list of ids")
        ids = torch.tensor([int(v) for v in values], dtype=torch.int64)
    except (ValueError, TypeError, KeyError) as exc:
        raise ColorbenchError(f"class set {path}: cannot read class ids ({exc}); expected OUT/classes.json of "
                              "ccc training, a JSON list or text of class ids") from None
    return ids


def _kept_of_trainer_file(doc: dict, grid: ClassGrid | None) -> list:
    """The ``kept`` ids of a ccc trainer's classes.json, its grid checked against ``grid``."""
    if "kept" not in doc:
        raise ValueError("a JSON object without 'kept'")
    if grid is not None:
        theirs = (float(doc.get("alpha", grid.alpha)), float(doc.get("beta", grid.beta)),
                  int(doc.get("delta", grid.delta)))
        if theirs != (grid.alpha, grid.beta, grid.delta):
            raise ValueError(f"its grid alpha/beta/delta {theirs} differs from the metric's "
                             f"{(grid.alpha, grid.beta, grid.delta)}")
    return doc["kept"]


class ClassMapper:
    """Lab -> class ids on a grid. With a class subset, ``n_classes`` (N_class of eq. 20)
    defaults to its size; pixels snap to the nearest subset class only when ``snap``
    (the paper counts the classes its images activate, so the metrics do not snap by
    default). ``n_class`` overrides N_class."""

    def __init__(self, grid: ClassGrid | None = None, subset: torch.Tensor | None = None,
                 snap: bool = False, n_class: int | None = None):
        self.grid = grid or ClassGrid()
        self.table = None if subset is None or not snap else nearest_class_table(self.grid, subset)
        self.id_space = self.grid.n_classes  # ids stay grid ids; a subset only uses some of them
        if n_class is not None:
            if int(n_class) < 1:
                raise ColorbenchError(f"colour classes: n_class must be >= 1 (got {n_class})")
            self.n_classes = int(n_class)
        elif subset is not None:
            self.n_classes = int(torch.unique(nearest_class_table(self.grid, subset)).numel())
        else:
            self.n_classes = self.id_space

    @classmethod
    def from_options(cls, alpha: float = 6.0, beta: float = 108.0, delta: int = 36,
                     class_set: str | None = None, snap: bool = False,
                     n_class: int | None = None) -> ClassMapper:
        grid = ClassGrid(float(alpha), float(beta), int(delta))
        return cls(grid, load_class_set(class_set, grid) if class_set else None, bool(snap), n_class)

    @property
    def key(self) -> str:
        """Identifies the mapping (for caches shared between metrics)."""
        g = self.grid
        tag = "" if self.table is None else f":{hash(tuple(self.table.tolist()))}"
        return f"classes:{g.alpha}:{g.beta}:{g.delta}{tag}"

    def __call__(self, lab: torch.Tensor, dim: int = -3) -> torch.Tensor:
        return self._snap(self.grid.classes_of_lab(lab, dim))

    def _snap(self, ids: torch.Tensor) -> torch.Tensor:
        return ids if self.table is None else self.table.to(ids.device)[ids]

    def of_rgb8(self, rgb: torch.Tensor, lab: torch.Tensor) -> torch.Tensor:
        """Class ids [B, H, W] of uint8 RGB [B, 3, H, W] given its (possibly float32) Lab.

        Pixels whose a* or b* lies within ``EDGE_MARGIN`` of a bin edge are re-binned from a
        float64 Lab of their RGB, so the ids equal those of the float64 Lab exactly (float32
        Lab is within 1e-4 of it, tested on 8-bit colours). Image by image (cache-sized)."""
        if lab.dtype == torch.float64:
            return self(lab, dim=1)
        out = torch.empty(lab.shape[0], *lab.shape[2:], dtype=torch.int64, device=lab.device)
        for k in range(lab.shape[0]):
            out[k] = self._snap(self._grid_ids32(rgb[k], lab[k]))
        return out

    def _grid_ids32(self, rgb: torch.Tensor, lab: torch.Tensor) -> torch.Tensor:
        g = self.grid
        u = lab[1:].mul(1.0 / g.alpha).add_(g.beta / g.alpha)  # (a + β)/α, (b + β)/α
        cell = torch.floor(u)
        # |frac − ½| > ½ − margin/α  <=>  within margin of a bin edge (float32 rounding < 3e-5)
        edge = (u - cell).sub_(0.5).abs_().amax(0)
        cell.clamp_(0, g.delta - 1)
        ids = (cell[1] * g.delta + cell[0]).to(torch.int64)  # exact: < 2^24
        limit = 0.5 - EDGE_MARGIN / g.alpha
        if float(edge.max()) > limit:
            near = (edge > limit).flatten().nonzero().squeeze(1)
            pix = rgb.flatten(1).index_select(1, near).T  # [K, 3] uint8
            exact = rgb_to_lab(pix.to(torch.float64) / 255.0, dim=-1)
            ids.view(-1)[near] = g.classes(exact[:, 1], exact[:, 2])
        return ids


def count_distinct(ids: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Number of distinct class ids per image: ``ids`` [B, ...] int64 -> int64 [B].

    O(pixels): one bincount over (image, class) pairs, never the pairwise loop of eq. 19-20.
    """
    B = ids.shape[0]
    flat = ids.reshape(B, -1)
    offsets = torch.arange(B, device=ids.device).unsqueeze(1) * n_classes
    hist = torch.bincount((flat + offsets).reshape(-1), minlength=B * n_classes)
    return (hist.view(B, n_classes) > 0).sum(1)


def presence(ids: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Bool [n_classes]: which classes occur anywhere in ``ids``."""
    return torch.bincount(ids.reshape(-1), minlength=n_classes) > 0


def frequent_classes(hist: torch.Tensor, min_count: float | None = None,
                     min_fraction: float | None = None) -> torch.Tensor:
    """Class ids (sorted int64) whose sample count in ``hist`` [n_classes] is at least the
    threshold: ``min_count`` samples, or ``min_fraction`` of all samples (CCC++ keeps
    classes with >= 500 of 109,885,440 samples); with both, the larger threshold applies.
    The most frequent class is always kept, so the result is never empty."""
    if min_count is None and min_fraction is None:
        raise ColorbenchError("frequent_classes: give min_count or min_fraction")
    hist = hist.reshape(-1).to(torch.float64)
    threshold = max(float(min_count or 0.0), float(min_fraction or 0.0) * float(hist.sum()))
    keep = hist >= threshold * (1 - 1e-12)  # 500/109,885,440 x 109,885,440 rounds above 500
    keep[int(hist.argmax())] = True
    return torch.nonzero(keep).reshape(-1).to(torch.int64)
