"""End to end in Debian's Chromium: a planner opens the gap analysis, picks an agency, sees a gap with an example
measure of another agency and follows it to the measure's page and source; the tables sort and filter."""

from __future__ import annotations

import re

from playwright.sync_api import expect

RENWU = "高雄市仁武區公所"


def test_pick_an_agency_see_a_gap_and_open_an_example(page, base_url):
    page.goto(base_url + "/gaps")
    page.select_option("#gap-agency", label=RENWU)
    expect(page.locator("#gap-plan option[data-agency]:not([hidden])")).to_have_count(1)  # only Renwu's plans
    page.get_by_role("button", name="分析").click()
    expect(page).to_have_url(re.compile(r"/gaps\?agency="))
    gap = page.locator("#practice-gaps article.gap").first
    expect(gap).to_be_visible()
    expect(gap.locator(".gap-who")).to_contain_text("個其他機關有此項")
    example = gap.locator(".gap-example a.mtitle").first
    agency = gap.locator(".gap-example .meta a").first.inner_text()
    assert agency != RENWU
    example.click()
    expect(page).to_have_url(re.compile(r"/measure/m-"))
    expect(page.locator("#provenance pre.source .line.current").first).to_be_visible()

    page.goto(base_url + "/units")
    rows = page.locator("table.list tbody tr")
    total = rows.count()
    page.get_by_role("button", name="措施數").click()  # ascending by the number of measures
    counts = [int(t) for t in page.locator("table.list tbody tr td:nth-child(3)").all_inner_texts()]
    assert counts == sorted(counts) and len(counts) == total
    page.fill(".table-filter input", "秘書")
    expect(page.locator("table.list tbody tr:not([hidden])").first).to_contain_text("秘書")
    assert 0 < page.locator("table.list tbody tr:not([hidden])").count() < total
    assert not page.errors
