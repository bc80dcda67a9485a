"""The PDF reader on real PDFs: a plan written with python-docx and printed by LibreOffice, and hand-made files."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pdfplumber
import pytest
from docx import Document as WordDocument
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt

from kg.document import Document, Paragraph, Table
from kg.errors import PlanReadError
from kg.read import parse_bytes
from kg.read.pdf import PAGE_NUMBER, read_pdf

FONT = "Noto Sans CJK TC"
HEADER = "測試市政府 113 年度提升服務品質執行計畫"
# The long measure that the page break cuts in two (its cell goes on at the top of page 2).
LONG = (
    "2. 申辦多元化查詢管道 提供受理案件多元查詢管道，包含現場、電話、行動裝置、網路，案件公告、電子看板，"
    "或提供收件收據 QR code，方便民眾以行動載具查詢" + "，並定期檢討查詢管道之使用情形與民眾回饋意見" * 14 + "。"
)
# dimension → items → (measure, units); the first dimension runs over the page break.
PLAN = [
    (
        "一、完備基礎服務項目，注重服務特性差異化",
        [
            (
                "(一)建立業務標準作業流程，維持服務措施處理一致性",
                [
                    (
                        "1. 服務人員專業能力 應注重服務人員提供服務時的態度、行為、外語能力及專業知識，"
                        "確保服務人員能夠親切、主動的提供服務，並適時辦理研習。",
                        "行政課",
                    ),
                    (
                        "2. 簡政便民服務 定期檢查或檢討各項作業流程及申請表單，減併表單或減少民眾應檢附的文件種類，"
                        "包括申請書、同意書、授權書等。",
                        "行政課 教務課",
                    ),
                    (
                        "3. 訂立標準作業程序 訂立標準作業程序，包括流程說明及流程圖與核辦時限，"
                        "登載於機關服務場所或網站，提供民眾申辦時參閱。",
                        "教務課",
                    ),
                ],
            ),
            (
                "(二)提供民眾易讀、易懂、易用的服務申辦資訊及進度查詢管道",
                [
                    (
                        "1. 一次完整服務 建置職業重建個案管理服務窗口，提供身心障礙者適性服務，"
                        "並連結各項職業重建資源，辦理各項課程研習，提升職業重建人員專業知能。",
                        "輔導課",
                    ),
                    (LONG, "教務課 輔導課"),
                    (
                        "3. 逾期主動告知服務 主動提供申請人收件確認訊息，"
                        "若案件處理超過標準作業時間應主動告知申請人逾期原因及預計完成時間。",
                        "教務課",
                    ),
                ],
            ),
        ],
    ),
    (
        "二、重視全程意見回饋及參與，力求服務切合民眾需求",
        [
            (
                "(一)納入民眾參與服務設計或邀請民間協力合作",
                [
                    (
                        "1. 建置民眾參與多元管道 建置民眾建言多元管道，包含與民有約、首長信箱、民調、"
                        "隨案問卷調查、座談會、公聽會。",
                        "行政課",
                    ),
                    (
                        "2. 善用群眾外包或社會資源 利用民間網路社群資源或既有實體部門，"
                        "邀請合作，針對公共議題協力合作。",
                        "教務課 輔導課",
                    ),
                ],
            ),
            (
                "(二)建立民眾意見回饋機制，妥適處理民眾抱怨",
                [
                    ("1. 檢討民眾滿意度 定期辦理服務滿意度調查，分析結果並據以改善服務流程與作業方式。", "行政課"),
                    (
                        "2. 妥適處理陳情案件 訂定陳情案件處理作業規定，確實於期限內答復，並追蹤辦理情形。",
                        "行政課 教務課",
                    ),
                    ("3. 強化網路輿情回應 即時掌握網路輿情，主動說明澄清，維護機關形象與民眾權益。", "輔導課"),
                ],
            ),
        ],
    ),
]
BASIS = (
    "一、行政院函頒「政府服務躍升方案」及國家發展委員會「政府服務獎評獎實施計畫」，"
    "並依本府年度提升服務品質實施計畫辦理，以落實為民服務精神。"
)


def _font(doc: WordDocument) -> None:
    style = doc.styles["Normal"]
    style.font.name = FONT
    style.font.size = Pt(11)
    rpr = style.element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.append(fonts)
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(attr), FONT)


def _page_number(paragraph) -> None:
    """A footer "- N -" with Word's PAGE field, so every page prints its own number."""
    paragraph.add_run("- ")
    field = OxmlElement("w:fldSimple")
    field.set(qn("w:instr"), "PAGE")
    run, text = OxmlElement("w:r"), OxmlElement("w:t")
    text.text = "1"
    run.append(text)
    field.append(run)
    paragraph._p.append(field)
    paragraph.add_run(" -")


