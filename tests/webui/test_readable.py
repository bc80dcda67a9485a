"""Readable everywhere: a heading for every measure, plain Chinese instead of vocabulary names and file hashes, ROC
years beside Gregorian ones, a menu that marks the current page, and pages that fit a phone (390 px, in Chromium)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from tests.webui.helpers import agency_id, plan_id, state, unit_id
from webui.counts import counts
from webui.headings import HEADING_MAX, derived_heading, measure_heading
from webui.nav import nav_url

NO_TITLE = "（無標題）"
# What a planner should never have to read: vocabulary terms, config files, the store's content-addressed names.
JARGON = re.compile(r"relatedMatch|closeMatch|skos:|\.toml|\b[0-9a-f]{3}_[0-9a-f]{16}\b|[0-9a-f]{16}\.txt")


class _Text(HTMLParser):
    """The text a reader sees: element content without tags, attributes, scripts or styles; h1 text kept apart."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.h1: list[str] = []
        self._skip = 0
        self._in_h1 = 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("script", "style")
        self._in_h1 += tag == "h1"

    def handle_endtag(self, tag):
        self._skip -= tag in ("script", "style")
        self._in_h1 -= tag == "h1"

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)
            if self._in_h1:
                self.h1.append(data)


def seen(response) -> _Text:
    assert response.status_code == 200, response.data[:300]
    parser = _Text()
    parser.feed(response.get_data(as_text=True))
    return parser


def visible(response) -> str:
    return "".join(seen(response).parts)


def planner_pages(app) -> list[str]:
    """The pages a planner reads: home, search, one of every browse page, and every plan."""
    st = state(app)
    some_measure = next(m for m in st.measures.values() if m["system_entities"])
    some_practice = next(st.practice_types[t] for t in counts(st).used_types())
    return [
        "/",
        "/search?q=電話禮貌測試",
        "/search?q=1999",
        f"/measure/{some_measure['id']}",
        f"/unit/{unit_id(app, '查報組')}",
        f"/system/{some_measure['system_entities'][0]['id']}",
        "/agencies",
        f"/agency/{agency_id(app, '高雄市仁武區公所')}",
        *(f"/plan/{p}" for p in st.plans),
        "/practices",
        f"/practice/{some_practice['id']}",
        "/coverage",
        "/framework",
        "/framework/2018-1-4",
        "/framework/2016-1-1",
        "/units",
        "/systems",
        "/downloads",
    ]


# ----- headings


@pytest.mark.parametrize(
    ("text", "heading"),
    [
        ("定期辦理優良志工表揚活動，以提升志工團隊服務士氣。", "定期辦理優良志工表揚活動"),
        ("(1)規劃申請書繕寫服務區。(2)規劃書報閱覽區供洽公民眾使用。", "規劃申請書繕寫服務區"),
        ("1. 各項問題或解決策略研析：可以透過多種的分析工具", "各項問題或解決策略研析"),
        ("國際交流專區登載聯絡電話與電子信箱。", "國際交流專區登載聯絡電話與電子信箱"),
        (
            "依據行政院「政府服務躍升方案」及本實施計畫訂定機關執行計畫，公佈於機關網站。",
            "依據行政院「政府服務躍升方案」…",
        ),
        ("結合慈善機構與環保志工協助提供弱勢家庭整理居家環境服務。", "結合慈善機構與環保志工協助提供弱勢家庭整…"),
        ("優化 1999 受理違章建築分辦案件之處理能力，強化協調", "優化 1999 受理違章建築分辦案件之處…"),
        ("如發生全國性消費事件，除掌握本市的情況外", "如發生全國性消費事件"),
        ("另，辦理檔案管理考核", "另，辦理檔案管理考核"),
        ("", "（沒有內容）"),
    ],
)
def test_a_heading_is_the_first_clause_cut_at_a_boundary(text, heading):
    assert derived_heading(text) == heading
    assert len(heading.rstrip("…")) <= HEADING_MAX


