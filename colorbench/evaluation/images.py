"""Decoding images the same way everywhere (run, score, colorize, datasets).

Rules (docs/protocol.md): EXIF orientation applied; palette, gray, gray+alpha, RGBA, CMYK,
16-bit and 32-bit images converted to RGB uint8 (alpha is dropped, not composited;
16-bit values are scaled by 255/65535 and rounded); images larger than
``$COLORBENCH_MAX_PIXELS`` (default 100 megapixels) are rejected before decoding.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from colorbench.errors import ColorbenchError, ImageError

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm", ".pgm", ".jfif"}
)
DEFAULT_MAX_PIXELS = 100_000_000


def max_pixels() -> int:
    return int(os.environ.get("COLORBENCH_MAX_PIXELS", DEFAULT_MAX_PIXELS))


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def list_image_files(root: Path) -> tuple[list[str], list[Path]]:
    """Image files under ``root`` in sorted order and their ids: the path relative to the
    root minus its one image extension (``cat.1.png`` is ``cat.1``), posix separators.
    Files whose ids collide (``dup.png`` and ``dup.jpg``) are one ColorbenchError listing them."""
    files = sorted(p for p in root.rglob("*") if p.is_file() and is_image_file(p))
    ids = [p.relative_to(root).with_suffix("").as_posix() for p in files]
    refuse_collisions(list(zip(ids, files, strict=True)), str(root))
    return ids, files


def refuse_collisions(named: list[tuple[str, Path]], where: str) -> None:
    """One ColorbenchError listing the files of every id that more than one file has."""
    by_id: dict[str, list[Path]] = {}
    for image_id, path in named:
        by_id.setdefault(image_id, []).append(path)
    clashes = {i: ps for i, ps in by_id.items() if len(ps) > 1}
    if clashes:
        listed = "; ".join(f"{i!r}: {', '.join(str(p) for p in ps)}" for i, ps in list(clashes.items())[:5])
        more = f" and {len(clashes) - 5} more" if len(clashes) > 5 else ""
        raise ColorbenchError(f"{where}: {len(clashes)} image id(s) name more than one file ({listed}{more}); "
                              "rename or remove the duplicates")


def to_rgb8(img: Image.Image) -> np.ndarray:
    """Convert a decoded PIL image of any mode to an RGB uint8 array [H, W, 3]."""
    mode = img.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
        gray = np.clip(np.rint(arr * (255.0 / top)), 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2)
    if mode == "F":
        gray = np.clip(np.rint(np.asarray(img, dtype=np.float64)), 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2)
    if mode == "P":
        img = img.convert("RGBA")
    if mode != "RGB":
        img = img.convert("RGB")
    return np.asarray(img, dtype=np.uint8).copy()


@contextlib.contextmanager
def _pillow_limit_off() -> Iterator[None]:
    """Pillow refuses images over ~179 MP in ``Image.open`` with its own message; our
    limit (checked right after opening, before decoding) is the one that applies."""
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def load_rgb(path: str | Path) -> np.ndarray:
    """Decode ``path`` to RGB uint8 [H, W, 3]; raise ImageError with one clear line."""
    path = Path(path)
    limit = max_pixels()
    try:
        if path.stat().st_size == 0:
            raise ImageError(f"{path}: empty file (0 bytes); remove it or replace it with the image")
        with warnings.catch_warnings(), _pillow_limit_off():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                w, h = img.size
                if w * h > limit:
                    raise ImageError(
                        f"{path}: {w}x{h} is {w * h / 1e6:.0f} megapixels, over the limit of "
                        f"{limit / 1e6:.0f}; downscale it or raise COLORBENCH_MAX_PIXELS"
                    )
                if w == 0 or h == 0:
                    raise ImageError(f"{path}: image has zero width or height")
                img = ImageOps.exif_transpose(img)
                img.load()
                return to_rgb8(img)
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image Pillow can read; check the file type") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ImageError(f"{path}: cannot decode image ({reason}); the file may be truncated or corrupt") from None


def save_png(rgb: np.ndarray, path: str | Path, longest: int | None = None) -> None:
    """Write RGB uint8 [H, W, 3] as PNG atomically (temp file + rename); with ``longest``, a
    thumbnail whose longer side is at most that many pixels (Lanczos)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        image = Image.fromarray(rgb)
        if longest is not None and max(image.size) > longest:
            image.thumbnail((longest, longest), Image.Resampling.LANCZOS)
        image.save(tmp, format="PNG", compress_level=1)
        os.replace(tmp, path)
    except BaseException:  # a full disk leaves no temporary file behind
        tmp.unlink(missing_ok=True)
        raise
