"""colorbench report: HTML pages per dataset and PNG contact sheets from a run made with
--save-images (a gray baseline and a tint colorizer that reports an extra column and fails
on one image), plus the error without saved images. The chromium checks are marked slow."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import colorbench_metrics_color.plugin
import numpy as np
import pytest
import torch
from conftest import make_folder
from PIL import Image

from colorbench import ColorizerSpec, hookimpl
from colorbench.reporting.report import (
    SHEET_GAP,
    SHEET_LABEL,
    format_metric,
    pick_ids,
    write_contact_sheet,
    write_report,
)

N_IMAGES, SIZE, BROKEN = 5, 24, "img003"
METRICS = "cpsnr,ssim,colorfulness,delta_colorfulness"


class Tint:
    """A fixed tint; reports a per-image ``member`` column; fails on image ``BROKEN``."""

    def colorize(self, L: torch.Tensor) -> torch.Tensor:
        return torch.cat([(L - 50.0) * 0.5, torch.sin(L / 9.0) * 25.0], dim=1)

    def colorize_with_info(self, L: torch.Tensor, ids: list[str]) -> tuple[torch.Tensor, dict]:
        if BROKEN in ids:
            raise RuntimeError(f"tint cannot colorize {BROKEN}")
        return self.colorize(L), {"member": ["odd" if int(i[-1]) % 2 else "even" for i in ids]}


class TintPlugin:
    @hookimpl
    def register_colorizers(self, register):
        register(ColorizerSpec(name="tintx", description="test tint with an extra column",
                               factory=lambda device="cpu", checkpoint=None, **kw: Tint(),
                               extra_columns=("member",)))


def make_run(cli, tmp_path: Path, name: str, *extra: str) -> Path:
    if not cli.extra:
        cli.add_plugin("tintx", TintPlugin())
        cli.add_plugin("metrics_color", colorbench_metrics_color.plugin)
    imgs = tmp_path / "imgs"
    if not imgs.exists():
        make_folder(imgs, N_IMAGES, size=(SIZE + 8, SIZE))
    cli("run", "--models", "gray,tintx", "--datasets", str(imgs), "--metrics", METRICS,
        "--size", str(SIZE), "--workers", "0", "--batch-size", "2", "--out", str(tmp_path / "runs"),
        "--name", name, "--quiet", *extra)
    return tmp_path / "runs" / name


@pytest.fixture
def run_dir(cli, tmp_path: Path) -> Path:
    return make_run(cli, tmp_path, "saved", "--save-images")


class Page(HTMLParser):
    """Rows, header cells, cells (attributes + text) and every src/href of a page."""

    def __init__(self, text: str):
        super().__init__()
        self.heads: list[str] = []
        self.rows: list[list[dict]] = []
        self.links: list[str] = []
        self.ids: set[str] = set()
        self._in_body = False
        self._cell: dict | None = None
        self._th: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.ids.add(a.get("id", ""))
        for k in ("src", "href"):
            if k in a:
                self.links.append(a[k])
        if tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self.rows.append([])
        elif tag == "td" and self._in_body:
            self._cell = {**a, "text": "", "imgs": []}
            self.rows[-1].append(self._cell)
        elif tag == "img" and self._cell is not None:
            self._cell["imgs"].append(a["src"])
        elif tag == "th":
            self._th = []

    def handle_endtag(self, tag):
        if tag == "td":
            self._cell = None
        elif tag == "th" and self._th is not None:
            self.heads.append(self._th[0].strip())
            self._th = None
        elif tag == "tbody":
            self._in_body = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell["text"] += data + " "
        if self._th is not None:
            self._th.append(data)


def rows_of(run: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO((run / "per_image.csv").read_text())))


def decode(uri: str) -> np.ndarray:
    assert uri.startswith("data:image/jpeg;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("RGB")).astype(int)


def test_report_page_per_dataset(cli, run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = cli("report", str(run_dir), "--out", str(out), "--thumb", "64")
    page_path = out / "imgs.html"
    for path in (page_path, out / "imgs.contact.png", out / "index.html"):
        assert f"wrote {path}" in result.output and path.is_file()
    text = page_path.read_text()
    page = Page(text)
    assert page.heads == ["image", "gray input (L*)", "gray", "tintx", "ground truth"]
    assert len(page.rows) == N_IMAGES and all(len(r) == 5 for r in page.rows)
    # offline: every src/href is a data URI or a local page; no external host anywhere
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text, re.I)
    assert all(link.startswith("data:image/jpeg;base64,") or link == "index.html" for link in page.links)
    assert {"sort-metric", "sort-model", "sort-dir", "grid", "cb-data"} <= page.ids
    assert '<option value="__spread">' in text and "<script>" in text
    assert text.count('loading="lazy"') == sum(len(c["imgs"]) for r in page.rows for c in r)

    per_image = {(r["model"], r["image_id"]): r for r in rows_of(run_dir)}
    for row in page.rows:
        image_id = row[0]["text"].split()[0]
        gray_in, gray, tint, gt = (c for c in row[1:])
        assert len(gray_in["imgs"]) == len(gray["imgs"]) == len(gt["imgs"]) == 1
        # the gray input column is the ground truth's L* alone: the gray model's very pixels
        assert np.abs(decode(gray_in["imgs"][0]) - decode(gray["imgs"][0])).max() <= 2
        g = decode(gray_in["imgs"][0])
        assert np.abs(g[..., 0] - g[..., 2]).max() <= 3  # neutral
        assert np.abs(decode(gt["imgs"][0])[..., 0] - decode(gt["imgs"][0])[..., 2]).mean() > 10  # colourful
        for model, cell in (("gray", gray), ("tintx", tint)):
            src = per_image[(model, image_id)]
            if src["status"] == "failed":
                continue
            for mid in ("cpsnr", "ssim"):  # main metrics under the image, every metric in the tooltip
                assert format_metric(float(src[mid])) in cell["text"]
            assert f"ΔCF ↓: {format_metric(float(src['delta_colorfulness']))}" in cell["title"]
        if image_id == BROKEN:
            assert tint["imgs"] == [] and "tint cannot colorize img003" in tint["text"]
            assert "error: " in tint["title"]
        else:
            assert len(tint["imgs"]) == 1
            assert f"member: {per_image[('tintx', image_id)]['member']}" in tint["text"]
            assert "member" not in gray["text"]  # extra columns belong to the model that has them
    data = json.loads(re.search(r'<script id="cb-data" type="application/json">(.*?)</script>', text, re.S).group(1))
    assert data["models"] == ["gray", "tintx"] and len(data["rows"]) == N_IMAGES
    first = data["rows"][0]
    assert first["v"]["tintx"]["cpsnr"] == pytest.approx(float(per_image[("tintx", first["id"])]["cpsnr"]))
    hib = {m["id"]: m["hib"] for m in data["metrics"]}
    assert hib["cpsnr"] is True and hib["delta_colorfulness"] is False
    index = (out / "index.html").read_text()
    assert 'href="imgs.html"' in index and 'src="imgs.contact.png"' in index


def test_max_images_and_thumb_size(run_dir: Path, tmp_path: Path) -> None:
    paths = write_report(run_dir, tmp_path / "r", thumb=16, max_images=2, contact_sheets=False)
    assert [p.name for p in paths] == ["imgs.html", "index.html"]
    page = Page(paths[0].read_text())
    assert len(page.rows) == 2
    assert decode(page.rows[0][1]["imgs"][0]).shape[:2] == (16, 16)  # 24 px shrunk to the 16 px box
    big = Page(write_report(run_dir, tmp_path / "b", thumb=200, contact_sheets=False)[0].read_text())
    assert decode(big.rows[0][1]["imgs"][0]).shape[:2] == (SIZE, SIZE)  # never enlarged


def test_contact_sheet(run_dir: Path, tmp_path: Path) -> None:
    thumb = 32
    path = write_contact_sheet(run_dir, "imgs", tmp_path / "sheet.png", n_images=3, thumb=thumb)
    assert path == tmp_path / "sheet.png"
    sheet = np.asarray(Image.open(path).convert("RGB")).astype(int)
    cols, rows = 1 + 2 + 2, 3  # image id, gray input, gray, tintx, ground truth
    band = sheet.shape[0] - rows * (thumb + SHEET_GAP) - SHEET_GAP  # "ground truth" wraps at 32 px
    assert band > SHEET_LABEL and band % SHEET_LABEL == 0 and sheet.shape[1] == cols * (thumb + SHEET_GAP) + SHEET_GAP

    def cell(r: int, c: int) -> np.ndarray:  # c: 0 = gray input (after the id column)
        y, x = band + SHEET_GAP + r * (thumb + SHEET_GAP), SHEET_GAP + (c + 1) * (thumb + SHEET_GAP)
        return sheet[y:y + thumb, x:x + thumb]

    def id_cell(r: int) -> np.ndarray:
        y = band + SHEET_GAP + r * (thumb + SHEET_GAP)
        return sheet[y:y + thumb, SHEET_GAP:SHEET_GAP + thumb]

    ids = pick_ids([f"img{i:03d}" for i in range(N_IMAGES)], 3)
    assert ids == ["img000", "img002", "img004"]
    for r, image_id in enumerate(ids):
        gt = Image.open(run_dir / "outputs/imgs/_ground_truth" / f"{image_id}.png").resize((thumb, thumb), Image.Resampling.LANCZOS)
        assert np.abs(cell(r, 3) - np.asarray(gt).astype(int)).mean() < 1  # ground truth in the last column
        assert np.abs(cell(r, 0) - cell(r, 1)).max() <= 1  # gray input == gray model
        assert np.abs(cell(r, 0)[..., 0] - cell(r, 0)[..., 2]).max() <= 3
    assert sheet[:SHEET_LABEL].min() < 128  # labels drawn in the band
    assert all(id_cell(r).min() < 128 for r in range(rows))  # each row labelled with its id
    assert write_contact_sheet(run_dir, "no-such-dataset", tmp_path / "x.png") is None


def test_pick_ids_is_even_and_deterministic() -> None:
    ids = [f"{i:02d}" for i in range(20)]
    assert pick_ids(list(reversed(ids)), 4) == ["02", "07", "12", "17"]
    assert pick_ids(ids[:3], 6) == ids[:3]


def test_errors_without_saved_images(cli, tmp_path: Path) -> None:
    run = make_run(cli, tmp_path, "plain")
    result = cli("report", str(run), "--out", str(tmp_path / "r"), ok=False)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "--save-images" in lines[0] and "--name" in lines[0]
    assert write_contact_sheet(run, "imgs", tmp_path / "s.png") is None
    # resuming the finished run with --save-images scores nothing again and saves no image,
    # which is why the message asks for a new --name
    make_run(cli, tmp_path, "plain", "--save-images")
    assert not (run / "outputs").exists()
    assert cli("report", str(run), "--out", str(tmp_path / "r"), ok=False).exit_code == 2
    make_run(cli, tmp_path, "plain", "--save-images", "--no-resume")
    assert cli("report", str(run), "--out", str(tmp_path / "r")).exit_code == 0
    bad = cli("report", str(tmp_path / "imgs"), "--out", str(tmp_path / "r"), ok=False)
    assert bad.exit_code == 2 and "not a colorbench run directory" in bad.output
    empty = tmp_path / "empty"  # killed before its first row
    empty.mkdir()
    shutil.copy(run / "run.json", empty / "run.json")
    (empty / "per_image.csv").write_text((run / "per_image.csv").read_text().splitlines()[0] + "\n")
    bad = cli("report", str(empty), "--out", str(tmp_path / "r"), ok=False)
    assert bad.exit_code == 2 and "no scored images yet" in bad.output


# --------------------------------------------------------------- headless chromium
def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if exe is None:
        pytest.skip("chromium not installed (apt-get install chromium)")
    return exe


CHROME_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                "--no-first-run", "--disable-extensions", "--allow-file-access-from-files"]


@pytest.mark.slow
def test_chromium_screenshot_is_not_blank(run_dir: Path, tmp_path: Path) -> None:
    exe = chromium()
    page = write_report(run_dir, tmp_path / "r", thumb=96)[0]
    shot = tmp_path / "shot.png"
    subprocess.run([exe, *CHROME_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}",
                    "--window-size=900,700", page.as_uri()], check=True, timeout=120, capture_output=True)
    img = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert img.shape[:2] == (700, 900)
    assert img.std() > 20  # not a blank page
    chroma = np.abs(img[..., 0] - img[..., 2])
    assert (chroma > 40).mean() > 0.005  # the colour thumbnails rendered


@pytest.mark.slow
def test_chromium_sorts_rows_by_disagreement(run_dir: Path, tmp_path: Path) -> None:
    """The page's JavaScript, run by chromium: rows sorted by the spread of CPSNR across
    models (largest first), failed rows (no spread) last; and by tintx's ΔCF, best first = smallest |ΔCF|."""
    exe = chromium()
    page = write_report(run_dir, tmp_path / "r", contact_sheets=False)[0]

    def order(fragment: str) -> list[str]:
        dom = subprocess.run([exe, *CHROME_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom",
                              page.as_uri() + "#" + fragment], check=True, timeout=120,
                             capture_output=True, text=True).stdout
        return [r[0]["text"].split()[1] for r in Page(dom).rows]  # "#rank id ..."

    per = {(r["model"], r["image_id"]): r for r in rows_of(run_dir)}
    ok_ids = [f"img{i:03d}" for i in range(N_IMAGES) if f"img{i:03d}" != BROKEN]
    spread = {i: abs(float(per[("tintx", i)]["cpsnr"]) - float(per[("gray", i)]["cpsnr"])) for i in ok_ids}
    assert order("cpsnr|__spread|1") == [*sorted(ok_ids, key=lambda i: -spread[i]), BROKEN]
    assert order("cpsnr|__spread|-1") == [*sorted(ok_ids, key=lambda i: spread[i]), BROKEN]
    dcf = {i: abs(float(per[("tintx", i)]["delta_colorfulness"])) for i in ok_ids}
    assert order("delta_colorfulness|tintx|1") == [*sorted(ok_ids, key=lambda i: dcf[i]), BROKEN]
    assert order("__id|tintx|-1") == sorted([*ok_ids, BROKEN], reverse=True)