def test_the_plans_own_title_wins_and_a_derived_one_says_so():
    assert measure_heading({"title": "友善洽公環境", "text": "規劃友善節能洽公環境。"}) == ("友善洽公環境", False)
    assert measure_heading({"title": None, "text": "規劃友善節能洽公環境。"}) == ("規劃友善節能洽公環境", True)


def test_every_measure_has_a_heading_on_its_page(client, app):
    st = state(app)
    untitled = 0
    for m in st.measures.values():
        r = client.get(f"/measure/{m['id']}")
        page = seen(r)
        h1 = "".join(page.h1).strip()
        assert h1 and h1 != NO_TITLE, m["id"]
        body = r.get_data(as_text=True)
        if m["title"]:
            assert h1 == m["title"] and '<h1 class="derived"' not in body
        else:
            untitled += 1
            assert h1 == measure_heading(m).text and '<h1 class="derived"' in body
    assert untitled > 100  # the sample plans leave many measures without a title of their own


def test_derived_headings_stay_out_of_the_data(client, app):
    """Display only: the records, the page's JSON and the export keep the plan's own (missing) title."""
    m = next(m for m in state(app).measures.values() if not m["title"])
    assert client.get(f"/api/measure/{m['id']}").get_json()["title"] is None
    lines = client.get("/download/measures.jsonl").get_data(as_text=True).splitlines()
    assert any(f'"id": "{m["id"]}"' in line and '"title": null' in line for line in lines)


def test_no_page_says_it_has_no_title(client, app):
    for path in planner_pages(app):
        assert NO_TITLE not in visible(client.get(path)), path


def test_lists_of_measures_show_derived_headings_marked(client, app):
    m = next(m for m in state(app).measures.values() if not m["title"] and m["unit_entities"])
    heading = measure_heading(m).text
    for path in (f"/plan/{m['plan_id']}", f"/unit/{m['unit_entities'][0]['id']}"):
        body = client.get(path).get_data(as_text=True)
        assert f'<span class="derived" title="原文沒有標題，取自內文開頭">{heading}</span>' in body, path
    body = client.get("/search", query_string={"q": m["text"][:12], "top_k": 100}).get_data(as_text=True)
    assert f'class="derived" title="原文沒有標題，取自內文開頭">{heading}</span>' in body


# ----- plain words


def test_planner_pages_use_no_jargon(client, app):
    for path in planner_pages(app):
        found = JARGON.findall(visible(client.get(path)))
        assert not found, (path, found)


def test_framework_cross_references_are_said_in_chinese(client):
    body = visible(client.get("/framework/2018-1-4")) + visible(client.get("/framework/2016-1-1"))
    assert "相近的框架項目" in body and "另一版的對應項目" in body


def test_provenance_names_the_plan_and_links_the_original(client, app):
    m = next(m for m in state(app).measures.values() if m["source"].get("line_start"))
    plan = state(app).plans[m["plan_id"]]
    r = client.get(f"/measure/{m['id']}")
    text = visible(r)
    assert f"出自{plan['title']}" in text and m["source"]["file"] not in text
    assert 'href="/original/' in r.get_data(as_text=True)
    plan_page = client.get(f"/plan/{plan['id']}")
    assert plan["file"] not in visible(plan_page) and "下載原始檔案" in visible(plan_page)


def test_the_sparql_page_opens_in_plain_words(client):
    r = client.get("/sparql", query_string={"format": "html"})
    intro = visible(r).split("技術說明")[0]
    assert "熟悉 SPARQL 查詢語言" in intro and "Accept" not in intro and "skos:" not in intro


# ----- years


