"""Scanned PDFs: render pages with pypdfium2, find ruled tables in the image, read the text with Tesseract chi_tra."""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kg.document import Document
from kg.errors import PlanReadError
from kg.read.pdf import (
    MARGIN_BAND,
    NO_LINE_END,
    NO_LINE_START,
    Line,
    PageContent,
    PageTable,
    RawCell,
    is_cjk,
    lay_out,
)

DPI = 300
MAX_PAGES = 50
PAGE_TIMEOUT = 60  # seconds of Tesseract per page
NO_OCR = (
    "this PDF is a scan with no text layer; reading it needs OCR: install Debian's tesseract-ocr-chi-tra "
    "(apt-get install tesseract-ocr-chi-tra)"
)
# chi_tra alone: its model reads the Latin letters and digits of a plan too, while adding eng made Tesseract read
# short CJK cells (教務課, 貳、目標) as Latin garbage ("ABER", "al. B®") on the test pages.
LANGUAGES = "chi_tra"
# psm 6 (one uniform block) on each cell's own image: a cell is a block of text. The page outside the tables
# (painted out) is read as one column of lines of varying size (psm 4): on the test scans it read the
# section headings 壹、 參、 肆、 where psm 6 and 3 (automatic layout) each misread one of them.
PSM = "6"
BODY_PSM = "4"
# Punctuation takes no space beside CJK text, though its ink leaves a wide gap that OCR reads as one
# (Tesseract reads ， as , and so on). Brackets are left out: a space after (FAQ) is usually real.
PUNCTUATION = set("，。、；：？！「」『』,.;:?!")
FULL_WIDTH = {",": "，", ";": "；", ":": "：", "?": "？", "!": "！"}
LIST_NUMBER = re.compile(r"\(?\d{1,3}[.)]")
# Mean word confidence (0–100) under which a short line in the page margin is OCR noise, not text.
LOW_CONFIDENCE = 60
# Pixels of a rendered page at most (about an A3 page at 300 dpi); larger pages are rendered coarser.
MAX_PIXELS = 18_000_000
# A ruling line is at least this long (inches); the longest stroke of a CJK character is about one em.
MIN_RULE = 0.3
# A ruling line is at most this thick (inches); thicker dark runs are pictures or filled boxes.
MAX_RULE_THICKNESS = 0.05
# More long dark runs than this on a page: it is a picture; looking for rules in it is slow and pointless.
MAX_RUNS = 60_000
# A border between two grid positions is there when a rule covers this share of the side they share.
BORDER_COVER = 0.6


