"""PDF plans with a text layer: ruled tables (merged cells, tables run over pages), running text, via pdfplumber."""

from __future__ import annotations

import difflib
import io
import logging
import math
import re
import statistics
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from kg.document import Block, Cell, Document, Paragraph, Source, Table
from kg.errors import PlanReadError

MAX_PAGES = 300
# Fewer printed characters than this over the whole file: a scan (or a file of pictures), read by OCR.
MIN_TEXT_CHARS = 20
# pdfminer prints "(cid:N)" for a glyph with no Unicode mapping; a text layer mostly of those is unusable.
MAX_CID_SHARE = 0.3
# A page with more ruling edges than this is a drawing or a map, not a plan's table; finding cells in it is slow.
MAX_EDGES = 20000
# Column borders of a table continued on the next page sit within this many points of the previous page's.
COLUMN_TOLERANCE = 3.0
# Top and bottom bands of the page (share of its height) where running headers, footers and page numbers live.
MARGIN_BAND = 0.12

TABLE_SETTINGS = {
    "vertical_strategy": "lines",
    "horizontal_strategy": "lines",
    # Word's "Save as PDF" draws borders as thin filled rectangles, often one per cell side: their two long
    # edges snap into one rule and abutting pieces join; the short ends fall under edge_min_length.
    "snap_tolerance": 3,
    "join_tolerance": 3,
    "edge_min_length": 3,
    "intersection_tolerance": 3,
}

# The start of a numbered or bulleted paragraph: 1. 1、 (1) （一） 一、 壹、 ① a) • …  A line starting so is new.
LIST_MARKER = re.compile(
    r"^\s*(?:"
    r"\d{1,3}\s*[.．、](?!\d)"
    r"|[(（]\s*(?:\d{1,3}|[一二三四五六七八九十]{1,3}|[a-zA-Z])\s*[)）]"
    r"|\d{1,3}\s*[)）]"
    r"|[一二三四五六七八九十]{1,3}\s*[、.．]"
    r"|[壹貳參叁肆伍陸柒捌玖拾]{1,3}\s*[、.．]"
    r"|[①-⑳⑴-⒇❶-❿]"
    r"|[a-zA-Z][.)](?=\s)"
    r"|[•●○■□◆◇▪▶►‧・※★☆✓✔-](?=\s*\S)"
    r")"
)
SENTENCE_END = re.compile(r"[。！？!?][」』”’）)】〕]*\s*$")
# Characters that may not begin a line (CJK line-breaking rules): a wrapped line moves one more character down.
NO_LINE_START = set("，。、；：？！）」』】〕》〉…‧·,.;:?!)]}％%")
# Characters that may not end a line (opening brackets): they move down with the character after them.
NO_LINE_END = set("（「『【〔《〈“‘([{")

PAGE_NUMBER = re.compile(
    r"^(?:"
    r"[-–—−_~.·|\s]*\d{1,4}[-–—−_~.·|\s]*"
    r"|第\s*(?:\d{1,4}|[一二三四五六七八九十百〇零]{1,5})\s*頁(?:\s*[，,、/]?\s*共\s*\d{1,4}\s*頁)?"
    r"|共\s*\d{1,4}\s*頁\s*[，,、]?\s*第\s*\d{1,4}\s*頁"
    r"|\d{1,4}\s*/\s*\d{1,4}"
    r"|(?:page|p\.)\s*\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?"
    r")$",
    re.IGNORECASE,
)
# "(續)", "續上頁", "（續前表）": a note that a table goes on, printed above its continuation.
CONTINUED = re.compile(r"^[(（〔\[]?\s*續(?:上頁|前頁|前表|表|上表)?\s*[)）〕\]]?$")


def is_cjk(ch: str) -> bool:
    """True for Han characters, CJK punctuation and full-width forms: text that wraps without spaces."""
    if not ch:
        return False
    o = ord(ch[0])
    return (
        0x2E80 <= o <= 0x9FFF
        or 0xF900 <= o <= 0xFAFF
        or 0xFE30 <= o <= 0xFE4F
        or 0xFF00 <= o <= 0xFFEF
        or 0x20000 <= o <= 0x3FFFF
        or o in (0x2026, 0x2027, 0x201C, 0x201D, 0x2018, 0x2019, 0x2014)
    )


