"""End to end in Debian's Chromium against the real app served by waitress: the planners' paths through the UI."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.webui.helpers import MEASURE_NODE_ON_SCREEN, measures_containing

# Our Content-Security-Policy forbids eval, which Playwright's wait_for_function relies on; page.evaluate goes
# through the DevTools protocol instead, so conditions on the graph are polled from here.


def wait_for_js(page, expression: str, timeout: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {expression}")
        page.wait_for_timeout(50)


def test_search_a_topic_open_a_result_and_see_other_agencies(page, base_url):
    page.goto(base_url + "/")
    page.fill("input[name=q]", "電話禮貌測試")
    page.press("input[name=q]", "Enter")
    expect(page.locator(".result").first).to_be_visible()
    expect(page.locator(".result mark").first).to_be_visible()
    first = page.locator(".result h2 a").first
    agency = page.locator(".result").first.locator(".meta a").first.inner_text()
    first.click()
    expect(page).to_have_url(re.compile(r"/measure/m-"))
    expect(page.locator("#provenance pre.source .line.current").first).to_be_visible()
    similar = page.locator("#similar li.measure")
    expect(similar.first).to_be_visible()
    others = similar.locator(".meta a").all_inner_texts()
    assert others and agency not in others
    similar.first.locator("a.mtitle").click()
    expect(page).to_have_url(re.compile(r"/measure/m-"))
    assert not page.errors


def test_facets_filter_the_results_in_the_browser(page, base_url):
    page.goto(base_url + "/search?q=電話禮貌測試")
    page.locator('.facet[data-facet="agency"] li a').first.click()
    expect(page.locator(".chip")).to_have_count(1)
    agencies = {t for t in page.locator(".result .meta > a:first-child").all_inner_texts()}
    assert len(agencies) == 1
    page.locator(".result details.similar summary").first.click()
    expect(page.locator(".result details.similar li").first).to_be_visible()


def search_from_the_form(page, base_url: str, query: str, per_page: str | None = None) -> None:
    page.goto(base_url + "/search")
    page.fill("input[name=q]", query)
    if per_page:
        page.select_option("select[name=top_k]", per_page)
    page.get_by_role("button", name="搜尋", exact=True).click()
    expect(page.locator("main h2, main .result-bar").first).to_be_visible()


def shown_total(page) -> int:
    return int(page.locator(".result-bar .total strong").inner_text())


def result_texts(page) -> list[str]:
    """Title and text of each result on the page, without spaces and line breaks."""
    return [
        "".join(t.split())
        for t in page.locator(".result").evaluate_all(
            "rs => rs.map(r => r.querySelector('h2').innerText + r.querySelector('.text').innerText)"
        )
    ]


def test_a_search_nothing_matches_says_so_and_lists_nothing(page, base_url):
    search_from_the_form(page, base_url, "太空梭")
    expect(page.locator(".no-match h2")).to_have_text("找不到符合「太空梭」的措施")
    expect(page.locator(".result")).to_have_count(0)
    expect(page.locator(".facet")).to_have_count(0)
    expect(page.locator(".no-match .examples a").first).to_be_visible()
    assert not page.errors


def test_a_quoted_phrase_lists_exactly_the_measures_containing_it(page, base_url, app):
    phrase = "禮貌測試"
    expected = measures_containing(app, phrase)
    search_from_the_form(page, base_url, f'"{phrase}"')
    expect(page.locator(".result")).to_have_count(len(expected))
    assert shown_total(page) == len(expected)
    texts = result_texts(page)
    assert texts and all(phrase in t for t in texts)
    ids = {i.removeprefix("r-") for i in page.locator(".result").evaluate_all("rs => rs.map(r => r.id)")}
    assert ids == expected
    assert not page.errors


def test_an_excluded_word_is_in_no_result_on_any_page(page, base_url):
    search_from_the_form(page, base_url, "服務 -電話", per_page="100")
    total = shown_total(page)
    assert total > 100  # more than one page: every page is looked at
    seen = 0
    while True:
        texts = result_texts(page)
        assert texts and not [t for t in texts if "電話" in t]
        seen += len(texts)
        following = page.locator(".pager a.next")
        if not following.count():
            break
        following.click()
        expect(page.locator(".pager .current")).to_have_text(str(seen // 100 + 1))
    assert seen == total
    assert not page.errors


def test_clicking_a_facet_value_yields_the_number_it_showed(page, base_url):
    search_from_the_form(page, base_url, "陳情")
    for facet in ("agency", "year"):
        entry = page.locator(f'.facet[data-facet="{facet}"] li').first
        count = int(entry.locator(".n").inner_text())
        entry.locator("a").click()
        expect(page.locator(".chip")).to_have_count(1)
        assert shown_total(page) == count
        assert page.locator(".result").count() == min(count, 20)
        page.locator(".chip").click()  # remove the filter again
        expect(page.locator(".chip")).to_have_count(0)
    assert not page.errors


def test_unit_page_lists_its_measures_and_the_1999_system_page(page, base_url):
    page.goto(base_url + "/units")
    page.get_by_role("link", name="查報組", exact=True).click()
    expect(page.locator("h1")).to_have_text("查報組")
    assert page.locator("li.measure").count() == 25
    page.get_by_role("link", name="1999專線").first.click()
    expect(page.locator("h1")).to_have_text("1999專線")
    expect(page.get_by_text("高雄市政府工務局違章建築處理大隊").first).to_be_visible()
    assert page.locator("li.measure").count() == 3
    assert not page.errors


def test_graph_find_expand_filter_and_open(page, base_url):
    page.goto(base_url + "/graph")
    page.fill("#graph-q", "1999專線")
    page.click("#graph-find button[type=submit]")
    page.locator(".found-node").first.click()
    wait_for_js(page, "window.kgGraph && window.kgGraph.nodes().length === 4")
    # click a measure node (on the canvas) to expand it: its plan, units and framework item join the graph
    before = page.evaluate("window.kgGraph.nodes().length")
    pos = page.evaluate(MEASURE_NODE_ON_SCREEN)
    page.mouse.click(pos["x"], pos["y"])
    wait_for_js(page, f"window.kgGraph.nodes().length > {before}")
    kinds = set(page.evaluate("window.kgGraph.nodes().map(n => n.data('type'))"))
    assert {"system", "measure", "plan"} <= kinds
    assert "新增" in page.locator("#graph-status").inner_text()
    # filter a type away and back
    visible = "window.kgGraph.nodes().filter(n => n.visible()).length"
    shown = page.evaluate(visible)
    page.locator('#graph-types input[value="measure"]').uncheck()
    # Cytoscape restyles on its next frame, so the effect is awaited rather than read at once.
    wait_for_js(page, "window.kgGraph.nodes('[type = \"measure\"]').every(n => !n.visible())")
    assert page.evaluate(visible) < shown
    assert page.evaluate("window.kgGraph.nodes('[type = \"plan\"]').every(n => n.visible())")
    page.locator('#graph-types input[value="measure"]').check()
    wait_for_js(page, f"{visible} === {shown}")
    # open the selected node's page with the button
    page.click("#graph-open")
    expect(page).to_have_url(re.compile(r"/measure/m-"))
    assert not page.errors


def test_graph_view_opens_on_a_page_s_node_and_double_click_opens_its_page(page, base_url):
    page.goto(base_url + "/system/hotline-1999")
    page.get_by_role("link", name="在關係圖中檢視").click()
    wait_for_js(page, "window.kgGraph && window.kgGraph.nodes().length === 4")
    pos = page.evaluate("""() => {
        const n = window.kgGraph.nodes('[type = "system"]')[0];
        const p = n.renderedPosition(); const box = document.getElementById('cy').getBoundingClientRect();
        return {x: box.left + p.x, y: box.top + p.y};
    }""")
    page.mouse.dblclick(pos["x"], pos["y"])
    expect(page).to_have_url(re.compile(r"/system/hotline-1999$"))


def test_run_a_sparql_example_from_the_query_page(page, base_url):
    page.goto(base_url + "/sparql")
    page.locator(".example").first.get_by_role("link", name="執行此範例").click()
    rows = page.locator(".results-table tbody tr")
    expect(rows.first).to_be_visible()
    assert rows.count() >= 2
    expect(page.locator(".results-table")).to_contain_text("查報組")
    # load another example into the editor and run it with the form
    page.locator(".example").nth(2).get_by_role("button", name="載入到編輯區").click()
    expect(page.locator("#query")).to_have_value(re.compile("政府服務躍升方案"))
    page.get_by_role("button", name="執行", exact=True).click()
    expect(page.locator(".results-table")).to_contain_text("111年度提升服務工作計畫")
    assert not page.errors


def test_coverage_heatmap_reads_at_a_glance(page, base_url):
    page.goto(base_url + "/coverage")
    dark = page.locator("td.heat-4, td.heat-5").first
    light = page.locator("td.heat-1").first
    bg_dark = dark.evaluate("e => getComputedStyle(e).backgroundColor")
    bg_light = light.evaluate("e => getComputedStyle(e).backgroundColor")
    assert bg_dark != bg_light
    assert dark.evaluate("e => getComputedStyle(e).color") == "rgb(255, 255, 255)"