def test_long_labels_wrap_whole() -> None:
    from PIL import ImageDraw

    from colorbench.reporting.contact_sheet import _font, wrap

    draw, font = ImageDraw.Draw(Image.new("RGB", (1, 1))), _font(11)
    name = "ccc-harmonized-with-a-very-long-name:predicted"
    lines = wrap(draw, name, 60, font)
    assert len(lines) > 1 and "".join(lines) == name
    assert all(draw.textlength(line, font=font) <= 58 for line in lines)
    assert lines[0].endswith("-")  # broken after a separator


def test_labels_with_control_characters_are_drawn_escaped() -> None:
    from PIL import ImageDraw

    from colorbench.reporting.contact_sheet import _font, _label, wrap

    draw, font = ImageDraw.Draw(Image.new("RGB", (200, 60))), _font(11)
    lines = wrap(draw, "a\nb\udc80.png", 200, font)  # an id from a file named b"a\nb\x80.png"
    assert "".join(lines) == "a\\nb\\udc80.png"
    _label(draw, lines, 0, 0, 200, font)  # PIL refuses to measure multi-line text


def test_leaderboard_and_report_show_the_same_contact_sheet(cli, run_dir: Path, tmp_path: Path) -> None:
    from colorbench.reporting.leaderboard import write_leaderboards

    write_leaderboards([run_dir], tmp_path / "board", "markdown")
    write_report(run_dir, tmp_path / "report")
    board = np.asarray(Image.open(tmp_path / "board" / "imgs.png").convert("RGB"))
    report = np.asarray(Image.open(tmp_path / "report" / "imgs.contact.png").convert("RGB"))
    assert board.shape == report.shape and np.array_equal(board, report)