def write_plan_docx(path: Path) -> None:
    """A plan like the real ones: front matter, then 執行要項 | 執行重點 | 執行單位 with merged cells."""
    doc = WordDocument()
    _font(doc)
    section = doc.sections[0]
    section.page_height, section.page_width = Cm(29.7), Cm(21.0)
    section.left_margin = section.right_margin = section.top_margin = section.bottom_margin = Cm(2.0)
    section.header.paragraphs[0].text = HEADER
    footer = section.footer.paragraphs[0]
    footer.alignment = 1
    _page_number(footer)
    doc.add_paragraph("測試市政府社會局").alignment = 1
    doc.add_paragraph("113 年度提升服務品質執行計畫").alignment = 1
    for text in ("壹、依據", BASIS, "貳、目標", "提升服務效能，建立透明互信的合作環境。", "參、執行內容"):
        doc.add_paragraph(text)
    n_rows = sum(len(measures) for _, items in PLAN for _, measures in items)
    table = doc.add_table(rows=n_rows + 1, cols=4)
    table.style = "Table Grid"
    table.autofit = False
    for column, width in zip(table.columns, (Cm(3.2), Cm(4.0), Cm(7.6), Cm(2.2)), strict=True):
        column.width = width
        for cell in column.cells:
            cell.width = width
    head = table.rows[0]
    # The header row repeats at the top of every page (w:tblHeader), as plans are printed.
    mark = OxmlElement("w:tblHeader")
    mark.set(qn("w:val"), "true")
    head._tr.get_or_add_trPr().append(mark)
    head.cells[0].merge(head.cells[1]).text = "執行要項"
    head.cells[2].text = "執行重點"
    head.cells[3].text = "執行單位"
    r = 1
    for dimension, items in PLAN:
        n = sum(len(measures) for _, measures in items)
        table.cell(r, 0).merge(table.cell(r + n - 1, 0)).text = dimension
        for item, measures in items:
            table.cell(r, 1).merge(table.cell(r + len(measures) - 1, 1)).text = item
            for measure, units in measures:
                table.cell(r, 2).text = measure
                table.cell(r, 3).text = units
                r += 1
    doc.add_paragraph("肆、本計畫奉核後實施，修正時亦同。")
    doc.save(str(path))


def soffice_pdf(docx: Path, out: Path, options: str = "") -> bytes:
    """Convert with LibreOffice headless in a private profile (a shared one locks and clashes)."""
    profile = out / "lo-profile"
    target = "pdf" + (f":writer_pdf_Export:{options}" if options else "")
    cmd = [
        "soffice",
        f"-env:UserInstallation={profile.as_uri()}",
        "--headless",
        "--convert-to",
        target,
        "--outdir",
        str(out),
        str(docx),
    ]
    subprocess.run(cmd, check=True, capture_output=True, timeout=180)
    pdf = out / (docx.stem + ".pdf")
    data = pdf.read_bytes()
    pdf.unlink()
    return data


