"""The search page and /api/search: the true number of matches, pages, facets counted over every match, phrases,
exclusions, synonyms, ROC years, the no-match state, highlighting, relevance, similar practices (/api/similar) and
the CSV."""

from __future__ import annotations

import csv
import io
import re

import pytest

from tests.webui.helpers import measures_containing, state, unit_id

TOPIC = "電話禮貌測試"
NONSENSE = ("zzzzqqq", "太空梭")  # nothing in the plans is about these
FACET_FIELDS = {"agency", "year", "framework_item", "unit", "system", "practice_type"}


def api(client, **params) -> dict:
    r = client.get("/api/search", query_string=params)
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()


def all_ids(client, **params) -> list[str]:
    """The ids of every match, page after page, as a planner paging through would see them."""
    ids: list[str] = []
    page = 1
    while True:
        data = api(client, **params, top_k=100, page=page)
        ids += [r["id"] for r in data["results"]]
        if page >= data["pages"]:
            return ids
        page += 1


def html(client, **params) -> str:
    r = client.get("/search", query_string=params)
    assert r.status_code == 200
    return r.get_data(as_text=True)


# ----- results, totals and pages


def test_search_finds_the_topic_across_agencies_and_marks_the_terms(client):
    body = html(client, q=TOPIC)
    assert "<mark>" in body
    assert "其他機關的類似作法" in body
    assert 'href="/search.csv?q=' in body


def test_api_search_returns_the_export_fields_with_score_and_links(client):
    data = api(client, q=TOPIC, top_k=3)
    assert data["mode"] == "hybrid" and data["top_k"] == data["limit"] == 3 and len(data["results"]) == 3
    assert data["total"] > 3 and data["offset"] == 0 and data["page"] == 1
    for key in ("facets", "expansions", "required", "excluded", "calibrated"):
        assert key in data
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
    ):
        assert key in top
    assert any(t["id"] == "phone-courtesy" for t in top["practice_types"])
    everything = api(client, q=TOPIC, top_k=100)
    assert len({r["agency"] for r in everything["results"]}) >= 2
    scores = [r["score"] for r in everything["results"]]
    assert scores == sorted(scores, reverse=True)


