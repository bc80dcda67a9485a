"""Adding, replacing and removing plans from the browser (/manage): the token, CSRF, the preview, the real build."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from kg.cli import parser
from kg.datadir import DataDir
from kg.read import MAX_BYTES
from kg.search import build_index_into
from kg.store import build
from tests.conftest import sample
from webui import create_app
from webui.views.manage import safe_name

TOKEN = "correct-horse-battery-staple-41"
CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "files"
DOCX_001 = CORPUS / "001_c81fb21e4d88b1cc.docx"  # 違建大隊 111: not in the data dir below; three measures lack units
DOCX_002 = CORPUS / "002_2938ad104dd3dd2b.docx"  # 仁武區公所 105: the same plan as the sample 002 in the data dir


def small_plan(title: str, first: str, second: str) -> bytes:
    """A plan of the city's template with two measures under one dimension, as a text file (the layout of a text
    dump, the second measure numbered in markup as web pages copied into text have it)."""
    header = "執行要項 (內容/同本實施計畫具體措施)\t\t執行重點\t執行單位"
    lines = [
        title,
        "",
        "壹、計畫依據：高雄市政府提升服務實施計畫。",
        "",
        "貳、計畫目標",
        "",
        "- 一、便捷服務遞送。",
        "",
    ]
    lines += ["參、實施對象：本處各科室。", "", "肆、計畫內容", "", header]
    lines += [
        "一、完備基礎服務項目，注重服務特性差異化\t(一)訂定機關年度提升服務執行計畫，具體規劃為民服務工作。\t"
        + first
        + "\t服務科",
        "\t(二)建立業務標準作業流程，維持服務措施處理一致性。\t<p>1. " + second + "</p>\t服務科",
    ]
    return ("\n".join(lines) + "\n").encode()


# 高雄市政府測試局 113, in the data dir
TEST_PLAN = small_plan(
    "高雄市政府測試局113年度提升服務執行計畫",
    "依據實施計畫訂定本局計畫，並於網站公告週知。",
    "以無人機巡查河川揚塵並即時通報。",
)
# 高雄市政府範例處 113, not in the data dir; its text has markup, as real plans have
NEW_PLAN = small_plan(
    "高雄市政府範例處113年度提升服務執行計畫",
    '設置行動櫃檯到府收件，並以簡訊回報辦理進度，見 <script>alert("xss")</script> 與 a<b&c 的比較表。',
    "訂定標準作業流程並公告。",
)
NEW_PHRASE = "設置行動櫃檯到府收件"
TEST_PHRASE = "以無人機巡查河川揚塵"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """Two plans (仁武區公所 105, the sample; 測試局 113) with their search index, built once; tests write into
    copies."""
    path = tmp_path_factory.mktemp("manage") / "kg-data"
    test_plan = path.parent / "測試局113.txt"
    test_plan.write_bytes(TEST_PLAN)
    report = build([sample("002"), test_plan], path, after_graph=build_index_into)
    assert not report.errors and report.plans == 2
    return path


@pytest.fixture()
def data_dir(built: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "kg-data"
    shutil.copytree(built, copy, symlinks=True)
    return copy


def make_app(data_dir: Path, token: str | None = TOKEN) -> Flask:
    # CURRENT is looked at only every hour: what a write shows on the next page, it shows because the write itself
    # switched the server to its build
    app = create_app({"DATA_DIR": str(data_dir), "EDITOR_TOKEN": token, "RELOAD_INTERVAL": 3600})
    app.config["TESTING"] = True
    return app


@pytest.fixture()
def editor(data_dir: Path) -> FlaskClient:
    """A browser that has entered the editor token on /manage."""
    client = make_app(data_dir).test_client()
    page = client.get("/manage")
    assert page.status_code == 200 and 'name="token"' in page.text
    done = client.post("/manage/login", data={"csrf": csrf_of(page.text), "token": TOKEN})
    assert done.status_code == 303
    return client


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def csrf(client: FlaskClient) -> str:
    return csrf_of(client.get("/manage").text)


def upload(client: FlaskClient, *files: tuple[bytes, str], token: str | None = None, **extra):
    data = {"files": [(io.BytesIO(b), name) for b, name in files], **extra}
    if token is None and "csrf" not in extra:
        data["csrf"] = csrf(client)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post("/manage/upload", data=data, content_type="multipart/form-data", headers=headers)


def confirm(client: FlaskClient, preview_html: str, token: str | None = None):
    batch = re.search(r'name="batch" value="([^"]+)"', preview_html).group(1)
    names = re.findall(r'name="file" value="([^"]+)"', preview_html)
    data = {"batch": batch, "file": names, "action": "confirm"}
    if token is None:
        data["csrf"] = csrf_of(preview_html)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post("/manage/confirm", data=data, headers=headers)


def snapshot(path: Path) -> dict[str, int]:
    """Every file in the data dir with its size (what a preview must leave as it was)."""
    return {str(p.relative_to(path)): p.stat().st_size for p in sorted(path.rglob("*")) if p.is_file()}


def literal_hits(client: FlaskClient, phrase: str) -> list[dict]:
    found = client.get("/api/search", query_string={"q": f'"{phrase}"', "mode": "literal", "top_k": 50})
    assert found.status_code == 200
    return found.json["results"]


def plans(client: FlaskClient) -> dict[str, dict]:
    return {p["agency"]: p for p in client.get("/api/").json["plans"]}


# ----- who may write


def test_without_a_token_the_ui_is_read_only_and_says_how_to_enable(data_dir: Path):
    client = make_app(data_dir, token=None).test_client()
    page = client.get("/manage")
    assert page.status_code == 200
    assert "唯讀模式" in page.text and "--editor-token" in page.text and "KG_EDITOR_TOKEN" in page.text
    assert 'type="file"' not in page.text and "確定移除" not in page.text
    assert "仁武區公所" in page.text  # the plans are listed all the same
    before = snapshot(data_dir)
    for path in ("/manage/login", "/manage/upload", "/manage/confirm", "/manage/remove", "/manage/logout"):
        answer = client.post(path, data={"token": TOKEN, "plan_id": "x"})
        assert answer.status_code == 403, path
        assert "唯讀" in answer.text
    assert upload(client, (NEW_PLAN, "範例處113.txt"), token=TOKEN).status_code == 403
    assert snapshot(data_dir) == before


def test_a_wrong_token_is_refused(data_dir: Path):
    client = make_app(data_dir).test_client()
    page = client.get("/manage")
    wrong = client.post("/manage/login", data={"csrf": csrf_of(page.text), "token": TOKEN + "x"})
    assert wrong.status_code == 403 and "權杖不正確" in wrong.text
    assert 'type="file"' not in client.get("/manage").text  # still not signed in
    assert upload(client, (NEW_PLAN, "範例處113.txt")).status_code == 403
    assert upload(client, (NEW_PLAN, "範例處113.txt"), token="not-it").status_code == 403
    pid = next(iter(plans(client).values()))["id"]
    assert client.post("/manage/remove", data={"csrf": csrf(client), "plan_id": pid}).status_code == 403
    assert len(plans(client)) == 2


def test_posts_without_the_sessions_csrf_token_are_refused(editor: FlaskClient, data_dir: Path):
    pid = plans(editor)["高雄市政府測試局"]["id"]
    before = snapshot(data_dir)
    for data in ({"plan_id": pid}, {"plan_id": pid, "csrf": "forged"}):
        answer = editor.post("/manage/remove", data=data)
        assert answer.status_code == 403 and "CSRF" in answer.text
    assert upload(editor, (NEW_PLAN, "範例處113.txt"), csrf="forged").status_code == 403
    # a form posted by another site's page is refused before the view runs (guard_requests)
    other = editor.post(
        "/manage/remove", data={"plan_id": pid, "csrf": csrf(editor)}, headers={"Origin": "https://evil.example"}
    )
    assert other.status_code == 403
    assert snapshot(data_dir) == before
    # and a fresh browser cannot sign in without the form's token either
    fresh = make_app(data_dir).test_client()
    assert fresh.post("/manage/login", data={"token": TOKEN}).status_code == 403
    assert fresh.post("/manage/login", data={"token": TOKEN, "csrf": ""}).status_code == 403


def test_signing_out_ends_the_editor_session(editor: FlaskClient):
    assert 'type="file"' in editor.get("/manage").text
    assert editor.post("/manage/logout", data={"csrf": csrf(editor)}).status_code == 303
    page = editor.get("/manage").text
    assert 'type="file"' not in page and 'name="token"' in page


def test_kg_serve_takes_an_editor_token():
    args = parser().parse_args(["serve", "--editor-token", "abc"])
    assert args.editor_token == "abc"
    assert parser().parse_args(["serve"]).editor_token is None  # then KG_EDITOR_TOKEN, else read-only


# ----- preview, confirm, replace, remove


def test_the_preview_shows_the_plan_its_measures_and_warnings_and_writes_nothing(editor: FlaskClient, data_dir: Path):
    before = snapshot(data_dir)
    generation = DataDir(data_dir).generation()
    preview = upload(editor, (DOCX_001.read_bytes(), DOCX_001.name))
    assert preview.status_code == 200
    html = preview.text
    assert "高雄市政府工務局違章建築處理大隊111年度提升服務工作計畫" in html
    assert '<dd class="plan-agency">高雄市政府工務局違章建築處理大隊</dd>' in html
    assert "2022（民國 111 年）" in html
    assert "措施（55 項）" in html and "新的計畫" in html
    # the measures table: dimension, item, title, text, units
    assert "一、完備基礎服務項目，注重服務特性差異化" in html
    assert "<strong>培訓專業服務人資</strong>" in html and '<td class="units">查報組</td>' in html
    assert "教育訓練人員專業能力內涵" in html
    # the parser's findings, in Chinese with their place
    assert "讀取提醒（3）" in html and html.count("沒有讀到執行單位") == 3 and "第 1 個表格第 8 列第 3 欄" in html
    assert 'name="batch"' in html and "確認加入" in html
    assert snapshot(data_dir) == before and DataDir(data_dir).generation() == generation
    assert not literal_hits(editor, "教育訓練人員專業能力內涵")


def test_plan_text_is_escaped_in_the_preview(editor: FlaskClient):
    html = upload(editor, (NEW_PLAN, "範例處113.txt")).text
    assert "&lt;script&gt;alert(" in html and "a&lt;b&amp;c" in html
    assert "<script>alert" not in html


def test_confirm_builds_the_plan_and_search_finds_it_at_once(editor: FlaskClient, data_dir: Path):
    assert not literal_hits(editor, NEW_PHRASE)
    preview = upload(editor, (NEW_PLAN, "範例處113.txt")).text
    generation = DataDir(data_dir).generation()
    done = confirm(editor, preview)
    assert done.status_code == 303 and done.headers["Location"].endswith("/manage")
    assert DataDir(data_dir).generation() != generation
    page = editor.get("/manage").text  # the page the confirmation leads to already shows the new build
    assert "已加入「範例處113.txt」：2 項措施" in page and "資料目錄現有 3 份計畫" in page
    assert "高雄市政府範例處" in plans(editor)
    hits = literal_hits(editor, NEW_PHRASE)
    assert [h["source"]["file"] for h in hits] == ["範例處113.txt"]
    # the original is kept as `kg build` keeps it, and the batch is gone: confirming again does nothing
    originals = {p.name for p in DataDir(data_dir).originals_dir.iterdir()}
    assert any(name.endswith("-範例處113.txt") for name in originals)
    again = confirm(editor, preview)
    assert again.status_code == 303 and "已經加入、已取消或已過期" in editor.get("/manage").text


def test_a_plan_of_the_same_agency_and_year_replaces_the_old_one(editor: FlaskClient):
    old = plans(editor)["高雄市仁武區公所"]
    preview = upload(editor, (DOCX_002.read_bytes(), "仁武區公所105.docx")).text
    assert "將<strong>取代</strong>現有的" in preview and old["title"] in preview
    assert confirm(editor, preview).status_code == 303
    now = plans(editor)
    assert len(now) == 2 and now["高雄市仁武區公所"]["id"] == old["id"]
    record = editor.get(f"/api/plan/{old['id']}").json
    assert record["file"] == "仁武區公所105.docx" and record["format"] == "docx"


def test_remove_takes_the_plan_out_of_the_graph_and_the_search(editor: FlaskClient, data_dir: Path):
    pid = plans(editor)["高雄市政府測試局"]["id"]
    assert literal_hits(editor, TEST_PHRASE)
    done = editor.post("/manage/remove", data={"csrf": csrf(editor), "plan_id": pid})
    assert done.status_code == 303
    page = editor.get("/manage").text
    assert "已移除「高雄市政府測試局113年度提升服務執行計畫」" in page and "資料目錄現有 1 份計畫" in page
    assert set(plans(editor)) == {"高雄市仁武區公所"}
    assert not literal_hits(editor, TEST_PHRASE)
    assert editor.get(f"/plan/{pid}").status_code == 404
    gone = editor.post("/manage/remove", data={"csrf": csrf(editor), "plan_id": pid})
    assert gone.status_code == 303 and "找不到要移除的計畫" in editor.get("/manage").text


def test_a_program_may_write_with_the_token_in_a_header(data_dir: Path):
    client = make_app(data_dir).test_client()
    preview = upload(client, (NEW_PLAN, "範例處113.txt"), token=TOKEN)
    assert preview.status_code == 200 and "措施（2 項）" in preview.text
    assert confirm(client, preview.text, token=TOKEN).status_code == 303
    assert "高雄市政府範例處" in plans(client)


def test_a_failing_build_publishes_nothing(editor: FlaskClient, data_dir: Path):
    preview = upload(editor, (NEW_PLAN, "範例處113.txt")).text
    (data_dir / "practices.toml").write_text("this is [[ not TOML", "utf-8")  # the index step will refuse it
    before = DataDir(data_dir).generation()
    assert confirm(editor, preview).status_code == 303
    assert "加入失敗，資料維持原狀" in editor.get("/manage").text
    assert DataDir(data_dir).generation() == before and len(plans(editor)) == 2


# ----- bad files


def test_bad_files_are_named_with_a_chinese_message_and_nothing_is_kept(editor: FlaskClient, data_dir: Path):
    before = snapshot(data_dir)
    not_a_plan = "會議紀錄\n\n今天討論了午餐。\n".encode()
    zip_file = b"PK\x03\x04" + b"\x00" * 200
    answer = upload(
        editor,
        (b"", "empty.txt"),
        (b"\x00\x01\x02\xff" * 64, "binary.txt"),
        (b"%PDF-1.7\n garbage", "broken.pdf"),
        (zip_file, "archive.docx"),
        (not_a_plan, "會議紀錄.txt"),
        (b"x" * (MAX_BYTES + 1), "huge.pdf"),
    )
    assert answer.status_code == 200
    html = answer.text
    assert "Traceback" not in html
    for name, why in (
        ("empty.txt", "檔案是空的"),
        ("binary.txt", "二進位檔案"),
        ("broken.pdf", "PDF"),
        ("archive.docx", "壓縮檔"),
        ("會議紀錄.txt", "不像是提升服務計畫"),
        ("huge.pdf", "20 MB"),
    ):
        assert re.search(f"「{re.escape(name)}」：[^<]*{why}", html), name
    assert "沒有可以加入的計畫" in html and 'name="batch"' not in html
    assert snapshot(data_dir) == before


def test_a_good_file_beside_bad_ones_is_still_offered(editor: FlaskClient):
    html = upload(editor, (b"", "empty.txt"), (NEW_PLAN, "範例處113.txt")).text
    assert "「empty.txt」：檔案是空的" in html
    assert re.findall(r'name="file" value="([^"]+)"', html) == ["範例處113.txt"]


def test_uploaded_file_names_are_made_safe():
    taken: set[str] = set()
    assert safe_name("../../etc/passwd", taken) == "passwd"
    assert safe_name("C:\\plans\\工務局105.pdf", taken) == "工務局105.pdf"
    assert safe_name("工務局105.pdf", taken) == "工務局105-2.pdf"
    assert safe_name(".hidden.txt", taken) == "hidden.txt"
    assert safe_name("a\x00b\nc<>.txt", taken) == "abc.txt"
    assert safe_name("", taken) == "plan"
    assert len(safe_name("長" * 500 + ".docx", taken)) <= 120


def test_the_editor_session_cookie_stays_on_this_site(data_dir: Path):
    client = make_app(data_dir).test_client()
    cookie = client.get("/manage").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Set-Cookie" not in make_app(data_dir, token=None).test_client().get("/manage").headers
