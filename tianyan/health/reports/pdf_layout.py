"""Laying out a printed report with matplotlib (Agg, no pyplot state): A4 pages with a running header and page
numbers, headings, chart areas and tables that wrap their cells and continue on the next page, in a CJK font."""

from __future__ import annotations

import functools
import io
import logging
import re
import threading
import unicodedata
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

# Figures are drawn without pyplot; should anything in the process import it, no display is needed either.
matplotlib.use("Agg")
log = logging.getLogger(__name__)

# Fonts with the simplified Chinese glyphs region and unit names need, best first, and where Debian puts them.
CJK_FONTS = ("WenQuanYi Micro Hei", "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "SimHei")
CJK_FILES = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),
)
A4 = (8.27, 11.69)
A4_LANDSCAPE = (11.69, 8.27)
MARGIN_IN = 0.6
TOP_IN = 0.85  # below the running header
BOTTOM_IN = 0.7  # above the footer
INK = "#1b1b1b"
MUTED = "#5f6b7a"
RULE = "#b8c2cf"
HEADER_FILL = "#dde4ee"
STRIPE_FILL = "#f4f6f9"
TOTAL_FILL = "#e4e9f0"
# The CJK fonts come in one weight: emphasis is by size and colour, never bold.
ACCENT = "#17375e"
MAX_CELL_LINES = 6
# matplotlib's rcParams are process-wide: one report renders at a time, inside its own rc_context.
_RENDER_LOCK = threading.Lock()


@functools.cache
def cjk_font() -> str | None:
    """The family name of an installed CJK font (registering a known file when the cache lacks it), or None."""
    known = {f.name for f in font_manager.fontManager.ttflist}
    for name in CJK_FONTS:
        if name in known:
            return name
    for path in CJK_FILES:
        if path.is_file():
            try:
                font_manager.fontManager.addfont(str(path))
                return font_manager.FontProperties(fname=str(path)).get_name()
            except (OSError, RuntimeError, ValueError) as exc:
                log.warning("could not load the CJK font %s: %s", path, exc)
    log.warning("no CJK font found (install fonts-wqy-microhei): Chinese names in PDF reports will show as empty boxes")
    return None


@contextmanager
def report_style() -> Iterator[None]:
    cjk = cjk_font()
    family = [name for name in (cjk, "DejaVu Sans") if name]
    style = {
        "font.family": family,
        "font.size": 9,
        "pdf.fonttype": 42,  # TrueType embedded: smaller files, and the text can be searched and copied
        "axes.unicode_minus": False,
        "axes.edgecolor": RULE,
        "axes.labelcolor": INK,
        "xtick.color": MUTED,
        "ytick.color": MUTED,
        "axes.spines.top": False,
        "axes.spines.right": False,
    }
    with _RENDER_LOCK, matplotlib.rc_context(style), warnings.catch_warnings():
        if cjk is None:  # said once by cjk_font(), not once per missing glyph
            warnings.filterwarnings("ignore", message="Glyph .* missing from font", category=UserWarning)
        yield


def text_width_pt(text: str, size: float) -> float:
    """An estimate of the printed width: CJK glyphs are square, Latin ones a little over half as wide."""
    return sum(size if unicodedata.east_asian_width(ch) in "WF" else 0.56 * size for ch in text)


# A wide (CJK) character, a run of anything else but spaces, or a run of spaces: the units lines break between.
_TOKENS = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]|[^\s\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]+|\s+")


