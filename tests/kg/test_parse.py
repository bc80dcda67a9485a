import re

import pytest

from kg.errors import PlanParseError
from kg.link import Aliases
from kg.plan import parse_plan
from kg.quality import _flat, evaluate, matches
from kg.read import read_document
from kg.records import plan_record
from tests.conftest import DATA, sample


@pytest.fixture(scope="module")
def records():
    aliases = Aliases.load()
    return {p: plan_record(parse_plan(read_document(sample(p))), aliases) for p in ("000", "001", "002", "003", "004")}


def by_start(rec, text_start):
    number = re.match(r"^(\d{1,2})[.、]", text_start)
    hits = [m for m in rec["measures"] if matches(m, text_start) and (not number or m["number"] == int(number[1]))]
    assert hits, f"no measure starts with {text_start!r}"
    return hits[0]


def test_annotated_plan_meets_the_extraction_targets(gold_004):
    r = evaluate(sample("004"), gold_004)
    assert r["found"] == 60 and r["matched"] == 60
    assert r["recall"] >= 0.97 and r["precision"] >= 0.95
    assert r["units_accuracy"] >= 0.93, r["unit_errors"]
    assert r["titles_accuracy"] >= 0.95


def test_annotated_plan_front_matter(records, gold_004):
    rec = records["004"]
    assert rec["title"] == gold_004["title"]
    assert rec["agency"]["name"] == gold_004["agency"]
    assert rec["agency"]["parent"] == gold_004["parent_agency"]
    assert (rec["year_roc"], rec["year"]) == (gold_004["year_roc"], gold_004["year"])
    assert [b["name"] for b in rec["basis"]] == [
        "高雄市政府提升服務實施計畫",
        "政府服務躍升方案",
        "政府服務獎評獎實施計畫",
    ]
    assert rec["goals"] == gold_004["goals"]
    assert rec["target_units"] == gold_004["target_units"]


def test_annotated_plan_headings_and_systems(records, gold_004):
    rec = records["004"]
    assert len(rec["measures"]) == len(gold_004["measures"])
    for gold, m in zip(gold_004["measures"], rec["measures"], strict=True):
        assert matches(m, gold["text_start"])
        assert _flat(m["dimension"]) == _flat(gold["dimension"])
        assert _flat(m["item"]) == _flat(gold["item"])
    m = by_start(rec, "積極維護身障幸福就業 APP")
    assert [s["name"] for s in m["systems"]] == ["身障幸福就業APP"]


def test_every_judged_measure_of_the_dev_queries_is_extracted_with_its_title(records, dev_queries):
    seen = set()
    for q in dev_queries:
        for rel in q["relevant"]:
            if (rel["file"], rel["text_start"]) in seen:
                continue
            seen.add((rel["file"], rel["text_start"]))
            rec = records[rel["file"][:3]]
            m = by_start(rec, rel["text_start"])
            assert _flat(m["title"]) == _flat(rel["title"]), (rel, m["title"])
    assert len(seen) > 80


def test_unit_name_broken_across_lines_is_rejoined(records):
    m = by_start(records["001"], "依據「高雄市政府及所屬機關處理人民陳情案件要點」")
    assert m["title"] == "建立處理標準程序"
    assert [u["name"] for u in m["units"]] == ["查報組"]


def test_unit_cell_spilling_into_the_next_fragment_adds_units(records):
    m = by_start(records["003"], "於本處網站常見問答(FAQ)提供「文")
    assert [u["name"] for u in m["units"]] == ["總務科", "文書科", "國際科"]
    assert "「文書、檔案管理」" in m["text"]


def test_units_listed_beside_the_rows_are_aligned_by_position(records):
    starts = [
        "督導保全人員執勤情形",
        "定期督導總機人員接線",
        "依據規費法規定每3年",
        "薦派同仁前往參與各式研討會",
        "不定期針對共通文書處理缺失",
    ]
    assert [by_start(records["003"], s)["units"][0]["name"] for s in starts] == ["總務科"] * 3 + ["文書科"] * 2


