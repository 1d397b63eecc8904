"""Decoding rules (colorbench.evaluation.images), the protocol's resize/rebuild, and bad inputs in a run:
each broken file is a failed row with a one-line message while the run goes on; valid odd
formats are decoded to RGB8 and scored."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import load_regs, random_rgb, write_image
from PIL import Image

from colorbench.color import rgb_to_lab
from colorbench.errors import ColorbenchError, ImageError
from colorbench.evaluation.images import list_image_files, load_rgb, save_png
from colorbench.evaluation.protocol import lightness, rebuild, resize, to_tensor
from colorbench.evaluation.runner import RunConfig, Runner
from colorbench.reporting import Reporter
from colorbench.results import read_rows


def png_header_only(path: Path, w: int, h: int) -> Path:
    """A tiny PNG file that claims to be w x h (no real pixel data)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b""))
    return path


# ---------------------------------------------------------------------- resize
def test_resize_crop_takes_the_centre_square() -> None:
    rgb = np.zeros((40, 100, 3), np.uint8)
    rgb[:, 30:70] = 200  # the centre 40x40 square
    out = resize(rgb, 40, "crop")
    assert out.shape == (40, 40, 3) and (out == 200).all()
    out = resize(rgb, 16, "crop")
    assert out.shape == (16, 16, 3) and abs(int(out.mean()) - 200) <= 1


def test_resize_crop_tall_image() -> None:
    rgb = np.zeros((101, 30, 3), np.uint8)
    rgb[35:65] = 255  # centre: rows (101-30)//2 = 35 .. 65
    assert (resize(rgb, 30, "crop") == 255).all()


def test_resize_stretch_ignores_aspect_and_none_is_identity() -> None:
    rgb = random_rgb(30, 90)
    assert resize(rgb, 32, "stretch").shape == (32, 32, 3)
    assert resize(rgb, 32, "none") is rgb
    np.testing.assert_array_equal(resize(rgb, 0, "none"), rgb)
    with pytest.raises(ValueError, match="crop, stretch, none"):
        resize(rgb, 32, "squash")


def test_rebuild_uses_ground_truth_lightness() -> None:
    rgb = to_tensor(random_rgb(16, 16)).unsqueeze(0)
    L = lightness(rgb)
    assert L.dtype == torch.float32 and L.shape == (1, 1, 16, 16)
    gray = rebuild(L, torch.zeros(1, 2, 16, 16))
    assert gray.dtype == torch.uint8
    # a*=b*=0 -> neutral gray (to one level: skimage's sRGB matrix rows do not sum exactly
    # to the D65 white it uses), with the L* of the original
    spread = gray.int().amax(1) - gray.int().amin(1)
    assert spread.max() <= 1
    assert (rgb_to_lab(gray)[:, 0] - L[:, 0]).abs().max() < 0.5
    full = rebuild(L, rgb_to_lab(rgb)[:, 1:])
    assert torch.equal(full, rgb)


