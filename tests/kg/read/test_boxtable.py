"""Box-drawn text tables read as grid tables; every other line stays a paragraph citing its line."""

from __future__ import annotations

import unicodedata

import pytest

from kg.document import Cell, Document, Paragraph, Table
from kg.read.boxtable import box_tables
from kg.read.text import read_text

EXAMPLE = """\
┌────────┬────────────────────┬──────────┐
│實施項目│具體作法            │承辦單位  │
├────────┼────────────────────┼──────────┤
│一、提升│1.設置單一窗口，提供│秘書室    │
│服務品質│民眾一次完成申辦。  │          │
│        ├────────────────────┼──────────┤
│        │2.辦理電話禮貌測試。│人事室、  │
│        │                    │政風室    │
├────────┼────────────────────┼──────────┤
│二、資訊│開放資料集。        │資訊室    │
└────────┴────────────────────┴──────────┘"""

PLAN = """\
臺中市政府地政局114年度提升服務效能實施計畫
壹、依據：政府服務躍升方案。
貳、實施項目及具體作法：
┌──────────────────────────────────────┐
│        114年度服務躍升執行措施       │
├────────┬────────────────────┬────────┤
│實施項目│具體作法            │承辦    │
│        │                    │單位    │
├────────┼────────────────────┼────────┤
│一、優質│(一)設置單一窗口，提│秘書室  │
│便民服務│供民眾一次完成申辦。│        │
│        ├────────────────────┼────────┤
│        │(二)辦理電話禮貌測試│人事室、│
│        │，每季至少一次，並公│政風室  │
│        │布測試結果。        │        │
│        ├────────────────────┼────────┤
│        │(三)推動線上申辦服務│資訊室  │
│        │1.擴大網路申辦項目。│        │
│        │2.簡化書表。        │        │
├────────┼────────────────────┼────────┤
│二、資訊│(一)開放政府資料集，│資訊室  │
│網路服務│並每年檢討更新。    │        │
└────────┴────────────────────┴────────┘

參、經費：由本局年度預算支應。
肆、本計畫陳核後實施。"""


def blocks_of(text: str, name: str = "plan.txt") -> list[Paragraph | Table]:
    return box_tables(tuple(text.split("\n")), name)


def only_table(blocks: list[Paragraph | Table]) -> Table:
    tables = [b for b in blocks if isinstance(b, Table)]
    assert len(tables) == 1
    return tables[0]


def texts(table: Table) -> list[list[str]]:
    return [[cell.text for cell in row] for row in table.rows]


def cjk(text: str) -> set[str]:
    return {ch for ch in text if unicodedata.east_asian_width(ch) == "W" and ch.isalpha()}


def all_cell_text(table: Table) -> str:
    return "".join(cell.text for row in table.rows for cell in row)


def check_grid(table: Table) -> None:
    """Every row as wide as the table; every copy of a merged cell agrees with its origin."""
    assert table.grid
    assert all(len(row) == table.width for row in table.rows)
    for r, row in enumerate(table.rows):
        for c, cell in enumerate(row):
            assert (cell.source.row, cell.source.col) == (r, c)
            r0, c0 = cell.origin
            origin: Cell = table.rows[r0][c0]
            assert origin.origin == (r0, c0) and not origin.spanned
            assert cell.paragraphs == origin.paragraphs
            assert (cell.row_span, cell.col_span) == (origin.row_span, origin.col_span)
            assert r0 <= r < r0 + cell.row_span and c0 <= c < c0 + cell.col_span


def test_the_example_table():
    blocks = blocks_of(EXAMPLE)
    assert len(blocks) == 1
    table = only_table(blocks)
    check_grid(table)
    assert table.source.line == 1
    assert texts(table) == [
        ["實施項目", "具體作法", "承辦單位"],
        ["一、提升服務品質", "1.設置單一窗口，提供民眾一次完成申辦。", "秘書室"],
        ["一、提升服務品質", "2.辦理電話禮貌測試。", "人事室、政風室"],
        ["二、資訊", "開放資料集。", "資訊室"],
    ]
    merged = table.rows[1][0]
    assert (merged.row_span, merged.col_span, merged.origin) == (2, 1, (1, 0))
    assert table.rows[2][0].spanned and table.rows[2][0].origin == (1, 0)
    assert [table.rows[r][1].source.line for r in range(4)] == [2, 4, 7, 10]
    assert table.rows[2][0].source.line == 4  # the merged cell's first line
    assert table.rows[2][2].source.table == 0