def join_wrapped(a: str, b: str, spaced: bool = False) -> str:
    """Join a line with its wrapped continuation: no space where CJK meets, one space between ASCII words
    (and one wherever the line is known to have broken at a space)."""
    a, b = a.rstrip(), b.lstrip()
    if not a or not b:
        return a + b
    if spaced:
        return a + " " + b
    if is_cjk(a[-1]) or is_cjk(b[0]) or a.endswith(("-", "/")):
        return a + b
    return a + " " + b


def starts_list_item(text: str) -> bool:
    return bool(LIST_MARKER.match(text))


@dataclass
class Line:
    """One printed line: its text and box (points, top-down), font size and the width of its first unbreakable
    piece (a CJK character, or an ASCII word), which tells whether the line above could have held it."""

    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    size: float
    unit: float
    # How far short of the edge a full line may end: glyph boxes are exact in a PDF, OCR ink boxes are not.
    slack: float = 0.75
    number: int = 0  # line number on its page, outside tables (1-based), set when the page is laid out
    space_after: float = 0.0  # the width of a space printed at the line's end (it broke at a space), else 0


@dataclass(eq=False)
class RawCell:
    """A cell of a page's table before the document-wide grid is known; merged cells are one shared object."""

    x0: float
    top: float
    x1: float
    bottom: float
    col0: int
    col1: int  # exclusive
    lines: list[Line] = field(default_factory=list)

    def empty(self) -> bool:
        return not any(line.text.strip() for line in self.lines)

    def text(self) -> str:
        return "".join(line.text for line in self.lines)


@dataclass
class PageTable:
    """A ruled table as found on one page: column and row borders and a grid of (shared) cells."""

    xs: list[float]
    ys: list[float]
    grid: list[list[RawCell]]

    @property
    def top(self) -> float:
        return self.ys[0]


@dataclass
class PageContent:
    """What a page holds for the layout step: lines outside tables and the tables, in points."""

    number: int
    width: float
    height: float
    lines: list[Line]
    tables: list[PageTable]


def read_pdf(data: bytes, name: str) -> Document:
    """Read a PDF plan: ruled tables as grid tables, other text as paragraphs; scans go to OCR."""
    if not data.strip():
        raise PlanReadError(name, "the file is empty")
    # A file cut short loses its cross-reference table and trailer; pdfminer may still find some pages,
    # which would silently drop the rest of the plan.
    if b"%%EOF" not in data[-4096:]:
        raise PlanReadError(name, "the PDF is truncated or damaged (it has no end-of-file marker); get a complete copy")
    pages, n_pages, stats = _extract(data, name)
    chars, cid_chars, image_pages = stats["chars"], stats["cid"], stats["image_pages"]
    if chars < MIN_TEXT_CHARS or (chars and cid_chars / chars > MAX_CID_SHARE) or len(image_pages) * 2 > n_pages:
        from kg.read.ocr import ocr_pdf

        return ocr_pdf(data, name)
    notes: list[str] = []
    if image_pages:
        listed = ", ".join(str(p) for p in image_pages)
        notes.append(f"pages {listed} are images with no text layer and were not read (the rest of the file has text)")
    if stats["image_tables"]:
        listed = ", ".join(str(p) for p in stats["image_tables"])
        notes.append(f"pages {listed} are scans with a text layer: their table borders were found in the page image")
    if cid_chars:
        notes.append(f"{cid_chars} characters have no Unicode mapping in the PDF's fonts and show as (cid:N)")
    blocks = lay_out(pages, name)
    return Document(file=name, format="pdf", blocks=blocks, pages=n_pages, notes=notes)