# ------------------------------------------------------------- odd valid formats
def test_rgba_png_drops_alpha(tmp_path: Path) -> None:
    rgba = np.dstack([random_rgb(12, 10), np.full((12, 10), 7, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    np.testing.assert_array_equal(load_rgb(tmp_path / "a.png"), rgba[..., :3])


def test_palette_png_with_transparency(tmp_path: Path) -> None:
    img = Image.new("P", (10, 6))
    img.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    img.putpixel((3, 2), 1)
    img.save(tmp_path / "p.png", transparency=0)
    assert Image.open(tmp_path / "p.png").info.get("transparency") == 0
    out = load_rgb(tmp_path / "p.png")
    assert out.shape == (6, 10, 3) and out.dtype == np.uint8
    assert out[0, 0].tolist() == [255, 0, 0] and out[2, 3].tolist() == [0, 0, 255]


def test_cmyk_jpeg(tmp_path: Path) -> None:
    Image.new("CMYK", (16, 8), (255, 0, 0, 0)).save(tmp_path / "c.jpg", quality=95)
    out = load_rgb(tmp_path / "c.jpg")
    assert out.shape == (8, 16, 3)
    r, g, b = out.reshape(-1, 3).mean(0)
    assert r < 10 and g > 245 and b > 245  # pure cyan


def test_16bit_gray_png_scaled_to_8bit(tmp_path: Path) -> None:
    values = np.array([[0, 257, 32896, 65535], [128, 1000, 40000, 65280]], dtype=np.uint16)
    Image.fromarray(values).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode == "I;16"
    out = load_rgb(tmp_path / "g16.png")
    expected = np.rint(values * (255 / 65535)).astype(np.uint8)
    np.testing.assert_array_equal(out[..., 0], expected)
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()


def test_gray_jpeg_and_gray_alpha(tmp_path: Path) -> None:
    gray = random_rgb(20, 20)[..., 0]
    Image.fromarray(gray, "L").save(tmp_path / "g.jpg", quality=100)
    out = load_rgb(tmp_path / "g.jpg")
    assert out.shape == (20, 20, 3) and (out[..., 0] == out[..., 2]).all()
    assert np.abs(out[..., 0].astype(int) - gray).max() <= 3
    Image.fromarray(np.dstack([gray, gray]), "LA").save(tmp_path / "la.png")
    np.testing.assert_array_equal(load_rgb(tmp_path / "la.png")[..., 1], gray)


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    rgb = np.zeros((20, 40, 3), np.uint8)
    rgb[:, :20] = 255  # left half white
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    Image.fromarray(rgb).save(tmp_path / "r.jpg", exif=exif, quality=100)
    out = load_rgb(tmp_path / "r.jpg")
    assert out.shape == (40, 20, 3)
    assert out[:20].mean() > 200 and out[20:].mean() < 50  # left half is now the top


# ------------------------------------------------------------------ bad inputs
def test_zero_byte_file(tmp_path: Path) -> None:
    (tmp_path / "z.jpg").write_bytes(b"")
    with pytest.raises(ImageError, match="empty file"):
        load_rgb(tmp_path / "z.jpg")


def test_non_image_with_image_extension(tmp_path: Path) -> None:
    (tmp_path / "n.jpg").write_text("this is not a jpeg\n")
    with pytest.raises(ImageError, match="not an image"):
        load_rgb(tmp_path / "n.jpg")


def test_truncated_jpeg(tmp_path: Path) -> None:
    write_image(tmp_path / "full.jpg", size=(64, 64))
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "t.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="truncated"):
        load_rgb(tmp_path / "t.jpg")


def test_over_pixel_limit_is_rejected_before_decoding(tmp_path: Path, monkeypatch) -> None:
    write_image(tmp_path / "ok.png", size=(100, 50))
    monkeypatch.setenv("COLORBENCH_MAX_PIXELS", "4000")
    with pytest.raises(ImageError, match=r"100x50 .* over the limit.*COLORBENCH_MAX_PIXELS"):
        load_rgb(tmp_path / "ok.png")
    monkeypatch.setenv("COLORBENCH_MAX_PIXELS", "5000")
    assert load_rgb(tmp_path / "ok.png").shape == (50, 100, 3)


@pytest.mark.parametrize("w,h", [(12000, 10000), (30000, 20000)])
def test_huge_dimensions_rejected_with_clear_message(tmp_path: Path, w: int, h: int) -> None:
    """Both under and over Pillow's own decompression-bomb limit (~179 MP) the message is
    colorbench's: the size, the limit and how to raise it."""
    path = png_header_only(tmp_path / "huge.png", w, h)
    with pytest.raises(ImageError) as err:
        load_rgb(path)
    msg = str(err.value)
    assert f"{w}x{h}" in msg and "COLORBENCH_MAX_PIXELS" in msg and "\n" not in msg


def test_list_image_files_ids(tmp_path: Path) -> None:
    for rel in ("b/x.png", "a.jpg", "cat.1.png", "cat.2.png", "c.JPEG", ".hidden.png", "notes.txt"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    ids, files = list_image_files(tmp_path)
    assert ids == ["a", "b/x", "c", "cat.1", "cat.2"]  # only the one real extension is removed
    assert [f.name for f in files] == ["a.jpg", "x.png", "c.JPEG", "cat.1.png", "cat.2.png"]


def test_list_image_files_refuses_colliding_ids(tmp_path: Path) -> None:
    for rel in ("dup.png", "dup.jpg", "ok.png"):
        (tmp_path / rel).write_bytes(b"x")
    with pytest.raises(ColorbenchError) as err:
        list_image_files(tmp_path)
    msg = str(err.value)
    assert "'dup'" in msg and "dup.png" in msg and "dup.jpg" in msg and "ok.png" not in msg


def test_save_png_is_lossless_and_atomic(tmp_path: Path) -> None:
    rgb = random_rgb(9, 11)
    save_png(rgb, tmp_path / "d" / "o.png")
    np.testing.assert_array_equal(load_rgb(tmp_path / "d" / "o.png"), rgb)
    assert [p.name for p in (tmp_path / "d").iterdir()] == ["o.png"]


# ---------------------------------------------------------- bad inputs in a run
@pytest.fixture
def odd_folder(tmp_path: Path) -> Path:
    root = tmp_path / "odd"
    root.mkdir()
    write_image(root / "good.png", size=(40, 30))
    write_image(root / "full.jpg", size=(64, 64), seed=1)
    data = (root / "full.jpg").read_bytes()
    (root / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (root / "full.jpg").unlink()
    (root / "notimage.jpg").write_text("hello")
    (root / "empty.jpg").write_bytes(b"")
    png_header_only(root / "huge.png", 30000, 20000)
    Image.fromarray(np.dstack([random_rgb(30, 30), np.full((30, 30), 128, np.uint8)]), "RGBA").save(root / "rgba.png")
    Image.new("CMYK", (30, 30), (0, 200, 50, 10)).save(root / "cmyk.jpg")
    Image.fromarray((np.arange(900).reshape(30, 30) * 70).astype(np.uint16)).save(root / "gray16.png")
    Image.fromarray(random_rgb(30, 30)[..., 0], "L").save(root / "grayjpeg.jpg")
    pal = Image.fromarray(random_rgb(30, 30)).convert("P", palette=Image.Palette.ADAPTIVE)
    pal.save(root / "palette.png", transparency=3)
    return root


@pytest.mark.parametrize("workers", [0, 2])
def test_run_goes_on_past_bad_files_and_scores_odd_formats(odd_folder: Path, tmp_path: Path, workers: int) -> None:
    cfg = RunConfig(models=["gray"], datasets=[str(odd_folder)], metrics=["cpsnr", "mse"], size=32,
                    batch_size=3, workers=workers, out=str(tmp_path / "runs"), name="odd")
    result = Runner(cfg, load_regs(), Reporter(quiet=True)).run()
    _, rows = read_rows(result.run_dir / "per_image.csv")
    by_id = {r["image_id"]: r for r in rows}
    assert len(rows) == len(by_id) == 10
    failed = {i: r["error"] for i, r in by_id.items() if r["status"] == "failed"}
    assert set(failed) == {"truncated", "notimage", "empty", "huge"}
    assert "truncated" in failed["truncated"]
    assert "not an image" in failed["notimage"]
    assert "empty file" in failed["empty"]
    assert "30000x20000" in failed["huge"] and "COLORBENCH_MAX_PIXELS" in failed["huge"]
    for i, r in by_id.items():
        if i not in failed:
            assert r["status"] == "ok" and r["error"] == ""
            assert 0 <= float(r["mse"]) <= 1 and float(r["cpsnr"]) > 0
    # gray images are scored by gray perfectly
    assert by_id["grayjpeg"]["cpsnr"] == "100.0" and by_id["gray16"]["cpsnr"] == "100.0"  # the cap
    assert float(by_id["cmyk"]["cpsnr"]) < 40  # a colourful image is not
    assert result.summary[0]["n"] == 6 and result.summary[0]["n_failed"] == 4


def test_broken_colorizers_give_failed_rows_or_errors_while_others_run(tmp_path: Path) -> None:
    from colorbench import ColorizerSpec, hookimpl

    class Small:
        def colorize(self, L):
            return torch.zeros(L.shape[0], 2, L.shape[2] // 2, L.shape[3] // 2)

    class NaNs:
        def colorize(self, L):
            return torch.full((L.shape[0], 2, *L.shape[2:]), float("nan"))

    def cannot_build(**kw):
        raise RuntimeError("out of memory")

    class Broken:
        @hookimpl
        def register_colorizers(self, register):
            register(ColorizerSpec(name="small", factory=lambda **kw: Small()))
            register(ColorizerSpec(name="nans", factory=lambda **kw: NaNs()))
            register(ColorizerSpec(name="nobuild", factory=cannot_build))

    for i in range(3):
        write_image(tmp_path / "imgs" / f"i{i}.png", size=(20, 20), seed=i)
    cfg = RunConfig(models=["small", "nans", "nobuild", "gray"], datasets=[str(tmp_path / "imgs")],
                    metrics=["cpsnr"], size=16, batch_size=2, workers=0, out=str(tmp_path / "runs"), name="b")
    result = Runner(cfg, load_regs([("broken", Broken())]), Reporter(quiet=True)).run()
    _, rows = read_rows(result.run_dir / "per_image.csv")
    by_model: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        by_model.setdefault(r["model"], []).append(r)
    assert set(by_model) == {"small", "nans", "gray"}
    assert all(r["status"] == "failed" and "returned (1, 2, 8, 8)" in r["error"]
               and "expected a*b* of shape (1, 2, 16, 16)" in r["error"] for r in by_model["small"])
    assert all(r["status"] == "failed" and "NaN or infinite" in r["error"] for r in by_model["nans"])
    assert all(r["status"] == "ok" for r in by_model["gray"]) and len(by_model["gray"]) == 3
    assert "nobuild" in result.errors[0] and "out of memory" in result.errors[0]
    # a model that failed on every image is an error of the run (exit 1), not a silent 0
    assert len(result.errors) == 3 and [e.split(":")[0] for e in result.errors[1:]] == ["imgs/small", "imgs/nans"]
    assert all("failed on every image (3)" in e and "errors.log" in e for e in result.errors[1:])
    log = (result.run_dir / "errors.log").read_text()
    assert "Traceback (most recent call last)" in log and "out of memory" in log
    assert log.count("imgs/small i") == 3 and log.count("imgs/nans i") == 3
