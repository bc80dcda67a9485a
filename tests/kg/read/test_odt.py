"""The .odt reader: LibreOffice's conversion of the Word test plan reads the same, and hand-written ODF edge cases."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from kg.document import Paragraph, Table
from kg.errors import PlanReadError
from kg.read import parse_bytes
from kg.read.docx import read_docx
from kg.read.odt import read_odt
from tests.kg.read.test_docx import build_plan_docx, convert_with_libreoffice, expected_cells, grid_text

NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" '
    'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
    'xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0"'
)


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> tuple[Path, Path]:
    """The Word test plan and LibreOffice's .odt of it, converted once for the module."""
    tmp = tmp_path_factory.mktemp("odt")
    docx_path = build_plan_docx(tmp / "plan.docx")
    return docx_path, convert_with_libreoffice(docx_path, "odt", tmp)


def odt(body: str, automatic_styles: str = "", mimetype: bytes = b"application/vnd.oasis.opendocument.text") -> bytes:
    """A minimal .odt package with the given office:text body."""
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {NS} office:version="1.3">'
        f"<office:automatic-styles>{automatic_styles}</office:automatic-styles>"
        f"<office:body><office:text>{body}</office:text></office:body></office:document-content>"
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(zipfile.ZipInfo("mimetype"), mimetype)  # stored, first, as ODF requires
        z.writestr("content.xml", content)
        z.writestr(
            "META-INF/manifest.xml",
            '<?xml version="1.0"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:'
            'manifest:1.0"><manifest:file-entry manifest:full-path="/" manifest:media-type="'
            + mimetype.decode()
            + '"/></manifest:manifest>',
        )
    return buf.getvalue()


def test_libreoffice_odt_reads_like_the_docx(converted):
    docx_path, odt_path = converted
    want = read_docx(docx_path.read_bytes(), "plan.docx")
    got = read_odt(odt_path.read_bytes(), "plan.odt")
    assert got.format == "odt" and got.file == "plan.odt"
    assert parse_bytes(odt_path.read_bytes(), "plan.odt").blocks == got.blocks
    (w_table,) = [b for b in want.blocks if isinstance(b, Table)]
    (g_table,) = [b for b in got.blocks if isinstance(b, Table)]
    assert grid_text(g_table) == grid_text(w_table) == [[" ".join(t.split()) for t in r] for r in expected_cells()]
    assert [[(c.origin, c.row_span, c.col_span) for c in row] for row in g_table.rows] == [
        [(c.origin, c.row_span, c.col_span) for c in row] for row in w_table.rows
    ]
    dims = [g_table.rows[r][0] for r in (2, 3, 4)]
    assert [c.spanned for c in dims] == [False, True, True] and {c.origin for c in dims} == {(2, 0)}
    # Headings, list numbers (一、 (一) 1.), the tracked change and the content control come through too.
    paras = lambda doc: [(b.text, b.heading) for b in doc.blocks if isinstance(b, Paragraph)]  # noqa: E731
    assert paras(got) == paras(want)
    assert any("tracked" in n for n in got.notes)


def test_spaces_tabs_and_line_breaks():
    body = (
        '<text:h text:outline-level="2">貳、 目標</text:h>'
        "<text:p>一<text:s/>二<text:s text:c='3'/>三<text:tab/>四<text:line-break/>五\n   六"
        "<text:note><text:note-citation>1</text:note-citation><text:note-body><text:p>註腳</text:p>"
        "</text:note-body></text:note><text:span>七</text:span></text:p>"
        "<text:p>   </text:p><text:p><text:s text:c='99999999'/>尾</text:p>"
    )
    doc = read_odt(odt(body), "ws.odt")
    assert [(b.text, b.heading) for b in doc.blocks] == [
        ("貳、 目標", 2),
        ("一 二   三\t四\n五 六七", 0),
        ("尾", 0),
    ]
    assert [b.source.line for b in doc.blocks] == [1, 2, 4]  # the blank third paragraph still counts


def test_list_numbering_from_the_list_style():
    styles = (
        '<text:list-style style:name="L1">'
        '<text:list-level-style-number text:level="1" style:num-suffix="、" style:num-format="一, 二, 三, ..."/>'
        '<text:list-level-style-number text:level="2" style:num-prefix="(" style:num-suffix=")"'
        ' style:num-format="一, 二, 三, ..."/>'
        "</text:list-style>"
        '<text:list-style style:name="L2"><text:list-level-style-bullet text:level="1" text:bullet-char="•"/>'
        "</text:list-style>"
    )
    item = "<text:list-item><text:p>{}</text:p>{}</text:list-item>"
    sub = "<text:list>{}</text:list>".format(item.format("子項", "") + item.format("子項二", ""))
    body = (
        '<text:list xml:id="a" text:style-name="L1">' + item.format("甲", "") + item.format("乙", sub) + "</text:list>"
        "<text:p>中斷的段落</text:p>"
        '<text:list text:continue-list="a" text:style-name="L1">' + item.format("丙", sub) + "</text:list>"
        '<text:list text:style-name="L1">' + item.format("重新", "") + "</text:list>"
        '<text:list text:style-name="L2">' + item.format("圓點", "") + "</text:list>"
    )
    doc = read_odt(odt(body, styles), "list.odt")
    assert [b.text for b in doc.blocks] == [
        "一、甲",
        "二、乙",
        "(一) 子項",
        "(二) 子項二",
        "中斷的段落",
        "三、丙",
        "(一) 子項",  # the sublist restarts under the continued list's next item
        "(二) 子項二",
        "一、重新",
        "圓點",
    ]