def test_years_show_the_roc_year_beside_the_gregorian(client, app):
    pid = plan_id(app, "仁武區公所105")
    assert "2016（民國105年）" in visible(client.get(f"/plan/{pid}"))
    assert "2016（民國105年）" in visible(client.get(f"/agency/{agency_id(app, '高雄市仁武區公所')}"))
    assert "2016（民國105年）年度計畫" in visible(client.get("/agencies"))
    assert "2016（民國105年） · " in visible(client.get("/framework/2016-1-1"))
    assert "2023（民國112年）" in visible(client.get("/search?q=電話禮貌測試"))
    m = next(m for m in state(app).measures.values() if m["year"] == 2018)
    assert "2018（民國107年）" in visible(client.get(f"/measure/{m['id']}"))
    assert "2016 年版" in visible(client.get("/framework")) and "民國105年" in visible(client.get("/framework"))


# ----- the menu


def nav_links(body: str) -> dict[str, str | None]:
    """The main menu's entries: label → its aria-current value (None when not current)."""
    nav = body.split('<nav aria-label="主選單">', 1)[1].split("</nav>", 1)[0]
    links = {}
    for tag, label in re.findall(r"(<a [^>]*>)([^<]+)</a>", nav):
        current = re.search(r'aria-current="(\w+)"', tag)
        links[label] = current[1] if current else None
    return links


def test_the_menu_marks_the_current_page_and_its_section(client, app):
    links = nav_links(client.get("/units").get_data(as_text=True))
    assert links["單位"] == "page" and [k for k, v in links.items() if v] == ["單位"]
    links = nav_links(client.get(f"/unit/{unit_id(app, '查報組')}").get_data(as_text=True))
    assert links["單位"] == "true"
    links = nav_links(client.get("/").get_data(as_text=True))
    assert not any(links.values()) and "搜尋" in links and "下載" in links


def test_the_menu_links_areas_only_when_they_are_installed(client, app):
    links = nav_links(client.get("/").get_data(as_text=True))
    for endpoint, label in (("gaps.gaps", "差距分析"), ("manage.index", "管理計畫")):
        assert (label in links) == (endpoint in app.view_functions)
    with app.test_request_context("/"):
        assert nav_url("no.such_page") is None
        assert nav_url("browse.units") == "/units"
        assert nav_url("browse.unit") is None  # needs an id: not a menu target


# ----- a phone, in Chromium

PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def phone(browser):
    """One page at a phone's width, shared by the checks below (one browser, one context)."""
    context = browser.new_context(viewport=PHONE, locale="zh-TW", device_scale_factor=1, is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def test_no_page_is_wider_than_a_phone(phone, base_url, app):
    wide = []
    for path in [*planner_pages(app), "/graph", "/sparql?format=html"]:
        phone.goto(base_url + path)
        width = phone.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        if width[0] > width[1]:
            wide.append((path, width))
    assert not wide


def test_on_a_phone_the_results_come_before_the_facets(phone, base_url):
    phone.goto(base_url + "/search?q=電話禮貌測試")
    first = phone.locator(".result").first.bounding_box()
    facets = phone.locator(".facets").bounding_box()
    assert first and facets and first["y"] + first["height"] <= facets["y"]
    phone.locator(".to-facets a").click()  # the link above the results takes the planner to the facets
    assert phone.evaluate("location.hash") == "#facets"


def test_the_heatmap_keeps_its_row_labels_readable_on_a_phone(phone, base_url):
    phone.goto(base_url + "/coverage")
    label = phone.locator("table.heatmap tbody th").first
    box = label.bounding_box()
    assert box and box["width"] >= 100  # a practice name reads as words, not one character a line
    wrap = phone.locator(".heatmap-wrap")
    assert wrap.evaluate("w => w.scrollWidth > w.clientWidth")  # the table scrolls inside its own box
    wrap.evaluate("w => { w.scrollLeft = 400; }")
    wrap_x = wrap.bounding_box()["x"]
    assert wrap_x <= label.bounding_box()["x"] <= box["x"]  # and its labels stay in view while it does
