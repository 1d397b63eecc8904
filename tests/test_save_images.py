"""``--save-images`` (full PNG outputs, what score rereads) and ``--save-thumbs`` (only the
report's thumbnails)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import make_folder
from PIL import Image

from colorbench.errors import ColorbenchError
from colorbench.evaluation.config import SAVE_THUMB, save_mode


def _run(cli, tmp_path: Path, name: str, *flags: str) -> Path:
    imgs = tmp_path / "imgs"
    if not imgs.exists():
        make_folder(imgs, 2, size=(300, 200))
    cli("run", "--models", "gray", "--datasets", imgs, "--metrics", "cpsnr", "--resize", "none",
        "--workers", "0", "--out", tmp_path / "runs", "--name", name, "-q", *flags)
    return tmp_path / "runs" / name


def test_full_and_thumbnail_outputs(cli, tmp_path):
    full = _run(cli, tmp_path, "full", "--save-images")
    thumbs = _run(cli, tmp_path, "thumbs", "--save-thumbs")
    plain = _run(cli, tmp_path, "plain")
    for sub in ("gray", "_ground_truth"):
        big = sorted((full / "outputs" / "imgs" / sub).glob("*.png"))
        small = sorted((thumbs / "outputs" / "imgs" / sub).glob("*.png"))
        assert len(big) == len(small) == 2
        assert {Image.open(p).size for p in big} == {(300, 200)}
        assert {Image.open(p).size for p in small} == {(SAVE_THUMB, round(200 * SAVE_THUMB / 300))}
    assert not (plain / "outputs").exists()
    pages = cli("report", thumbs, "--out", tmp_path / "report").output
    assert "imgs.html" in pages and (tmp_path / "report" / "imgs.contact.png").is_file()


@pytest.mark.parametrize("value,mode", [(True, "full"), ("thumbs", "thumbs"), (False, None), (None, None)])
def test_save_mode(value, mode):
    assert save_mode(value) == mode


def test_an_unknown_save_mode_is_one_line():
    with pytest.raises(ColorbenchError, match=r"save_images 'small': must be true or false .* or thumbs"):
        save_mode("small")