def test_the_total_counts_every_match_and_the_pages_hold_them_all_once(client):
    first = api(client, q="服務", top_k=10)
    total = first["total"]
    assert total > 30 and len(first["results"]) == 10  # far more than one page
    assert first["pages"] == -(-total // 10)
    ids = all_ids(client, q="服務")
    assert len(ids) == len(set(ids)) == total
    third = api(client, q="服務", top_k=10, page=3)
    assert third["offset"] == 20 and third["total"] == total
    assert [r["id"] for r in third["results"]] == ids[20:30]


def test_the_page_says_how_many_match_and_which_are_shown(client):
    total = api(client, q="服務")["total"]
    body = html(client, q="服務", top_k=10, page=2)
    assert f"共 <strong>{total}</strong> 筆符合「服務」" in body
    assert "第 11–20 筆" in body
    assert body.count('class="result"') == 10
    pager = re.search(r'<nav class="pager".*?</nav>', body, re.S).group(0)
    assert "上一頁" in pager and "下一頁" in pager
    assert 'href="/search?q=%E6%9C%8D%E5%8B%99&amp;mode=hybrid&amp;top_k=10&amp;page=3"' in pager
    assert 'aria-current="page">2<' in pager
    last = -(-total // 10)
    assert f">{last}</a>" in pager  # the last page is always reachable
    one_page = html(client, q=TOPIC)
    assert 'class="pager"' not in one_page


def test_a_page_past_the_last_says_so(client):
    data = api(client, q=TOPIC, page=50)
    assert data["results"] == [] and data["total"] > 0
    body = html(client, q=TOPIC, page=50)
    assert "第 50 頁沒有結果" in body and "到最後一頁" in body


def test_a_results_similar_practices_come_from_other_agencies_when_asked(client):
    data = api(client, q=TOPIC, top_k=3)
    assert data["results"] and all("similar" not in r for r in data["results"])  # the page does not wait for them
    for r in data["results"]:
        got = client.get(f"/api/similar/{r['id']}")
        assert got.status_code == 200
        similar = got.get_json()["similar"]
        assert 1 <= len(similar) <= 3
        assert all(s["agency"] != r["agency"] for s in similar)
        assert all(s["url"] == f"/measure/{s['id']}" and s["label"].startswith(s["agency"] + " ") for s in similar)
    page = html(client, q=TOPIC, top_k=3)
    assert page.count('<details class="similar" data-src="/api/similar/') == len(data["results"])


def test_similar_practices_of_an_unknown_measure_are_a_404(client):
    got = client.get("/api/similar/m-000000000000")
    assert got.status_code == 404 and "m-000000000000" in got.get_data(as_text=True)


@pytest.mark.parametrize("mode", ["hybrid", "lexical", "dense", "literal"])
def test_every_mode_answers(client, mode):
    data = api(client, q="陳情", mode=mode)
    assert data["mode"] == mode and data["results"] and data["total"] >= len(data["results"])
    assert "selected>語意" in html(client, q="1999", mode="dense")
    assert "selected>逐字" in html(client, q="1999", mode="literal")


# ----- phrases, exclusions, literal mode and synonyms


def test_a_quoted_phrase_finds_exactly_the_measures_containing_it(client, app):
    for phrase in ("禮貌測試", "1999", "單一窗口"):
        expected = measures_containing(app, phrase)
        for quoted in (f'"{phrase}"', f"「{phrase}」"):
            data = api(client, q=quoted, top_k=100)
            assert data["required"] == [phrase]
            assert data["total"] == len(expected) and {r["id"] for r in data["results"]} == expected, quoted


def test_several_phrases_must_all_occur(client, app):
    expected = measures_containing(app, "1999") & measures_containing(app, "陳情")
    data = api(client, q='"1999" "陳情"', top_k=100)
    assert expected and data["total"] == len(expected) and {r["id"] for r in data["results"]} == expected


def test_an_exclusion_removes_every_measure_containing_the_word(client, app):
    with_word = measures_containing(app, "電話")
    base = set(all_ids(client, q="服務"))
    data = api(client, q="服務 -電話")
    assert data["excluded"] == ["電話"]
    kept = set(all_ids(client, q="服務 -電話"))
    assert base & with_word  # the exclusion has something to remove
    assert kept == base - with_word and data["total"] == len(kept)
    body = html(client, q="服務 -電話")
    assert "已排除含有 「電話」 的措施" in body


def test_literal_mode_requires_every_word_typed_and_searches_no_synonyms(client, app):
    expected = measures_containing(app, "1999") & measures_containing(app, "陳情")
    data = api(client, q="1999 陳情", mode="literal", top_k=100)
    assert data["expansions"] == []
    assert data["total"] == len(expected) and {r["id"] for r in data["results"]} == expected
    assert api(client, q="1999 陳情", mode="hybrid")["total"] > data["total"]


def test_synonyms_searched_are_named_and_one_click_turns_them_off_and_on(client):
    data = api(client, q="臉書")
    assert data["expand"] is True and data["expansions"]
    body = html(client, q="臉書")
    line = re.search(r'<p class="expansions">(.*?)</p>', body, re.S).group(1)
    assert line.startswith("也搜尋了：") and "、".join(data["expansions"][:8]) in line
    if len(data["expansions"]) > 8:
        assert f"等共 {len(data['expansions'])} 個詞" in line and data["expansions"][8] not in line.split("<span")[0]
    off = re.search(r'href="([^"]+)">只搜尋我輸入的字</a>', line).group(1).replace("&amp;", "&")
    assert "expand=0" in off
    only_typed = client.get(off.replace("/search", "/api/search", 1)).get_json()
    assert only_typed["expand"] is False and only_typed["expansions"] == []
    assert only_typed["total"] <= data["total"]
    body_off = client.get(off).get_data(as_text=True)
    assert "也搜尋了" not in body_off and "目前只搜尋您輸入的字" in body_off
    on = re.search(r'href="([^"]+)">也搜尋同義詞與相關說法</a>', body_off).group(1).replace("&amp;", "&")
    assert "expand" not in on
    assert client.get(on.replace("/search", "/api/search", 1)).get_json()["expansions"] == data["expansions"]


# ----- facets and filters


def test_facets_count_every_match_and_filters_narrow_to_those_counts(client):
    data = api(client, q=TOPIC)
    assert set(data["facets"]) == FACET_FIELDS
    agencies = {e["value"]: e["count"] for e in data["facets"]["agency"]}
    assert len(agencies) >= 3 and all(n > 0 for n in agencies.values())
    # one agency and one year (or 未載明) per measure: each facet sums to the total of all matches
    assert sum(agencies.values()) == data["total"]
    assert sum(e["count"] for e in data["facets"]["year"]) == data["total"]
    for name, count in agencies.items():
        narrowed = api(client, q=TOPIC, agency=name, top_k=100)
        assert narrowed["total"] == count == len(narrowed["results"])
        assert {r["agency"] for r in narrowed["results"]} == {name}
        # the agency facet is counted without its own filter, so the other agencies stay on offer
        facet = {e["value"]: e for e in narrowed["facets"]["agency"]}
        assert facet[name]["selected"] and {v: e["count"] for v, e in facet.items()} == agencies
        assert narrowed["facets"]["agency"][0]["value"] == name  # chosen values first


def test_every_facet_count_is_the_number_its_filter_yields(client):
    data = api(client, q="1999 陳情")
    for field in FACET_FIELDS:
        for e in data["facets"][field][:3]:
            narrowed = api(client, q="1999 陳情", **{field: e["value"]})
            assert narrowed["total"] == e["count"], (field, e)


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
        data = api(client, q="服務 陳情 電話", top_k=100, **extra)
        assert data["results"], extra
        assert all(ok(r) for r in data["results"]), extra


def test_two_values_of_one_facet_are_alternatives(client):
    data = client.get("/api/search?q=服務&year=2016&year=2023&top_k=100").get_json()
    assert {r["year"] for r in data["results"]} == {2016, 2023}


def test_facet_links_toggle_one_value_and_keep_the_rest(client):
    body = html(client, q=TOPIC, mode="lexical", year="2016", expand="0")
    assert "/search?q=" in body and "mode=lexical" in body
    assert "☑ 2016（民國105年）" in body  # the chosen value shows as selected, with a link that removes it
    assert "年度：2016（民國105年） ✕" in body
    links = re.findall(r'<section class="facet" data-facet="agency">.*?</section>', body, re.S)[0]
    assert all("year=2016" in u and "expand=0" in u for u in re.findall(r'href="([^"]+)"', links))


def test_roc_years_filter_as_their_gregorian_year(client):
    gregorian = api(client, q="服務", year="2016", top_k=100)
    assert gregorian["total"] and {r["year"] for r in gregorian["results"]} == {2016}
    for roc in ("105", "105年", "民國105年", "中華民國105年度", "１０５"):
        data = api(client, q="服務", year=roc, top_k=100)
        assert data["filters"]["year"] == [2016], roc
        assert [r["id"] for r in data["results"]] == [r["id"] for r in gregorian["results"]], roc
    body = html(client, q="服務", year="民國105年")
    assert "年度：2016（民國105年） ✕" in body


def test_year_facet_labels_show_both_calendars(client):
    years = {e["value"]: e["label"] for e in api(client, q="服務")["facets"]["year"]}
    assert years["2016"] == "2016（民國105年）" and years["2023"] == "2023（民國112年）"


def test_units_and_systems_in_results_are_links(client, app):
    body = html(client, q="1999 陳情")
    assert f'href="/unit/{unit_id(app, "查報組")}"' in body
    assert 'href="/system/hotline-1999"' in body


# ----- nothing matches


@pytest.mark.parametrize("query", NONSENSE)
def test_a_query_nothing_matches_says_so_and_shows_no_results(client, query):
    data = api(client, q=query)
    assert data["total"] == 0 and data["results"] == []
    assert all(not entries for entries in data["facets"].values())
    body = html(client, q=query)
    assert f"找不到符合「{query}」的措施" in body
    assert 'class="result"' not in body and 'class="result-list"' not in body
    assert "搜尋範例" in body and 'href="/search?q=%E9%9B%BB%E8%A9%B1%E7%A6%AE%E8%B2%8C%E6%B8%AC%E8%A9%A6"' in body


def test_no_match_suggests_removing_filters_another_mode_and_checking_quotes(client):
    body = html(client, q='"太空梭" -電話', mode="lexical", year="2016")
    assert "找不到符合" in body
    remove = re.search(r'href="([^"]+)">移除所有篩選條件再搜尋</a>', body).group(1)
    assert "year=" not in remove
    dense = re.search(r'href="([^"]+)">改用「語意」模式', body).group(1)
    assert "mode=dense" in dense and "year=2016" in dense
    assert "請檢查引號與減號" in body and "改搜「太空梭」" in body
    plain = html(client, q="太空梭")
    assert "移除所有篩選條件" not in plain and "改用「語意」模式" not in plain and "請檢查引號" not in plain


def test_a_query_of_exclusions_alone_asks_for_more_words(client):
    data = api(client, q="-電話")
    assert data["total"] == 0 and data["results"] == []
    assert "只有要排除的詞" in html(client, q="-電話")


# ----- what results show


def test_results_mark_exactly_the_terms_the_search_names(client):
    for query in (TOPIC, "臉書", "1999 陳情"):
        data = api(client, q=query)
        terms = sorted({"".join(t.lower().split()) for t in data["highlight"]}, key=len, reverse=True)
        covers = re.compile("(?:" + "|".join(map(re.escape, terms)) + ")+")
        body = html(client, q=query)
        marks = re.findall(r"<mark>(.*?)</mark>", body, re.S)
        assert marks, query
        for mark in marks:
            assert covers.fullmatch("".join(mark.lower().split())), (query, mark)
        # the synonyms searched are marked too, wherever a result says them
        shown = [t for t in data["expansions"] if any(t in (r["title"] or "") + r["text"] for r in data["results"])]
        assert shown or query != "臉書"
        for term in shown:
            assert any(term.lower() in m.lower() for m in marks), (query, term)


def test_relevance_is_a_percentage_when_calibrated(client):
    data = api(client, q=TOPIC)
    assert data["calibrated"] is True
    body = html(client, q=TOPIC)
    shown = re.findall(r'<span class="score"[^>]*>([^<]*)</span>', body)
    assert len(shown) == len(data["results"]) and all(re.fullmatch(r"相關度 (\d{1,2}%|<1%)", s) for s in shown)
    assert not re.search(r"\b0\.\d{3}\b", body)  # no raw score


def test_the_search_page_explains_the_query_syntax(client):
    body = html(client)
    assert '<code>"禮貌測試"</code>' in body and "引號內的片語必須一字不差地出現" in body
    assert "<code>臉書 -粉絲專頁</code>" in body and "排除含有這個詞的措施" in body
    assert "多組引號，每一組都必須出現" in body
    assert "逐字" in body


# ----- the CSV


def _csv_rows(response) -> list[dict]:
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")  # Excel reads the Chinese as UTF-8
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


def test_csv_download_has_every_match_in_order(client):
    ids = all_ids(client, q="服務")
    r = client.get("/search.csv", query_string={"q": "服務", "top_k": 10, "page": 2})
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert "attachment" in r.headers["Content-Disposition"]
    rows = _csv_rows(r)
    assert [row["id"] for row in rows] == ids and len(rows) > 100  # all matches, not the page
    assert r.headers["X-Total-Matches"] == r.headers["X-Rows"] == str(len(ids))
    assert rows[0]["rank"] == "1" and rows[0]["units"] and rows[0]["url"].endswith(f"/measure/{rows[0]['id']}")
    assert f"下載全部 {len(ids)} 筆（CSV）" in html(client, q="服務")


def test_csv_download_is_capped_and_the_page_says_so(client, monkeypatch):
    from webui.views import search

    monkeypatch.setattr(search, "CSV_MAX_ROWS", 5)
    total = api(client, q="服務")["total"]
    r = client.get("/search.csv", query_string={"q": "服務"})
    assert len(_csv_rows(r)) == 5
    assert r.headers["X-Total-Matches"] == str(total) and r.headers["X-Rows"] == "5"
    assert "下載前 5 筆（CSV；每次最多下載 5 筆）" in html(client, q="服務")


# ----- the form and bad requests


def test_an_empty_query_shows_the_form_and_no_results(client):
    body = html(client)
    assert 'name="q"' in body and "可以這樣找" in body
    data = api(client, q="")
    assert data["results"] == [] and data["total"] == 0


@pytest.mark.parametrize(
    "args, word",
    [
        ({"q": "x", "mode": "fuzzy"}, "搜尋模式"),
        ({"q": "x", "top_k": "abc"}, "top_k"),
        ({"q": "x", "top_k": "0"}, "top_k"),
        ({"q": "x", "top_k": "101"}, "top_k"),
        ({"q": "x", "top_k": "-5"}, "top_k"),
        ({"q": "x", "page": "0"}, "page"),
        ({"q": "x", "page": "2.5"}, "page"),
        ({"q": "x", "expand": "yes"}, "expand"),
        ({"q": "x", "year": "民國300年"}, "年度"),
        ({"q": "x", "year": "1911"}, "年度"),
        ({"q": "x", "year": "99999"}, "年度"),
        ({"q": "x", "year": "去年"}, "年度"),
        ({"q": "長" * 300}, "太長"),
    ],
)
def test_bad_parameters_are_400_with_a_message(client, args, word):
    api_answer = client.get("/api/search", query_string=args)
    assert api_answer.status_code == 400 and api_answer.is_json and word in api_answer.get_json()["error"]
    page = client.get("/search", query_string=args)
    assert page.status_code == 400 and page.mimetype == "text/html"
    assert word in page.get_data(as_text=True) and "請求有誤" in page.get_data(as_text=True)
    assert client.get("/search.csv", query_string=args).status_code == 400


def test_one_request_runs_one_query_and_a_repeated_search_is_served_from_the_cache(client, app, monkeypatch):
    calls = []
    original = state(app).search.query
    monkeypatch.setattr(state(app).search, "query", lambda *a, **k: calls.append(a) or original(*a, **k))
    client.get("/api/search", query_string={"q": "志工服務", "year": "2016"})
    assert len(calls) == 1  # the facets come with the results, not from a query per facet
    client.get("/api/search", query_string={"q": "志工服務", "year": "2016"})
    client.get("/search", query_string={"q": "志工服務", "year": "105"})
    assert len(calls) == 1


def test_the_unit_facet_names_each_unit_with_its_agency(client, app):
    data = client.get("/api/search", query_string={"q": "服務"}).get_json()
    entries = data["facets"]["unit"]
    listed = {u["id"]: u for u in state(app).units.rows()}  # the units list, asked of the store another way
    assert len(entries) > 5
    for e in entries:
        u = listed[e["value"]]
        assert e["label"] == f"{u['name']}（{u['agency']}）"


def test_a_facet_lists_the_values_with_most_matches_and_says_how_many_it_leaves_out(client, monkeypatch):
    every = api(client, q="服務")["facets"]["unit"]  # the sample plans' units are fewer than FACET_VALUES_MAX
    assert len(every) > 8
    monkeypatch.setattr("webui.views.search.FACET_VALUES_MAX", 5)
    data = api(client, q="服務")
    shown = data["facets"]["unit"]
    assert len(shown) == 5 and data["facets_omitted"]["unit"] == len(every) - 5
    assert sorted(e["count"] for e in shown) == sorted(e["count"] for e in every)[-5:]  # the most matches
    assert "agency" not in data["facets_omitted"] or len(data["facets"]["agency"]) == 5
    chosen = every[-1]["value"]  # one of the fewest matches: listed once chosen, first
    narrowed = api(client, q="服務", unit=chosen)["facets"]["unit"]
    assert narrowed[0]["value"] == chosen and narrowed[0]["selected"]
    assert f"另有 {len(every) - 5} 項符合筆數較少，未列出" in html(client, q="服務")


def test_the_server_loads_the_search_model_before_its_first_query(data_dir):
    """kg serve loads the encoder's lazily loaded model (USE's, about a second) before it listens."""
    from index.encoders import DEFAULT_ENCODER, get_encoder
    from webui import create_app, load_encoder
    from webui.state import EXTENSION

    fresh = create_app({"DATA_DIR": str(data_dir)})
    search = fresh.extensions[EXTENSION].search
    search.index.encoder = get_encoder(DEFAULT_ENCODER)  # a model of its own, not the process's shared one
    use = search.index.encoder._parts[1][0]
    assert not use._loaded
    load_encoder(fresh)
    assert use._loaded