def build_plan_pdf(folder: Path) -> bytes:
    """The test plan as LibreOffice prints it (two A4 pages)."""
    if shutil.which("soffice") is None:
        pytest.skip("LibreOffice (soffice) is not installed")
    docx = folder / "plan.docx"
    write_plan_docx(docx)
    return soffice_pdf(docx, folder)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pdf")


@pytest.fixture(scope="module")
def plan_pdf(folder: Path) -> bytes:
    return build_plan_pdf(folder)


@pytest.fixture(scope="module")
def doc(plan_pdf: bytes) -> Document:
    return parse_bytes(plan_pdf, "plan.pdf")


def _tables(doc: Document) -> list[Table]:
    return [b for b in doc.blocks if isinstance(b, Table)]


def _paragraphs(doc: Document) -> list[Paragraph]:
    return [b for b in doc.blocks if isinstance(b, Paragraph)]


def test_fixture_really_breaks_a_row_and_repeats_the_header(plan_pdf: bytes) -> None:
    # The assertions below mean something only if LibreOffice laid the plan out as intended.
    with pdfplumber.open(io.BytesIO(plan_pdf)) as pdf:
        assert len(pdf.pages) == 2
        rows = pdf.pages[1].extract_tables()[0]
    assert rows[0][0] == "執行要項"
    assert rows[1][2].startswith("期檢討")  # the long measure goes on at the top of page 2


def test_document_shape(doc: Document) -> None:
    assert doc.format == "pdf" and doc.pages == 2 and not doc.ocr
    assert len(_tables(doc)) == 1
    assert doc.blocks[-1] == Paragraph("肆、本計畫奉核後實施，修正時亦同。", doc.blocks[-1].source)


def test_one_table_over_two_pages_without_the_repeated_header(doc: Document) -> None:
    table = _tables(doc)[0]
    n_measures = sum(len(m) for _, items in PLAN for _, m in items)
    assert len(table.rows) == 1 + n_measures
    assert {row[0].source.page for row in table.rows} == {1, 2}
    assert [row[2].text for row in table.rows].count("執行重點") == 1
    assert table.rows[0][0].text == "執行要項" and table.rows[0][1].origin == (0, 0)  # spans two columns
    assert table.rows[0][0].col_span == 2 and table.rows[0][1].spanned


def test_merged_cells_fill_every_row_with_one_origin(doc: Document) -> None:
    table = _tables(doc)[0]
    r = 1
    for dimension, items in PLAN:
        n = sum(len(m) for _, m in items)
        cells = [table.rows[i][0] for i in range(r, r + n)]
        assert {c.text for c in cells} == {dimension}
        assert {c.origin for c in cells} == {(r, 0)}
        assert all(c.row_span == n for c in cells)
        assert [c.spanned for c in cells] == [False] + [True] * (n - 1)
        for item, measures in items:
            cells = [table.rows[i][1] for i in range(r, r + len(measures))]
            assert {c.text for c in cells} == {item} and {c.origin for c in cells} == {(r, 1)}
            for measure, units in measures:
                row = table.rows[r]
                # Each measure is one paragraph exactly as written: wrapped lines joined, nothing lost.
                assert row[2].paragraphs == (measure,)
                assert row[3].paragraphs == (units,)
                r += 1


def test_row_broken_by_the_page_break_is_one_row(doc: Document) -> None:
    table = _tables(doc)[0]
    long_rows = [row for row in table.rows if "回饋意見" in row[2].text]
    assert len(long_rows) == 1
    assert long_rows[0][2].paragraphs == (LONG,)
    assert not any(row[2].text.startswith("期檢討") for row in table.rows)
    # The merged dimension and item cells reach across the page into the rows that follow there.
    after = table.rows[table.rows.index(long_rows[0]) + 1]
    assert after[0].source.page == 2 and after[0].origin == (1, 0) and after[1].origin == (4, 1)


