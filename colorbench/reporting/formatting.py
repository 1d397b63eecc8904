"""What a leaderboard shows and how: the ``View`` (sort, metric and column selection,
per-column precision, caption, label) and escaping for markdown, LaTeX and HTML."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field

from colorbench.errors import ColorbenchError

# decimals per metric when --precision does not say (others: from the column's magnitude)
DEFAULT_DECIMALS = {"cpsnr": 2, "mse": 4, "ssim": 3, "uiqi": 3, "lpips": 3, "fid": 2, "kid": 4,
                    "deltae2000": 2, "colorfulness": 2, "delta_colorfulness": 2}
COLUMNS = ("n", "failed", "device", "weights", "run")
DEFAULT_COLUMNS = {"markdown": ("n", "failed", "device", "weights"), "latex": ("n",),
                   "html": ("n", "failed", "device", "weights")}


@dataclass
class View:
    """Rendering choices shared by every format."""

    sort_by: str | None = None
    metrics: list[str] | None = None  # None: every metric with a value
    columns: list[str] | None = None  # None: the format's default (DEFAULT_COLUMNS)
    precision: dict[str, int] = field(default_factory=dict)  # metric id (or "*") -> decimals
    caption: str | None = None  # LaTeX
    label: str | None = None  # LaTeX

    def columns_for(self, fmt_name: str) -> list[str]:
        return list(self.columns) if self.columns is not None else list(DEFAULT_COLUMNS.get(fmt_name, COLUMNS))


def parse_precision(entries: list[str]) -> dict[str, int]:
    """``--precision 3`` (every column) or ``--precision cpsnr=2,ssim=4`` -> {id: decimals}."""
    out: dict[str, int] = {}
    for item in (p.strip() for e in entries for p in e.split(",") if p.strip()):
        key, _, value = item.rpartition("=")
        try:
            decimals = int(value)
        except ValueError:
            decimals = -1
        if not 0 <= decimals <= 12:
            raise ColorbenchError(f"--precision {item}: expected DECIMALS or METRIC=DECIMALS (0 to 12)")
        out[key or "*"] = decimals
    return out


def parse_columns(entries: list[str]) -> list[str] | None:
    """``--columns n,weights`` -> the non-metric columns to show (checked)."""
    cols = [c.strip() for e in entries for c in e.split(",") if c.strip()]
    bad = [c for c in cols if c not in COLUMNS]
    if bad:
        raise ColorbenchError(f"--columns {','.join(bad)}: choose from {', '.join(COLUMNS)}")
    return cols or None


def decimals_for(mid: str, values: list[float], view: View) -> int:
    """The fixed number of decimals of a metric's column (its means and intervals)."""
    if mid in view.precision:
        return view.precision[mid]
    if "*" in view.precision:
        return view.precision["*"]
    if mid in DEFAULT_DECIMALS:
        return DEFAULT_DECIMALS[mid]
    return magnitude_decimals(max((abs(v) for v in values if math.isfinite(v)), default=0.0))


def magnitude_decimals(mag: float) -> int:
    """Decimals for numbers of magnitude ``mag``: 1 from 100, 2 from 1, else 4."""
    return 1 if mag >= 100 else 2 if mag >= 1 else 4


def number(value: float | None, decimals: int) -> str:
    """``value`` with ``decimals`` decimals; – for none, ∞ for infinities."""
    if value is None:
        return "–"
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    return f"{value:.{decimals}f}"


def p_text(p: float | None) -> str:
    """A bootstrap p-value: ``<0.001`` below the resolution, else three decimals."""
    if p is None:
        return "–"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def md(text: object) -> str:
    """Text safe in a markdown table cell: HTML escaped, bars escaped, newlines as spaces."""
    return " ".join(html.escape(str(text), quote=False).replace("|", "\\|").splitlines())


_TEX_CHARS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
              "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
              "|": r"\textbar{}", "<": r"\textless{}", ">": r"\textgreater{}"}
_TEX_SYMBOLS = {"Δ": r"$\Delta$", "∪": r"$\cup$", "↑": r"$\uparrow$", "↓": r"$\downarrow$",
                "±": r"$\pm$", "≈": r"$\approx$", "∞": r"$\infty$", "–": "--", "—": "---", "−": "$-$",
                "†": r"$^{\dagger}$", "·": r"$\cdot$", "×": r"$\times$", "≥": r"$\geq$", "≤": r"$\leq$"}


def tex(text: object) -> str:
    """Text that pdflatex compiles: special characters escaped, the symbols colorbench uses
    in math mode, other characters beyond Latin-1 as ``?``; newlines as spaces."""
    out = []
    for ch in " ".join(str(text).splitlines()):
        if ch in _TEX_CHARS:
            out.append(_TEX_CHARS[ch])
        elif ch in _TEX_SYMBOLS:
            out.append(_TEX_SYMBOLS[ch])
        else:
            out.append(ch if ord(ch) < 256 else "?")
    return "".join(out)


def htm(text: object) -> str:
    """HTML-escaped text (quotes too)."""
    return html.escape(str(text))
