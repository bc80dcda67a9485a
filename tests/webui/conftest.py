"""Fixtures of the web UI tests: the sample plans built once (graph and search index), the app, its test client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from kg.search import build_index_into
from kg.store import build, bundled_plans
from webui import create_app

# A plan whose measures carry markup, as real plans do: it must come out escaped everywhere.
_ROWS = [
    ("執行要項 (內容/同本實施計畫具體措施)", "", "執行重點", "執行單位"),
    (
        "一、完備基礎服務項目，注重服務特性差異化",
        "(一)訂定機關年度提升服務執行計畫，具體規劃為民服務工作。",
        '依據實施計畫訂定本局計畫，並於網站公告 <script>alert("xss")</script> 與 a<b&c 的比較表。',
        "秘書室",
    ),
    (
        "",
        "(二)建立業務標準作業流程，維持服務措施處理一致性。",
        "<p>1. 訂定 <img src=x onerror=alert(1)> 標準作業流程並公告。</p>",
        "秘書室",
    ),
]
HOSTILE_PLAN = (
    "\n".join(
        [
            "高雄市政府測試局113年度提升服務執行計畫",
            "",
            "壹、計畫依據：高雄市政府提升服務實施計畫。",
            "",
            "貳、計畫目標",
            "",
            "- 一、便捷服務遞送。",
            "",
            "參、實施對象：本局各科室。",
            "",
            "肆、計畫內容",
            "",
            *("\t".join(row) for row in _ROWS),
        ]
    )
    + "\n"
)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> Path:
    """The five sample plans built into a data dir with the search index, once per session."""
    path = tmp_path_factory.mktemp("webui") / "kg-data"
    report = build(bundled_plans(), path, after_graph=build_index_into)
    assert not report.errors and report.plans == 5
    return path


@pytest.fixture(scope="session")
def app(data_dir: Path) -> Flask:
    app = create_app({"DATA_DIR": str(data_dir)})
    app.config["TESTING"] = True
    return app


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture(scope="session")
def hostile_client(tmp_path_factory) -> FlaskClient:
    """A client over a data dir holding only the plan with markup in its measures."""
    folder = tmp_path_factory.mktemp("hostile")
    plan = folder / "hostile.txt"
    plan.write_text(HOSTILE_PLAN, "utf-8")
    report = build([plan], folder / "kg-data", after_graph=build_index_into)
    assert not report.errors and report.measures == 2
    app = create_app({"DATA_DIR": str(folder / "kg-data")})
    app.config["TESTING"] = True
    return app.test_client()


@pytest.fixture(scope="session")
def base_url(app: Flask) -> Iterator[str]:
    from tests.webui.live import live_server

    with live_server(app) as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from tests.webui.live import chromium

    try:
        with chromium() as b:
            yield b
    except RuntimeError as exc:
        pytest.fail(str(exc))  # a missing browser is a broken test setup, not a reason to skip


@pytest.fixture()
def page(browser, base_url: str):
    """A fresh page that records console errors and uncaught exceptions (a CSP violation shows up there)."""
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-TW")
    pg = context.new_page()
    pg.errors = []  # type: ignore[attr-defined]
    pg.on("console", lambda m: pg.errors.append(m.text) if m.type == "error" else None)  # type: ignore[attr-defined]
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))  # type: ignore[attr-defined]
    pg.set_default_timeout(10_000)
    yield pg
    context.close()
