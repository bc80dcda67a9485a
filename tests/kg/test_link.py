from kg.link import Aliases


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