def _extract(data: bytes, name: str) -> tuple[list[PageContent], int, dict[str, Any]]:
    """Every page's lines and tables; any failure of the PDF library on a malformed file is a PlanReadError."""
    import pdfplumber
    from pdfminer.pdfdocument import PDFPasswordIncorrect

    # pdfminer logs a warning for each oddity of a malformed file; the reader reports problems itself.
    logging.getLogger("pdfminer").setLevel(logging.ERROR)
    stats: dict[str, Any] = {"chars": 0, "cid": 0, "image_pages": [], "image_tables": [], "spaces": False}
    renderer = _Renderer(data)
    try:
        with pdfplumber.open(io.BytesIO(data), password="") as pdf:
            n_pages = len(pdf.pages)
            if n_pages == 0:
                raise PlanReadError(name, "the PDF has no pages")
            if n_pages > MAX_PAGES:
                raise PlanReadError(name, f"the PDF has {n_pages} pages; plans over {MAX_PAGES} pages are refused")
            pages = []
            for page in pdf.pages:
                pages.append(_read_page(page, stats, renderer))
                page.close()  # pdfplumber keeps every page's parsed objects otherwise
    except PlanReadError:
        raise
    except Exception as exc:  # pdfminer raises many types (PSSyntaxError, KeyError, TypeError …) on broken files
        # pdfplumber wraps pdfminer's errors in its own PdfminerException, the original as its argument.
        inner = exc.args[0] if exc.args and isinstance(exc.args[0], Exception) else exc
        if isinstance(inner, PDFPasswordIncorrect) or isinstance(exc.__context__, PDFPasswordIncorrect):
            raise PlanReadError(name, "the PDF is protected by a password; save a copy without one") from None
        why = str(inner).strip() or type(inner).__name__
        raise PlanReadError(name, f"not a readable PDF ({why[:160]})") from None
    finally:
        renderer.close()
    return pages, n_pages, stats


class _Renderer:
    """Page images on demand (pypdfium2), for scans whose text layer came with no ruling lines."""

    DPI = 150

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pdf: Any = None

    def render(self, index: int) -> Any:
        import pypdfium2 as pdfium

        if self.pdf is None:
            self.pdf = pdfium.PdfDocument(self.data)
        page = self.pdf[index]
        try:
            bitmap = page.render(scale=self.DPI / 72, grayscale=True)
            image = bitmap.to_numpy()
        finally:
            page.close()
        return image[:, :, 0] if image.ndim == 3 else image

    def close(self) -> None:
        if self.pdf is not None:
            self.pdf.close()


def _read_page(page: Any, stats: dict[str, Any], renderer: _Renderer) -> PageContent:
    # Bold is often faked by printing each character twice a hair apart; keep one of each.
    page = page.dedupe_chars(tolerance=1)
    x_min, y_min, x_max, y_max = page.bbox
    chars = []
    for ch in page.chars:
        text = ch.get("text") or ""
        if not text or (unicodedata.category(text[0]) in ("Cc", "Cf") and not text.isspace()):
            continue
        cx, cy = (ch["x0"] + ch["x1"]) / 2, (ch["top"] + ch["bottom"]) / 2
        if not (x_min <= cx <= x_max and y_min <= cy <= y_max):  # outside the crop box: not printed
            continue
        chars.append(ch)
    printed = [ch for ch in chars if not ch["text"].isspace()]
    # Once the file has shown it prints spaces as characters, trust them (see _line).
    stats["spaces"] = stats["spaces"] or len(printed) < len(chars)
    stats["chars"] += len(printed)
    stats["cid"] += sum(1 for ch in printed if ch["text"].startswith("(cid:"))
    area = (x_max - x_min) * (y_max - y_min)
    covered = sum(
        max(0.0, min(im["x1"], x_max) - max(im["x0"], x_min))
        * max(0.0, min(im["bottom"], y_max) - max(im["top"], y_min))
        for im in page.images
    )
    scanned = bool(area) and covered / area > 0.5  # the page is (mostly) one picture
    if scanned and len(printed) < 10:
        stats["image_pages"].append(page.page_number)

    tables: list[PageTable] = []
    if len(page.edges) <= MAX_EDGES:
        for found in page.find_tables(TABLE_SETTINGS):
            table = _grid(found.cells)
            if table is not None:
                tables.append(table)
    if not tables and scanned and len(printed) >= 10:
        # A scan with a text layer (OCR'd by the scanner): the words are text, the table rules only pixels.
        from kg.read.ocr import image_tables

        try:
            picture = renderer.render(page.page_number - 1)
        except Exception:  # pdfium cannot draw what pdfminer parsed: read the page without its rules
            picture = None
        if picture is not None:
            tables = image_tables(picture, _Renderer.DPI, x_min, y_min)
        if tables:
            stats["image_tables"].append(page.page_number)

    body = []
    in_table: dict[int, list[dict[str, Any]]] = {}
    for ch in chars:
        cx, cy = (ch["x0"] + ch["x1"]) / 2, (ch["top"] + ch["bottom"]) / 2
        for i, t in enumerate(tables):
            if t.xs[0] - 1 <= cx <= t.xs[-1] + 1 and t.ys[0] - 1 <= cy <= t.ys[-1] + 1:
                in_table.setdefault(i, []).append(ch)
                break
        else:
            body.append(ch)
    for i, t in enumerate(tables):
        per_cell: dict[int, tuple[RawCell, list[dict[str, Any]]]] = {}
        for ch in in_table.get(i, []):
            cx, cy = (ch["x0"] + ch["x1"]) / 2, (ch["top"] + ch["bottom"]) / 2
            cell = t.grid[_slot(t.ys, cy)][_slot(t.xs, cx)]
            per_cell.setdefault(id(cell), (cell, []))[1].append(ch)
        for cell, cell_chars in per_cell.values():
            cell.lines = chars_to_lines(cell_chars, stats["spaces"])
    body_lines = chars_to_lines(body, stats["spaces"])
    return PageContent(page.page_number, float(page.width), float(page.height), body_lines, tables)


