"""The search page and /api/search: modes, facets with counts, filters, highlighting, similar practices, CSV."""

from __future__ import annotations

import csv
import io

import pytest

from tests.webui.helpers import unit_id

TOPIC = "電話禮貌測試"


def test_search_finds_the_topic_across_agencies_and_marks_the_terms(client):
    r = client.get("/search", query_string={"q": TOPIC})
    assert r.status_code == 200
    body = r.get_data(as_text=True)
    assert "<mark>電話</mark>" in body and "<mark>禮貌測試</mark>" in body
    assert "其他機關的類似作法" in body
    assert 'href="/search.csv?q=' in body


def test_api_search_returns_the_export_fields_with_score_and_links(client):
    data = client.get("/api/search", query_string={"q": TOPIC, "top_k": 5}).get_json()
    assert data["mode"] == "hybrid" and data["top_k"] == 5 and len(data["results"]) == 5
    top = data["results"][0]
    for key in (
        "id",
        "plan",
        "agency",
        "year",
        "framework_item",
        "title",
        "text",
        "units",
        "systems",
        "source",
        "score",
        "practice_types",
        "plan_id",
        "agency_id",
        "similar",
    ):
        assert key in top
    assert any(t["id"] == "phone-courtesy" for t in top["practice_types"])
    assert len({r["agency"] for r in data["results"]}) >= 2
    scores = [r["score"] for r in data["results"]]
    assert scores == sorted(scores, reverse=True)


def test_inline_similar_practices_come_from_other_agencies(client):
    data = client.get("/api/search", query_string={"q": TOPIC, "top_k": 3}).get_json()
    for r in data["results"]:
        assert 1 <= len(r["similar"]) <= 3
        assert all(s["agency"] != r["agency"] for s in r["similar"])


@pytest.mark.parametrize("mode", ["hybrid", "lexical", "dense"])
def test_every_mode_answers(client, mode):
    data = client.get("/api/search", query_string={"q": "1999", "mode": mode}).get_json()
    assert data["mode"] == mode and data["results"]
    assert "selected>語意" in client.get("/search", query_string={"q": "1999", "mode": "dense"}).get_data(as_text=True)


def test_facets_count_values_and_filters_narrow_the_results(client):
    data = client.get("/api/search", query_string={"q": TOPIC}).get_json()
    assert set(data["facets"]) == {"agency", "year", "framework_item", "unit", "system", "practice_type"}
    agencies = {e["value"]: e["count"] for e in data["facets"]["agency"]}
    assert len(agencies) >= 3 and all(n > 0 for n in agencies.values())
    assert sum(agencies.values()) <= data["facet_pool"]  # one agency per measure, over the best matches
    name = "高雄市仁武區公所"
    narrowed = client.get("/api/search", query_string={"q": TOPIC, "agency": name}).get_json()
    assert narrowed["results"] and {r["agency"] for r in narrowed["results"]} == {name}
    # the agency facet is counted without its own filter, so the other agencies stay on offer
    facet = {e["value"]: e for e in narrowed["facets"]["agency"]}
    assert facet[name]["selected"] and len(facet) == len(agencies)


def test_filters_by_year_unit_system_framework_item_and_practice_type(client, app):
    uid = unit_id(app, "查報組")
    cases = [
        ({"year": "2016"}, lambda r: r["year"] == 2016),
        ({"unit": uid}, lambda r: uid in {u["id"] for u in r["units"]}),
        ({"system": "hotline-1999"}, lambda r: "hotline-1999" in {s["id"] for s in r["systems"]}),
        ({"framework_item": "2018-1-4"}, lambda r: r["framework_item"] == "2018-1-4"),
        ({"practice_type": "phone-courtesy"}, lambda r: "phone-courtesy" in {t["id"] for t in r["practice_types"]}),
    ]
    for extra, ok in cases:
        data = client.get("/api/search", query_string={"q": "服務", **extra}).get_json()
        assert data["results"], extra
        assert all(ok(r) for r in data["results"]), extra


def test_two_values_of_one_facet_are_alternatives(client):
    data = client.get("/api/search?q=服務&year=2016&year=2023&top_k=100").get_json()
    assert {r["year"] for r in data["results"]} == {2016, 2023}


def test_facet_links_toggle_one_value_and_keep_the_rest(client):
    body = client.get("/search", query_string={"q": TOPIC, "mode": "lexical", "year": "2016"}).get_data(as_text=True)
    assert "/search?q=" in body and "mode=lexical" in body
    assert "☑ 2016" in body  # the chosen value shows as selected, with a link that removes it
    assert "年度：2016 ✕" in body


def test_units_and_systems_in_results_are_links(client, app):
    body = client.get("/search", query_string={"q": "1999 陳情"}).get_data(as_text=True)
    assert f'href="/unit/{unit_id(app, "查報組")}"' in body
    assert 'href="/system/hotline-1999"' in body


def test_csv_download_has_the_results_in_order(client):
    data = client.get("/api/search", query_string={"q": TOPIC, "top_k": 7}).get_json()
    r = client.get("/search.csv", query_string={"q": TOPIC, "top_k": 7})
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert "attachment" in r.headers["Content-Disposition"]
    text = r.get_data(as_text=True)
    assert text.startswith("\ufeff")  # Excel reads the Chinese as UTF-8
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert [row["id"] for row in rows] == [x["id"] for x in data["results"]]
    assert rows[0]["units"] and rows[0]["url"].endswith(f"/measure/{rows[0]['id']}")


def test_an_empty_query_shows_the_form_and_no_results(client):
    body = client.get("/search").get_data(as_text=True)
    assert 'name="q"' in body and "可以這樣找" in body
    assert client.get("/api/search?q=").get_json()["results"] == []


@pytest.mark.parametrize(
    "args, word",
    [
        ({"q": "x", "mode": "fuzzy"}, "搜尋模式"),
        ({"q": "x", "top_k": "abc"}, "top_k"),
        ({"q": "x", "top_k": "0"}, "top_k"),
        ({"q": "x", "top_k": "101"}, "top_k"),
        ({"q": "x", "top_k": "-5"}, "top_k"),
        ({"q": "x", "year": "民國105"}, "年度"),
        ({"q": "x", "year": "99999"}, "年度"),
        ({"q": "長" * 300}, "太長"),
    ],
)
def test_bad_parameters_are_400_with_a_message(client, args, word):
    api = client.get("/api/search", query_string=args)
    assert api.status_code == 400 and api.is_json and word in api.get_json()["error"]
    page = client.get("/search", query_string=args)
    assert page.status_code == 400 and page.mimetype == "text/html"
    assert word in page.get_data(as_text=True) and "請求有誤" in page.get_data(as_text=True)
    assert client.get("/search.csv", query_string=args).status_code == 400


def test_a_repeated_search_is_served_from_the_cache(client, app, monkeypatch):
    from tests.webui.helpers import state

    client.get("/api/search", query_string={"q": "志工服務"})
    calls = []
    original = state(app).search.search
    monkeypatch.setattr(state(app).search, "search", lambda *a, **k: calls.append(a) or original(*a, **k))
    client.get("/api/search", query_string={"q": "志工服務"})
    assert calls == []
