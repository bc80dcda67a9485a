"""The .docx reader on real Word files built with python-docx: order, headings, merged cells, numbering, bad input."""

from __future__ import annotations

import io
import subprocess
import zipfile
from pathlib import Path

import docx
import pytest
from docx.oxml import parse_xml

from kg.document import Paragraph, Table
from kg.errors import PlanReadError
from kg.read import parse_bytes
from kg.read.doc import find_libreoffice
from kg.read.docx import cjk_number, format_number, read_docx

W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'

# A numbering definition as Taiwanese plans use it: 一、 at level 0, (一) at level 1.
CHINESE_LIST = f"""<w:abstractNum {W} w:abstractNumId="90">
  <w:multiLevelType w:val="multilevel"/>
  <w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="taiwaneseCountingThousand"/>
    <w:lvlText w:val="%1、"/><w:lvlJc w:val="left"/></w:lvl>
  <w:lvl w:ilvl="1"><w:start w:val="1"/><w:numFmt w:val="taiwaneseCountingThousand"/>
    <w:lvlText w:val="(%2)"/><w:lvlJc w:val="left"/></w:lvl>
</w:abstractNum>"""

DIMENSION = "一、完備基礎服務項目，注重服務特性差異化。"
MEASURES = [
    ["(一)訂定機關年度提升服務品質工作計畫。"],
    ["(二)建立業務標準作業流程。", "維持服務措施處理一致性。"],
    ["(三)提供民眾易讀、易懂、易用的服務申辦資訊。", "1.一次完整服務", "2.服務問題系統化"],
]
UNITS = [["行政課"], ["行政課", "教務課"], ["輔導課"]]


def _number(paragraph, num_id: int, ilvl: int) -> None:
    ppr = paragraph._p.get_or_add_pPr()
    ppr.insert(0, parse_xml(f'<w:numPr {W}><w:ilvl w:val="{ilvl}"/><w:numId w:val="{num_id}"/></w:numPr>'))


def _tracked(paragraph) -> None:
    """Give a paragraph an insertion and a deletion recorded as tracked changes."""
    paragraph._p.append(
        parse_xml(f'<w:ins {W} w:id="1" w:author="a" w:date="2024-01-01T00:00:00Z"><w:r><w:t>品質</w:t></w:r></w:ins>')
    )
    paragraph._p.append(
        parse_xml(
            f'<w:del {W} w:id="2" w:author="a" w:date="2024-01-01T00:00:00Z"><w:r><w:delText>刪除的字</w:delText>'
            "</w:r></w:del>"
        )
    )
    paragraph.add_run("提升")


def build_plan_docx(path: Path) -> Path:
    """A small plan in Word: front matter with headings and numbered lists, then a merged measures table."""
    d = docx.Document()
    numbering = d.part.numbering_part.element
    first_num = numbering.find("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}num")
    first_num.addprevious(parse_xml(CHINESE_LIST))
    numbering.append(parse_xml(f'<w:num {W} w:numId="90"><w:abstractNumId w:val="90"/></w:num>'))

    d.add_paragraph("高雄市政府勞工局博愛職業技能訓練中心", style="Title")
    d.add_paragraph("107 年度提升服務工作計畫")
    d.add_paragraph("")  # an empty paragraph: skipped, but it still counts in the paragraph index
    d.add_heading("壹、依據", level=1)
    for text, level in [("高雄市政府函頒實施計畫。", 0), ("政府服務躍升方案。", 0), ("子項甲。", 1), ("子項乙。", 1)]:
        _number(d.add_paragraph(text), 90, level)
    _number(d.add_paragraph("國發會評獎實施計畫。"), 90, 0)
    _number(d.add_paragraph("新的子項。"), 90, 1)
    d.add_heading("貳、目標", level=1)
    d.add_paragraph("公平共享", style="List Number")
    d.add_paragraph("參與合作", style="List Number")
    d.add_heading("參、實施對象", level=2)
    _tracked(d.add_paragraph("服務"))
    body = d.element.body
    body.insert(
        len(body) - 1,  # before the section properties, which must stay last
        parse_xml(
            f"<w:sdt {W}><w:sdtPr><w:alias w:val='對象'/></w:sdtPr><w:sdtContent>"
            "<w:p><w:r><w:t>本中心各單位。</w:t></w:r></w:p></w:sdtContent></w:sdt>"
        ),
    )
    d.add_heading("肆、計畫內容", level=1)

    table = d.add_table(rows=5, cols=3)
    table.style = "Table Grid"
    top = table.cell(0, 0).merge(table.cell(0, 1))
    top.text = "工作項目"
    table.cell(0, 2).text = "說明"
    for c, text in enumerate(["執行要項", "執行重點", "執行單位"]):
        table.cell(1, c).text = text
    dim = table.cell(2, 0).merge(table.cell(4, 0))
    dim.text = DIMENSION
    for i, (measure, units) in enumerate(zip(MEASURES, UNITS, strict=True)):
        cell = table.cell(2 + i, 1)
        cell.text = measure[0]
        if i == 2:
            nested = cell.add_table(rows=1, cols=2)
            nested.cell(0, 0).text = measure[1]
            nested.cell(0, 1).text = measure[2]
            cell.add_paragraph("")  # Word wants a paragraph after a nested table
        else:
            for extra in measure[1:]:
                cell.add_paragraph(extra)
        ucell = table.cell(2 + i, 2)
        ucell.text = units[0]
        for extra in units[1:]:
            ucell.add_paragraph(extra)
    d.add_heading("伍、預期效益", level=1)
    d.add_paragraph("提升民眾滿意度。")
    d.save(path)
    return path