def test_a_realistic_plan_table_among_paragraphs():
    blocks = blocks_of(PLAN)
    lines = PLAN.split("\n")
    table = only_table(blocks)
    check_grid(table)
    before = blocks[: blocks.index(table)]
    after = blocks[blocks.index(table) + 1 :]
    assert [(b.text, b.source.line) for b in before] == [(lines[i], i + 1) for i in range(3)]
    assert [(b.text, b.source.line) for b in after] == [(lines[24], 25), (lines[25], 26)]
    assert table.source.line == 4
    assert table.width == 3 and len(table.rows) == 6

    title = table.rows[0]
    assert {c.origin for c in title} == {(0, 0)} and title[0].col_span == 3
    assert title[2].text == "114年度服務躍升執行措施"
    assert texts(table)[1] == ["實施項目", "具體作法", "承辦單位"]  # 承辦 / 單位 on two lines

    dimension = [table.rows[r][0] for r in (2, 3, 4)]
    assert {c.origin for c in dimension} == {(2, 0)}
    assert all(c.text == "一、優質便民服務" and c.row_span == 3 for c in dimension)
    assert table.rows[5][0].text == "二、資訊網路服務" and table.rows[5][0].origin == (5, 0)

    assert table.rows[2][1].paragraphs == ("(一)設置單一窗口，提供民眾一次完成申辦。",)
    assert table.rows[3][1].paragraphs == ("(二)辦理電話禮貌測試，每季至少一次，並公布測試結果。",)
    assert table.rows[4][1].paragraphs == ("(三)推動線上申辦服務", "1.擴大網路申辦項目。", "2.簡化書表。")
    assert [table.rows[r][2].text for r in range(2, 6)] == ["秘書室", "人事室、政風室", "資訊室", "資訊室"]
    assert [table.rows[r][1].source.line for r in range(6)] == [5, 7, 10, 13, 17, 21]
    assert cjk("\n".join(lines[3:23])) <= cjk(all_cell_text(table))


def test_document_text_lines_show_each_merged_cell_once():
    doc = Document("plan.txt", "text", blocks_of(PLAN))
    rows = [text for text, _ in doc.text_lines()]
    assert "114年度服務躍升執行措施" in rows
    assert "一、優質便民服務\t(一)設置單一窗口，提供民眾一次完成申辦。\t秘書室" in rows


def test_ascii_table_with_a_header_rule_and_english_wrapping():
    text = """\
Intro line
+----------+------------------+
| 實施項目 | 具體作法         |
+==========+==================+
| 便民服務 | 1. Online        |
|          | application form |
|          +------------------+
|          | 2. 電話禮貌測試  |
+----------+------------------+
| 資訊服務 | 3. 開放資料      |
+----------+------------------+"""
    blocks = blocks_of(text)
    assert isinstance(blocks[0], Paragraph) and blocks[0].source.line == 1
    table = only_table(blocks)
    check_grid(table)
    assert table.source.line == 2
    assert texts(table) == [
        ["實施項目", "具體作法"],
        ["便民服務", "1. Online application form"],
        ["便民服務", "2. 電話禮貌測試"],
        ["資訊服務", "3. 開放資料"],
    ]
    assert table.rows[2][0].origin == (1, 0)


def test_cjk_layout_where_a_rule_is_as_wide_as_a_character():
    # Big5-era files: ─ and │ are full width, so four ─ sit under four characters.
    text = """\
┌──┬─────┬──┐
│項目│具體作法  │單位│
├──┼─────┼──┤
│便民│設置單一窗│秘書│
│服務│口。      │室  │
├──┴─────┴──┤
│合計一項              │
└───────────┘"""
    table = only_table(blocks_of(text))
    check_grid(table)
    assert texts(table) == [
        ["項目", "具體作法", "單位"],
        ["便民服務", "設置單一窗口。", "秘書室"],
        ["合計一項", "合計一項", "合計一項"],
    ]
    assert table.rows[2][2].col_span == 3


@pytest.mark.parametrize(
    "text",
    [
        "╔════╦════════╗\n║項目║具體作法║\n╠════╬════════╣\n║便民║單一窗口║\n╚════╩════════╝",
        "┏━━━━┳━━━━━━━━┓\n┃項目┃具體作法┃\n┣━━━━╋━━━━━━━━┫\n┃便民┃單一窗口┃\n┗━━━━┻━━━━━━━━┛",
        "╒════╤════════╕\n│項目│具體作法│\n╞════╪════════╡\n│便民│單一窗口│\n╘════╧════════╛",
    ],
)
def test_heavy_and_double_borders(text):
    table = only_table(blocks_of(text))
    assert texts(table) == [["項目", "具體作法"], ["便民", "單一窗口"]]


def test_a_stray_bar_in_running_text_is_left_alone():
    text = "一、本計畫依據│行政院函辦理。\n二、實施期間 | 全年度。\n\n三、以上。"
    blocks = blocks_of(text)
    assert blocks == [
        Paragraph("一、本計畫依據│行政院函辦理。", blocks[0].source),
        Paragraph("二、實施期間 | 全年度。", blocks[1].source),
        Paragraph("三、以上。", blocks[2].source),
    ]
    assert [b.source.line for b in blocks] == [1, 2, 4]


def test_a_stray_bar_line_next_to_a_table_is_not_taken_into_it():
    text = "說明│如下\n" + EXAMPLE + "\n附註│本表"
    blocks = blocks_of(text)
    assert isinstance(blocks[0], Paragraph) and blocks[0].text == "說明│如下"
    assert isinstance(blocks[-1], Paragraph) and blocks[-1].source.line == 13
    assert only_table(blocks).source.line == 2
    assert len(only_table(blocks).rows) == 4


