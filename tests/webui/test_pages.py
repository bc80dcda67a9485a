"""Browse pages and their JSON twins: index, agencies, plans, units, systems, practice types, coverage, framework."""

from __future__ import annotations

import pytest

from tests.webui.helpers import agency_id, plan_id, state, unit_id
from webui.counts import counts

ILLEGAL_BUILDINGS = "高雄市政府工務局違章建築處理大隊"


def html(response) -> str:
    assert response.status_code == 200, response.data[:500]
    assert response.content_type.startswith("text/html")
    return response.get_data(as_text=True)


def test_index_links_every_area(client):
    body = html(client.get("/"))
    assert '<html lang="zh-Hant">' in body
    for href in (
        "/search",
        "/agencies",
        "/units",
        "/systems",
        "/practices",
        "/coverage",
        "/framework",
        "/graph",
        "/sparql",
        "/downloads",
    ):
        assert f'href="{href}"' in body
    data = client.get("/api/").get_json()
    assert data["counts"]["plans"] == 5 and data["counts"]["measures"] == 311
    assert data["graph"]["measure"] == 311


def test_agencies_list_every_plan(client, app):
    body = html(client.get("/agencies"))
    for p in state(app).plans.values():
        assert f"/plan/{p['id']}" in body
    data = client.get("/api/agencies").get_json()
    assert {a["name"] for a in data["agencies"] if a["plans"]} >= {ILLEGAL_BUILDINGS, "高雄市仁武區公所"}


def test_agency_page_shows_plans_units_parent_and_practices(client, app):
    aid = agency_id(app, ILLEGAL_BUILDINGS)
    body = html(client.get(f"/agency/{aid}"))
    assert "111年度提升服務工作計畫" in body and "查報組" in body and "高雄市政府工務局" in body
    data = client.get(f"/api/agency/{aid}").get_json()
    assert data["parent"]["name"] == "高雄市政府工務局"
    assert {u["name"] for u in data["units"]} >= {"查報組", "拆除組"}
    assert data["practice_types"] and data["systems"]
    parent = client.get(f"/api/agency/{data['parent']['id']}").get_json()
    assert aid in {c["id"] for c in parent["children"]}


def test_plan_page_is_a_tree_of_dimensions_items_and_measures(client, app):
    pid = plan_id(app, "違章建築處理大隊111")
    body = html(client.get(f"/plan/{pid}"))
    assert "政府服務躍升方案" in body  # basis
    assert "本大隊查報組" in body  # target units
    data = client.get(f"/api/plan/{pid}").get_json()
    assert data["basis"] and data["goals"] and data["framework_version"] == "2018"
    placed = [m["id"] for d in data["tree"] for m in d["measures"] + [x for i in d["items"] for x in i["measures"]]]
    assert sorted(placed) == sorted(state(app).plans[pid]["measure_ids"])  # every measure once, none lost
    assert any(i["framework_item"] for d in data["tree"] for i in d["items"])


def test_unit_page_lists_the_measures_it_owns_across_plans(client, app):
    uid = unit_id(app, "查報組")
    body = html(client.get(f"/unit/{uid}"))
    assert "查報組" in body and ILLEGAL_BUILDINGS in body
    data = client.get(f"/api/unit/{uid}").get_json()
    assert data["measure_count"] == 25
    assert sum(len(p["measures"]) for p in data["plans"]) == 25
    assert "1999專線" in {s["name"] for s in data["systems"]}
    assert f"/unit/{uid}" in html(client.get("/units"))


def test_system_page_shows_which_measures_and_agencies_use_1999(client):
    body = html(client.get("/system/hotline-1999"))
    assert "1999專線" in body and "服務專線" in body
    data = client.get("/api/system/hotline-1999").get_json()
    assert data["measure_count"] == 3
    assert {a["name"] for a in data["agencies"]} == {ILLEGAL_BUILDINGS, "高雄市政府行政暨國際處"}
    assert {u["name"] for u in data["units"]} >= {"查報組", "視察室"}
    assert "/system/hotline-1999" in html(client.get("/systems"))


def _having(app, type_id: str) -> int:
    """Measures having a practice type, by the search index's membership (the oracle of the SPARQL counts)."""
    st = state(app)
    return sum(1 for m in st.measures if type_id in {t["id"] for t in st.search.practice_types(m)})


