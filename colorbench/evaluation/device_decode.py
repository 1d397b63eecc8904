"""``--decode-device cuda``: JPEG ground truths decoded on the GPU (nvJPEG), batch by batch.

The DataLoader workers only read each JPEG's bytes and its header (format, colour mode,
size, EXIF orientation); the main process decodes the whole batch with
``torchvision.io.decode_jpeg(list_of_bytes, device=...)``, applies the EXIF orientation, the
protocol's crop and bicubic resize and L* there, on the device. Everything else takes the
CPU path of ``loader.ProtocolDataset`` per image, as without the option: files that are not
baseline RGB/gray JPEGs (PNG, CMYK, ...), datasets that do not list their ``files``, images
over the pixel limit, and any image nvJPEG fails to decode (its failure is then recorded as
the CPU decoder reports it). Decoder and resize differ from Pillow's in rounding, so pixels
may differ by a level or two from the CPU path (docs/protocol.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image

from colorbench.errors import ColorbenchError
from colorbench.evaluation.fingerprint import chroma_free
from colorbench.evaluation.images import max_pixels
from colorbench.evaluation.loader import Item, ProtocolDataset, make_loader
from colorbench.evaluation.protocol import RESIZE_MODES, lightness

DECODE_DEVICES = ("cpu", "cuda")
JPEG_MODES = frozenset({"RGB", "L"})  # what nvJPEG decodes to RGB as Pillow's convert("RGB") does


def check_decode_device(decode: str, device: torch.device) -> None:
    """One clear line unless ``decode`` can be used with the run's ``device``."""
    if decode not in DECODE_DEVICES:
        raise ColorbenchError(f"--decode-device {decode!r}: choose one of {', '.join(DECODE_DEVICES)}")
    if decode == "cuda" and device.type != "cuda":
        raise ColorbenchError(f"--decode-device cuda needs a CUDA device, but this run uses {device.type}; "
                              "leave the option out (or pass --decode-device cpu) to decode on the CPU")


@dataclass
class JpegItem(Item):
    """An image whose JPEG bytes travel to the main process undecoded."""

    data: torch.Tensor | None = None  # uint8 [N]: the file's bytes
    orientation: int = 1  # EXIF orientation tag (1 = as stored)
    position: int = 0  # its index in the ProtocolDataset (for the CPU fallback)


def jpeg_header(path: Path) -> int | None:
    """The EXIF orientation of a JPEG the device can decode like ``images.load_rgb``; None
    for anything else (other formats or modes, over the pixel limit, unreadable)."""
    try:
        with Image.open(path) as img:
            w, h = img.size
            if img.format != "JPEG" or img.mode not in JPEG_MODES or w * h > max_pixels() or w * h == 0:
                return None
            return int(img.getexif().get(0x0112, 1))
    except Exception:  # the CPU path reports what is wrong with the file
        return None


class JpegBytesDataset(ProtocolDataset):
    """``ProtocolDataset`` whose JPEG files come back as bytes (``JpegItem``)."""

    def __getitem__(self, k: int) -> Item:
        files = getattr(self.dataset, "files", None)  # optional part of the Dataset protocol
        index = self.indices[k]
        if files is None or len(files) <= index:
            return super().__getitem__(k)
        t0 = time.perf_counter()
        path = Path(files[index])
        orientation = jpeg_header(path)
        if orientation is None:
            return super().__getitem__(k)
        try:
            data = torch.frombuffer(bytearray(path.read_bytes()), dtype=torch.uint8)
        except OSError:
            return super().__getitem__(k)
        return JpegItem(str(self.dataset.ids[index]), data=data, orientation=orientation, position=k,
                        load_seconds=time.perf_counter() - t0)


def orient(x: torch.Tensor, orientation: int) -> torch.Tensor:
    """Apply an EXIF orientation to [C, H, W] as ``PIL.ImageOps.exif_transpose`` does."""
    t = x.transpose(-1, -2)
    return {2: x.flip(-1), 3: x.flip(-1, -2), 4: x.flip(-2), 5: t, 6: t.flip(-1),
            7: t.flip(-1, -2), 8: t.flip(-2)}.get(orientation, x).contiguous()


