"""Each layout strategy on its own fixture: the plans of agencies outside the samples, as published."""

from __future__ import annotations

from pathlib import Path

import pytest

from kg.document import Paragraph, Source
from kg.plan import parse_plan
from kg.plan.layouts import Section, detect
from kg.plan.layouts.grid import header_role, split_entries
from kg.plan.numbering import split_inline
from kg.read import read_document
from tests.conftest import sample

FIXTURES = Path(__file__).parent / "fixtures"


def plan(name: str):
    return parse_plan(read_document(FIXTURES / name))


def rows(p) -> list[tuple]:
    return [
        (m.dimension.label if m.dimension else None, m.item.label if m.item else None, m.text, m.units_raw)
        for m in p.measures
    ]


def test_web_page_text_with_chrome_and_a_header_split_over_lines():
    p = plan("land_office_web.txt")
    assert p.title == "高雄市政府地政局前鎮地政事務所113年度提升服務品質執行計畫"
    assert (p.agency, p.year_roc) == ("高雄市政府地政局前鎮地政事務所", 113)
    assert p.basis == ["高雄市政府113年度提升服務實施計畫", "政府服務躍升方案"]
    assert p.layout == "tabbed"
    assert rows(p)[:3] == [
        ("一、優質便民服務", "(一)提升服務品質", "設置單一窗口，提供土地登記一次申辦。", ["登記課"]),
        ("一、優質便民服務", "(一)提升服務品質", "提供跨所申辦地籍謄本服務。", ["資訊課"]),
        ("一、優質便民服務", "(二)簡化流程", "推動「地政線上申辦系統」，民眾免臨櫃即可申辦。", ["資訊課", "登記課"]),
    ]
    assert len(p.measures) == 5 and not p.findings


def test_plan_without_a_year_with_an_outline_bullets_and_extra_columns():
    p = plan("airport_no_year.txt")
    assert (p.agency, p.year_roc, p.year) == ("交通部民用航空局高雄國際航空站", None, None)
    assert p.issued_date == "2024-01-10"
    assert p.goals == ["提升旅客服務品質", "精進便民措施"]
    # In a 構面 layout the sub-points (1)(2) are the measures.
    assert [(m.number, m.units_raw, m.deadline, m.benefit) for m in p.measures] == [
        (1, ["業務組"], "113年12月", "旅客滿意度達90%"),
        (2, ["資訊室"], "113年6月", "下載數達1萬次"),
        (1, ["人事室"], "113年10月", "參訓率100%"),
        (2, ["業務組"], "113年12月", "申辦時間縮短20%"),
    ]
    assert p.measures[2].dimension.label == "二、服務量能"


def test_sections_in_markup_and_units_written_inside_the_measure():
    p = plan("nhi_markup.txt")
    assert p.title == "衛生福利部中央健康保險署113年度提升服務品質執行計畫"
    assert rows(p)[1] == (
        "一、提升服務效能",
        "(一)優化服務流程",
        "精進「健保卡申辦系統」，縮短製卡時間。",
        ["承保組", "資訊組"],
    )
    assert len(p.measures) == 4


def test_box_drawn_table_and_a_title_over_two_lines():
    p = plan("taichung_box.txt")
    assert p.title == "臺中市政府地方稅務局112年度加強為民服務工作執行要點"
    assert p.layout == "grid"
    assert rows(p) == [
        ("一、便捷服務", None, "設置「稅務e櫃台」，提供線上申辦與查詢。", ["資訊科"]),
        ("一、便捷服務", None, "推動地價稅電子繳納，擴大多元繳稅管道。", ["稅務科", "資訊科"]),
        ("二、意見回饋", None, "辦理服務滿意度調查，據以檢討改進。", ["企劃科"]),
    ]


@pytest.mark.parametrize("prefix", ["000", "001", "002", "003", "004"])
def test_the_bundled_dumps_keep_the_line_layout(prefix):
    assert parse_plan(read_document(sample(prefix))).layout == "lines"


