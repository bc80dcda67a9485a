"""The measure page: text, provenance with the source passage in context, owners, systems, similar practices;
and untrusted plan text always escaped."""

from __future__ import annotations

from tests.webui.helpers import measure_with_quote, measure_with_text, state

PHONE_TEST = "定期辦理「電話服務品質及禮貌測試」"


def test_measure_page_shows_text_provenance_owners_and_similar(client, app):
    mid = measure_with_text(app, PHONE_TEST)
    m = state(app).measures[mid]
    r = client.get(f"/measure/{mid}")
    assert r.status_code == 200
    body = r.get_data(as_text=True)
    assert m["text"] in body
    assert m["source"]["file"] in body and f"第 {m['source']['line_start']}" in body
    assert "視察室" in body and "2018-1-4" in body
    assert 'id="similar"' in body and "其他機關的類似作法" in body
    assert f"/plan/{m['plan_id']}" in body


def test_measure_api_has_context_lines_around_the_passage(client, app):
    mid = measure_with_text(app, PHONE_TEST)
    data = client.get(f"/api/measure/{mid}").get_json()
    start, end = data["source"]["line_start"], data["source"]["line_end"]
    current = [line for line in data["context"] if line.get("current")]
    assert [line["line"] for line in current] == list(range(start, end + 1))
    numbers = [line["line"] for line in data["context"] if "line" in line]
    assert min(numbers) < start or max(numbers) > end  # neighbours' lines are shown too
    assert numbers == sorted(numbers)
    assert data["agency"]["name"] == "高雄市政府行政暨國際處"
    assert data["units"][0]["name"] == "視察室" and data["units"][0]["agency_id"]
    assert data["framework_item"]["notation"] == "2018-1-4" and data["framework_item"]["label"]
    assert any(t["id"] == "phone-courtesy" for t in data["practice_types"])
    assert data["similar"] and all(s["agency"] != data["agency"]["name"] for s in data["similar"])
    assert data["graph_id"].endswith(f"/measure/{mid}")


def test_measure_with_systems_and_laws_links_them(client, app):
    mid = next(m["id"] for m in state(app).measures.values() if m["law_entities"] and m["system_entities"])
    body = client.get(f"/measure/{mid}").get_data(as_text=True)
    m = state(app).measures[mid]
    assert f"/law/{m['law_entities'][0]['id']}" in body
    assert f"/system/{m['system_entities'][0]['id']}" in body


def test_markup_in_a_sample_quote_is_shown_escaped(client, app):
    mid = measure_with_quote(app, "<p>策略，務實解決服務或公共問題。</p>")
    body = client.get(f"/measure/{mid}").get_data(as_text=True)
    assert "&lt;p&gt;策略，務實解決服務或公共問題。&lt;/p&gt;" in body
    assert "<p>策略" not in body


def test_hostile_measure_text_is_escaped_on_every_page(hostile_client):
    data = hostile_client.get("/api/search", query_string={"q": '"公告"'}).get_json()
    ids = [r["id"] for r in data["results"]]
    assert len(ids) == 2  # both measures say 公告
    pages = [f"/measure/{mid}" for mid in ids] + [
        "/search?q=標準作業流程+公告",
        "/search?q=%22公告%22",
        "/search?q=script",
        "/units",
        "/coverage",
        "/practices",
        "/sparql",
    ]
    plan = data["results"][0]["plan_id"]
    pages += [f"/plan/{plan}"]
    seen_escaped = False
    for path in pages:
        r = hostile_client.get(path, headers={"Accept": "text/html"})
        assert r.status_code == 200, path
        body = r.get_data(as_text=True)
        assert "<script>alert" not in body and "<img src=x" not in body, path
        seen_escaped |= "&lt;script&gt;alert" in body
    assert seen_escaped
    body = hostile_client.get(f"/measure/{ids[0]}").get_data(as_text=True) + hostile_client.get(
        f"/measure/{ids[1]}"
    ).get_data(as_text=True)
    assert "a&lt;b&amp;c" in body and "&lt;img src=x onerror=alert(1)&gt;" in body


def test_highlighting_a_hostile_text_escapes_before_marking(hostile_client):
    body = hostile_client.get("/search", query_string={"q": "script alert"}).get_data(as_text=True)
    assert "&lt;<mark>script</mark>&gt;<mark>alert</mark>" in body
    assert "<script>" not in body