def test_running_text_without_headers_footers_or_page_numbers(doc: Document) -> None:
    texts = [p.text for p in _paragraphs(doc)]
    assert texts == [
        "測試市政府社會局",
        "113 年度提升服務品質執行計畫",
        "壹、依據",
        BASIS,  # printed on two lines, joined
        "貳、目標",
        "提升服務效能，建立透明互信的合作環境。",
        "參、執行內容",
        "肆、本計畫奉核後實施，修正時亦同。",
    ]
    assert HEADER not in texts
    assert not any(re.fullmatch(r"[-\s\d]+", t) for t in texts)


def test_sources_cite_page_line_and_cell(doc: Document) -> None:
    first = _paragraphs(doc)[0]
    assert first.source.file == "plan.pdf" and first.source.page == 1 and first.source.line == 2  # 1 is the header
    table = _tables(doc)[0]
    assert table.source.page == 1 and table.source.table == 0
    cell = table.rows[7][2]
    assert (cell.source.page, cell.source.table, cell.source.row, cell.source.col) == (2, 0, 7, 2)
    last = doc.blocks[-1]
    assert last.source.page == 2


def test_text_lines_view_reads_front_matter_and_rows(doc: Document) -> None:
    lines = [t for t, _ in doc.text_lines()]
    assert "壹、依據" in lines
    assert any(t.startswith("一、完備基礎服務項目") and "行政課" in t for t in lines)


def test_encrypted_with_empty_password_reads(folder: Path, plan_pdf: bytes, doc: Document) -> None:
    # Permissions only: the file opens without a password, as most "protected" government PDFs do.
    options = (
        '{"EncryptFile":{"type":"boolean","value":"true"},'
        '"PermissionPassword":{"type":"string","value":"owner"},'
        '"RestrictPermissions":{"type":"boolean","value":"true"}}'
    )
    data = soffice_pdf(folder / "plan.docx", folder, options)
    assert data != plan_pdf and b"/Encrypt" in data
    again = read_pdf(data, "protected.pdf")
    assert [r[2].text for r in _tables(again)[0].rows] == [r[2].text for r in _tables(doc)[0].rows]


def test_password_protected_is_refused(folder: Path, plan_pdf: bytes) -> None:
    options = '{"EncryptFile":{"type":"boolean","value":"true"},"DocumentOpenPassword":{"type":"string","value":"x"}}'
    data = soffice_pdf(folder / "plan.docx", folder, options)
    with pytest.raises(PlanReadError, match="password") as err:
        read_pdf(data, "locked.pdf")
    assert err.value.file == "locked.pdf"