def test_headings_printed_on_another_rows_line(records):
    rec = records["001"]
    web = by_start(rec, "將市府與民眾互動式電子參與途徑")
    assert web["dimension"].startswith("三、") and web["item"].startswith("(四)")
    data = by_start(rec, "本單位的可公開資料應上載於")
    assert data["dimension"].startswith("五、") and data["item"].startswith("(一)")
    tools = by_start(rec, "分析瞭解和當前社經發展趨勢")
    assert tools["dimension"].startswith("六、") and tools["item"].startswith("(一)")


def test_list_without_numbers_counts_entries_by_position(records):
    rec = records["003"]
    a = by_start(rec, "隨時關注重大或與消費者有關議題")
    b = by_start(rec, "主動積極瞭解影響消費者重大議題")
    assert a["id"] != b["id"] and a["item"] == b["item"] and a["item"].startswith("(一)")
    assert a["dimension"].startswith("六、")


def test_wrapped_one_column_layout(records):
    rec = records["002"]
    m = by_start(rec, "提供業務「Q&A」，辦理「電話服務品")
    assert m["title"] == "服務問題系統化"
    assert m["text"].endswith("每年至少 2次。") or m["text"].endswith("每年至少2次。")
    assert all(not m["units"] for m in rec["measures"])  # this plan names no units
    assert 35 <= len(rec["measures"]) <= 50


def test_cell_per_line_layout_front_matter(records):
    rec = records["000"]
    assert rec["doc_no"] == "高市工務秘字第10530840000號"
    assert rec["issued_date"] == "2016-01-29"
    assert rec["framework_version"] == "2016"
    m = by_start(rec, "每年至少辦理洽公環境設備檢查1次")
    assert m["title"] == "定期維護"
    assert {u["name"] for u in m["units"]} == {"建築管理處", "企劃處", "資訊室", "秘書室"}


def test_not_a_plan_is_refused_with_file_and_line(tmp_path):
    path = tmp_path / "minutes.txt"
    path.write_text("會議紀錄\n\n出席人員：王小明\n討論事項：無\n", "utf-8")
    with pytest.raises(PlanParseError, match="minutes.txt"):
        parse_plan(read_document(path))


def test_gold_file_is_the_shared_annotation():
    assert (DATA / "gold_004.json").exists()


@pytest.mark.parametrize("prefix", ["001", "004"])
def test_big5_and_crlf_copies_parse_the_same(tmp_path, prefix):
    text = sample(prefix).read_text("utf-8")
    big5 = tmp_path / "big5.txt"
    big5.write_bytes(text.replace("\n", "\r\n").encode("cp950"))
    aliases = Aliases.load()
    a = plan_record(parse_plan(read_document(sample(prefix))), aliases)["measures"]
    b = plan_record(parse_plan(read_document(big5)), aliases)["measures"]
    assert [(m["id"], m["units"], m["source"]["line_start"]) for m in a] == [
        (m["id"], m["units"], m["source"]["line_start"]) for m in b
    ]


def test_plan_with_sections_numbered_like_dimensions(tmp_path):
    text = sample("004").read_text("utf-8")
    for old, new in (
        ("壹、依據", "一、計畫依據"),
        ("貳、目標", "二、計畫目標"),
        ("參、實施對象", "三、實施對象"),
        ("肆、計畫內容", "四、計畫內容"),
        ("伍、推動與管制", "五、推動與管制"),
    ):
        text = text.replace(old, new)
    path = tmp_path / "renumbered.txt"
    path.write_text(text, "utf-8")
    rec = plan_record(parse_plan(read_document(path)), Aliases.load())
    assert len(rec["measures"]) == 60
    assert rec["basis"][1]["name"] == "政府服務躍升方案"