def wrap(text: str, width_pt: float, size: float, *, max_lines: int = 0) -> list[str]:
    """Lines of `text` that fit `width_pt`: broken between words and between CJK characters, inside a word only
    when it is wider than the line; with `max_lines`, cut to that many."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for token in _TOKENS.findall(paragraph):
            if text_width_pt(line + token, size) <= width_pt:
                line += token
                continue
            if token.isspace():
                lines.append(line)
                line = ""
                continue
            if line.strip():
                lines.append(line.rstrip())
            line = ""
            for ch in token:  # a word longer than the line
                if line and text_width_pt(line + ch, size) > width_pt:
                    lines.append(line)
                    line = ""
                line += ch
        lines.append(line.rstrip())
    if max_lines and len(lines) > max_lines:
        lines = [*lines[: max_lines - 1], lines[max_lines - 1][:-1] + "…"]
    return lines


@dataclass
class Table:
    columns: Sequence[str]
    rows: Sequence[Sequence[str]]
    widths: Sequence[float]  # relative column widths
    align: Sequence[str] = ()  # "left" or "right" per column (default left)
    fills: dict[tuple[int, int], str] = field(default_factory=dict)  # (row, column) → background
    total_rows: frozenset[int] = frozenset()  # shaded: the sums of the rows above
    size: float = 7.5


class Book:
    """The pages of one PDF; the cursor runs down the current page in inches from its top."""

    def __init__(self, out: io.BytesIO, *, title: str, running_head: str, metadata: dict[str, Any]) -> None:
        self.pdf = PdfPages(out, metadata={"Title": title, "Creator": "Tianyan", **metadata})
        self.running_head = running_head
        self.figure: Figure | None = None
        self.size = A4
        self.cursor = 0.0
        self.page = 0

    # --- pages ---------------------------------------------------------------------------------------------

    def new_page(self, *, landscape: bool = False) -> None:
        self._finish()
        self.size = A4_LANDSCAPE if landscape else A4
        self.figure = Figure(figsize=self.size)
        self.page += 1
        self.cursor = TOP_IN
        width, height = self.size
        fig = self.figure
        fig.text(MARGIN_IN / width, 1 - 0.45 / height, self.running_head, fontsize=7.5, color=MUTED, va="baseline")
        fig.add_artist(_hline(fig, 0.55, MARGIN_IN, width - MARGIN_IN))
        fig.text(1 - MARGIN_IN / width, 0.4 / height, f"{self.page}", fontsize=8, color=MUTED, ha="right")
        fig.text(MARGIN_IN / width, 0.4 / height, "天眼 Tianyan", fontsize=7.5, color=MUTED)

    def _finish(self) -> None:
        if self.figure is not None:
            self.pdf.savefig(self.figure)
            self.figure = None

    def close(self) -> None:
        self._finish()
        self.pdf.close()

    @property
    def width_in(self) -> float:
        return self.size[0] - 2 * MARGIN_IN

    def space_left(self) -> float:
        return self.size[1] - BOTTOM_IN - self.cursor

    def ensure(self, inches: float) -> None:
        if self.figure is None or self.space_left() < inches:
            self.new_page(landscape=self.size == A4_LANDSCAPE)

    # --- content -------------------------------------------------------------------------------------------

    def _fig(self) -> Figure:
        if self.figure is None:
            self.new_page()
        assert self.figure is not None
        return self.figure

    def text(self, text: str, *, size: float = 9, color: str = INK, gap: float = 0.06) -> None:
        lines = wrap(text, self.width_in * 72, size)
        line_in = size * 1.45 / 72
        self.ensure(line_in * len(lines))
        fig = self._fig()
        width, height = self.size
        for line in lines:
            self.cursor += line_in
            fig.text(MARGIN_IN / width, 1 - self.cursor / height, line, fontsize=size, color=color, va="baseline")
        self.cursor += gap

    def heading(self, text: str, *, keep_with: float = 1.5) -> None:
        """A section heading, moved to a new page unless `keep_with` inches of what follows fit below it."""
        self.ensure(0.5 + keep_with)
        self.cursor += 0.12
        self.text(text, size=13, color=ACCENT, gap=0.02)
        right = self.size[0] - MARGIN_IN
        self._fig().add_artist(_hline(self._fig(), self.cursor, MARGIN_IN, right, color=ACCENT, lw=0.8))
        self.cursor += 0.14

    def axes(self, height_in: float, *, left_in: float = 0.5, right_in: float = 0.1, bottom_in: float = 0.35) -> Axes:
        """Chart axes taking `height_in` of the page; the insets leave room for tick labels."""
        self.ensure(height_in)
        width, height = self.size
        x0 = (MARGIN_IN + left_in) / width
        y0 = 1 - (self.cursor + height_in - bottom_in) / height
        axes = self._fig().add_axes((x0, y0, (self.width_in - left_in - right_in) / width,
                                     (height_in - bottom_in - 0.1) / height))  # fmt: skip
        self.cursor += height_in
        return axes

    def box(self, x_in: float, y_in: float, w_in: float, h_in: float, *, fill: str, edge: str = RULE) -> None:
        """A filled rectangle at page coordinates (inches from the left and top)."""
        width, height = self.size
        fig = self._fig()
        fig.add_artist(Rectangle((x_in / width, 1 - (y_in + h_in) / height), w_in / width, h_in / height,
                                 transform=fig.transFigure, facecolor=fill, edgecolor=edge, linewidth=0.6))  # fmt: skip

    def put(self, x_in: float, y_in: float, text: str, **style: Any) -> None:
        """Text at page coordinates (inches from the left and top of the page)."""
        width, height = self.size
        self._fig().text(x_in / width, 1 - y_in / height, text, **style)

    def table(self, table: Table, *, continued: str = "") -> None:
        """Draw `table` at the cursor, repeating its header on each page it continues to."""
        size = table.size
        total = sum(table.widths)
        widths_in = [self.width_in * w / total for w in table.widths]
        line_in = size * 1.35 / 72
        pad_in = 0.05

        def lines_of(cells: Sequence[str]) -> list[list[str]]:
            return [
                wrap(c, (w - 2 * pad_in) * 72, size, max_lines=MAX_CELL_LINES)
                for c, w in zip(cells, widths_in, strict=True)
            ]

        header = lines_of(table.columns)
        header_h = max(len(x) for x in header) * line_in + 2 * pad_in
        bodies = [lines_of(row) for row in table.rows]
        heights = [max(len(x) for x in body) * line_in + 2 * pad_in for body in bodies]
        index = 0
        while True:
            self.ensure(header_h + (heights[index] if index < len(heights) else 0))
            self._row(header, widths_in, header_h, line_in, pad_in, table, fill=HEADER_FILL, row=-1)
            drawn = 0
            # At least one row under each header, so a row taller than a page cannot stall the table.
            while index < len(bodies) and (drawn == 0 or self.space_left() >= heights[index]):
                fill = TOTAL_FILL if index in table.total_rows else STRIPE_FILL if index % 2 else "white"
                self._row(bodies[index], widths_in, heights[index], line_in, pad_in, table, fill=fill, row=index)
                index += 1
                drawn += 1
            if index >= len(bodies):
                break
            self.new_page(landscape=self.size == A4_LANDSCAPE)
            if continued:
                self.text(continued, size=8, color=MUTED)
        self.cursor += 0.15

    def _row(self, cells: list[list[str]], widths_in: list[float], row_h: float, line_in: float, pad_in: float,
             table: Table, *, fill: str, row: int) -> None:  # fmt: skip
        x = MARGIN_IN
        for column, (lines, w) in enumerate(zip(cells, widths_in, strict=True)):
            self.box(x, self.cursor, w, row_h, fill=table.fills.get((row, column), fill), edge=RULE)
            right = row >= 0 and column < len(table.align) and table.align[column] == "right"
            for n, line in enumerate(lines):
                self.put(x + (w - pad_in if right else pad_in), self.cursor + pad_in + (n + 0.78) * line_in, line,
                         fontsize=table.size, color=INK, ha="right" if right else "left", va="baseline")  # fmt: skip
            x += w
        self.cursor += row_h


def _hline(fig: Figure, y_in: float, x0_in: float, x1_in: float, *, color: str = RULE, lw: float = 0.6) -> Line2D:
    width, height = fig.get_size_inches()
    y = 1 - y_in / height
    return Line2D([x0_in / width, x1_in / width], [y, y], transform=fig.transFigure, color=color, linewidth=lw)


def render(title: str, running_head: str, metadata: dict[str, Any], draw: Any) -> bytes:
    """Run `draw(book)` on a fresh book in the report style; the PDF's bytes."""
    out = io.BytesIO()
    with report_style():
        book = Book(out, title=title, running_head=running_head, metadata=metadata)
        try:
            draw(book)
        finally:
            book.close()
    return out.getvalue()