def test_spans_covered_cells_and_repeats_are_capped():
    rows = (
        "<table:table-column table:number-columns-repeated='1000'/>"
        "<table:table-row>"
        "<table:table-cell table:number-rows-spanned='2' table:number-columns-spanned='2'>"
        "<text:p>大格</text:p></table:table-cell>"
        "<table:covered-table-cell/><table:table-cell><text:p>右</text:p></table:table-cell>"
        "<table:table-cell table:number-columns-repeated='1000'/></table:table-row>"
        "<table:table-row><table:covered-table-cell table:number-columns-repeated='2'/>"
        "<table:table-cell><text:p>下</text:p></table:table-cell></table:table-row>"
        "<table:table-rows><table:table-row table:number-rows-repeated='1000000'>"
        "<table:table-cell><text:p>重複</text:p></table:table-cell><table:covered-table-cell/>"
        "</table:table-row></table:table-rows>"
    )
    doc = read_odt(odt(f"<table:table>{rows}</table:table>"), "big.odt")
    (table,) = doc.blocks
    assert table.width == 64 and len(table.rows) == 5000
    big = [table.rows[r][c] for r in (0, 1) for c in (0, 1)]
    assert {c.origin for c in big} == {(0, 0)} and all(c.text == "大格" for c in big)
    assert [c.spanned for c in big] == [False, True, True, True]
    assert big[0].row_span == 2 and big[0].col_span == 2
    assert table.rows[0][2].text == "右" and table.rows[1][2].text == "下"
    assert table.rows[4999][0].text == "重複" and table.rows[4999][0].origin == (4999, 0)
    # A covered cell that nothing covers is an empty cell of its own, not a crash.
    assert table.rows[2][1].text == "" and not table.rows[2][1].spanned
    assert any("5000" in n for n in doc.notes)


def test_nested_table_and_text_box_paragraphs():
    nested = (
        "<table:table><table:table-row><table:table-cell><text:p>內一</text:p></table:table-cell>"
        "<table:table-cell><text:p>內二</text:p></table:table-cell></table:table-row></table:table>"
    )
    body = (
        "<text:p>錨<draw:frame><draw:text-box><text:p>框內文字</text:p></draw:text-box></draw:frame></text:p>"
        f"<table:table><table:table-row><table:table-cell><text:p>外</text:p>{nested}</table:table-cell>"
        "</table:table-row></table:table>"
    )
    doc = read_odt(odt(body), "nest.odt")
    assert [b.text for b in doc.blocks if isinstance(b, Paragraph)] == ["錨", "框內文字"]
    (table,) = [b for b in doc.blocks if isinstance(b, Table)]
    assert table.rows[0][0].paragraphs == ("外", "內一", "內二") and table.source.table == 0


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in files.items():
            z.writestr(name, content)
    return buf.getvalue()


def _encrypted() -> bytes:
    data = odt("<text:p>x</text:p>")
    files = {}
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        files = {n: z.read(n) for n in z.namelist()}
    files["META-INF/manifest.xml"] = files["META-INF/manifest.xml"].replace(
        b"</manifest:manifest>", b"<manifest:encryption-data/></manifest:manifest>"
    )
    return _zip(files)


@pytest.mark.parametrize(
    "data, why",
    [
        (b"", "empty"),
        (b"PK\x03\x04" + bytes(range(256)) * 4, "ZIP"),
        (_zip({"mimetype": b"application/vnd.oasis.opendocument.text"}), "content.xml"),
        (odt("<text:p>x</text:p>", mimetype=b"application/vnd.oasis.opendocument.spreadsheet"), "spreadsheet"),
        (odt("<text:p>unclosed"), "broken XML"),
        (odt("<text:p>x</text:p>")[:-40], "ZIP"),
        (_encrypted(), "password"),
        (
            _zip(
                {
                    "content.xml": b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
                    b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><x>&b;</x>'
                }
            ),
            "entit",
        ),
    ],
    ids=["empty", "random-zip", "no-content", "spreadsheet", "bad-xml", "truncated", "encrypted", "xml-bomb"],
)
def test_bad_input_is_a_plan_read_error(data, why):
    with pytest.raises(PlanReadError) as err:
        read_odt(data, "bad-plan.odt")
    assert err.value.file == "bad-plan.odt" and "bad-plan.odt" in str(err.value)
    assert why in str(err.value)


def test_zip_bomb_is_refused_before_unpacking():
    data = _zip({"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b" " * (60 * 1024 * 1024)})
    assert len(data) < 1_000_000
    with pytest.raises(PlanReadError, match="bomb"):
        read_odt(data, "bomb.odt")
