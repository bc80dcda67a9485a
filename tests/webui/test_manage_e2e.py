"""End to end in Debian's Chromium: a planner enters the editor token, uploads a Word and a PDF plan, checks the
preview, confirms, finds a new measure by search without a restart, and removes the plan again."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from kg.search import build_index_into
from kg.store import build
from tests.conftest import sample
from webui import create_app

TOKEN = "e2e-editor-token-7f3a9c"
CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "files"
DOCX = CORPUS / "001_c81fb21e4d88b1cc.docx"  # 高雄市政府工務局違章建築處理大隊 111, 55 measures, 3 without units
PDF = CORPUS / "002_2938ad104dd3dd2b.pdf"  # 高雄市仁武區公所 105, 42 measures, 2 headings that read like sentences
PDF_PHRASE = "規劃書報閱覽區供洽公民眾使用"  # a measure of the PDF plan
DOCX_PHRASE = "培訓專業服務人資"  # a measure title of the Word plan


@pytest.fixture(scope="module")
def manage_url(tmp_path_factory) -> Iterator[str]:
    """A server as `kg serve --editor-token` runs it, over a data dir of another sample plan (工務局 105)."""
    from tests.webui.live import live_server

    data = tmp_path_factory.mktemp("manage-e2e") / "kg-data"
    report = build([sample("000")], data, after_graph=build_index_into)
    assert not report.errors and report.plans == 1
    with live_server(create_app({"DATA_DIR": str(data), "EDITOR_TOKEN": TOKEN})) as url:
        yield url


def search_literal(page, base: str, phrase: str) -> None:
    page.goto(f'{base}/search?q="{phrase}"&mode=literal')


def test_upload_preview_confirm_search_and_remove(browser, manage_url: str):
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-TW")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_default_timeout(30_000)
    try:
        search_literal(page, manage_url, PDF_PHRASE)
        expect(page.locator(".no-match h2")).to_be_visible()

        page.goto(manage_url + "/manage")
        page.fill("input[name=token]", TOKEN)
        page.get_by_role("button", name="確認權杖").click()
        page.set_input_files("input[type=file]", [str(DOCX), str(PDF)])
        page.get_by_role("button", name="上傳並預覽").click()

        expect(page.locator("h1")).to_have_text("上傳預覽")
        plans = page.locator(".preview-plan")
        expect(plans).to_have_count(2)
        word, pdf = plans.nth(0), plans.nth(1)
        expect(word.locator(".plan-agency")).to_have_text("高雄市政府工務局違章建築處理大隊")
        expect(word.locator(".plan-year")).to_have_text("2022（民國 111 年）")
        expect(word.locator(".preview-measures tbody tr")).to_have_count(55)
        expect(word.locator(".preview-measures")).to_contain_text(DOCX_PHRASE)
        expect(word.locator("ul.findings li")).to_have_count(3)
        expect(word.locator("ul.findings li").first).to_contain_text("沒有讀到執行單位")
        expect(pdf.locator(".plan-agency")).to_have_text("高雄市仁武區公所")
        expect(pdf.locator(".preview-measures tbody tr")).to_have_count(42)
        expect(pdf.locator("ul.findings li")).to_have_count(2)
        expect(pdf.locator("ul.findings li").first).to_contain_text("頁次 4")
        expect(pdf.locator(".preview-measures")).to_contain_text(PDF_PHRASE)
        expect(pdf).to_contain_text("新的計畫")

        page.get_by_role("button", name="確認加入").click()
        expect(page).to_have_url(re.compile(r"/manage$"))
        messages = page.locator(".manage-messages")
        expect(messages).to_contain_text(f"已加入「{DOCX.name}」：55 項措施")
        expect(messages).to_contain_text(f"已加入「{PDF.name}」：42 項措施")
        expect(messages).to_contain_text("資料目錄現有 3 份計畫")

        # the running server answers from the new build: no restart
        search_literal(page, manage_url, PDF_PHRASE)
        expect(page.locator(".result").first).to_contain_text(PDF_PHRASE)
        expect(page.locator(".result .meta").first).to_contain_text("高雄市仁武區公所")

        page.goto(manage_url + "/manage")
        row = page.locator("tr", has_text="高雄市仁武區公所")
        row.locator("summary", has_text="移除").click()
        row.get_by_role("button", name="確定移除").click()
        expect(page.locator(".manage-messages")).to_contain_text(
            "已移除「高雄市仁武區公所105年度提升服務品質執行計畫」"
        )
        expect(page.locator("tr", has_text="高雄市仁武區公所")).to_have_count(0)

        search_literal(page, manage_url, PDF_PHRASE)
        expect(page.locator(".no-match h2")).to_be_visible()
        search_literal(page, manage_url, DOCX_PHRASE)
        expect(page.locator(".result").first).to_contain_text(DOCX_PHRASE)
        assert not errors
    finally:
        context.close()
