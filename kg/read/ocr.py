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
from concurrent.futures import ThreadPoolExecutor
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
# Each printed line of a cell is cut out and read as one line of text (psm 7). Reading each cell as a block
# (psm 6) left the lines to Tesseract's layout analysis, which dropped a line or a character (四 of 四、)
# here and there: on five test scans (30,000 characters in tables) psm 6 misread 0.88% of the characters and
# dropped 7 lines, psm 7 per line 0.66% and 5. A cell whose lines cannot be told apart (they run into each
# other) is still read as a block. The page outside the tables (painted out) is read as one column of lines
# of varying size (psm 4): on the test scans it read the section headings 壹、 參、 肆、 where psm 6 and 3
# (automatic layout) each misread one of them.
LINE_PSM = "7"
PSM = "6"
BODY_PSM = "4"
# A median filter this many pixels square takes out a scan's grain and JPEG speckle (at 300 dpi strokes are
# 4 px or more): in tables the characters misread fell from 1.19% to 0.88% (psm 6), 0.91% to 0.66% (psm 7),
# the lines dropped from 18 to 7; outside the tables from 0.82% to 0.63%.
MEDIAN_SIZE = 3
# A white border this many pixels wide round each image given to Tesseract.
FRAME = 10
# Rows of white kept above and below a cell's line when it is cut out (inches): Tesseract reads a line
# pressed against the edge of its image worse (a 4 px margin at 300 dpi read better than 2 or 8).
BAND_MARGIN = 0.015
# A run of rows with fewer dark pixels than this is a speck, not a line.
MIN_BAND_INK = 3
# A run of rows under this share of the cell's tallest line (the strokes of 三 alone, a line of only
# ，、。) joins its neighbour when the two together are at most PIECE_JOINED of that height.
PIECE = 0.75
PIECE_JOINED = 1.25
# A "line" taller than this many times the page's usual line height is lines run together.
MAX_LINE_HEIGHT = 1.7
# A line with a word under this confidence (0–100), or with ink no word covers, is read again, from the
# line's image at RETRY_SCALE and from its greys stretched so that the ink threshold is white (each
# resamples the strokes differently, and Tesseract misreads other characters); the reading with the best
# confidence per character is kept. On the test scans 656 of 2,854 lines were read again (about 1.4× the
# time), and the characters misread in tables fell from 0.66% to 0.40%, the lines dropped from 5 to 1.
DOUBT_CONFIDENCE = 70
RETRY_SCALE = 0.6
RETRIES = ("scaled", "stretched")
# A line whose best reading then is still under this confidence per character is read twice more: from its
# image without the median filter, and binarised at INK_CORE of the ink threshold (thinner strokes, which
# parts characters that touch). On the test scans that was 22 lines, among them 務遞送過程 of a merged
# cell over eleven rows, which the other readings gave as nothing or as 務和遞送過程.
RESCUE_CONFIDENCE = 80
RESCUES = ("unsmoothed", "binarised")
INK_CORE = 0.8
# Ink at least this many ems wide that no word of a reading covers: a character the reading dropped.
UNREAD_INK = 0.5
# A scanned page is searched for a tilt of up to MAX_SKEW degrees, at SKEW_DPI, in steps of SKEW_COARSE and
# then of SKEW_STEP round the best; a smaller tilt is left as it is (0.1° drifts 4 px across A4 at 300 dpi).
MAX_SKEW = 3.0
SKEW_DPI = 75
SKEW_COARSE = 0.5
SKEW_STEP = 0.1
# Tesseract processes run side by side, at most (each single-threaded, see _run_tesseract): a page's cell
# lines are split into this many runs, and the retries' runs go side by side.
MAX_WORKERS = 4
# Steps between CJK characters needed to measure a line's em by them.
MIN_STEPS = 2
# Punctuation takes no space beside CJK text, though its ink leaves a wide gap that OCR reads as one
# (Tesseract reads ， as , and so on). Brackets are left out: a space after (FAQ) is usually real.
PUNCTUATION = set("，。、；：？！「」『』,.;:?!")
FULL_WIDTH = {",": "，", ";": "；", ":": "：", "?": "？", "!": "！"}
LIST_NUMBER = re.compile(r"\(?\d{1,3}[.)]")
# [ opening Han text and never closed; ! beside 「; ( before 「 and never closed: OCR's readings of a 「.
CORNER_AS_BRACKET = re.compile(r"\[(?=[\u3400-\u9fff])(?![^\[\]]*\])")
CORNER_JUNK = re.compile(r"[!(]+(?=「)(?![^()]*\))|(?<=「)[!(]+(?![^()]*\))")
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
            content, problem = _ocr_page(exe, straightened(image, dpi), dpi, i + 1, width, height)
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
# A page fed into a scanner askew.