def _slot(borders: list[float], v: float) -> int:
    """The index of the band between consecutive borders that holds v (clamped to the table)."""
    for i in range(len(borders) - 1):
        if v < borders[i + 1]:
            return i
    return len(borders) - 2


def _cluster(values: list[float], tol: float = 1.5) -> list[float]:
    """Positions that differ by less than tol are one border."""
    out: list[float] = []
    for v in sorted(values):
        if out and v - out[-1] < tol:
            continue
        out.append(v)
    return out


def _grid(cells: list[tuple[float, float, float, float]]) -> PageTable | None:
    """The grid of a pdfplumber table: each grid position points at the cell whose box covers it, so a merged
    cell (which pdfplumber reports once, with None elsewhere) fills every row and column it spans."""
    if len(cells) < 2:  # a lone box is a frame around text, not a table
        return None
    xs = _cluster([v for c in cells for v in (c[0], c[2])])
    ys = _cluster([v for c in cells for v in (c[1], c[3])])
    if len(xs) < 2 or len(ys) < 2:
        return None

    def index(borders: list[float], v: float) -> int:
        return min(range(len(borders)), key=lambda i: abs(borders[i] - v))

    grid: list[list[RawCell | None]] = [[None] * (len(xs) - 1) for _ in range(len(ys) - 1)]
    for x0, top, x1, bottom in cells:
        c0, c1, r0, r1 = index(xs, x0), index(xs, x1), index(ys, top), index(ys, bottom)
        if c1 <= c0 or r1 <= r0:
            continue
        cell = RawCell(x0, top, x1, bottom, c0, c1)
        for r in range(r0, r1):
            for c in range(c0, c1):
                if grid[r][c] is None:
                    grid[r][c] = cell
    full: list[list[RawCell]] = []
    for r, row in enumerate(grid):
        # A position no cell covers (a border missing where the lines do not meet) is an empty cell of its own.
        full.append([cell or RawCell(xs[c], ys[r], xs[c + 1], ys[r + 1], c, c + 1) for c, cell in enumerate(row)])
    return PageTable(xs, ys, full)


def chars_to_lines(chars: list[dict[str, Any]], explicit_spaces: bool = False) -> list[Line]:
    """Group pdfplumber characters into printed lines (by vertical position), each read left to right."""
    groups: list[list[Any]] = []  # [top, bottom, chars]
    for ch in sorted(chars, key=lambda c: (c["top"], c["x0"])):
        mid = (ch["top"] + ch["bottom"]) / 2
        for g in reversed(groups[-4:]):  # a character belongs to a recent line whose band holds its middle
            if g[0] <= mid <= g[1]:
                g[2].append(ch)
                break
        else:
            groups.append([ch["top"], ch["bottom"], [ch]])
    lines = [_line(sorted(g[2], key=lambda c: c["x0"]), explicit_spaces) for g in groups]
    return [line for line in lines if line is not None]