def expected_cells() -> list[list[str]]:
    """The plan table's grid as text, one string per grid position (merged cells repeated)."""
    rows = [["工作項目", "工作項目", "說明"], ["執行要項", "執行重點", "執行單位"]]
    for measure, units in zip(MEASURES, UNITS, strict=True):
        rows.append([DIMENSION, "\n".join(measure), "\n".join(units)])
    return rows


@pytest.fixture(scope="module")
def plan(tmp_path_factory) -> Path:
    return build_plan_docx(tmp_path_factory.mktemp("docx") / "plan.docx")


@pytest.fixture(scope="module")
def doc(plan):
    return read_docx(plan.read_bytes(), "plan.docx")


def paragraphs(doc) -> list[Paragraph]:
    return [b for b in doc.blocks if isinstance(b, Paragraph)]


def test_format_and_dispatch(plan, doc):
    assert doc.format == "docx" and doc.file == "plan.docx"
    assert parse_bytes(plan.read_bytes(), "plan.docx").blocks == doc.blocks


def test_blocks_in_body_order_with_headings(doc):
    kinds = [type(b).__name__ for b in doc.blocks]
    assert kinds.index("Table") == len(kinds) - 3  # the table sits between 肆 and 伍
    texts = [p.text for p in paragraphs(doc)]
    assert texts[:3] == ["高雄市政府勞工局博愛職業技能訓練中心", "107 年度提升服務工作計畫", "壹、依據"]
    assert "" not in texts
    heads = {p.text: p.heading for p in paragraphs(doc) if p.heading}
    assert heads == {
        "高雄市政府勞工局博愛職業技能訓練中心": 1,  # Title
        "壹、依據": 1,
        "貳、目標": 1,
        "參、實施對象": 2,
        "肆、計畫內容": 1,
        "伍、預期效益": 1,
    }
    assert texts[-2:] == ["伍、預期效益", "提升民眾滿意度。"]


def test_paragraph_source_is_its_index_in_the_body(doc):
    ps = paragraphs(doc)
    assert [p.source.line for p in ps[:3]] == [1, 2, 4]  # the empty third paragraph still counts
    assert all(p.source.file == "plan.docx" and p.source.table is None for p in ps)
    lines = [p.source.line for p in ps]
    assert lines == sorted(lines) and len(set(lines)) == len(lines)


def test_numbering_rendered_and_restarted(doc):
    texts = [p.text for p in paragraphs(doc)]
    start = texts.index("壹、依據") + 1
    assert texts[start : start + 6] == [
        "一、高雄市政府函頒實施計畫。",
        "二、政府服務躍升方案。",
        "(一) 子項甲。",
        "(二) 子項乙。",
        "三、國發會評獎實施計畫。",
        "(一) 新的子項。",  # a higher level restarts the lower one
    ]
    assert "1. 公平共享" in texts and "2. 參與合作" in texts


