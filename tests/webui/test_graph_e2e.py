"""The graph view in Debian's Chromium against the real app: a path between two nodes, expanding without moving
what is drawn, hiding a relation, and a shared URL bringing the scene back."""

from __future__ import annotations

import time

from kg.vocab import ID
from tests.webui.helpers import MEASURE_NODE_ON_SCREEN, unit_id

HOTLINE = str(ID["system/hotline-1999"])
# Set by graph.js when a layout is done and drawn; our CSP forbids the eval wait_for_function needs, so it is polled.
SETTLED = "window.kgGraph && document.getElementById('cy').dataset.busy === '' && window.kgGraph.nodes().length > 0"
POSITIONS = "Object.fromEntries(window.kgGraph.nodes().map(n => [n.id(), [n.position('x'), n.position('y')]]))"


def wait_for_js(page, expression: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {expression}")
        page.wait_for_timeout(50)


def start_from(page, query: str) -> None:
    page.fill("#graph-q", query)
    page.click("#graph-find button[type=submit]")
    before = page.evaluate("window.kgGraph.nodes().length")
    page.locator(".found-node").first.click()
    wait_for_js(page, f"window.kgGraph.nodes().length > {before} || window.kgGraph.$(':selected').length > 0")
    wait_for_js(page, SETTLED)


def test_the_paths_between_a_unit_and_the_1999_hotline_are_highlighted(page, base_url, app):
    unit = str(ID[f"org/{unit_id(app, '查報組')}"])
    page.goto(base_url + "/graph")
    start_from(page, "查報組")
    page.locator("#graph-actions button", has_text="設為路徑起點").click()
    start_from(page, "1999專線")
    page.locator("#graph-actions button", has_text="設為路徑終點").click()
    page.click("#graph-path-run")
    wait_for_js(page, "window.kgGraph.edges('.path').length > 0")
    on_path = set(page.evaluate("window.kgGraph.nodes('.path').map(n => n.id())"))
    assert {unit, HOTLINE} <= on_path
    assert page.locator("#graph-path-list li").count() >= 1
    assert "查報組" in page.locator("#graph-path-list li").first.inner_text()
    # what is not on a path is dimmed, so the path reads at a glance
    assert page.evaluate("window.kgGraph.nodes('.faded').length > 0")
    assert not page.errors


def test_expand_keeps_positions_a_relation_filter_hides_and_the_url_restores(page, browser, base_url):
    page.goto(base_url + "/graph")
    start_from(page, "1999專線")
    before = page.evaluate(POSITIONS)
    pos = page.evaluate(MEASURE_NODE_ON_SCREEN)
    page.mouse.click(pos["x"], pos["y"])
    wait_for_js(page, f"window.kgGraph.nodes().length > {len(before)}")
    wait_for_js(page, SETTLED)
    after = page.evaluate(POSITIONS)
    moved = [i for i, (x, y) in before.items() if abs(after[i][0] - x) > 0.5 or abs(after[i][1] - y) > 0.5]
    assert not moved, moved
    # untick one relation: its links go, the others stay
    assert page.evaluate("window.kgGraph.edges('[label = \"框架項目\"]').length > 0")
    page.locator('#graph-rels input[value="框架項目"]').uncheck()
    wait_for_js(page, "window.kgGraph.edges('[label = \"框架項目\"]').every(e => !e.visible())")
    assert page.evaluate("window.kgGraph.edges('[label = \"使用系統\"]').every(e => e.visible())")
    # the URL now holds the scene; opening it elsewhere brings the same nodes back, where they were
    wait_for_js(page, "location.hash.includes('n=') && location.hash.includes('hide=')")
    shared = page.evaluate("location.href")
    shown = page.evaluate(POSITIONS)
    other = browser.new_page(viewport={"width": 1366, "height": 900})
    try:
        other.goto(shared)
        wait_for_js(other, SETTLED)
        wait_for_js(other, f"window.kgGraph.nodes().length === {len(shown)}")
        restored = other.evaluate(POSITIONS)
        assert set(restored) == set(shown)
        assert all(
            abs(restored[i][0] - round(x)) <= 1 and abs(restored[i][1] - round(y)) <= 1 for i, (x, y) in shown.items()
        )
        assert not other.locator('#graph-rels input[value="框架項目"]').is_checked()
        assert other.evaluate("window.kgGraph.edges('[label = \"框架項目\"]').every(e => !e.visible())")
    finally:
        other.close()
    assert not page.errors


def test_a_node_with_more_neighbours_than_one_expansion_shows_gives_the_rest_on_asking(
    page, base_url, app, monkeypatch
):
    monkeypatch.setitem(app.config, "GRAPH_NEIGHBOURS", 3)  # what 100 is to a hub of a national corpus
    page.goto(base_url + "/graph")
    start_from(page, "查報組")
    unit = str(ID[f"org/{unit_id(app, '查報組')}"])
    first = page.evaluate("window.kgGraph.nodes().length")
    assert first == 4  # the unit and three of its neighbours
    assert "已顯示到第 3 個" in page.locator("#graph-status").inner_text()
    more = page.locator("#graph-actions button", has_text="再顯示相鄰節點")
    assert "已顯示 3／共" in more.inner_text()
    more.click()
    wait_for_js(page, f"window.kgGraph.nodes().length > {first}")
    wait_for_js(page, SETTLED)
    assert page.evaluate("window.kgGraph.nodes().length") == first + 3
    assert page.evaluate(f"window.kgGraph.getElementById('{unit}').neighborhood('node').length") == 6
    assert not page.errors
