"""Independent references for the metric calibration tests: numpy written from DESIGN §4 and
the papers, scikit-image where it implements the same definition. Images are uint8 [H, W, 3]."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from skimage.color import deltaE_ciede2000, rgb2lab
from skimage.metrics import structural_similarity


def shared_data() -> Path | None:
    """../shared/data next to the project (or $COLORBENCH_SHARED_DATA); None when absent."""
    env = os.environ.get("COLORBENCH_SHARED_DATA")
    root = Path(env) if env else Path(__file__).parents[1].parent / "shared" / "data"
    return root if root.is_dir() else None


def mse(p: np.ndarray, g: np.ndarray) -> float:
    return float(np.mean((p.astype(np.float64) / 255 - g.astype(np.float64) / 255) ** 2))


def cpsnr(p: np.ndarray, g: np.ndarray) -> float:
    err = np.mean((p.astype(np.float64) - g.astype(np.float64)) ** 2)
    return float("inf") if err == 0 else float(10 * np.log10(255.0**2 / err))


def ssim(p: np.ndarray, g: np.ndarray) -> float:
    side = min(p.shape[:2])
    win = None if side >= 11 else side - (1 - side % 2)
    return float(structural_similarity(g, p, channel_axis=-1, data_range=255, gaussian_weights=True,
                                       sigma=1.5, use_sample_covariance=False, win_size=win))


def uiqi(p: np.ndarray, g: np.ndarray, window: int = 8) -> float:
    """Wang & Bovik 2002 from the definition, window by window."""
    kh, kw = min(window, p.shape[0]), min(window, p.shape[1])
    out = []
    for c in range(3):
        x = np.lib.stride_tricks.sliding_window_view(g[..., c].astype(np.float64), (kh, kw)).reshape(-1, kh * kw)
        y = np.lib.stride_tricks.sliding_window_view(p[..., c].astype(np.float64), (kh, kw)).reshape(-1, kh * kw)
        mx, my = x.mean(1), y.mean(1)
        vx, vy = x.var(1), y.var(1)
        cxy = ((x - mx[:, None]) * (y - my[:, None])).mean(1)
        q = np.ones_like(mx)
        for i in range(len(q)):
            den_v, den_m = vx[i] + vy[i], mx[i] ** 2 + my[i] ** 2
            if abs(den_v) > 1e-9 and den_m != 0:
                q[i] = 4 * cxy[i] * mx[i] * my[i] / (den_v * den_m)
            elif den_m != 0:
                q[i] = 2 * mx[i] * my[i] / den_m
        out.append(q.mean())
    return float(np.mean(out))


def colorfulness(img: np.ndarray) -> float:
    """DDColor's ``calculate_cf`` (image_colorfulness) as it is written there: absolute
    opponent channels, numpy's population std, 0..255 floats."""
    (R, G, B) = (img[..., k].astype("float") for k in range(3))
    rg = np.absolute(R - G)
    yb = np.absolute(0.5 * (R + G) - B)
    (rbMean, rbStd) = (np.mean(rg), np.std(rg))
    (ybMean, ybStd) = (np.mean(yb), np.std(yb))
    stdRoot = np.sqrt((rbStd ** 2) + (ybStd ** 2))
    meanRoot = np.sqrt((rbMean ** 2) + (ybMean ** 2))
    return float(stdRoot + (0.3 * meanRoot))


def colorfulness_hs(img: np.ndarray) -> float:
    """Hasler & Süsstrunk 2003 M3 on the signed opponent channels."""
    r, g, b = (img[..., k].astype(np.float64) for k in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    return float(np.sqrt(rg.std() ** 2 + yb.std() ** 2) + 0.3 * np.sqrt(rg.mean() ** 2 + yb.mean() ** 2))


def deltae2000(p: np.ndarray, g: np.ndarray) -> float:
    return float(deltaE_ciede2000(rgb2lab(g), rgb2lab(p)).mean())


def classes(img: np.ndarray, alpha: float = 6, beta: float = 108, delta: int = 36) -> np.ndarray:
    lab = rgb2lab(img)
    ia = np.clip(np.floor((lab[..., 1] + beta) / alpha), 0, delta - 1).astype(int)
    ib = np.clip(np.floor((lab[..., 2] + beta) / alpha), 0, delta - 1).astype(int)
    return ib * delta + ia


def cnr(p: np.ndarray, g: np.ndarray) -> float:
    return len(np.unique(classes(p))) / len(np.unique(classes(g)))


def ccar(p: np.ndarray, n_class: int = 1296) -> float:
    return 100.0 * len(np.unique(classes(p))) / n_class


def tar(p: np.ndarray, g: np.ndarray) -> float:
    return 100.0 * float(np.mean(classes(p) == classes(g)))


def distinct_by_eq19(c: np.ndarray) -> int:
    """Eq. 19-20's numerator literally: pixels not equal to any pixel of a preceding row.

    (The printed inner sum runs over k < i only; read as "first occurrence" it counts
    distinct classes. This literal loop is quadratic: tiny images only.)"""
    m, n = c.shape
    total = 0
    seen: list[int] = []
    for i in range(m):
        for j in range(n):
            earlier = seen + [int(v) for v in c[i, :j]]
            total += int(c[i, j] not in earlier)
        seen += [int(v) for v in c[i]]
    return total


REFERENCES = {
    "mse": mse, "cpsnr": cpsnr, "ssim": ssim, "uiqi": uiqi,
    "colorfulness": lambda p, g: colorfulness(p),
    "delta_colorfulness": lambda p, g: colorfulness(p) - colorfulness(g),
    "colorfulness_hs": lambda p, g: colorfulness_hs(p),
    "delta_colorfulness_hs": lambda p, g: colorfulness_hs(p) - colorfulness_hs(g),
    "deltae2000": deltae2000, "cnr": cnr, "ccar": lambda p, g: ccar(p), "tar": tar,
}