def _line(chars: list[dict[str, Any]], explicit_spaces: bool = False) -> Line | None:
    glyphs = [c for c in chars if not c["text"].isspace()]
    if not glyphs:
        return None
    size = statistics.median(float(c.get("size") or (c["bottom"] - c["top"])) for c in glyphs) or 10.0
    # Gaps between neighbouring glyphs; justified text spreads all of them, so a space is a gap well above
    # the line's usual one. Where the PDF prints its spaces as characters (LibreOffice does), those are the
    # spaces, and a gap is one only when wide: LibreOffice also sets CJK apart from Latin by a small gap.
    gaps = [b["x0"] - a["x1"] for a, b in zip(glyphs, glyphs[1:], strict=False)]
    base = max(0.0, statistics.median(gaps)) if gaps else 0.0
    out: list[str] = []
    prev = None
    pending_space = False
    for ch in chars:
        if ch["text"].isspace():
            pending_space = prev is not None
            continue
        if prev is not None:
            gap = ch["x0"] - prev["x1"] - base
            cjk = is_cjk(prev["text"][-1]) or is_cjk(ch["text"][0])
            wide = 0.5 if explicit_spaces else 0.2 if cjk else 0.15
            if pending_space or gap > wide * size:
                out.append(" ")
        out.append(ch["text"])
        prev = ch
        pending_space = False
    last = glyphs[-1]
    # A space printed after the last glyph: the line broke at a space, which joins the wrapped lines again.
    trailing = [c for c in chars if c["text"].isspace() and c["x0"] >= last["x1"] - 0.5]
    return Line(
        text="".join(out),
        x0=min(c["x0"] for c in glyphs),
        x1=max(c["x1"] for c in glyphs),
        top=min(c["top"] for c in glyphs),
        bottom=max(c["bottom"] for c in glyphs),
        size=size,
        unit=_first_unit(glyphs, size),
        space_after=max((c["x1"] - c["x0"] for c in trailing), default=0.0),
    )


def _first_unit(glyphs: list[dict[str, Any]], size: float) -> float:
    """The width of the piece a line break could not have split off the line's start: a CJK character or an
    ASCII word, with an opening bracket kept with what follows and closing punctuation with what precedes."""
    n = len(glyphs)

    def word_end(i: int) -> int:
        # An ASCII word runs on over non-CJK glyphs that touch.
        while i + 1 < n and not is_cjk(glyphs[i]["text"][0]) and not is_cjk(glyphs[i + 1]["text"][0]):
            if glyphs[i + 1]["x0"] - glyphs[i]["x1"] > 0.15 * size:
                break
            i += 1
        return i

    j = word_end(0)
    while j + 1 < n and glyphs[j]["text"][-1] in NO_LINE_END:
        j = word_end(j + 1)
    while j + 1 < n and glyphs[j + 1]["text"][0] in NO_LINE_START:
        j += 1
    return glyphs[j]["x1"] - glyphs[0]["x0"]


# ---------------------------------------------------------------------------------------------------------
# Layout: pages' lines and tables → the document's paragraphs and tables (shared with the OCR reader).


def wrapped(line: Line, nxt: Line, left: float, right: float, pad: float = 0.0) -> bool:
    """True when `nxt` continues `line` because the line was full: its first piece would not fit after it.

    `left`/`right` are the box the text is set in (a cell's borders, with `pad` of inner margin).
    """
    if starts_list_item(nxt.text):
        return False
    if line.space_after:
        space = line.space_after  # the line broke at a printed space: the next piece had to fit after it
    elif is_cjk(line.text[-1:]) and is_cjk(nxt.text[:1]):
        space = 0.0
    else:  # a Latin word may have had a space (or CJK–Latin spacing) before it
        space = 0.25 * line.size
    centre = (left + right) / 2
    if abs((line.x0 + line.x1) / 2 - centre) < 1.5 and line.x0 - left > pad + 2:
        # Centred text: what matters is the width the line could have taken, not where it ends.
        return (line.x1 - line.x0) + space + nxt.unit > (right - left - 2 * pad) - line.slack
    return line.x1 + space + nxt.unit > right - pad - line.slack


def _spaced(line: Line, nxt: Line, pitches: dict[float, float]) -> bool:
    """True when the next line sits lower than lines of one paragraph do: spacing between paragraphs."""
    pitch = pitches.get(_size_key(line.size))
    return pitch is not None and nxt.top - line.top > pitch + max(1.2, 0.1 * line.size)


def _size_key(size: float) -> float:
    return round(size * 2) / 2


