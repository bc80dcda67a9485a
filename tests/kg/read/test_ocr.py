"""OCR of scanned PDFs: the test plan printed by LibreOffice, rasterised, and wrapped back as an image-only PDF."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kg.document import Document, Table
from kg.errors import PlanReadError
from kg.read import parse_bytes
from kg.read.ocr import MAX_PAGES, _line, _Word, find_tables, line_bands, skew, straightened
from kg.read.pdf import read_pdf
from tests.kg.read.test_pdf import PLAN, build_plan_pdf

needs_tesseract = pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract is not installed")


def image_pdf(images: list[Image.Image], dpi: int) -> bytes:
    """An image-only PDF, one image a page, as a scanner writes it."""
    out = io.BytesIO()
    images[0].save(out, format="PDF", save_all=True, append_images=images[1:], resolution=dpi)
    return out.getvalue()


@pytest.fixture(scope="module")
def scan(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    if shutil.which("pdftoppm") is None:
        pytest.skip("poppler-utils (pdftoppm) is not installed")
    folder = tmp_path_factory.mktemp("ocr")
    pdf = folder / "plan.pdf"
    pdf.write_bytes(build_plan_pdf(folder))
    subprocess.run(["pdftoppm", "-r", "200", "-png", str(pdf), str(folder / "page")], check=True, timeout=120)
    pages = sorted(folder.glob("page-*.png"))
    assert len(pages) == 2
    return image_pdf([Image.open(p).convert("L") for p in pages], 200)


@pytest.fixture(scope="module")
def doc(scan: bytes) -> Document:
    if shutil.which("tesseract") is None:
        pytest.skip("tesseract is not installed")
    return parse_bytes(scan, "scan.pdf")


def _squash(text: str) -> str:
    """Text without whitespace or punctuation, which OCR reads loosely (， as ,)."""
    return re.sub(r"[\s，,、。.:：;；()（）「」]", "", text)


def _distinctive(plan: list) -> list[str]:
    """Strings a reader must find: dimensions, items, each measure's title and its first clause, units."""
    out = []
    for dimension, items in plan:
        out.append(_squash(dimension))
        for item, measures in items:
            out.append(_squash(item))
            for measure, units in measures:
                _, title, body = measure.split(" ", 2)
                out += [_squash(title), _squash(re.split(r"[，。]", body)[0])]
                out += units.split()
    return out


def test_scan_is_read_by_ocr(doc: Document) -> None:
    assert doc.ocr and doc.format == "pdf" and doc.pages == 2
    assert any("OCR" in note and "chi_tra" in note for note in doc.notes)


def test_most_measure_texts_are_recovered(doc: Document) -> None:
    text = _squash("".join(t for t, _ in doc.text_lines()))
    wanted = _distinctive(PLAN)
    found = [w for w in wanted if w in text]
    assert len(found) >= 0.8 * len(wanted), sorted(set(wanted) - set(found))


def test_ocr_table_is_one_grid_over_both_pages(doc: Document) -> None:
    tables = [b for b in doc.blocks if isinstance(b, Table)]
    assert len(tables) == 1
    table = tables[0]
    n_measures = sum(len(m) for _, items in PLAN for _, m in items)
    assert len(table.rows) == 1 + n_measures  # the repeated header dropped, the broken row rejoined
    assert {row[0].source.page for row in table.rows} == {1, 2}
    # The first dimension is one merged cell over its six rows, across the page break.
    cells = [row[0] for row in table.rows[1:7]]
    assert {c.origin for c in cells} == {(1, 0)} and cells[0].row_span == 6
    assert "完備基礎服務項目" in _squash(cells[0].text)
    long = [row[2].text for row in table.rows if "回饋意見" in row[2].text]
    assert len(long) == 1 and _squash(long[0]).endswith("回饋意見")


def test_ocr_joins_cjk_without_spaces(doc: Document) -> None:
    table = next(b for b in doc.blocks if isinstance(b, Table))
    text = table.rows[1][2].text
    assert not re.search(r"[\u4e00-\u9fff] [\u4e00-\u9fff] [\u4e00-\u9fff]", text)


