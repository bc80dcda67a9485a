"""One definition of every count: the heatmap, the practice pages, the agency pages, the home page and the JSON API
agree on every practice type × agency, counting a measure for every practice type it has."""

from __future__ import annotations

import re
from collections import Counter
from urllib.parse import unquote

import pytest

from tests.webui.helpers import agency_id, state
from webui.counts import COVERAGE_NOTE

RENWU = "高雄市仁武區公所"
BOAI = "高雄市政府勞工局博愛職業技能訓練中心"


def expected_cells(app) -> Counter:
    """(type id, agency id) -> measures of the agency having the type, worked out from the records and the
    practice membership, not from webui.counts."""
    st = state(app)
    membership = st.search.practices["membership"]
    out: Counter = Counter()
    for m in st.measures.values():
        aid = st.plans[m["plan_id"]]["agency"]["id"]
        for t in set(membership.get(m["id"], [])):
            if t in st.practice_types:
                out[(t, aid)] += 1
    return out


def planning_agencies(app) -> dict[str, str]:
    return {a["id"]: a["name"] for a in state(app).agencies.values() if a["plan_ids"]}


def heatmap_cells(client) -> dict[tuple[str, str], int]:
    body = client.get("/coverage").get_data(as_text=True)
    cells = re.findall(r'<td class="heat heat-\d" data-type="([^"]+)" data-agency="([^"]+)" data-sort="(\d+)"', body)
    return {(t, a): int(n) for t, a, n in cells}


@pytest.fixture(scope="module")
def oracle(app) -> Counter:
    return expected_cells(app)


def test_heatmap_practice_pages_and_api_agree_on_every_count(client, app, oracle):
    agencies = planning_agencies(app)
    html = heatmap_cells(client)
    api = client.get("/api/coverage").get_json()
    assert [a["id"] for a in api["agencies"]] == sorted(agencies, key=agencies.get)
    api_cells = {(t["id"], c["agency_id"]): c["count"] for t in api["types"] for c in t["cells"]}
    types = [t["id"] for t in api["types"]]
    assert set(types) == {t for t, _ in oracle}  # every type some measure has is a row, and only those
    listing = {t["id"]: t for t in client.get("/api/practices").get_json()["types"]}
    checked = 0
    for t in types:
        page = client.get(f"/api/practice/{t}").get_json()
        groups = {g["id"]: g for g in page["agencies"]}
        body = client.get(f"/practice/{t}").get_data(as_text=True)
        shown = dict(re.findall(r'data-agency="([^"]+)" data-count="(\d+)"', body))
        for aid, name in agencies.items():
            want = oracle[(t, aid)]
            assert html[(t, aid)] == api_cells[(t, aid)] == want, (t, name)
            assert int(shown.get(aid, 0)) == want, (t, name)
            assert (len(groups[aid]["measures"]) if aid in groups else 0) == want, (t, name)
            assert (name in page["missing_agencies"]) == (want == 0), (t, name)
            one = client.get(f"/api/practice/{t}", query_string={"agency": name}).get_json()
            assert one["measure_count"] == want, (t, name)
            checked += 1
        assert page["measure_count"] == listing[t]["measures"] == sum(oracle[(t, a)] for a in agencies)
        assert listing[t]["agencies"] == sum(1 for a in agencies if oracle[(t, a)])
    assert checked == len(types) * len(agencies) > 100


def test_the_agency_pages_count_as_the_heatmap(client, app, oracle):
    for aid in planning_agencies(app):
        data = client.get(f"/api/agency/{aid}").get_json()
        assert {e["id"]: e["count"] for e in data["practice_types"]} == {
            t: n for (t, a), n in oracle.items() if a == aid
        }


def test_renwu_complaints_is_counted_as_the_membership_says(client, app, oracle):
    """陳情與民意信箱 × 仁武區公所: the heatmap cell, the practice page and its agency filter say the same number,
    which is that of Renwu's measures having the type among any of their types."""
    aid = agency_id(app, RENWU)
    want = oracle[("complaints", aid)]
    assert heatmap_cells(client)[("complaints", aid)] == want
    page = client.get("/api/practice/complaints").get_json()
    listed = {g["name"]: len(g["measures"]) for g in page["agencies"]}
    assert listed.get(RENWU, 0) == want
    assert (RENWU in page["missing_agencies"]) == (want == 0)
    filtered = client.get("/practice/complaints", query_string={"agency": RENWU}).get_data(as_text=True)
    assert f'id="practice-count">{want}<' in filtered


def test_a_measure_counts_for_every_type_it_has(client, app, oracle):
    """博愛職訓中心 has measures of 陳情與民意信箱 only as a second or third type: the primary-type count said 0."""
    st = state(app)
    aid = agency_id(app, BOAI)
    membership = st.search.practices["membership"]
    ids = [mid for mid in st.agencies[aid]["plan_ids"] for mid in st.plans[mid]["measure_ids"]]
    having = [mid for mid in ids if "complaints" in membership.get(mid, [])]
    primary = [mid for mid in having if membership[mid][0] == "complaints"]
    assert len(having) > len(primary)  # the case this test is about
    assert heatmap_cells(client)[("complaints", aid)] == len(having) == oracle[("complaints", aid)]
    body = client.get("/practice/complaints", query_string={"agency": BOAI}).get_data(as_text=True)
    for mid in having:
        assert f"/measure/{mid}" in body
    # over all cells, each measure counts once per type it has: more than once per measure
    assert sum(oracle.values()) == sum(len(set(v)) for v in membership.values()) > len(membership)


def test_the_heatmap_says_what_a_cell_counts_and_links_to_its_measures(client, app, oracle):
    body = client.get("/coverage").get_data(as_text=True)
    assert COVERAGE_NOTE == "該機關具有此實務類型的措施數，一筆措施可屬多個類型" and COVERAGE_NOTE in body
    assert client.get("/api/coverage").get_json()["note"] == COVERAGE_NOTE
    links = re.findall(r'href="/practice/([^"?]+)\?agency=([^"]+)">(\d+)</a>', body)
    assert len(links) == sum(1 for n in oracle.values() if n)
    for t, agency, n in links:  # each cell opens the practice page narrowed to its agency, listing those measures
        page = client.get(f"/api/practice/{t}?agency={unquote(agency)}").get_json()
        assert page["agency_filter"]["name"] == unquote(agency) and page["measure_count"] == int(n)


def test_counts_of_agencies_agree_everywhere(client, app):
    totals = client.get("/api/counts").get_json()
    agencies = planning_agencies(app)
    assert totals["agencies"] == len(agencies) == client.get("/api/").get_json()["counts"]["agencies"]
    assert totals["agencies"] == len(client.get("/api/coverage").get_json()["agencies"])
    assert (
        totals["agency_nodes"] == state(app).graph.counts()["agency"] == totals["agencies"] + totals["parent_agencies"]
    )
    listing = client.get("/api/agencies").get_json()
    assert sum(1 for a in listing["agencies"] if a["plans"]) == totals["agencies"]
    assert listing["totals"] == totals
    body = client.get("/agencies").get_data(as_text=True)
    assert f"{totals['agencies']} 個機關有自己的計畫" in body
    assert f"涵蓋 {totals['agencies']} 個機關" in client.get("/").get_data(as_text=True)
    assert totals["practice_types"] == len(client.get("/api/practices").get_json()["types"])


def test_an_unknown_agency_filter_is_404_in_chinese(client):
    r = client.get("/practice/complaints", query_string={"agency": "不存在的機關"})
    assert r.status_code == 404 and "找不到有計畫的機關「不存在的機關」" in r.get_data(as_text=True)
