import json
from pathlib import Path

import pytest

from kg.link import LEAD_WORDS, Aliases, key, short_id

SAMPLES = sorted((Path(__file__).parents[2] / "kg" / "samples").glob("*.txt"))
ANSWERS = sorted((Path(__file__).parents[1] / "corpus" / "answers").glob("*.json"))


def names(entities):
    return [e.name for e in entities]


def test_one_node_per_real_system_whatever_the_spelling():
    a = Aliases.load()
    ids = {
        a.systems_in(t)[0].id for t in ("受理1999陳情", "優化 1999 受理違章建築", "透過1999專線", "透過1999免付費電話")
    }
    assert len(ids) == 1
    platforms = {
        a.systems_in(t)[0].id
        for t in ("上載於「高雄市政府開放資料平臺」", "公布於市府開放資料平臺", "「高雄市政府開放資料帄臺」")
    }
    assert len(platforms) == 1


def test_systems_are_typed_and_quoted_names_become_systems():
    a = Aliases.load()
    found = a.systems_in("提供身心障礙者免出門「線上報名系統」、身障幸福就業 APP 提供線上徵才")
    assert names(found) == ["線上報名系統", "身障幸福就業APP"]
    assert [e.type for e in found] == ["InformationSystem", "MobileApp"]
    assert a.systems_in("首長信箱、FB 等功能")[0].type == "Mailbox"
    assert a.systems_in("機關網站應提供多元及便利的資訊檢索服務") == []


def test_unit_hierarchy_and_aliases():
    a = Aliases.load()
    u = a.unit("違建大隊查報組", "高雄市政府工務局違章建築處理大隊")
    assert (u.name, u.parent) == ("查報組", "高雄市政府工務局違章建築處理大隊")
    assert a.parent_agency(u.parent) == "高雄市政府工務局"
    assert a.unit("職工科", "高雄市政府行政暨國際處").name == "職工管理科"
    assert a.unit("秘書室暨所屬機關", "高雄市政府工務局").name == "秘書室"
    assert a.unit("暨所屬機關", "高雄市政府工務局") is None
    assert a.unit("各科室", "高雄市政府行政暨國際處") is None


def test_same_unit_name_in_two_agencies_is_two_nodes():
    a = Aliases.load()
    assert a.unit("秘書室", "高雄市政府工務局").id != a.unit("秘書室", "高雄市政府勞工局").id


def test_parent_agency_is_read_off_unknown_names():
    a = Aliases.load()
    assert a.parent_agency("高雄市政府社會局長青綜合服務中心") == "高雄市政府社會局"


def test_laws_and_articles():
    a = Aliases.load()
    found = a.laws_in("包括「政府資訊公開法」第 7 條所定應主動公開之政府資訊；依據規費法規定")
    assert set(names(found)) == {"政府資訊公開法第7條", "規費法"}
    article = next(e for e in found if e.name == "政府資訊公開法第7條")
    assert article.parent == "政府資訊公開法"


def test_planner_extends_aliases_in_a_data_file(tmp_path):
    extra = tmp_path / "aliases.toml"
    extra.write_text(
        '[[system]]\nid = "kh-parking"\nname = "高雄停車APP"\ntype = "MobileApp"\naliases = ["停車大聲公"]\n', "utf-8"
    )
    a = Aliases.load(extra)
    assert names(a.systems_in("推廣停車大聲公")) == ["高雄停車APP"]
    assert Aliases.load().systems_in("推廣停車大聲公") == []


def test_words_in_front_of_a_known_name_are_no_part_of_it():
    a = Aliases.load()
    assert names(a.systems_in("1. 線上申辦服務 強化身障幸福就業 APP，宣導民眾利用線上申辦服務")) == ["身障幸福就業APP"]
    assert names(a.systems_in("如開發各項工務建設APP及Facebook粉絲專頁。")) == ["工務建設APP", "Facebook"]
    assert names(a.systems_in("推廣「市府開放資料平臺」")) == ["高雄市政府開放資料平臺"]
    assert names(a.systems_in("巡查通報系統或 APP、建築公安資訊等APP")) == ["巡查通報系統", "建築公安資訊APP"]