def test_no_page_number_or_running_header_paragraphs(doc: Document) -> None:
    texts = [t for t, s in doc.text_lines() if s.table is None]
    assert not any(re.fullmatch(r"[-\s\d]+", t) for t in texts)
    assert not any("測試市政府113年度" in _squash(t) for t in texts)


def test_missing_tesseract_says_what_to_install(scan: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    with pytest.raises(PlanReadError, match=r"apt-get install tesseract-ocr-chi-tra") as err:
        read_pdf(scan, "scan.pdf")
    assert err.value.file == "scan.pdf"


@needs_tesseract
def test_missing_chi_tra_says_what_to_install(scan: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # An empty language folder: tesseract runs but knows no languages.
    monkeypatch.setenv("TESSDATA_PREFIX", str(tmp_path))
    with pytest.raises(PlanReadError, match="tesseract-ocr-chi-tra"):
        read_pdf(scan, "scan.pdf")


@needs_tesseract
def test_too_many_scanned_pages_is_refused() -> None:
    pages = [Image.new("L", (60, 80), 255) for _ in range(MAX_PAGES + 1)]
    with pytest.raises(PlanReadError, match=f"at most {MAX_PAGES}"):
        read_pdf(image_pdf(pages, 72), "long-scan.pdf")


def test_find_tables_resolves_merged_cells_from_missing_borders() -> None:
    # 3 columns × 3 rows at 300 dpi; no border between rows 1 and 2 in column 0, so that cell spans two rows.
    img = np.zeros((1200, 1600), dtype=bool)
    xs, ys = [100, 600, 1100, 1500], [100, 400, 700, 1000]
    for y in ys:
        img[y : y + 3, xs[0] : xs[-1] + 3] = True
    img[ys[2] : ys[2] + 3, xs[0] : xs[1]] = False
    for x in xs:
        img[ys[0] : ys[-1] + 3, x : x + 3] = True
    img[300:330, 200:260] = True  # a blot of "text", not a rule
    (table,) = find_tables(img)
    assert len(table.xs) == 4 and len(table.ys) == 4
    assert table.cells[(1, 0)] == table.cells[(2, 0)]
    assert len(set(table.cells.values())) == 8


def test_line_bands_keep_a_line_of_separate_strokes_whole() -> None:
    # A cell at 300 dpi: a line of full-height characters, then a line of only 三 (three strokes with white
    # rows between them), then a speck of dust.
    ink = np.zeros((200, 300), dtype=bool)
    ink[10:50, 20:280] = True
    ink[80:84, 20:60] = True
    ink[95:99, 25:55] = True
    ink[112:117, 15:65] = True
    ink[160, 100] = True
    assert line_bands(ink) == [(10, 50), (80, 117)]


def test_a_tilted_scan_is_straightened_so_its_table_is_found() -> None:
    img = np.full((1200, 1600), 255, dtype=np.uint8)
    xs, ys = [100, 600, 1100, 1500], [100, 400, 700, 1000]
    for y in ys:
        img[y : y + 3, xs[0] : xs[-1] + 3] = 0
    for x in xs:
        img[ys[0] : ys[-1] + 3, x : x + 3] = 0
    tilted = np.asarray(Image.fromarray(img).rotate(-0.8, resample=Image.Resampling.BICUBIC, fillcolor=255))
    assert not find_tables(tilted < 128)
    assert skew(tilted) == pytest.approx(0.8, abs=0.1)
    (table,) = find_tables(straightened(tilted) < 128)
    assert len(table.xs) == 4 and len(table.ys) == 4
    assert skew(img) == 0.0 and straightened(img) is img


def test_misread_corner_brackets_are_put_right() -> None:
    def words(*texts: str) -> list[_Word]:
        return [_Word(t, 40 * i, 0, 40 * i + 36, 40) for i, t in enumerate(texts)]

    assert _line(words("依據", "[高", "雄", "市", "」"), 1.0).text == "依據「高雄市」"
    assert _line(words("及", "!「", "行", "政", "」"), 1.0).text == "及「行政」"
    assert _line(words("見", "[註]", "說", "明"), 1.0).text == "見[註]說明"