def skew(gray: np.ndarray, dpi: int = DPI) -> float:
    """The angle (degrees, counter-clockwise) that turns the page's lines of text and rules level: the turn
    that makes its rows of ink most uneven (each line of text or rule in as few rows as it can be)."""
    from PIL import Image

    step = max(1, round(dpi / SKEW_DPI))
    small = Image.fromarray(((gray[::step, ::step] < ink_threshold(gray)) * 255).astype(np.uint8))

    def sharpness(angle: float) -> float:
        turned = small.rotate(angle, resample=Image.Resampling.BILINEAR, fillcolor=0)
        rows = np.asarray(turned, dtype=np.float64).sum(axis=1)
        return float(np.sum(np.diff(rows) ** 2))

    best = 0.0
    for fine in (SKEW_COARSE, SKEW_STEP):  # a coarse search, then a fine one round its best angle
        lo = -MAX_SKEW if fine == SKEW_COARSE else best - SKEW_COARSE
        hi = MAX_SKEW if fine == SKEW_COARSE else best + SKEW_COARSE
        angles = np.round(np.arange(lo, hi + fine / 2, fine), 2)
        best = max(angles.tolist(), key=lambda a: (sharpness(a), -abs(a)))
    return best


def straightened(gray: np.ndarray, dpi: int = DPI) -> np.ndarray:
    """The page turned level when it was scanned askew: a rule or line of text tilted by even 0.4° leaves
    each row of pixels with only pieces of it, and neither the table's rules nor its cells' lines are found."""
    from PIL import Image

    angle = skew(gray, dpi)
    if abs(angle) < SKEW_STEP:
        return gray
    turned = Image.fromarray(gray).rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=255)
    return np.asarray(turned)


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
    # Paper to white, ink kept in its greys (Tesseract reads the edges of strokes): Tesseract's own
    # thresholding of a page left with no text (its tables painted out) turns paper grain and JPEG blocks
    # into letters. What is painted out is painted white. The median first takes the grain out of the ink
    # too: on the test scans it cut the characters misread and the lines Tesseract dropped.
    smooth = _median(painted)
    clean = np.where(smooth < threshold, smooth, paper).astype(np.uint8)
    body = clean.copy()
    for t in tables:
        body[int(t.ys[0]) : int(t.ys[-1]) + 1, int(t.xs[0]) : int(t.xs[-1]) + 1] = paper
    rough = np.where(painted < threshold, painted, paper).astype(np.uint8)
    bands, blocks = _cell_lines(clean, rough, threshold, tables, dpi)
    deadline = time.monotonic() + PAGE_TIMEOUT
    workers = _workers()
    with tempfile.TemporaryDirectory(prefix="kg-ocr-") as tmp:
        reader = _Reader(exe, Path(tmp), deadline, workers)
        # One batch of Tesseract runs: the page outside the tables, the cells read as blocks, the cells' lines
        # in as many parts as there are processes to run them.
        jobs = [_Job("body", [body], dpi, BODY_PSM)] if (body < threshold).any() else []
        jobs += [_Job("blocks", [_framed(crop) for *_, crop in blocks], dpi, PSM)] if blocks else []
        size = -(-len(bands) // workers)
        parts = [bands[k : k + size] for k in range(0, len(bands), size)] if bands else []
        jobs += [_Job(f"lines{k}", [_framed(b.image) for b in part], dpi, LINE_PSM) for k, part in enumerate(parts)]
        results = dict(zip([j.name for j in jobs], reader.run(jobs), strict=True))
        for k, part in enumerate(parts):
            _take(part, results[f"lines{k}"], 1.0)
        # The lines in doubt, read again from each retry's images of them (the retries side by side); those
        # still read poorly then, once more from the rescue's.
        again = [b for b in bands if b.doubtful]
        for tier in (RETRIES, RESCUES):
            jobs = [
                _Job(
                    how, [_framed(_retry_image(b, how, threshold)) for b in again], round(dpi * _factor(how)), LINE_PSM
                )
                for how in (tier if again else ())
            ]
            for job, words in zip(jobs, reader.run(jobs), strict=True):
                _take(again, words, _factor(job.name))
            again = [b for b in again if b.quality < RESCUE_CONFIDENCE]
        problems = reader.problems
    body_lines = []
    for group in _group(results.get("body", {}).get(0, [])):
        line = _line(group, scale)
        in_band = line.bottom <= height * MARGIN_BAND or line.top >= height * (1 - MARGIN_BAND)
        printed = sum(len(w.text) for w in group)
        # A page number or footer in small type comes out of OCR as a few low-confidence scraps.
        if in_band and printed <= 8 and sum(w.conf for w in group) / len(group) < LOW_CONFIDENCE:
            continue
        body_lines.append(line)
    cell_lines: dict[tuple[int, int], list[list[_Word]]] = {}
    found = results.get("blocks", {})
    for n, (key, a, b, _) in enumerate(blocks):
        moved = [_moved(w, a - FRAME, b - FRAME) for w in found.get(n, [])]
        cell_lines.setdefault(key, []).extend(_group(moved))
    for band in bands:
        if band.words:
            cell_lines.setdefault(band.cell, []).append(band.words)
    page_tables = [
        _page_table(t, {cid: lines for (tj, cid), lines in cell_lines.items() if tj == ti}, scale)
        for ti, t in enumerate(tables)
    ]
    return PageContent(number, width, height, body_lines, page_tables), "; ".join(p for p in problems if p)


def _workers() -> int:
    """How many Tesseract processes to run at once: the cores this process may use, at most MAX_WORKERS."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_WORKERS))


@dataclass
class _Job:
    """Images for one Tesseract run, all read at one resolution and page segmentation mode."""

    name: str
    images: list[np.ndarray]
    dpi: int
    psm: str


class _Reader:
    """Runs batches of Tesseract jobs side by side, collecting what went wrong."""

    def __init__(self, exe: str, work: Path, deadline: float, workers: int) -> None:
        self.exe, self.work, self.deadline, self.workers = exe, work, deadline, workers
        self.problems: list[str] = []

    def _one(self, job: _Job) -> dict[int, list[_Word]]:
        paths = []
        for n, image in enumerate(job.images):
            paths.append(self.work / f"{job.name}-{n}.pgm")
            _write_pgm(paths[-1], image)
        base = self.work / job.name
        words, problem = _run_tesseract(self.exe, paths, job.dpi, job.psm, base, self.deadline - time.monotonic())
        self.problems.append(problem)
        return words

    def run(self, jobs: list[_Job]) -> list[dict[int, list[_Word]]]:
        """Each job's words per image index, in pixels of that image."""
        if len(jobs) <= 1 or self.workers <= 1:
            return [self._one(job) for job in jobs]
        # Threads only wait for the Tesseract processes, which do the work.
        with ThreadPoolExecutor(max_workers=min(self.workers, len(jobs))) as pool:
            return list(pool.map(self._one, jobs))


@dataclass
class _Band:
    """One printed line of a cell (page pixels), its image for Tesseract and the best reading of it so far."""

    cell: tuple[int, int]  # table index, cell id
    x0: int
    top: int
    bottom: int
    ink: np.ndarray  # per pixel column from x0: the line has ink there
    image: np.ndarray  # the line's rows of the cleaned cell, with a margin above and below
    rough: np.ndarray  # the same rows cleaned without the median filter
    image_top: int  # the page row of the image's first row
    words: list[_Word] | None = None
    quality: float = -1.0
    doubtful: bool = False


def _median(gray: np.ndarray) -> np.ndarray:
    from PIL import Image, ImageFilter

    return np.asarray(Image.fromarray(gray).filter(ImageFilter.MedianFilter(MEDIAN_SIZE)))


def _framed(gray: np.ndarray) -> np.ndarray:
    """The image in a white border: Tesseract misses text that touches the image's edge."""
    out = np.full((gray.shape[0] + 2 * FRAME, gray.shape[1] + 2 * FRAME), 255, dtype=np.uint8)
    out[FRAME:-FRAME, FRAME:-FRAME] = gray
    return out


def line_bands(ink: np.ndarray) -> list[tuple[int, int]]:
    """The printed lines of a cell's ink mask as (first row, end row): runs of rows with ink, where a piece
    shorter than the cell's tallest line (the strokes of 三 on a line of their own) joins its neighbour."""
    rows = np.concatenate(([0], ink.any(axis=1).astype(np.int8), [0]))
    step = np.diff(rows)
    runs = zip(np.nonzero(step == 1)[0].tolist(), np.nonzero(step == -1)[0].tolist(), strict=True)
    found = [[a, b] for a, b in runs if int(ink[a:b].sum()) >= MIN_BAND_INK]
    if not found:
        return []
    tall = max(b - a for a, b in found)
    i = 0
    while i < len(found) - 1:
        (a0, a1), (b0, b1) = found[i], found[i + 1]
        if min(a1 - a0, b1 - b0) < PIECE * tall and b1 - a0 <= PIECE_JOINED * tall:
            found[i : i + 2] = [[a0, b1]]
            i = max(0, i - 1)
        else:
            i += 1
    return [(a, b) for a, b in found]


def _cell_lines(
    clean: np.ndarray, rough: np.ndarray, threshold: int, tables: list[_PixelTable], dpi: int
) -> tuple[list[_Band], list[tuple[tuple[int, int], int, int, np.ndarray]]]:
    """The printed lines of every cell, and the cells to read as blocks (key, left, top, image) instead.

    Each line of a cell is cut out to be read on its own (psm 7): Tesseract's own layout analysis of a cell
    dropped whole lines and characters on the test scans.
    """
    inset = max(2, dpi // 100)
    margin = max(1, round(BAND_MARGIN * dpi))
    cells = []
    for ti, t in enumerate(tables):
        for cid, (x0, y0, x1, y1) in _cell_boxes(t).items():
            a, b = int(x0) + inset, int(y0) + inset
            crop = clean[b : int(y1) - inset, a : int(x1) - inset]
            found = line_bands(crop < threshold) if crop.size else []
            if found:  # else an empty cell, or one with a speck of dust: nothing to read
                cells.append(((ti, cid), a, b, crop, found))
    heights = sorted(end - first for *_, found in cells for first, end in found)
    typical = heights[len(heights) // 2] if heights else 0
    bands: list[_Band] = []
    blocks = []
    for key, a, b, crop, found in cells:
        if max(end - first for first, end in found) > MAX_LINE_HEIGHT * typical:
            # Lines that run into each other (a tilted scan): the cell is read as one block of text.
            blocks.append((key, a, b, crop))
            continue
        for first, end in found:
            top = max(0, first - margin)
            ink = (crop[first:end] < threshold).any(axis=0)
            rows = slice(b + top, b + end + margin)
            unsmoothed = rough[rows, a : a + crop.shape[1]]
            bands.append(_Band(key, a, b + first, b + end, ink, crop[top : end + margin], unsmoothed, b + top))
    return bands, blocks


def _factor(how: str) -> float:
    """The scale of a retry's images to the page's."""
    return RETRY_SCALE if how == "scaled" else 1.0


def _retry_image(band: _Band, how: str, threshold: int) -> np.ndarray:
    """A line's image prepared to read it again."""
    if how == "scaled":
        from PIL import Image

        h, w = band.image.shape
        size = (max(1, round(w * RETRY_SCALE)), max(1, round(h * RETRY_SCALE)))
        return np.asarray(Image.fromarray(band.image).resize(size, Image.Resampling.LANCZOS))
    if how == "stretched":  # the ink's greys spread so that the ink threshold is white
        return np.clip(band.image * (255.0 / max(threshold, 1)), 0, 255).astype(np.uint8)
    if how == "unsmoothed":
        return band.rough
    # "binarised": black where the ink is darker than its edges, thinner strokes than the threshold's
    return np.where(band.image < INK_CORE * threshold, 0, 255).astype(np.uint8)


def _take(bands: list[_Band], words: dict[int, list[_Word]], factor: float) -> None:
    """Keep each line's better reading: the one it has, or these words (image index = the line's index) read
    from its image scaled by `factor`. A line's first reading decides whether it is in doubt."""
    for n, band in enumerate(bands):
        dx, dy = band.x0 - FRAME / factor, band.image_top - FRAME / factor
        found = sorted((_moved(w, dx, dy, factor) for w in words.get(n, [])), key=lambda w: w.x0)
        quality, unread = _quality(found, band)
        if band.words is None:
            low = min((w.conf for w in found), default=0.0)
            band.doubtful = not found or low < DOUBT_CONFIDENCE or unread > 0
        if band.words is None or quality > band.quality:
            band.words, band.quality = found, quality


def _moved(w: _Word, dx: float, dy: float, factor: float = 1.0) -> _Word:
    """A word read from an image scaled by `factor` and placed at (dx, dy) of the page, in page pixels."""
    return _Word(
        w.text, w.x0 / factor + dx, w.top / factor + dy, w.x1 / factor + dx, w.bottom / factor + dy, w.conf, w.space
    )


def _quality(words: list[_Word], band: _Band) -> tuple[float, float]:
    """How good a reading of a line is, and the characters' worth of ink it left unread: the mean confidence
    per character, a stretch of ink no word covers counted as characters read with confidence 0 (Tesseract
    drops a character it cannot make out without a trace, as it did 四 of 四、關懷多元)."""
    covered = np.zeros(band.ink.shape, dtype=bool)
    chars, total = 0, 0.0
    for w in words:
        covered[max(0, int(w.x0) - band.x0) : max(0, int(w.x1) - band.x0 + 1)] = True
        chars += len(w.text)
        total += w.conf * len(w.text)
    unread = _longest_run(band.ink & ~covered) / max(band.bottom - band.top, 1)  # in ems: the line is an em high
    unread = unread if unread >= UNREAD_INK else 0.0
    return (total / (chars + unread) if chars + unread else 0.0), unread


def _longest_run(mask: np.ndarray) -> int:
    """The length of the longest run of True in a 1-D mask."""
    step = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    starts, ends = np.nonzero(step == 1)[0], np.nonzero(step == -1)[0]
    return int((ends - starts).max()) if len(starts) else 0


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
    """The type size of a line in pixels: CJK text advances an em a character, so the median step from one
    character's box to the next is the em (a glyph's ink is narrower than its em by a share that differs from
    font to font); else CJK boxes, which are a little narrower than an em; heights for Latin text (steadier
    than box heights, Tesseract's can take in the whole line)."""
    narrow = PUNCTUATION | NO_LINE_START | NO_LINE_END
    cjk = [w for w in g if all(is_cjk(ch) and ch not in narrow for ch in w.text)]
    solid = {id(w) for w in cjk}
    steps = sorted(
        (b.x0 - a.x0) / len(a.text)
        for a, b in zip(g, g[1:], strict=False)
        if id(a) in solid and id(b) in solid and not b.space
    )
    if len(steps) >= MIN_STEPS:
        return max(steps[len(steps) // 2], 1.0)
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
    # chi_tra reads the corner bracket 「 as [ before a Han character, or as 「 with a stray ! or ( beside it.
    text = CORNER_JUNK.sub("", CORNER_AS_BRACKET.sub("「", text))
    text = re.sub("「{2,}", "「", text)
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