def resize_tensor(rgb: torch.Tensor, size: int, mode: str) -> torch.Tensor:
    """``protocol.resize`` on a uint8 [3, H, W] tensor on any device: the same centre crop,
    then bicubic (a = -0.5, antialiased, as Pillow's) in float32, rounded half up after
    each of the two 1-D passes."""
    if mode not in RESIZE_MODES:
        raise ValueError(f"unknown resize mode {mode!r}; choose one of {', '.join(RESIZE_MODES)}")
    if mode == "none":
        return rgb
    h, w = rgb.shape[-2:]
    if mode == "crop" and h != w:
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        rgb = rgb[:, top : top + side, left : left + side]
    if rgb.shape[-2:] == (size, size):
        return rgb.contiguous()
    # Pillow resizes in two 1-D passes, rounding to uint8 in between (which clips the bicubic
    # overshoot), along the axis that shrinks more first (rows first on a tie): the same here
    x = rgb[None]
    h, w = x.shape[-2:]
    first = (h, size) if w >= h else (size, w)  # w/size >= h/size: the width shrinks more
    for shape in (first, (size, size)):
        if tuple(x.shape[-2:]) != shape:
            x = F.interpolate(x.to(torch.float32), size=shape, mode="bicubic", antialias=True, align_corners=False)
            x = x.clamp_(0.0, 255.0).add_(0.5).floor_().to(torch.uint8)
    return x[0]


def device_loader(device: torch.device) -> Callable[..., DeviceDecoded]:
    """``loader.make_loader`` with JPEGs decoded on ``device`` (same arguments)."""
    def make(dataset: Any, indices: Sequence[int], *, size: int, mode: str, **kw: Any) -> DeviceDecoded:
        return DeviceDecoded(make_loader(dataset, indices, size=size, mode=mode, items=JpegBytesDataset, **kw),
                             device, size, mode)

    return make


class DeviceDecoded:
    """Batches of ``loader`` (lists of Items) with every ``JpegItem`` decoded on ``device``."""

    def __init__(self, loader: Any, device: torch.device | str, size: int, mode: str):
        self.loader, self.device, self.size, self.mode = loader, torch.device(device), size, mode

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[list[Item]]:
        for items in self.loader:
            yield self.decode(items)

    def decode(self, items: Sequence[Item]) -> list[Item]:
        """The batch with its JpegItems decoded (the others as they are), in order."""
        jpegs = [it for it in items if isinstance(it, JpegItem)]
        t0 = time.perf_counter()
        images = self._decode_all(jpegs)
        share = (time.perf_counter() - t0) / max(1, len(jpegs))
        done: dict[int, Item] = {}
        for it, image in zip(jpegs, images, strict=True):
            done[id(it)] = self._finish(it, image, share)
        return [done.get(id(it), it) for it in items]

    def _decode_all(self, jpegs: Sequence[JpegItem]) -> list[torch.Tensor | None]:
        from torchvision.io import ImageReadMode, decode_jpeg

        if not jpegs:
            return []
        data = [it.data for it in jpegs]
        try:  # one call for the batch: nvJPEG's batched decode
            return list(decode_jpeg(data, mode=ImageReadMode.RGB, device=self.device))
        except RuntimeError:  # find the image(s) it cannot decode; those take the CPU path
            out: list[torch.Tensor | None] = []
            for d in data:
                try:
                    out.append(decode_jpeg(d, mode=ImageReadMode.RGB, device=self.device))
                except RuntimeError:
                    out.append(None)
            return out

    def _finish(self, it: JpegItem, image: torch.Tensor | None, seconds: float) -> Item:
        if image is None:
            return self._cpu(it)
        try:
            rgb = resize_tensor(orient(image, it.orientation), self.size, self.mode)
            L = lightness(rgb)
        except (Exception, SystemExit):
            return self._cpu(it)
        return Item(it.id, rgb, L, load_seconds=it.load_seconds + seconds, gray=chroma_free(rgb))

    def _cpu(self, it: JpegItem) -> Item:
        """The image through the CPU path of ProtocolDataset, in the main process."""
        dataset = self.loader.dataset
        return ProtocolDataset.__getitem__(dataset, it.position)