def test_a_framed_note_of_one_row_stays_paragraphs():
    text = "前言\n┌────────┐\n│注意事項│\n│請配合。│\n└────────┘\n結語"
    blocks = blocks_of(text)
    assert all(isinstance(b, Paragraph) for b in blocks)
    assert [(b.text, b.source.line) for b in blocks] == [(line, i + 1) for i, line in enumerate(text.split("\n"))]


def test_a_table_missing_its_bottom_border_loses_no_text():
    text = """\
表一、執行措施
┌────────┬────────────────────┬──────────┐
│實施項目│具體作法            │承辦單位  │
├────────┼────────────────────┼──────────┤
│一、提升│1.設置單一窗口，提供 │秘書室    │
│服務品質│民眾一次完成申辦。│          │
 加強宣導  並公告周知              總務科
│        ├────────────────────┼──────────┤
│        │2.辦理電話禮貌測試。│人事室、  │
│        │                    │政風室

以上各項請確實辦理。"""
    lines = text.split("\n")
    blocks = blocks_of(text)
    table = only_table(blocks)
    check_grid(table)
    assert table.source.line == 2
    assert [(b.text, b.source.line) for b in blocks if isinstance(b, Paragraph)] == [
        (lines[0], 1),
        (lines[11], 12),
    ]
    assert cjk("\n".join(lines[1:10])) <= cjk(all_cell_text(table))
    assert len(table.rows) == 3
    first = table.rows[1]
    assert first[0].text.startswith("一、提升服務品質") and "加強宣導" in first[0].text
    assert first[1].text.startswith("1.設置單一窗口，提供民眾一次完成申辦。") and "並公告周知" in first[1].text
    assert "總務科" in first[2].text
    assert table.rows[2][2].text == "人事室、政風室"
    assert table.rows[2][0].origin == (1, 0)


def test_a_row_spanning_all_columns_in_the_middle():
    text = """\
┌────┬────┬────┐
│項目│作法│單位│
├────┴────┴────┤
│第一類：便民服務│
├────┬────┬────┤
│窗口│單一│秘書│
└────┴────┴────┘"""
    table = only_table(blocks_of(text))
    check_grid(table)
    assert texts(table) == [
        ["項目", "作法", "單位"],
        ["第一類：便民服務"] * 3,
        ["窗口", "單一", "秘書"],
    ]
    assert {c.origin for c in table.rows[1]} == {(1, 0)}


def test_merged_cell_text_continuing_on_a_separator_line():
    text = """\
┌────────┬────────┐
│一、提升│作法甲  │
│服務品質├────────┤
│與效能  │作法乙  │
└────────┴────────┘"""
    table = only_table(blocks_of(text))
    assert texts(table) == [["一、提升服務品質與效能", "作法甲"], ["一、提升服務品質與效能", "作法乙"]]


def test_a_table_without_outer_borders():
    text = """\
實施項目│具體作法
────────┼────────────
一、便民│設置單一窗口
服務    │
────────┼────────────
二、資訊│開放資料"""
    table = only_table(blocks_of(text))
    check_grid(table)
    assert texts(table) == [["實施項目", "具體作法"], ["一、便民服務", "設置單一窗口"], ["二、資訊", "開放資料"]]


def test_two_tables_are_numbered_in_order():
    text = EXAMPLE + "\n中間說明\n" + EXAMPLE
    blocks = blocks_of(text)
    assert [type(b).__name__ for b in blocks] == ["Table", "Paragraph", "Table"]
    assert [b.source.line for b in blocks] == [1, 12, 13]
    assert blocks[2].rows[1][1].source.table == 1 and blocks[2].rows[1][1].source.line == 16


def test_list_markers_start_paragraphs_but_decimals_do_not():
    text = """\
┌──────┬──────────────┐
│項目  │作法          │
├──────┼──────────────┤
│便民  │（一）縮短時間│
│      │至1.5         │
│      │日。          │
│      │(2)提供服務   │
│      │一、二、三類  │
│      │3、檢討       │
└──────┴──────────────┘"""
    table = only_table(blocks_of(text))
    assert table.rows[1][1].paragraphs == ("（一）縮短時間至1.5日。", "(2)提供服務", "一、二、三類", "3、檢討")


def test_read_text_turns_a_box_table_into_a_grid_table():
    doc = read_text(PLAN.encode("utf-8"), "plan.txt")
    assert doc.lines == tuple(PLAN.split("\n"))
    kinds = [type(b).__name__ for b in doc.blocks]
    assert kinds == ["Paragraph"] * 3 + ["Table"] + ["Paragraph"] * 2
    table = doc.blocks[3]
    assert isinstance(table, Table) and table.rows[3][2].text == "人事室、政風室"


def test_text_without_tables_is_one_paragraph_per_line():
    lines = ("標題", "", "  一、依據  ", "----------", "a+b = c")
    blocks = box_tables(lines, "x.txt")
    assert [(b.text, b.source.line) for b in blocks] == [
        ("標題", 1),
        ("  一、依據  ", 3),
        ("----------", 4),
        ("a+b = c", 5),
    ]