def test_words_in_front_of_a_new_name_are_stripped_and_its_id_is_its_name():
    bare = Aliases()  # no alias table: the rule alone
    texts = [
        "持續推廣使用高雄好停 App",
        "開發及維護高雄好停APP",
        "民眾可以手機下載高雄好停APP查詢",
        "透過「本府高雄好停APP」",
        "開發「高雄好停ＡＰＰ」",
    ]
    found = [bare.systems_in(t) for t in texts]
    assert {(e.name, e.id, e.type) for f in found for e in f} == {
        ("高雄好停APP", "sys-" + short_id("system", key("高雄好停APP")), "MobileApp")
    }
    # a name keeps its own function characters where no verb follows them
    assert names(bare.systems_in("使用和平醫院APP")) == ["和平醫院APP"]
    assert names(bare.systems_in("高雄市民的家APP")) == ["高雄市民的家APP"]


@pytest.mark.parametrize(
    "text",
    [
        "於「本局網站」公告",
        "置於機關網站",
        "建置「線上申辦系統」",
        "並透過市府行動APP推播",
        "各局處APP",
        "以及「社群網站」",
        "提供民眾查詢系統或 APP",
    ],
)
def test_ordinary_phrases_are_no_systems(text):
    assert Aliases().systems_in(text) == []
    assert Aliases.load().systems_in(text) == []


def test_a_quote_is_one_name_unless_it_lists_known_ones():
    a = Aliases.load()
    assert names(a.systems_in("「市長信箱與1999專線」")) == ["市長信箱", "1999專線"]
    # a qualifier in front of a known name (not a verb or determiner) makes another system
    assert names(a.systems_in("建置「研習線上報名系統」")) == ["研習線上報名系統"]


def test_a_name_found_in_one_text_is_known_in_the_others_whatever_their_order():
    bare = Aliases()
    texts = ["開發「高雄好停APP」", "民眾手機高雄好停APP"]
    assert names(bare.systems_in(texts[1])) == ["民眾手機高雄好停APP"]
    assert [names(f) for f in bare.systems_in_all(texts)] == [["高雄好停APP"], ["高雄好停APP"]]
    assert [names(f) for f in bare.systems_in_all(texts[::-1])] == [["高雄好停APP"], ["高雄好停APP"]]


def _sample_texts(source):
    """The five plans' texts: each line, each whole plan, or each measure (title and text) of the corpus answers."""
    if source == "lines":
        return [line for f in SAMPLES for line in f.read_text("utf-8").splitlines()]
    if source == "plans":
        return [f.read_text("utf-8") for f in SAMPLES]
    if not ANSWERS:
        pytest.skip("no corpus answers")
    texts = []
    for f in ANSWERS:
        plan = json.loads(f.read_text("utf-8"))
        texts += [" ".join(x for x in (m.get("title"), m.get("text")) if x) for m in plan["measures"]]
    return texts


@pytest.mark.parametrize("source", ["lines", "plans", "measures"])
@pytest.mark.parametrize("table", [True, False], ids=["alias-table", "no-table"])
def test_no_system_of_the_five_plans_is_another_with_words_in_front(source, table):
    assert len(SAMPLES) == 5
    a = Aliases.load() if table else Aliases()
    texts = _sample_texts(source)
    found = {e.name: e for t in texts for e in a.systems_in(t)}
    found |= {e.name: e for f in a.systems_in_all(texts) for e in f}
    assert found
    repeats = sorted((x, y) for x in found for y in found if x != y and key(x).endswith(key(y)))
    assert repeats == []
    assert [n for n in found if any(n.startswith(w) for w in LEAD_WORDS)] == []
    assert len({e.id for e in found.values()}) == len(found)


@pytest.mark.parametrize(
    "name, chain",
    [
        ("交通部民用航空局高雄國際航空站", ["交通部民用航空局", "交通部"]),
        ("衛生福利部中央健康保險署", ["衛生福利部"]),
        ("臺中市政府地方稅務局", ["臺中市政府"]),
        ("臺中市政府", []),
        ("高雄市政府地政局前鎮地政事務所", ["高雄市政府地政局", "高雄市政府"]),
    ],
)
def test_agencies_outside_the_city_get_their_parents_and_none_is_its_own(name, chain):
    aliases = Aliases.load()
    found, current = [], name
    while (parent := aliases.parent_agency(current)) and len(found) < 5:
        found.append(parent)
        current = parent
    assert found == chain