def line_pitches(pages: list[PageContent]) -> tuple[dict[float, float], dict[float, float]]:
    """The usual top-to-top distance of consecutive lines within a paragraph, per font size, for running text
    and for table cells (whose paragraph styles differ).

    Most consecutive lines are in one paragraph, so a low percentile of all distances is that pitch; a
    larger one marks paragraph spacing, which tells paragraphs apart where a line happens to fill its cell.
    """
    body: dict[float, list[float]] = {}
    cells: dict[float, list[float]] = {}

    def add(lines: list[Line], found: dict[float, list[float]]) -> None:
        for a, b in zip(lines, lines[1:], strict=False):
            d = b.top - a.top
            if abs(a.size - b.size) < 0.3 and 0.9 * a.size <= d <= 2.5 * a.size:
                found.setdefault(_size_key(a.size), []).append(d)

    for page in pages:
        add(page.lines, body)
        for table in page.tables:
            for cell in {id(c): c for row in table.grid for c in row}.values():
                add(cell.lines, cells)

    def low(found: dict[float, list[float]]) -> dict[float, float]:
        return {size: sorted(ds)[len(ds) // 10] for size, ds in found.items() if len(ds) >= 5}

    return low(body), low(cells)


def cell_paragraphs(cell: RawCell, pitches: dict[float, float] | None = None) -> tuple[str, ...]:
    """A cell's lines joined into paragraphs where a line simply wrapped."""
    lines = [line for line in cell.lines if line.text.strip()]
    if not lines:
        return ()
    # The inner margin: how far the text starts from the left border (Word and LibreOffice use ~5.4 pt).
    pad = min(max(min(line.x0 for line in lines) - cell.x0, 1.0), 8.0)
    paragraphs = [lines[0].text.strip()]
    for prev, line in zip(lines, lines[1:], strict=False):
        if wrapped(prev, line, cell.x0, cell.x1, pad) and not _spaced(prev, line, pitches or {}):
            paragraphs[-1] = join_wrapped(paragraphs[-1], line.text, prev.space_after > 0)
        else:
            paragraphs.append(line.text.strip())
    return tuple(paragraphs)


def _furniture(pages: list[PageContent]) -> set[int]:
    """ids of lines that are page numbers, running headers/footers or "(續)" notes, not content."""
    drop: set[int] = set()
    in_band: list[list[Line]] = []
    for page in pages:
        band = [
            line
            for line in page.lines
            if line.bottom <= page.height * MARGIN_BAND or line.top >= page.height * (1 - MARGIN_BAND)
        ]
        in_band.append(band)
        for line in band:
            if PAGE_NUMBER.match(unicodedata.normalize("NFKC", line.text).strip()):
                drop.add(id(line))
        for line in page.lines:
            if CONTINUED.match(line.text.strip()):
                drop.add(id(line))
    if len(pages) >= 2:
        # A running header or footer: the same words (page numbers aside) in the margin of most pages.
        def key(line: Line) -> str:
            return re.sub(r"\d+", "#", re.sub(r"\s+", "", unicodedata.normalize("NFKC", line.text)))

        counts: dict[str, int] = {}
        for band in in_band:
            for k in {key(line) for line in band}:
                counts[k] = counts.get(k, 0) + 1
        need = max(2, math.ceil(len(pages) / 2))
        for band in in_band:
            for line in band:
                if counts.get(key(line), 0) >= need:
                    drop.add(id(line))
    return drop


@dataclass
class _OpenTable:
    """A table being assembled, possibly over several pages."""

    xs: list[float]
    rows: list[list[RawCell]] = field(default_factory=list)
    pages: list[int] = field(default_factory=list)

    def matches(self, table: PageTable) -> bool:
        return len(table.xs) == len(self.xs) and all(
            abs(a - b) <= COLUMN_TOLERANCE for a, b in zip(table.xs, self.xs, strict=True)
        )


def _row_texts(row: list[RawCell]) -> list[str]:
    return [re.sub(r"\s+", "", cell.text()) for cell in row]


def _same_row(a: list[RawCell], b: list[RawCell]) -> bool:
    """Rows with the same texts, allowing a misread character in ten."""
    ta, tb = _row_texts(a), _row_texts(b)
    if len(ta) != len(tb) or not any(ta):
        return False
    if ta == tb:
        return True
    joined_a, joined_b = "\t".join(ta), "\t".join(tb)
    return difflib.SequenceMatcher(None, joined_a, joined_b, autojunk=False).ratio() >= 0.9


def _ends_sentence(cell: RawCell) -> bool:
    lines = [line for line in cell.lines if line.text.strip()]
    return bool(lines) and bool(SENTENCE_END.search(lines[-1].text))


def _overflows(cell: RawCell) -> bool:
    """True when a cell's text runs to its bottom border: it may go on in the same cell on the next page."""
    lines = [line for line in cell.lines if line.text.strip()]
    # The cell setting the row's height ends a padding short of its border; a shorter one a line or more.
    return bool(lines) and lines[-1].bottom >= cell.bottom - 1.0 * lines[-1].size


def _list_columns(rows: list[list[RawCell]]) -> set[int]:
    """Columns holding several numbered paragraphs in one cell (a table of one row per item, its measures
    1. 2. 3. in one cell): there a numbered line at the top of a page goes on the cell above."""
    out = set()
    for row in rows:
        for c, cell in enumerate(row):
            if sum(1 for line in cell.lines if starts_list_item(line.text)) >= 2:
                out.add(c)
    return out


def _continue(open_t: _OpenTable, table: PageTable, page: int) -> None:
    """Append a page's piece of a table run over from the previous page."""
    rows = [list(r) for r in table.grid]
    # The header row(s) that Word and LibreOffice repeat at the top of each page (nearly the same words
    # will do: OCR reads a header a little differently on each page).
    n = 0
    for k in range(min(3, len(rows), len(open_t.rows))):
        if _same_row(rows[k], open_t.rows[k]):
            n = k + 1
        else:
            break
    rows = rows[n:]
    if not rows:
        return
    prev, first = open_t.rows[-1], rows[0]
    width = len(first)
    lists = _list_columns(open_t.rows)

    def goes_on(c: int) -> bool:
        """The cell's text reads as the rest of the cell above: no new numbered paragraph, no sentence ended."""
        return not first[c].empty() and not starts_list_item(first[c].text().lstrip()) and not _ends_sentence(prev[c])

    def next_paragraph(c: int) -> bool:
        return c in lists and starts_list_item(first[c].text().lstrip())

    filled = [c for c in range(width) if not first[c].empty()]
    going = [c for c in filled if goes_on(c)]
    blank_left = bool(filled) and any(first[c].empty() for c in range(max(filled)))
    broken = (
        not filled  # a blank strip of a row cut by the page break adds nothing
        or (
            all(goes_on(c) or next_paragraph(c) for c in filled)
            # A row cut by the page break leaves its left cells blank on the new page, or (when its cells go
            # on) each cell above was filled down to the page's bottom border.
            and (blank_left or (bool(going) and all(_overflows(prev[c]) for c in going)))
            # Text can only join the cell above it if the cells line up (or it would be lost with the row).
            and all((first[c].col0, first[c].col1) == (prev[c].col0, prev[c].col1) for c in filled)
        )
    )
    # Left of the first column that starts a numbered paragraph (the measure), cells describe the row's
    # dimension and item: there a blank or unfinished cell at the page top is the merged cell from above.
    numbered = [c for c in filled if starts_list_item(first[c].text().lstrip())]
    lead = numbered[0] if numbered else 0
    replace: dict[int, RawCell] = {}
    seen: set[int] = set()
    for c in range(width):
        cell, above = first[c], prev[c]
        if id(cell) in seen or (cell.col0, cell.col1) != (above.col0, above.col1):
            continue
        seen.add(id(cell))
        if broken:
            # The row goes on from the previous page: its text joins the cells above, which now reach here.
            above.lines.extend(cell.lines)
            replace[id(cell)] = above
            continue
        if above.empty():
            continue
        merged = sum(1 for r in rows if r[c] is cell) > 1 or sum(1 for r in open_t.rows if r[c] is above) > 1
        if not (merged or c < lead):
            continue
        # A merged cell cut by the page break goes on at the top of the page: blank below its text, or with
        # the rest of its text when that ran down to the page bottom.
        if cell.empty():
            replace[id(cell)] = above
        elif goes_on(c) and _overflows(above):
            above.lines.extend(cell.lines)
            replace[id(cell)] = above
    rows = [[replace.get(id(cell), cell) for cell in row] for row in rows]
    if broken:
        rows = rows[1:]
    open_t.rows.extend(rows)
    open_t.pages.extend([page] * len(rows))


def _emit(open_t: _OpenTable, name: str, number: int, pitches: dict[float, float]) -> Table:
    """The finished table: one Cell per grid position, copies of a merged cell sharing its origin."""
    where: dict[int, list[tuple[int, int]]] = {}
    for r, row in enumerate(open_t.rows):
        for c, cell in enumerate(row):
            where.setdefault(id(cell), []).append((r, c))
    made: dict[int, tuple[tuple[str, ...], tuple[int, int], int, int]] = {}
    rows = []
    for r, row in enumerate(open_t.rows):
        cells = []
        for c, raw in enumerate(row):
            if id(raw) not in made:
                spots = where[id(raw)]
                r0, c0 = min(p[0] for p in spots), min(p[1] for p in spots)
                r1, c1 = max(p[0] for p in spots), max(p[1] for p in spots)
                made[id(raw)] = (cell_paragraphs(raw, pitches), (r0, c0), r1 - r0 + 1, c1 - c0 + 1)
            paragraphs, origin, row_span, col_span = made[id(raw)]
            src = Source(name, page=open_t.pages[r], table=number, row=r, col=c)
            cells.append(Cell(paragraphs, src, origin, row_span, col_span))
        rows.append(tuple(cells))
    return Table(tuple(rows), Source(name, page=open_t.pages[0], table=number))


def _paragraphs(
    lines: list[tuple[int, Line]], name: str, left: float, right: float, pitches: dict[float, float]
) -> list[Paragraph]:
    """Running text: consecutive lines joined where a line is full and the next goes on with the sentence."""
    out: list[tuple[str, int, int, Line]] = []  # text, page, line number, last line
    for page, line in lines:
        text = line.text.strip()
        if out:
            p_text, p_page, p_no, p_line = out[-1]
            same_size = abs(p_line.size - line.size) <= 0.6
            close = page != p_page or (
                line.top - p_line.bottom <= 1.0 * line.size and not _spaced(p_line, line, pitches)
            )
            if (
                same_size
                and close
                and not SENTENCE_END.search(p_line.text)
                and wrapped(p_line, line, left, right)
                and p_line.x1 - p_line.x0 > (right - left) / 2  # a short centred title is never "full"
            ):
                out[-1] = (join_wrapped(p_text, text, p_line.space_after > 0), p_page, p_no, line)
                continue
        out.append((text, page, line.number, line))
    return [Paragraph(text, Source(name, page=page, line=no)) for text, page, no, _ in out]


def lay_out(pages: list[PageContent], name: str, join_lines: bool = True) -> list[Block]:
    """The document's blocks in reading order from its pages: tables continued over pages joined into one.

    With `join_lines` False (OCR, whose line boxes are too rough to tell a full line) every line outside the
    tables is a paragraph of its own.
    """
    drop = _furniture(pages)
    # OCR line boxes are too rough to measure paragraph spacing by.
    body_pitches, cell_pitches = line_pitches(pages) if join_lines else ({}, {})
    body = [line for page in pages for line in page.lines if id(line) not in drop]
    left = min((line.x0 for line in body), default=0.0)
    right = max((line.x1 for line in body), default=0.0)

    blocks: list[Block] = []
    pending: list[tuple[int, Line]] = []
    open_t: _OpenTable | None = None
    n_tables = 0

    def close_table() -> None:
        nonlocal open_t, n_tables
        if open_t is not None and open_t.rows:
            blocks.append(_emit(open_t, name, n_tables, cell_pitches))  # tables count from 0, as in the other readers
            n_tables += 1
        open_t = None

    def flush_text() -> None:
        if join_lines:
            blocks.extend(_paragraphs(pending, name, left, right, body_pitches))
        else:
            blocks.extend(Paragraph(ln.text.strip(), Source(name, page=p, line=ln.number)) for p, ln in pending)
        pending.clear()

    for page in pages:
        for k, line in enumerate(sorted(page.lines, key=lambda ln: (ln.top, ln.x0)), start=1):
            line.number = k
        items: list[tuple[float, int, Line | PageTable]] = [
            (line.top, 1, line) for line in page.lines if id(line) not in drop
        ]
        items += [(t.top, 0, t) for t in page.tables]
        items.sort(key=lambda it: (it[0], it[1]))
        for i, (_, _, item) in enumerate(items):
            if isinstance(item, Line):
                close_table()
                pending.append((page.number, item))
                continue
            if i == 0 and open_t is not None and open_t.matches(item):
                _continue(open_t, item, page.number)
                continue
            flush_text()
            close_table()
            open_t = _OpenTable(xs=list(item.xs))
            open_t.rows = [list(r) for r in item.grid]
            open_t.pages = [page.number] * len(item.grid)
        # A table open at the end of a page stays open only if the page ends with it.
        if items and isinstance(items[-1][2], Line):
            close_table()
    flush_text()
    close_table()
    return blocks