@pytest.mark.parametrize(
    "text, role",
    [
        ("執行要項", "heading"),
        ("構面", "heading"),
        ("實施策略", "heading"),
        ("工作要領", "heading"),
        ("具體推動作法", "measure"),
        ("工作重點", "measure"),
        ("執行(單位)", "unit"),
        ("承辦\n單位", "unit"),
        ("完成期限", "deadline"),
        ("預期效益", "benefit"),
        ("本所每年研訂執行計畫，簽請本所執行單位針對其業務特性辦理", None),
    ],
)
def test_header_roles_by_their_words(text, role):
    assert header_role(text) == role


def test_numbered_entries_keep_their_sub_points():
    parts = split_entries(["1. 標題 內文。", "(1)細項一。", "(2)細項二。", "2.另一項。"], headings_in_cell=False)
    assert [(e.number, len(e.raw)) for e in parts] == [(1, 3), (2, 1)]


def test_an_introduction_and_its_sub_points_are_one_measure():
    parts = split_entries(["辦理下列事項：", "(1)細項一。", "(2)細項二。"], headings_in_cell=False)
    assert len(parts) == 1


def test_detection_falls_back_to_the_line_table():
    section = Section("x.txt", [Paragraph("1.設置單一窗口。", Source("x.txt", line=1))], text_lines=True)
    assert detect(section).name == "lines"


def test_two_measures_printed_in_one_paragraph_are_two():
    parts = split_entries(["1.設置單一窗口，一次完成申辦。2.提供跨所謄本服務。"], headings_in_cell=False)
    assert [(e.number, e.body) for e in parts] == [(1, ["設置單一窗口，一次完成申辦。"]), (2, ["提供跨所謄本服務。"])]
    assert split_inline("每次2.5小時。", 1) == ["每次2.5小時。"]


def grid_section(rows: list[list[str]]) -> Section:
    from kg.document import Table as GridTable
    from kg.document import resolve_spans

    raw = [[((c,) if c else (), 1, 1) for c in row] for row in rows]
    table = GridTable(resolve_spans(raw, "t.docx", 0), Source("t.docx", table=0))
    return Section("t.docx", [table], text_lines=False)


def test_a_heading_repeated_in_every_row_is_one_heading():
    section = grid_section(
        [
            ["執行要項", "執行重點", "執行單位"],
            ["一、便捷服務", "1.設置單一窗口。", "秘書室"],
            ["一、便捷服務", "2.提供線上申辦。", "資訊室"],
            ["二、意見回饋", "1.辦理滿意度調查。", "研考科"],
        ]
    )
    measures = detect(section).read(section)
    assert [m.dimension.label for m in measures] == ["一、便捷服務", "一、便捷服務", "二、意見回饋"]
    assert measures[0].dimension is measures[1].dimension
    assert [m.units_raw for m in measures] == [["秘書室"], ["資訊室"], ["研考科"]]


def test_a_headerless_table_gets_its_roles_from_its_cells():
    section = grid_section(
        [
            ["一、便捷服務", "1.設置單一窗口，一次完成申辦。", "秘書室"],
            ["", "2.提供線上申辦服務。", "資訊室、秘書室"],
            ["二、意見回饋", "1.辦理滿意度調查。", "研考科"],
        ]
    )
    measures = detect(section).read(section)
    assert [(m.dimension.label, m.number, m.units_raw) for m in measures] == [
        ("一、便捷服務", 1, ["秘書室"]),
        ("一、便捷服務", 2, ["資訊室", "秘書室"]),
        ("二、意見回饋", 1, ["研考科"]),
    ]


def test_line_table_drops_its_header_and_keeps_the_extra_columns():
    lines = [
        "實施要項\t具體作法\t主辦單位\t完成期限",
        "一、便捷服務\t1.設置單一窗口，一次完成申辦。\t秘書室\t6月",
        "\t\t人事室",  # the unit cell goes on below its row: not a tabbed grid
        "\t2.提供線上申辦服務。\t資訊室\t12月",
    ]
    section = Section("x.txt", [Paragraph(t, Source("x.txt", line=i + 1)) for i, t in enumerate(lines)], True)
    layout = detect(section)
    assert layout.name == "lines"
    measures = layout.read(section)
    assert [(m.number, m.units_raw, m.deadline) for m in measures] == [
        (1, ["秘書室", "人事室"], "6月"),
        (2, ["資訊室"], "12月"),
    ]
