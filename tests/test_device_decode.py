"""--decode-device cuda (colorbench.evaluation.device_decode), on the CPU: workers read bytes,
the batch is decoded by torchvision's decoder (the same call as on CUDA, minus the device),
and every other file takes the CPU path."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import random_rgb, write_image
from PIL import Image

from colorbench.errors import ColorbenchError
from colorbench.evaluation.device_decode import (
    JpegBytesDataset,
    JpegItem,
    check_decode_device,
    device_loader,
    resize_tensor,
)
from colorbench.evaluation.images import list_image_files, load_rgb
from colorbench.evaluation.loader import Item, make_loader
from colorbench.evaluation.protocol import lightness, resize, to_tensor


class Files:
    """A minimal file-listing dataset (as the built-in file datasets: ``ids``, ``files``)."""

    def __init__(self, root: Path):
        self.ids, self.files = list_image_files(root)

    def load(self, index: int):
        from colorbench.plugin.specs import Sample

        return Sample(id=self.ids[index], image=load_rgb(self.files[index]))


def _exif_jpeg(path: Path, rgb: np.ndarray, orientation: int) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(rgb).save(path, "JPEG", quality=90, exif=exif.tobytes())


def _items(root: Path, decode: bool, size: int = 32, mode: str = "crop") -> list[Item]:
    ds = Files(root)
    build = device_loader(torch.device("cpu")) if decode else make_loader
    loader = build(ds, range(len(ds.ids)), size=size, mode=mode, batch_size=4, workers=0)
    return [it for batch in loader for it in batch]


def test_every_exif_orientation_decodes_as_load_rgb(tmp_path: Path) -> None:
    rgb = random_rgb(24, 40, seed=1)  # not square: transposes change the shape
    for o in range(1, 9):
        _exif_jpeg(tmp_path / f"o{o}.jpg", rgb, o)
    ds = Files(tmp_path)
    assert isinstance(JpegBytesDataset(ds, range(8), 0, "none")[5], JpegItem)  # the worker reads bytes only
    got = _items(tmp_path, decode=True, mode="none")
    assert [it.id for it in got] == [f"o{o}" for o in range(1, 9)]
    for it, path in zip(got, ds.files, strict=True):
        want = to_tensor(load_rgb(path))
        assert it.error is None and torch.equal(it.rgb, want), it.id
        assert torch.equal(it.L, lightness(want))
    assert got[5].rgb.shape[1:] == (40, 24) and got[0].rgb.shape[1:] == (24, 40)


def test_other_files_and_decoder_failures_take_the_cpu_path(tmp_path: Path) -> None:
    write_image(tmp_path / "a.png", size=(40, 30), seed=2)
    Image.fromarray(random_rgb(30, 40, 3)).convert("CMYK").save(tmp_path / "b.jpg", "JPEG")
    write_image(tmp_path / "c.jpg", size=(40, 30), seed=4)
    good = io.BytesIO()
    Image.fromarray(random_rgb(120, 160, 5)).save(good, "JPEG")  # the header survives the cut
    (tmp_path / "d.jpg").write_bytes(good.getvalue()[: len(good.getvalue()) // 2])  # truncated
    (tmp_path / "e.jpg").write_bytes(b"not a jpeg at all")
    ds = Files(tmp_path)
    worker = [JpegBytesDataset(ds, range(5), 32, "crop")[k] for k in range(5)]
    assert [isinstance(it, JpegItem) for it in worker] == [False, False, True, True, False]
    cpu, dev = _items(tmp_path, decode=False), _items(tmp_path, decode=True)
    assert [it.id for it in dev] == ["a", "b", "c", "d", "e"]
    for a, b in zip(cpu, dev, strict=True):
        assert type(b) is Item and (a.error is None) == (b.error is None), b.id
        if a.error is None:
            assert (a.rgb.int() - b.rgb.int()).abs().max() <= 2 and b.rgb.dtype == torch.uint8
        else:
            assert b.error == a.error and b.trace  # recorded as the CPU decoder reports it
    assert dev[3].error is not None and "truncated" in dev[3].error
    assert torch.equal(dev[0].rgb, cpu[0].rgb) and torch.equal(dev[1].rgb, cpu[1].rgb)


@pytest.mark.parametrize(("shape", "size", "mode"), [((37, 53), 32, "crop"), ((20, 30), 48, "crop"),
                                                      ((30, 20), 24, "stretch"), ((32, 32), 32, "crop"),
                                                      ((300, 200), 256, "stretch"), ((90, 300), 64, "stretch")])
def test_resize_tensor_follows_pillows_bicubic(shape: tuple[int, int], size: int, mode: str) -> None:
    rgb = random_rgb(*shape, seed=7)
    want = to_tensor(resize(rgb, size, mode))
    got = resize_tensor(to_tensor(rgb), size, mode)
    assert got.dtype == torch.uint8 and got.shape == want.shape
    diff = (got.int() - want.int()).abs()
    assert int(diff.max()) <= 1 and float((diff > 0).float().mean()) < 1e-3
    assert torch.equal(resize_tensor(to_tensor(rgb), size, "none"), to_tensor(rgb))


def test_the_option_is_refused_without_cuda() -> None:
    check_decode_device("cpu", torch.device("cpu"))
    check_decode_device("cuda", torch.device("cuda", 0))
    with pytest.raises(ColorbenchError, match="--decode-device cuda needs a CUDA device, but this run uses cpu"):
        check_decode_device("cuda", torch.device("cpu"))
    with pytest.raises(ColorbenchError, match="choose one of cpu, cuda"):
        check_decode_device("nvjpeg", torch.device("cpu"))


def test_run_refuses_it_on_the_cpu_with_one_line(cli, tmp_path: Path) -> None:
    result = cli("run", "--models", "gray", "--metrics", "mse", "--device", "cpu", "--decode-device", "cuda",
                 "--out", tmp_path, ok=False)
    assert result.exit_code != 0 and "--decode-device cuda needs a CUDA device" in result.output
    assert not any(tmp_path.iterdir())  # refused before anything is written