def test_practice_type_page_groups_measures_by_agency(client, app):
    body = html(client.get("/practice/phone-courtesy"))
    assert "電話禮貌測試" in body
    data = client.get("/api/practice/phone-courtesy").get_json()
    assert (
        data["measure_count"]
        == sum(
            1 for m in state(app).measures if "phone-courtesy" in {t["id"] for t in state(app).search.practice_types(m)}
        )
        > 0
    )
    assert len(data["agencies"]) >= 2
    listing = client.get("/api/practices").get_json()["types"]
    assert listing == sorted(listing, key=lambda t: (-t["measures"], t["label"]))
    assert "/practice/phone-courtesy" in html(client.get("/practices"))


def test_coverage_heatmap_has_a_band_per_cell_and_a_legend(client, app):
    body = html(client.get("/coverage"))
    assert 'class="legend"' in body and "heat-5" in body and "heat-0" in body
    data = client.get("/api/coverage").get_json()
    assert len(data["agencies"]) == 5 and all(a["id"] for a in data["agencies"])
    counted = counts(state(app))  # every practice type of a measure counts (tests/webui/test_counts.py)
    for row in data["types"]:
        assert [c["count"] for c in row["cells"]] == [counted.cell(row["id"], a["id"]) for a in data["agencies"]]
        for c in row["cells"]:
            assert (c["band"] == 0) == (c["count"] == 0)


def test_framework_pages_show_both_versions_and_their_mapping(client):
    body = html(client.get("/framework"))
    assert "2016 年版" in body and "2018 年版" in body
    data = client.get("/api/framework").get_json()
    assert [v["version"] for v in data["versions"]] == ["2016", "2018"]
    assert len(data["versions"][0]["top"]) == 5 and len(data["versions"][1]["top"]) == 6
    item = client.get("/api/framework/2016-1-1").get_json()
    assert item["close_match"][0]["notation"] == "2018-1-1"
    assert item["broader"]["notation"] == "2016-1"
    top = client.get("/api/framework/2018-1").get_json()
    # no measure is tagged with a 2018 dimension itself, so the count is that of its items
    assert top["measure_count"] == sum(n["measures"] for n in top["narrower"])
    assert {y["year"] for y in top["years"]} >= {2018, 2022, 2023}
    assert "2018-1-4" in html(client.get("/framework/2018-1-4"))


def test_law_and_programme_pages(client, app):
    law = next(iter(state(app).laws.values()))
    assert law["name"] in html(client.get(f"/law/{law['id']}"))
    prog = next(p for p in state(app).programmes.values() if p["name"] == "政府服務躍升方案")
    data = client.get(f"/api/programme/{prog['id']}").get_json()
    assert {p["agency"] for p in data["plans"]} == {ILLEGAL_BUILDINGS, "高雄市政府勞工局博愛職業技能訓練中心"}


@pytest.mark.parametrize(
    "path",
    [
        "/agency/nope",
        "/plan/nope",
        "/unit/nope",
        "/system/nope",
        "/practice/nope",
        "/framework/2099-1",
        "/law/nope",
        "/programme/nope",
        "/measure/m-000000000000",
        "/no-such-page",
    ],
)
def test_unknown_ids_get_a_chinese_404_page(client, path):
    r = client.get(path)
    assert r.status_code == 404
    body = r.get_data(as_text=True)
    assert "找不到" in body and 'lang="zh-Hant"' in body
    assert "Not Found" not in body


@pytest.mark.parametrize("path", ["/api/agency/nope", "/api/measure/nope", "/api/framework/x"])
def test_unknown_ids_in_the_api_get_json_404(client, path):
    r = client.get(path)
    assert r.status_code == 404 and r.is_json
    assert "找不到" in r.get_json()["error"]


def test_path_like_ids_never_reach_the_file_system(client):
    for path in (
        "/plan/..%2F..%2Fetc%2Fpasswd",
        "/download/..%2Fstore",
        "/download/records",
        "/measure/%2Fetc%2Fpasswd",
    ):
        assert client.get(path).status_code == 404


def test_wrong_method_is_refused_in_chinese(client):
    r = client.post("/search")
    assert r.status_code == 405 and "不支援" in r.get_data(as_text=True)
    assert "GET" in r.headers["Allow"]


def test_security_headers_are_set(client):
    r = client.get("/")
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_every_page_links_its_json(client, app):
    uid = unit_id(app, "查報組")
    body = html(client.get(f"/unit/{uid}"))
    assert f'href="/api/unit/{uid}"' in body
