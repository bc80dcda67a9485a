"""End to end in Debian's Chromium against the real app served by waitress: the planners' paths through the UI."""

from __future__ import annotations

import re

from playwright.sync_api import expect

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
    pos = page.evaluate("""() => {
        const n = window.kgGraph.nodes('[type = "measure"]')[0];
        const p = n.renderedPosition(); const box = document.getElementById('cy').getBoundingClientRect();
        return {x: box.left + p.x, y: box.top + p.y};
    }""")
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
