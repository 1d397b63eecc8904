"""FID/KID reference statistics held as data: the cache of computed references and published
statistics files (``--fid-ref``).

The ground-truth side of a (dataset, model) pair does not depend on the model, so its
statistics are computed once and kept in ``<cache>/fid-ref/`` (``reference_dir()``): one
``.npz`` per kind (fid: ``mu``, ``sigma``; kid: the ``features``), named by the pair's
reference key (``colorbench.evaluation.accumulator.Reference``), the extractor, the sha256 of
its weights and the device type, all of which the file's ``meta`` repeats and ``load_cached``
checks. Files are read with ``allow_pickle=False``. Published statistics are an ``.npz`` with
``mu`` and ``sigma`` (what pytorch-fid and torch-fidelity write) or torch-fidelity's own cache
file ``*-stat-fid-2048.pt``, read with ``torch.load(weights_only=True)`` allowing numpy arrays
and nothing else.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from colorbench.errors import ColorbenchError
from colorbench.evaluation.failures import one_line
from colorbench.models.checkpoints import sha256

CACHE_ENV = "COLORBENCH_CACHE"
FORMAT = 1  # of the cache files; part of their meta


class CacheProblem(ValueError):
    """A cache file that cannot be used (unreadable, wrong shapes, another reference's)."""


def reference_dir() -> Path:
    """``$COLORBENCH_CACHE/fid-ref``, else ``$XDG_CACHE_HOME/colorbench/fid-ref``, else
    ``~/.cache/colorbench/fid-ref``."""
    root = os.environ.get(CACHE_ENV)
    if root:
        return Path(root).expanduser() / "fid-ref"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "colorbench" / "fid-ref"


class Stored:
    """A reference as data: ``n`` images and FID's ``mu``/``sigma`` (float64) or KID's
    ``features`` (float32 [n, d]), read as ``FeatureStats`` is (``statistics()``,
    ``features``)."""

    def __init__(self, n: int, mu: np.ndarray | None = None, sigma: np.ndarray | None = None,
                 features: torch.Tensor | None = None):
        self.n, self.mu, self.sigma = n, mu, sigma
        self.features = [] if features is None else [features]

    @property
    def dim(self) -> int:
        """The feature dimension."""
        return int(self.mu.shape[0]) if self.mu is not None else int(self.features[0].shape[1])

    def statistics(self) -> dict[str, Any]:
        return {"mu": self.mu, "sigma": self.sigma}


def file_identity(path: str | Path) -> str | None:
    """The sha256 of a weights file; None when it cannot be read (caching is then off)."""
    try:
        return sha256(path)
    except OSError:
        return None


def module_identity(net: Any) -> str | None:
    """sha256 of a module's class and state dict (names, dtypes, shapes, bytes): the
    identity of an injected extractor; None for what is not an ``nn.Module``."""
    if not isinstance(net, torch.nn.Module):
        return None
    h = hashlib.sha256(f"{type(net).__module__}.{type(net).__qualname__}".encode())
    for name, t in sorted(net.state_dict().items()):
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.detach().cpu().reshape(-1).contiguous().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def cache_file(meta: dict[str, Any]) -> Path:
    """Where the reference ``meta`` describes is cached."""
    name = f"{meta['kind']}-{meta['key'][:32]}-{meta['extractor']}-{meta['weights_sha256'][:16]}-{meta['device']}.npz"
    return reference_dir() / name


def _check_stats(mu: np.ndarray, sigma: np.ndarray) -> None:
    if mu.ndim != 1 or sigma.shape != (mu.shape[0], mu.shape[0]) or mu.shape[0] == 0:
        raise ValueError(f"mu has shape {list(mu.shape)} and sigma {list(sigma.shape)}; expected [d] and [d, d]")
    if not (np.isfinite(mu).all() and np.isfinite(sigma).all()):
        raise ValueError("mu or sigma holds NaN or infinite values")


def load_cached(path: Path, meta: dict[str, Any]) -> Stored | None:
    """The reference cached at ``path`` for ``meta``; None when there is none. CacheProblem
    (one line) when the file is unreadable, has the wrong shapes or was written for
    another reference."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            if json.loads(str(z["meta"])) != meta:
                raise ValueError("its meta names another reference, extractor or format")
            if meta["kind"] == "fid":
                mu, sigma = z["mu"], z["sigma"]
                if mu.dtype != np.float64 or sigma.dtype != np.float64:
                    raise ValueError(f"mu/sigma are {mu.dtype}/{sigma.dtype}, not float64")
                _check_stats(mu, sigma)
                return Stored(meta["images"], mu=mu, sigma=sigma)
            feats = z["features"]
            if feats.dtype != np.float32 or feats.ndim != 2 or feats.shape[0] != meta["images"]:
                raise ValueError(f"features are {feats.dtype} {list(feats.shape)}, expected float32 "
                                 f"[{meta['images']}, d]")
            if not np.isfinite(feats).all():
                raise ValueError("features hold NaN or infinite values")
            return Stored(meta["images"], features=torch.from_numpy(feats))
    except Exception as exc:
        raise CacheProblem(f"cached reference {path} cannot be used ({one_line(exc)}); "
                           "recomputing it from the ground truths and overwriting the file") from None


def save_cached(path: Path, meta: dict[str, Any], stats: Any) -> str | None:
    """Write ``stats`` (a complete ``FeatureStats``) atomically to ``path`` (temp file +
    rename); returns a one-line warning instead of raising when it cannot be written."""
    arrays: dict[str, np.ndarray] = {"meta": np.array(json.dumps(meta, sort_keys=True))}
    if meta["kind"] == "fid":
        arrays.update(stats.statistics())
    else:
        arrays["features"] = torch.cat(stats.features).numpy()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        return f"reference not cached: cannot write {path} ({one_line(exc)})"
    return None


def _numpy_safe_globals() -> list[Any]:
    """What ``torch.load(weights_only=True)`` must allow to rebuild numpy arrays."""
    return [np.zeros(1).__reduce__()[0], np.ndarray, np.dtype, *{type(np.dtype(t)) for t in ("f4", "f8")}]


def load_published(path: str | Path) -> tuple[Stored, str]:
    """Published FID statistics (``mu``, ``sigma``) as a reference, and the file's sha256.
    Bad input raises one ColorbenchError line."""
    p = Path(path).expanduser()
    what = f"fid: reference statistics {path}"
    if not p.is_file():
        raise ColorbenchError(f"{what}: no such file; give the .npz (mu, sigma) to compare against")
    try:
        if p.suffix == ".npz":
            with np.load(p, allow_pickle=False) as z:
                mu, sigma = z["mu"], z["sigma"]
        else:
            with torch.serialization.safe_globals(_numpy_safe_globals()):
                obj = torch.load(p, map_location="cpu", weights_only=True)
            mu, sigma = obj["mu"], obj["sigma"]
        mu, sigma = np.asarray(mu, dtype=np.float64), np.asarray(sigma, dtype=np.float64)
        _check_stats(mu, sigma)
    except Exception as exc:
        raise ColorbenchError(f"{what}: not usable statistics ({one_line(exc)}); give an .npz with mu [d] and "
                              "sigma [d, d] (pytorch-fid, torch-fidelity) or torch-fidelity's "
                              "*-stat-fid-2048.pt") from None
    return Stored(0, mu=mu, sigma=sigma), sha256(p)