@pytest.mark.parametrize(
    "data",
    [b"", b"%PDF-1.7", b"%PDF-1.7\n" + b"\x00garbage\xff" * 200, b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n"],
    ids=["empty", "header-only", "garbage", "no-root"],
)
def test_bad_bytes_raise_plan_read_error(data: bytes) -> None:
    with pytest.raises(PlanReadError) as err:
        read_pdf(data, "bad.pdf")
    assert err.value.file == "bad.pdf" and str(err.value).startswith("bad.pdf: ")


@pytest.mark.parametrize("share", [0.1, 0.5, 0.9, 0.999])
def test_truncated_pdf_raises_plan_read_error(plan_pdf: bytes, share: float) -> None:
    with pytest.raises(PlanReadError) as err:
        parse_bytes(plan_pdf[: int(len(plan_pdf) * share)], "cut.pdf")
    assert err.value.file == "cut.pdf"


# ---------------------------------------------------------------------------------------------------------
# Hand-made PDFs: borders as thin filled rectangles (how Word's "Save as PDF" draws them), fake bold,
# page counts.


def minimal_pdf(contents: list[str], width: int = 595, height: int = 842, picture: np.ndarray | None = None) -> bytes:
    """A valid PDF with one page per content stream, Helvetica as font /F1 and, if given, a grey picture /Im1
    (drawn over the whole page by the operator `/Im1 Do` in a stream)."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"", b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    xobjects = b""
    if picture is not None:
        pixels = zlib.compress(np.ascontiguousarray(picture, dtype=np.uint8).tobytes())
        objects.append(
            b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8 "
            b"/Filter /FlateDecode /Length %d >>\nstream\n%s\nendstream"
            % (picture.shape[1], picture.shape[0], len(pixels), pixels)
        )
        xobjects = b"/XObject << /Im1 %d 0 R >>" % len(objects)
    kids = []
    for content in contents:
        stream = content.encode("latin-1")
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Resources << /Font << /F1 3 0 R >> %s >> "
            b"/Contents %d 0 R >>" % (width, height, xobjects, len(objects))
        )
        kids.append(b"%d 0 R" % len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(kids), len(kids))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (i, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


# A 3×3 table, column 0 merged over rows 1–2: borders as (col0, row0, col1, row1) boxes on these lines (points).
XS, YS = [72, 200, 330, 450], [100, 130, 170, 210]
BOXES = [(0, 0, 1, 1), (1, 0, 2, 1), (2, 0, 3, 1), (0, 1, 1, 3), (1, 1, 2, 2), (2, 1, 3, 2), (1, 2, 2, 3), (2, 2, 3, 3)]
CELL_TEXTS = [
    (0, 0, "Area"),
    (1, 0, "Item"),
    (2, 0, "Unit"),
    (0, 1, "Service"),
    (1, 1, "First item"),
    (2, 1, "Office A"),
    (1, 2, "Second item"),
    (2, 2, "Office B"),
]
TABLE_ROWS = [
    ["Area", "Item", "Unit"],
    ["Service", "First item", "Office A"],
    ["Service", "Second item", "Office B"],
]


def _text_ops(height: int = 842) -> list[str]:
    ops = []
    for c, r, text in CELL_TEXTS:
        x, y = XS[c] + 5.4, height - YS[r] - 14
        ops.append(f"BT /F1 10 Tf {x} {y} Td ({text}) Tj ET")
        if text == "Service":  # fake bold: the same word printed again a quarter point to the right
            ops.append(f"BT /F1 10 Tf {x + 0.25} {y} Td ({text}) Tj ET")
    ops.append(f"BT /F1 12 Tf 72 {height - 70} Td (Plan for 2024 service quality) Tj ET")
    ops.append("BT /F1 9 Tf 290 40 Td (- 1 -) Tj ET")
    return ops


def _word_style_table(height: int = 842) -> str:
    """The table drawn as Word does: each cell side a 0.5 pt filled rectangle."""
    ops = ["0 0 0 rg"]
    for c0, r0, c1, r1 in BOXES:
        x0, x1, y0, y1 = XS[c0], XS[c1], height - YS[r0], height - YS[r1]
        ops += [f"{x0} {y0 - 0.5} {x1 - x0} 0.5 re f", f"{x0} {y1} {x1 - x0} 0.5 re f"]
        ops += [f"{x0} {y1} 0.5 {y0 - y1} re f", f"{x1 - 0.5} {y1} 0.5 {y0 - y1} re f"]
    return "\n".join(ops + _text_ops(height))


def test_word_style_rectangle_borders_make_a_grid_table() -> None:
    doc = read_pdf(minimal_pdf([_word_style_table()]), "word.pdf")
    assert [p.text for p in _paragraphs(doc)] == ["Plan for 2024 service quality"]  # "- 1 -" is a page number
    (table,) = _tables(doc)
    assert [[c.text for c in row] for row in table.rows] == TABLE_ROWS
    assert table.rows[2][0].origin == (1, 0) and table.rows[2][0].spanned and table.rows[1][0].row_span == 2


def test_scan_with_text_layer_gets_its_table_from_the_image() -> None:
    # As a scanner with OCR writes a page: one picture (here the table's rules at 100 dpi), the words as text.
    width, height, dpi = 595, 842, 100
    picture = np.full((height * dpi // 72, width * dpi // 72), 255, dtype=np.uint8)
    for c0, r0, c1, r1 in BOXES:
        x0, x1, y0, y1 = (int(v * dpi / 72) for v in (XS[c0], XS[c1], YS[r0], YS[r1]))
        picture[y0 : y0 + 2, x0 : x1 + 2] = picture[y1 : y1 + 2, x0 : x1 + 2] = 0
        picture[y0 : y1 + 2, x0 : x0 + 2] = picture[y0 : y1 + 2, x1 : x1 + 2] = 0
    content = "\n".join([f"q {width} 0 0 {height} 0 0 cm /Im1 Do Q", *_text_ops(height)])
    data = minimal_pdf([content], width, height, picture)
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        assert not pdf.pages[0].edges and pdf.pages[0].images
    doc = read_pdf(data, "scanned.pdf")
    assert not doc.ocr and any("page image" in note for note in doc.notes)
    (table,) = _tables(doc)
    assert [[c.text for c in row] for row in table.rows] == TABLE_ROWS
    assert table.rows[2][0].origin == (1, 0)


def _lined_page(xs: list[float], ys: list[float], texts: list[tuple[int, float, str]], height: int = 842) -> str:
    """A page with a full grid of stroked rules and Helvetica 10 pt lines of text (column, top, text)."""
    ops = ["0.5 w"]
    ops += [f"{xs[0]} {height - y} m {xs[-1]} {height - y} l S" for y in ys]
    ops += [f"{x} {height - ys[0]} m {x} {height - ys[-1]} l S" for x in xs]
    ops += [f"BT /F1 10 Tf {xs[c] + 5} {height - top - 8} Td ({text}) Tj ET" for c, top, text in texts]
    return "\n".join(ops)


def test_merged_cell_text_running_over_the_page_joins_the_cell_above() -> None:
    # A narrow area column: page 1 ends with a row whose area cell is filled to its bottom border
    # (Service / quality / delivery, each line full); page 2 repeats the header and goes on with "access"
    # in that cell beside the next numbered measure.
    xs, ys = [72, 130, 450], [60, 80, 125]
    head = [(0, 63, "Area"), (1, 63, "Measure")]
    page1 = _lined_page(
        xs, ys, [*head, (0, 83, "Service"), (0, 95, "quality"), (0, 107, "delivery"), (1, 83, "1. First measure.")]
    )
    page2 = _lined_page(xs, ys, [*head, (0, 83, "access"), (1, 83, "2. Second measure.")])
    doc = read_pdf(minimal_pdf([page1, page2]), "two.pdf")
    (table,) = _tables(doc)
    assert [[c.text for c in row] for row in table.rows] == [
        ["Area", "Measure"],
        ["Service quality delivery access", "1. First measure."],
        ["Service quality delivery access", "2. Second measure."],
    ]
    assert table.rows[2][0].origin == (1, 0) and table.rows[2][0].source.page == 2


def test_over_300_pages_is_refused() -> None:
    with pytest.raises(PlanReadError, match="300") as err:
        read_pdf(minimal_pdf(["BT /F1 10 Tf 72 700 Td (page) Tj ET"] * 301), "huge.pdf")
    assert err.value.file == "huge.pdf"


@pytest.mark.parametrize(
    "text", ["3", "- 3 -", "— 12 —", "第3頁", "第 3 頁，共 12 頁", "3/12", "3 / 12", "Page 3 of 12", "－３－"]
)
def test_page_number_forms(text: str) -> None:
    import unicodedata

    assert PAGE_NUMBER.match(unicodedata.normalize("NFKC", text))


@pytest.mark.parametrize("text", ["113 年度", "壹、依據", "1. 服務", "2024 plan"])
def test_not_page_numbers(text: str) -> None:
    assert not PAGE_NUMBER.match(text)