def tesseract(name: str) -> str:
    """The path of the tesseract program, checked to have the chi_tra language; PlanReadError if not."""
    exe = shutil.which("tesseract")
    if exe is None:
        raise PlanReadError(name, NO_OCR)
    try:
        done = subprocess.run([exe, "--list-langs"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        raise PlanReadError(name, NO_OCR) from None
    # Tesseract 3 listed the languages on stderr, later versions on stdout.
    langs = {line.strip() for line in (done.stdout + done.stderr).splitlines()}
    if "chi_tra" not in langs:
        raise PlanReadError(name, NO_OCR)
    return exe


def ocr_pdf(data: bytes, name: str) -> Document:
    """Read a scanned PDF by OCR: lines outside tables as paragraphs, ruled tables as grid tables."""
    import pypdfium2 as pdfium

    exe = tesseract(name)
    try:
        pdf = pdfium.PdfDocument(data)
    except Exception as exc:  # pdfium reports a broken or password-protected file as PdfiumError
        raise PlanReadError(name, f"not a readable PDF ({exc})") from None
    notes = [f"the text was read by OCR (Tesseract {LANGUAGES}, {DPI} dpi) from page images: check it"]
    pages: list[PageContent] = []
    try:
        n_pages = len(pdf)
        if n_pages > MAX_PAGES:
            raise PlanReadError(name, f"a scan of {n_pages} pages; OCR reads at most {MAX_PAGES} pages")
        for i in range(n_pages):
            page = None
            try:
                page = pdf[i]  # a page tree that lies about its count or loops: pdfium cannot load the page
                width, height = (float(v) for v in page.get_size())
                # A huge page (a poster, a bad MediaBox) at 300 dpi would take gigabytes: lower its resolution.
                dpi = max(1, min(DPI, int(72 * (MAX_PIXELS / max(width * height, 1.0)) ** 0.5)))
                image = page.render(scale=dpi / 72, grayscale=True).to_numpy()
            except Exception as exc:  # a page pdfium cannot draw
                raise PlanReadError(name, f"cannot render page {i + 1} of the PDF ({exc})") from None
            finally:
                if page is not None:
                    page.close()
            if image.ndim == 3:
                image = image[:, :, 0]
            # The page as drawn (a /Rotate turns it), in points.
            width, height = image.shape[1] * 72 / dpi, image.shape[0] * 72 / dpi
            content, problem = _ocr_page(exe, image, dpi, i + 1, width, height)
            pages.append(content)
            if problem:
                notes.append(f"page {i + 1}: {problem}; its text is missing")
    finally:
        pdf.close()
    if not any(p.lines or p.tables for p in pages):
        raise PlanReadError(name, "OCR found no text in this scanned PDF")
    blocks = lay_out(pages, name, join_lines=False)
    return Document(file=name, format="pdf", blocks=blocks, ocr=True, pages=n_pages, notes=notes)


# ---------------------------------------------------------------------------------------------------------
# Ruled tables in the image.


@dataclass
class _Rule:
    """A ruling line in pixels: `at` its centre across its direction, `lo`..`hi` its extent along it, and
    `first`..`last` the pixel rows (columns for a vertical rule) it covers."""

    at: float
    lo: int
    hi: int
    first: int
    last: int


def _runs(mask: np.ndarray, min_len: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, start, end) of every run of True along each row at least min_len long."""
    h, w = mask.shape
    padded = np.zeros((h, w + 2), dtype=np.int8)
    padded[:, 1:-1] = mask
    step = np.diff(padded, axis=1)
    rows, starts = np.nonzero(step == 1)
    _, ends = np.nonzero(step == -1)  # nonzero walks row by row, so ends pair with starts
    keep = ends - starts >= min_len
    return rows[keep], starts[keep], ends[keep]


def _rules(dark: np.ndarray, min_len: int, max_thick: int) -> list[_Rule]:
    """Horizontal ruling lines of a dark-pixel mask (transpose it for vertical ones)."""
    bridged = dark.copy()
    # A scanned or thin rule breaks into pieces a pixel or two apart; bridge them.
    for s in (1, 2):
        bridged[:, s:] |= dark[:, :-s]
    rows, starts, ends = _runs(bridged, min_len)
    if len(rows) > MAX_RUNS:  # a photograph or a dark fill, not a ruled table
        return []
    open_rules: list[_Rule] = []
    done: list[_Rule] = []
    for y, a, b in zip(rows.tolist(), starts.tolist(), ends.tolist(), strict=True):
        for rule in open_rules:
            if y - rule.last <= 2 and a < rule.hi and b > rule.lo:
                rule.last, rule.lo, rule.hi = y, min(rule.lo, a), max(rule.hi, b)
                break
        else:
            open_rules.append(_Rule(0, a, b, y, y))
        still = []
        for rule in open_rules:
            (still if y - rule.last <= 2 else done).append(rule)
        open_rules = still
    done.extend(open_rules)
    out = []
    for rule in done:
        if rule.last - rule.first + 1 <= max_thick:
            rule.at = (rule.first + rule.last) / 2
            out.append(rule)
    return out


def _cluster(values: list[float], tol: float) -> list[float]:
    groups: list[list[float]] = []
    for v in sorted(values):
        if groups and v - groups[-1][-1] <= tol:
            groups[-1].append(v)
        else:
            groups.append([v])
    return [sum(g) / len(g) for g in groups]


def _covered(rules: list[_Rule], at: float, lo: float, hi: float, tol: float) -> bool:
    """True when rules at `at` (within tol) cover most of lo..hi."""
    spans = sorted((max(r.lo, lo), min(r.hi, hi)) for r in rules if abs(r.at - at) <= tol and r.hi > lo and r.lo < hi)
    total, reach = 0.0, lo
    for a, b in spans:
        a = max(a, reach)
        if b > a:
            total += b - a
            reach = b
    return total >= BORDER_COVER * (hi - lo)


@dataclass
class _PixelTable:
    xs: list[float]
    ys: list[float]
    cells: dict[tuple[int, int], int]  # grid position → merged-cell id
    h: list[_Rule]
    v: list[_Rule]


def find_tables(dark: np.ndarray, dpi: int = DPI) -> list[_PixelTable]:
    """Ruled tables of a page image: grids of positions between rules, merged where an inner border is missing."""
    min_len = int(MIN_RULE * dpi)
    thick = max(3, int(MAX_RULE_THICKNESS * dpi))
    h = _rules(dark, min_len, thick)
    v = _rules(np.ascontiguousarray(dark.T), min_len, thick)
    tol = max(4, dpi // 50)
    # Tables are the connected groups of rules (a horizontal and a vertical rule connect where they cross).
    parent = list(range(len(h) + len(v)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, hr in enumerate(h):
        for j, vr in enumerate(v):
            if hr.lo - tol <= vr.at <= hr.hi + tol and vr.lo - tol <= hr.at <= vr.hi + tol:
                parent[find(i)] = find(len(h) + j)
    groups: dict[int, tuple[list[_Rule], list[_Rule]]] = {}
    for i, hr in enumerate(h):
        groups.setdefault(find(i), ([], []))[0].append(hr)
    for j, vr in enumerate(v):
        groups.setdefault(find(len(h) + j), ([], []))[1].append(vr)
    tables = []
    for hs, vs in groups.values():
        if len(hs) < 2 or len(vs) < 2:
            continue
        xs = _cluster([r.at for r in vs], tol)
        ys = _cluster([r.at for r in hs], tol)
        if len(xs) < 2 or len(ys) < 2:
            continue
        n_r, n_c = len(ys) - 1, len(xs) - 1
        cell_of = list(range(n_r * n_c))

        def root(i: int, cell_of: list[int] = cell_of) -> int:
            while cell_of[i] != i:
                cell_of[i] = cell_of[cell_of[i]]
                i = cell_of[i]
            return i

        for r in range(n_r):
            for c in range(n_c):
                if c + 1 < n_c and not _covered(vs, xs[c + 1], ys[r], ys[r + 1], tol):
                    cell_of[root(r * n_c + c + 1)] = root(r * n_c + c)
                if r + 1 < n_r and not _covered(hs, ys[r + 1], xs[c], xs[c + 1], tol):
                    cell_of[root((r + 1) * n_c + c)] = root(r * n_c + c)
        cells = {(r, c): root(r * n_c + c) for r in range(n_r) for c in range(n_c)}
        if len(set(cells.values())) < 2:  # one box round some text is a frame, not a table
            continue
        tables.append(_PixelTable(xs, ys, cells, hs, vs))
    return tables


# ---------------------------------------------------------------------------------------------------------
# OCR.


@dataclass
class _Word:
    text: str
    x0: float
    top: float
    x1: float
    bottom: float
    conf: float = 100.0
    space: bool = False  # Tesseract printed a space before this word


def ink_threshold(gray: np.ndarray) -> int:
    """Otsu's threshold of a grey image, capped so a faint scan's paper never counts as ink."""
    hist = np.bincount(gray.ravel(), minlength=256).astype(np.float64)
    total = hist.sum()
    weights = np.arange(256, dtype=np.float64)
    cum = np.cumsum(hist)
    cum_mean = np.cumsum(hist * weights)
    mean = cum_mean[-1] / total
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mean * cum - cum_mean) ** 2 / (cum * (total - cum))
    between = np.nan_to_num(between)
    return int(min(np.argmax(between), 200))


def _write_pgm(path: Path, gray: np.ndarray) -> None:
    """A binary PGM (Tesseract's Leptonica reads it) without needing an imaging library."""
    h, w = gray.shape
    with path.open("wb") as fh:
        fh.write(f"P5 {w} {h} 255\n".encode())
        fh.write(np.ascontiguousarray(gray, dtype=np.uint8).tobytes())


def _run_tesseract(
    exe: str, images: list[Path], dpi: int, psm: str, base: Path, timeout: float, options: tuple[str, ...] = ()
) -> tuple[dict[int, list[_Word]], str]:
    """OCR several images in one Tesseract run (a list file): words per image index, in pixels of that image,
    and what went wrong if the run failed."""
    if not images:
        return {}, ""
    if timeout <= 0:
        return {}, f"OCR took over {PAGE_TIMEOUT} s and was stopped"
    listing = base.with_suffix(".list")
    listing.write_text("".join(f"{p}\n" for p in images), encoding="utf-8")
    # One thread: on few cores Tesseract's OpenMP threads spin against each other (8 s a page against 1.4 s).
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    # TSV gives the boxes; the plain text says where Tesseract saw a space, which TSV (a word per CJK
    # character) does not.
    cmd = [exe, str(listing), str(base), "-l", LANGUAGES, "--psm", psm, "--dpi", str(dpi), *options, "txt", "tsv"]
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=timeout, env=env, check=False)
    except subprocess.TimeoutExpired:
        return {}, f"OCR took over {PAGE_TIMEOUT} s and was stopped"
    except OSError as exc:
        return {}, f"Tesseract could not run ({exc.strerror})"
    try:
        tsv = base.with_suffix(".tsv").read_text(encoding="utf-8", errors="replace")
        txt = base.with_suffix(".txt").read_text(encoding="utf-8", errors="replace")
    except OSError:
        why = done.stderr.decode("utf-8", "replace").strip().splitlines()
        return {}, f"Tesseract failed ({why[-1] if why else f'exit status {done.returncode}'})"
    out: dict[int, list[_Word]] = {}
    for row in csv.reader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE):
        if len(row) < 12 or row[0] != "5":  # level 5 rows are words
            continue
        text = row[11].strip()
        if not text:
            continue
        try:
            page, left, top, width, height = int(row[1]), int(row[6]), int(row[7]), int(row[8]), int(row[9])
            conf = float(row[10])
        except ValueError:
            continue
        out.setdefault(page - 1, []).append(_Word(text, left, top, left + width, top + height, conf))
    # Tesseract ends each image's text with a form feed.
    for page, text in enumerate(txt.split("\f")):
        _mark_spaces(out.get(page, []), text)
    return out, ""


def _mark_spaces(words: list[_Word], text: str) -> None:
    """Set `space` on each word that Tesseract's plain text has a space (not a line break) before."""
    pos = 0
    for w in words:
        gap = ""
        while pos < len(text) and text[pos].isspace():
            gap += text[pos]
            pos += 1
        if text.startswith(w.text, pos):
            w.space = " " in gap and "\n" not in gap
            pos += len(w.text)
        else:  # the two outputs disagree here: stop, and leave the rest unspaced
            return


def _ocr_page(
    exe: str, gray: np.ndarray, dpi: int, number: int, width: float, height: float
) -> tuple[PageContent, str]:
    """One page image read: its tables found from the rules, each cell and the rest of the page OCR'd."""
    scale = dpi / 72
    threshold = ink_threshold(gray)
    tables = find_tables(gray < threshold, dpi)
    paper = 255
    painted = np.array(gray, dtype=np.uint8)
    margin = max(1, dpi // 150)
    for t in tables:
        # Rules read as | and ─ glyphs or glue to the letters beside them: paint them out before OCR.
        for r in t.h:
            painted[max(0, r.first - margin) : r.last + margin + 1, r.lo : r.hi] = paper
        for r in t.v:
            painted[r.lo : r.hi, max(0, r.first - margin) : r.last + margin + 1] = paper
    smooth = _median(painted) if BODY_MEDIAN or CELL_MEDIAN else painted
    # Paper to white, ink kept in its greys (Tesseract reads the edges of strokes): Tesseract's own
    # thresholding of a page left with no text (its tables painted out) turns paper grain and JPEG blocks
    # into letters. What is painted out is painted white.
    src = smooth if BODY_MEDIAN else painted
    body = np.where(src < threshold, src, paper).astype(np.uint8)
    for t in tables:
        body[int(t.ys[0]) : int(t.ys[-1]) + 1, int(t.xs[0]) : int(t.xs[-1]) + 1] = paper
    cells_src = smooth if CELL_MEDIAN else painted
    deadline = time.monotonic() + PAGE_TIMEOUT
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="kg-ocr-") as tmp:
        work = Path(tmp)
        body_words: list[_Word] = []
        if (body < threshold).any():
            _write_pgm(work / "body.pgm", body)
            remaining = deadline - time.monotonic()
            found, problem = _run_tesseract(exe, [work / "body.pgm"], dpi, BODY_PSM, work / "body", remaining)
            body_words = found.get(0, [])
            problems.append(problem)
        cell_lines = _read_cells(exe, cells_src, threshold, tables, dpi, work, deadline, problems)
    body_lines = []
    for group in _group(body_words):
        line = _line(group, scale)
        in_band = line.bottom <= height * MARGIN_BAND or line.top >= height * (1 - MARGIN_BAND)
        printed = sum(len(w.text) for w in group)
        # A page number or footer in small type comes out of OCR as a few low-confidence scraps.
        if in_band and printed <= 8 and sum(w.conf for w in group) / len(group) < LOW_CONFIDENCE:
            continue
        body_lines.append(line)
    page_tables = [
        _page_table(t, {cid: groups for (tj, cid), groups in cell_lines.items() if tj == ti}, scale)
        for ti, t in enumerate(tables)
    ]
    return PageContent(number, width, height, body_lines, page_tables), "; ".join(p for p in problems if p)


BODY_MEDIAN = False
CELL_MEDIAN = True
FRAME = 10
BAND_MARGIN = 4
MIN_BAND_INK = 3
SMALL_PIECE = 0.75
MERGED_HEIGHT = 1.25
IRREGULAR = 1.7
DOUBT_CONFIDENCE = 70
UNREAD_INK = 0.5
RETRY_SCALE = 0.6
RETRIES = ("scaled", "stretched")
LINE_PSM = "7"


@dataclass
class _Band:
    """One printed line of a cell: the cell, its rows in the page image, and the readings of it so far."""

    key: tuple[int, int]  # table, cell id
    x0: int
    top: int
    x1: int
    bottom: int
    ink: np.ndarray  # the band's ink columns (True where a column has ink)
    image: np.ndarray  # the band's rows of the cleaned cell image, with a margin
    image_top: int  # the page row of the image's first row
    words: list[_Word] | None = None
    quality: float = -1.0
    doubtful: bool = False


def _median(gray: np.ndarray) -> np.ndarray:
    from PIL import Image, ImageFilter

    return np.asarray(Image.fromarray(gray).filter(ImageFilter.MedianFilter(3)))


def _resized(gray: np.ndarray, factor: float) -> np.ndarray:
    from PIL import Image

    h, w = gray.shape
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    return np.asarray(Image.fromarray(gray).resize(size, Image.LANCZOS))


def _framed(gray: np.ndarray, frame: int) -> np.ndarray:
    out = np.full((gray.shape[0] + 2 * frame, gray.shape[1] + 2 * frame), 255, dtype=np.uint8)
    out[frame:-frame, frame:-frame] = gray
    return out


def line_bands(ink: np.ndarray) -> list[tuple[int, int]]:
    """The printed lines of a cell's ink mask as (first, end) rows: runs of rows with ink, a piece of a line
    (the strokes of 三 or 二 on a line of their own) merged into its neighbour."""
    rows = np.concatenate(([False], ink.any(axis=1), [False]))
    step = np.diff(rows.astype(np.int8))
    starts, ends = np.nonzero(step == 1)[0], np.nonzero(step == -1)[0]
    found = [[int(a), int(b)] for a, b in zip(starts, ends, strict=True) if ink[a:b].sum() >= MIN_BAND_INK]
    if not found:
        return []
    tall = max(b - a for a, b in found)
    merged = True
    while merged and len(found) > 1:
        merged = False
        for i in range(len(found) - 1):
            (a0, a1), (b0, b1) = found[i], found[i + 1]
            small = min(a1 - a0, b1 - b0) < SMALL_PIECE * tall
            if small and b1 - a0 <= MERGED_HEIGHT * tall:
                found[i] = [a0, b1]
                del found[i + 1]
                merged = True
                break
    return [(a, b) for a, b in found]


def _quality(words: list[_Word], band: _Band) -> tuple[float, float]:
    """How good a reading of a band is: the mean confidence per character, the ink it left unread counted
    as characters read with confidence 0 (Tesseract drops a character such as 四 it cannot read)."""
    covered = np.zeros(band.ink.shape, dtype=bool)
    chars, total = 0, 0.0
    for w in words:
        a, b = int(w.x0) - band.x0, int(w.x1) - band.x0
        covered[max(0, a) : max(0, b + 1)] = True
        chars += len(w.text)
        total += w.conf * len(w.text)
    em = max(band.bottom - band.top, 1)
    unread = band.ink & ~covered
    missing = _longest_run(unread) / em
    missing = missing if missing >= UNREAD_INK else 0.0
    return (total / (chars + missing) if chars + missing else 0.0), missing


def _longest_run(mask: np.ndarray) -> int:
    if not mask.any():
        return 0
    padded = np.concatenate(([False], mask, [False])).astype(np.int8)
    step = np.diff(padded)
    return int((np.nonzero(step == -1)[0] - np.nonzero(step == 1)[0]).max())


def _read_cells(
    exe: str,
    gray: np.ndarray,
    threshold: int,
    tables: list[_PixelTable],
    dpi: int,
    work: Path,
    deadline: float,
    problems: list[str],
) -> dict[tuple[int, int], list[list[_Word]]]:
    """Every cell's text as lines of words (page pixels)."""
    inset = max(2, dpi // 100)
    bands: list[_Band] = []
    whole: list[tuple[tuple[int, int], int, int, np.ndarray]] = []
    per_cell: list[tuple[tuple[int, int], int, int, np.ndarray, list[tuple[int, int]]]] = []
    for ti, t in enumerate(tables):
        for cid, (x0, y0, x1, y1) in _cell_boxes(t).items():
            a, b = int(x0) + inset, int(y0) + inset
            crop = gray[b : int(y1) - inset, a : int(x1) - inset]
            ink = crop < threshold
            if crop.size == 0 or not ink.any():  # an empty cell: nothing to read
                continue
            clean = np.where(ink, crop, 255).astype(np.uint8)
            per_cell.append(((ti, cid), a, b, clean, line_bands(ink)))
    heights = sorted(b1 - b0 for *_, found in per_cell for b0, b1 in found)
    typical = heights[len(heights) // 2] if heights else 0
    for key, a, b, clean, found in per_cell:
        if not found or max(b1 - b0 for b0, b1 in found) > IRREGULAR * typical:
            whole.append((key, a, b, clean))
            continue
        for b0, b1 in found:
            cols = (clean[b0:b1] < threshold).any(axis=0)
            top = max(0, b0 - BAND_MARGIN)
            bands.append(
                _Band(key, a, b + b0, a + clean.shape[1], b + b1, cols, clean[top : b1 + BAND_MARGIN], b + top)
            )
    out: dict[tuple[int, int], list[list[_Word]]] = {}
    # Cells whose lines could not be told apart (a tilted scan): one block of text each, as Tesseract sees it.
    if whole:
        images = []
        for n, (_, _, _, clean) in enumerate(whole):
            images.append(work / f"w{n}.pgm")
            _write_pgm(images[-1], _framed(clean, FRAME))
        words, problem = _run_tesseract(exe, images, dpi, PSM, work / "whole", deadline - time.monotonic())
        problems.append(problem)
        for n, (key, a, b, _) in enumerate(whole):
            shifted = [_shift(w, a - FRAME, b - FRAME, 1.0) for w in words.get(n, [])]
            out.setdefault(key, []).extend(_group(shifted))
    _read_bands(exe, bands, dpi, work, deadline, problems, "first")
    doubtful = [bd for bd in bands if bd.doubtful]
    for how in RETRIES if doubtful else ():
        _read_bands(exe, doubtful, dpi, work, deadline, problems, how, threshold)
    for bd in bands:
        if bd.words:
            out.setdefault(bd.key, []).append(bd.words)
    return out


def _shift(w: _Word, dx: float, dy: float, factor: float) -> _Word:
    return _Word(
        w.text, w.x0 / factor + dx, w.top / factor + dy, w.x1 / factor + dx, w.bottom / factor + dy, w.conf, w.space
    )


def _read_bands(
    exe: str,
    bands: list[_Band],
    dpi: int,
    work: Path,
    deadline: float,
    problems: list[str],
    how: str,
    threshold: int = 0,
) -> None:
    factor = RETRY_SCALE if how == "scaled" else 1.0
    images = []
    for n, bd in enumerate(bands):
        img = bd.image
        if how == "scaled":
            img = _resized(img, factor)
        elif how == "stretched":
            img = np.clip(img.astype(np.float32) * (255.0 / max(threshold, 1)), 0, 255).astype(np.uint8)
        images.append(work / f"{how}{n}.pgm")
        _write_pgm(images[-1], _framed(img, FRAME))
    words, problem = _run_tesseract(exe, images, round(dpi * factor), LINE_PSM, work / how, deadline - time.monotonic())
    problems.append(problem)
    for n, bd in enumerate(bands):
        found = [_shift(w, bd.x0 - FRAME / factor, bd.image_top - FRAME / factor, factor) for w in words.get(n, [])]
        found.sort(key=lambda w: w.x0)
        q, missing = _quality(found, bd)
        if bd.words is None:
            low = min((w.conf for w in found), default=0.0)
            bd.doubtful = not found or low < DOUBT_CONFIDENCE or missing > 0
        if bd.words is None or q > bd.quality:
            bd.words, bd.quality = found, q


def _cell_boxes(t: _PixelTable) -> dict[int, tuple[float, float, float, float]]:
    boxes: dict[int, tuple[float, float, float, float]] = {}
    for (r, c), cid in t.cells.items():
        x0, y0, x1, y1 = t.xs[c], t.ys[r], t.xs[c + 1], t.ys[r + 1]
        if cid in boxes:
            a, b, cc, d = boxes[cid]
            boxes[cid] = (min(a, x0), min(b, y0), max(cc, x1), max(d, y1))
        else:
            boxes[cid] = (x0, y0, x1, y1)
    return boxes


def _page_table(
    t: _PixelTable, cell_lines: dict[int, list[list[_Word]]], scale: float, dx: float = 0.0, dy: float = 0.0
) -> PageTable:
    """A table found in pixels as a page table in points (offset by dx, dy), each cell with its OCR lines."""
    boxes = _cell_boxes(t)
    raw: dict[int, RawCell] = {}
    for cid, (x0, y0, x1, y1) in boxes.items():
        cols = [c for (_, c), k in t.cells.items() if k == cid]
        raw[cid] = RawCell(
            x0 / scale + dx,
            y0 / scale + dy,
            x1 / scale + dx,
            y1 / scale + dy,
            min(cols),
            max(cols) + 1,
            sorted((_line(g, scale) for g in cell_lines.get(cid, []) if g), key=lambda line: line.top),
        )
    n_r, n_c = len(t.ys) - 1, len(t.xs) - 1
    grid = [[raw[t.cells[(r, c)]] for c in range(n_c)] for r in range(n_r)]
    return PageTable([x / scale + dx for x in t.xs], [y / scale + dy for y in t.ys], grid)


def image_tables(gray: np.ndarray, dpi: int, dx: float = 0.0, dy: float = 0.0) -> list[PageTable]:
    """Ruled tables of a rendered page as empty page tables in points, for a scan whose text layer has the words."""
    return [_page_table(t, {}, dpi / 72, dx, dy) for t in find_tables(gray < ink_threshold(gray), dpi)]


def words_to_lines(words: list[_Word], scale: float) -> list[Line]:
    """Group OCR words (pixels) into printed lines (points), each read left to right."""
    return [_line(group, scale) for group in _group(words)]


def _group(words: list[_Word]) -> list[list[_Word]]:
    """Words in lines by vertical overlap, each line sorted left to right."""
    groups: list[list[_Word]] = []
    for w in sorted(words, key=lambda w: (w.top, w.x0)):
        mid = (w.top + w.bottom) / 2
        for g in reversed(groups[-3:]):
            if min(x.top for x in g) <= mid <= max(x.bottom for x in g):
                g.append(w)
                break
        else:
            groups.append([w])
    for g in groups:
        g.sort(key=lambda w: w.x0)
    return groups


def _em(g: list[_Word]) -> float:
    """The type size of a line in pixels: CJK characters are about an em wide (their boxes a little less),
    which is steadier than box heights (Tesseract's can take in the whole line); heights for Latin text."""
    narrow = PUNCTUATION | NO_LINE_START | NO_LINE_END
    cjk = [w for w in g if all(is_cjk(ch) and ch not in narrow for ch in w.text)]
    chars = sum(len(w.text) for w in cjk)
    if chars >= 2:
        return max(sum(w.x1 - w.x0 for w in cjk) / chars / 0.92, 1.0)
    heights = sorted(w.bottom - w.top for w in g)
    return max(heights[len(heights) // 2] / 0.88, 1.0)


def _line(g: list[_Word], scale: float) -> Line:
    em = _em(g)
    text = g[0].text
    for prev, w in zip(g, g[1:], strict=False):
        # chi_tra gives a word per CJK character or two, so a word boundary is no space; Tesseract's own text
        # marks the real ones (a measure's title from its text; its boxes are too rough to judge gaps by).
        # A "space" beside punctuation in CJK text is the wide gap its ink leaves, except after a list
        # number (1. 服務).
        cjk = is_cjk(prev.text[-1]) or is_cjk(w.text[0])
        punct = (prev.text[-1] in PUNCTUATION and not LIST_NUMBER.fullmatch(prev.text)) or w.text[0] in PUNCTUATION
        spaced = w.space and not (cjk and punct)
        text += " " + w.text if spaced else w.text
    # Tesseract reads the full-width ，；：？！ of CJK text as ASCII; after a CJK character they were full-width.
    text = re.sub(r"(?<=[\u3000-\u303f\u3400-\u9fff\uff00-\uffef])[,;:?!]", lambda m: FULL_WIDTH[m.group()], text)
    first = g[0]
    if is_cjk(first.text[0]):
        # The piece a wrap moves down: a character, with an opening bracket before it and ，、。 after it.
        count = 2 if text[0] in NO_LINE_END else 1
        count += 1 if len(text) > count and text[count] in NO_LINE_START else 0
        unit = count * em
    else:
        unit = first.x1 - first.x0
    # Ink stops a little short of a glyph's box, and far short for ，、。 (ink at the left of the box).
    slack = (0.25 + (0.6 if text[-1] in PUNCTUATION else 0.0)) * em
    return Line(
        text=text,
        x0=first.x0 / scale,
        x1=g[-1].x1 / scale,
        top=min(w.top for w in g) / scale,
        bottom=max(w.bottom for w in g) / scale,
        size=em / scale,
        unit=unit / scale,
        slack=slack / scale,
    )