def test_tracked_changes_and_content_controls(doc):
    texts = [p.text for p in paragraphs(doc)]
    assert "服務品質提升" in texts
    assert not any("刪除" in t for t in texts)
    assert "本中心各單位。" in texts
    assert any("tracked" in n for n in doc.notes)


def test_plan_table_grid_with_merges(doc):
    (table,) = [b for b in doc.blocks if isinstance(b, Table)]
    assert table.grid and table.width == 3 and len(table.rows) == 5
    assert table.source.table == 0
    assert [[c.text for c in row] for row in table.rows] == expected_cells()
    # The vertically merged dimension: the same words in all three rows, one origin, copies spanned.
    dims = [table.rows[r][0] for r in (2, 3, 4)]
    assert {c.origin for c in dims} == {(2, 0)}
    assert [c.spanned for c in dims] == [False, True, True]
    assert all(c.row_span == 3 and c.col_span == 1 for c in dims)
    # The gridSpan header.
    head = table.rows[0]
    assert head[0].origin == head[1].origin == (0, 0) and head[1].spanned and head[0].col_span == 2
    assert not head[2].spanned and head[2].origin == (0, 2)
    cell = table.rows[3][2]
    assert cell.paragraphs == ("行政課", "教務課")
    assert (cell.source.table, cell.source.row, cell.source.col) == (0, 3, 2)


def test_text_lines_give_a_merged_cell_once_per_row(doc):
    lines = [t for t, _ in doc.text_lines()]
    assert "工作項目\t說明" in lines
    assert f"{DIMENSION}\t(一)訂定機關年度提升服務品質工作計畫。\t行政課" in lines
    assert f"{DIMENSION}\t(二)建立業務標準作業流程。 維持服務措施處理一致性。\t行政課 教務課" in lines


def test_chinese_numbers():
    assert [cjk_number(n) for n in (1, 10, 11, 20, 21, 100, 105, 110, 1000, 10001)] == [
        "一",
        "十",
        "十一",
        "二十",
        "二十一",
        "一百",
        "一百零五",
        "一百一十",
        "一千",
        "一萬零一",
    ]
    assert format_number(3, "ideographTraditional") == "丙"
    assert format_number(12, "ideographLegalTraditional") == "壹拾貳"
    assert format_number(4, "upperRoman") == "IV"
    assert format_number(28, "lowerLetter") == "bb"
    assert format_number(2, "decimalEnclosedCircle") == "②"


def _docx_with(document_xml: str) -> bytes:
    """A minimal but valid .docx package around the given document.xml."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.'
            'wordprocessingml.document.main+xml"/></Types>',
        )
        z.writestr(
            "_rels/.rels",
            '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            'officeDocument" Target="word/document.xml"/></Relationships>',
        )
        z.writestr("word/document.xml", document_xml)
    return buf.getvalue()


def _body(xml: str) -> str:
    return f'<?xml version="1.0"?><w:document {W}><w:body>{xml}</w:body></w:document>'


def test_minimal_package_reads():
    data = _docx_with(_body("<w:p><w:r><w:t>只有一段</w:t><w:br/><w:t>第二行</w:t><w:tab/><w:t>尾</w:t></w:r></w:p>"))
    doc = read_docx(data, "min.docx")
    assert [b.text for b in doc.blocks] == ["只有一段\n第二行\t尾"]


def test_text_box_once_and_placeholder_skipped():
    mc = 'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"'
    box = "<w:txbxContent><w:p><w:r><w:t>框內文字</w:t></w:r></w:p></w:txbxContent>"
    body = (
        f"<w:p><w:r><w:t>錨</w:t></w:r><w:r><mc:AlternateContent {mc}><mc:Choice Requires='wps'>"
        f"<w:drawing>{box}</w:drawing></mc:Choice><mc:Fallback><w:pict>{box}</w:pict></mc:Fallback>"
        "</mc:AlternateContent></w:r></w:p>"
        "<w:sdt><w:sdtPr><w:showingPlcHdr/></w:sdtPr><w:sdtContent><w:p><w:r><w:t>按一下這裡以輸入文字。</w:t>"
        "</w:r></w:p></w:sdtContent></w:sdt>"
        "<w:p><w:r><w:t>後</w:t></w:r></w:p>"
    )
    doc = read_docx(_docx_with(_body(body)), "box.docx")
    assert [(b.text, b.source.line) for b in doc.blocks] == [
        ("錨", 1),
        ("框內文字", 2),
        ("後", 3),
    ]  # a prompt is not a paragraph


def test_hand_written_merges_and_huge_span():
    # A row of a cell spanning a billion columns, then a vMerge continue with no cell above it.
    rows = (
        "<w:tr><w:tc><w:tcPr><w:gridSpan w:val='1000000000'/></w:tcPr><w:p><w:r><w:t>寬</w:t></w:r></w:p></w:tc></w:tr>"
        "<w:tr><w:tc><w:p><w:r><w:t>甲</w:t></w:r></w:p></w:tc>"
        "<w:tc><w:tcPr><w:vMerge/></w:tcPr><w:p><w:r><w:t>孤</w:t></w:r></w:p></w:tc></w:tr>"
    )
    doc = read_docx(_docx_with(_body(f"<w:tbl>{rows}</w:tbl>")), "wide.docx")
    (table,) = doc.blocks
    assert table.width == 64
    assert table.rows[0][63].origin == (0, 0) and table.rows[0][0].col_span == 64
    assert table.rows[1][1].text == "孤" and not table.rows[1][1].spanned  # nothing above to continue
    assert table.rows[1][2].text == "" and table.rows[1][2].origin == (1, 2)  # padded
    assert any("64" in n for n in doc.notes)


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in files.items():
            z.writestr(name, content)
    return buf.getvalue()


@pytest.mark.parametrize(
    "make, why",
    [
        (lambda good: b"", "empty"),
        (lambda good: b"PK\x03\x04" + bytes(range(256)) * 4, "ZIP"),
        (lambda good: _zip({"readme.txt": b"hello"}), "word/document.xml"),
        (lambda good: _zip({"word/document.xml": bytes(range(256))}), ""),
        (lambda good: good[: len(good) // 2], "ZIP"),
        (lambda good: good[:-30], ""),
        (
            lambda good: _docx_with(
                '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
                f"<w:document {W}><w:body><w:p><w:r><w:t>&lol2;</w:t></w:r></w:p></w:body></w:document>"
            ),
            "entit",
        ),
        (lambda good: _docx_with(_body("<w:p><w:r><w:t>unclosed")), ""),
    ],
    ids=["empty", "random-zip", "no-document", "garbage-document", "truncated", "cut-tail", "xml-bomb", "bad-xml"],
)
def test_bad_input_is_a_plan_read_error(plan, make, why):
    with pytest.raises(PlanReadError) as err:
        read_docx(make(plan.read_bytes()), "bad-plan.docx")
    assert err.value.file == "bad-plan.docx"
    assert "bad-plan.docx" in str(err.value)
    assert why in str(err.value)


def test_zip_bomb_is_refused_before_unpacking():
    # 60 MB of zeros deflate to about 60 KB: the declared size is what gets it refused.
    data = _zip({"word/document.xml": b"\0" * (60 * 1024 * 1024), "[Content_Types].xml": b"<x/>"})
    assert len(data) < 1_000_000
    with pytest.raises(PlanReadError, match="bomb"):
        read_docx(data, "bomb.docx")


def convert_with_libreoffice(src: Path, fmt: str, outdir: Path) -> Path:
    """Convert a file with the real LibreOffice (failing, not skipping, where it is missing)."""
    soffice = find_libreoffice()
    if soffice is None:
        pytest.fail(
            "LibreOffice (soffice) is needed for this test: apt-get install libreoffice-writer-nogui (.ci/run does)"
        )
    profile = outdir / "lo-profile"
    subprocess.run(
        [
            soffice,
            "--headless",
            "--norestore",
            "--nolockcheck",
            f"-env:UserInstallation={profile.as_uri()}",
            "--convert-to",
            fmt,
            "--outdir",
            str(outdir),
            str(src),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    out = outdir / f"{src.stem}.{fmt}"
    assert out.is_file(), f"LibreOffice made no {out.name}"
    return out


def grid_text(table: Table) -> list[list[str]]:
    """A table's cells as whitespace-normalised text, for comparing readers of different formats."""
    return [[" ".join(c.text.split()) for c in row] for row in table.rows]
