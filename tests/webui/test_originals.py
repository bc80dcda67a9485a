"""Plans from other formats in the web UI: a Word plan made with python-docx, the same plan as PDF (LibreOffice) and
a bundled text plan, built with kg.store.build. Findings, the original files and where measures were printed."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from pathlib import Path
from urllib.parse import quote

import docx
import pytest
from flask import Flask
from flask.testing import FlaskClient

from kg import recordfiles
from kg.read.doc import find_libreoffice
from kg.search import build_index_into
from kg.store import DataDir, build
from tests.conftest import sample
from webui import create_app
from webui.provenance import finding_text, parse_place, place_label
from webui.state import EXTENSION, KGState

PDF_TITLE = "高雄市政府測試局113年度提升服務品質執行計畫"
UNDATED_TITLE = "高雄市政府測試處提升服務品質執行計畫"
DIMENSION = "一、完備基礎服務項目，注重服務特性差異化"
# Numbered 1, 2, 4 (a gap the reader reports), the last without a unit (reported as well).
MEASURES = [
    ("1.訂定本局年度提升服務品質執行計畫，並於網站公告。", "秘書室"),
    ("2.定期辦理電話服務品質及禮貌測試，並檢討改進。", "秘書室、資訊室"),
    ("4.建立業務標準作業流程，並公告於本局網站。", ""),
]
DEADLINE = "113年12月31日"
BENEFIT = "民眾申辦更便利"


def _front(d: docx.Document, title: str) -> None:
    d.add_paragraph(title)
    d.add_paragraph("壹、依據：高雄市政府提升服務品質實施計畫。")
    d.add_paragraph("貳、計畫目標：一、便捷服務遞送。二、提升民眾滿意度。")
    d.add_paragraph("參、實施對象：本局各科室。")
    d.add_paragraph("肆、計畫內容")


def _table(d: docx.Document, header: list[str], rows: list[list[str]]) -> None:
    """The measures table, the dimension cell merged down over all measure rows."""
    t = d.add_table(rows=len(rows) + 1, cols=len(header))
    t.style = "Table Grid"
    for c, text in enumerate(header):
        t.cell(0, c).text = text
    for r, row in enumerate(rows, start=1):
        for c, text in enumerate(row[1:], start=1):
            t.cell(r, c).text = text
    merged = t.cell(1, 0).merge(t.cell(len(rows), 0))
    merged.text = rows[0][0]


def dated_plan(path: Path) -> Path:
    d = docx.Document()
    _front(d, PDF_TITLE)
    _table(d, ["執行要項", "執行重點", "執行單位"], [[DIMENSION, text, units] for text, units in MEASURES])
    d.save(path)
    return path


def undated_plan(path: Path) -> Path:
    """A plan whose title states no year, with 完成期限 and 預期效益 columns, and nothing odd in it."""
    d = docx.Document()
    _front(d, UNDATED_TITLE)
    _table(
        d,
        ["執行要項", "執行重點", "完成期限", "預期效益", "執行單位"],
        [
            [DIMENSION, "1.設置單一服務窗口，提供民眾一站式服務。", DEADLINE, BENEFIT, "服務科"],
            [DIMENSION, "2.提供線上申辦服務，減少民眾往返。", DEADLINE, BENEFIT, "資訊科"],
        ],
    )
    d.save(path)
    return path


def to_pdf(src: Path, outdir: Path) -> Path:
    soffice = find_libreoffice()
    if soffice is None:
        pytest.fail("LibreOffice (soffice) is needed to make the PDF plan: apt-get install libreoffice-writer-nogui")
    subprocess.run(
        [
            soffice,
            "--headless",
            "--norestore",
            "--nolockcheck",
            f"-env:UserInstallation={(outdir / 'lo-profile').as_uri()}",
            "--convert-to",
            "pdf",
            "--outdir",
            str(outdir),
            str(src),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    out = outdir / f"{src.stem}.pdf"
    assert out.is_file(), "LibreOffice made no PDF"
    return out


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("formats")
    word = dated_plan(folder / "測試局113年度計畫.docx")
    return {
        "pdf": to_pdf(word, folder),
        "docx": undated_plan(folder / "測試處計畫.docx"),
        "text": sample("001"),
    }


@pytest.fixture(scope="module")
def formats_dir(files, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("formats-data") / "kg-data"
    report = build(list(files.values()), path, after_graph=build_index_into)
    assert not report.errors and report.plans == 3
    assert {i.format for i in report.ingested} == {"pdf", "docx", "text"}
    return path


@pytest.fixture(scope="module")
def formats_app(formats_dir) -> Flask:
    app = create_app({"DATA_DIR": str(formats_dir)})
    app.config["TESTING"] = True
    return app


@pytest.fixture()
def c(formats_app) -> FlaskClient:
    return formats_app.test_client()


def _state(app: Flask) -> KGState:
    return app.extensions[EXTENSION]


def _plan(app: Flask, fmt: str) -> dict:
    return next(p for p in _state(app).plans.values() if p["format"] == fmt)


def _href(plan: dict) -> str:
    return "/original/" + quote(plan["original"])


def _html(response) -> str:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


# ----- the plan page -----


def test_plan_page_lists_findings_format_and_the_original(c, formats_app):
    plan = _plan(formats_app, "pdf")
    assert plan["title"] == PDF_TITLE and plan["findings"]
    body = _html(c.get(f"/plan/{plan['id']}"))
    assert 'id="findings"' in body and "讀取提醒" in body and "對照原始檔案" in body
    assert "措施編號從 2 跳到 4" in body and "沒有讀到執行單位" in body  # the findings, in Chinese
    assert "頁次 1" in body  # their places
    assert "PDF" in body and "下載原始檔案" in body
    assert f'href="{_href(plan)}"' in body
    assert "光學辨識" not in body  # a PDF with a text layer is not OCR
    data = c.get(f"/api/plan/{plan['id']}").get_json()
    assert data["format"] == "pdf" and data["format_label"] == "PDF" and data["ocr"] is False
    assert [f["what"] for f in data["findings"]] == [f["what"] for f in plan["findings"]]
    gap = next(f for f in data["findings"] if "jumps" in f["what"])
    assert gap["measure_id"] and gap["original"].endswith("#page=1")  # the measure it is about, and its page
    assert _state(formats_app).measures[gap["measure_id"]]["number"] == 4


def test_plan_without_findings_says_none(c, formats_app):
    plan = _plan(formats_app, "docx")
    assert plan["findings"] == []
    body = _html(c.get(f"/plan/{plan['id']}"))
    assert "讀取提醒" in body and '<p class="empty">無。</p>' in body
    assert "Word" in body and f'href="{_href(plan)}"' in body


def test_text_plan_page_shows_its_findings_by_line(c, formats_app):
    plan = _plan(formats_app, "text")
    body = _html(c.get(f"/plan/{plan['id']}"))
    assert "純文字" in body
    for f in plan["findings"]:
        line = f["where"].rsplit(":", 1)[1]
        assert f"第 {line} 行" in body


def test_ocr_plan_shows_the_notice(formats_dir, tmp_path):
    """A plan read by OCR (here the PDF plan's record marked so) tells the planner to check the original."""
    copy = tmp_path / "kg-data"
    shutil.copytree(formats_dir, copy)
    folder = DataDir(copy).records_dir
    for rec in recordfiles.read_all(folder):
        if rec["format"] == "pdf":
            rec["ocr"] = True
            recordfiles.write(folder, rec["id"], rec)
            pid, mid = rec["id"], rec["measures"][0]["id"]
    client = create_app({"DATA_DIR": str(copy)}).test_client()
    notice = "本計畫文字由光學辨識（OCR）取得，請與原檔核對"
    assert notice in _html(client.get(f"/plan/{pid}"))
    assert notice in _html(client.get(f"/measure/{mid}"))


# ----- the original files -----


def test_pdf_original_opens_inline_byte_identical_and_locked_down(c, formats_app, files):
    plan = _plan(formats_app, "pdf")
    r = c.get(_href(plan))
    assert r.status_code == 200
    assert r.data == files["pdf"].read_bytes()
    assert r.mimetype == "application/pdf"
    assert r.headers["Content-Disposition"].startswith("inline")
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "sandbox" in csp


@pytest.mark.parametrize(
    "fmt, mimetype",
    [
        ("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        ("text", "text/plain"),
    ],
)
def test_other_originals_are_attachments(c, formats_app, files, fmt, mimetype):
    plan = _plan(formats_app, fmt)
    r = c.get(_href(plan))
    assert r.status_code == 200 and r.data == files[fmt].read_bytes()
    assert r.mimetype == mimetype
    disposition = r.headers["Content-Disposition"]
    assert disposition.startswith("attachment") and quote(plan["file"]) in disposition  # the agency's own file name
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'none'" in r.headers["Content-Security-Policy"]
    if fmt == "text":
        assert r.headers["Content-Type"] == "text/plain; charset=utf-8"


def test_html_original_is_never_served_inline(formats_dir, tmp_path):
    """An agency's web page, kept as the original of a plan, downloads instead of running on this site."""
    page = tmp_path / "plan.html"
    rows = "".join(
        f"<tr><td>{DIMENSION}</td><td>{text}</td><td>{units or '秘書室'}</td></tr>" for text, units in MEASURES
    )
    page.write_text(
        "<!doctype html><html><head><meta charset='utf-8'><script>alert(document.cookie)</script></head><body>"
        "<p>高雄市政府網頁局113年度提升服務品質執行計畫</p><p>壹、依據：高雄市政府提升服務品質實施計畫。</p>"
        "<p>貳、計畫目標：一、便捷服務遞送。</p><p>參、實施對象：本局各科室。</p><p>肆、計畫內容</p>"
        f"<table><tr><th>執行要項</th><th>執行重點</th><th>執行單位</th></tr>{rows}</table></body></html>",
        "utf-8",
    )
    data_dir = tmp_path / "kg-data"
    shutil.copytree(formats_dir, data_dir)
    report = build([page], data_dir, after_graph=build_index_into)
    assert not report.errors, report.errors
    app = create_app({"DATA_DIR": str(data_dir)})
    plan = next(p for p in app.extensions[EXTENSION].plans.values() if p["format"] == "html")
    r = app.test_client().get(f"/original/{plan['original']}")
    assert r.status_code == 200 and r.data == page.read_bytes()
    assert r.mimetype == "text/html"
    assert r.headers["Content-Disposition"].startswith("attachment")
    assert "default-src 'none'" in r.headers["Content-Security-Policy"]
    assert "sandbox" in r.headers["Content-Security-Policy"]
    assert r.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    "path",
    [
        "/original/nope.pdf",
        "/original/../records/x.json",
        "/original/%2e%2e/records/x.json",
        "/original/%2e%2e%2frecords%2fx.json",
        "/original/..",
        "/original/%2e%2e",
        "/original/records",
        "/original/",
        "/original/..%5crecords%5cx.json",
    ],
)
def test_unknown_or_path_like_names_are_404(c, path):
    r = c.get(path)
    assert r.status_code == 404
    assert r.mimetype == "text/html" and "找不到資料" in r.get_data(as_text=True)


def test_files_of_the_data_dir_that_are_not_originals_are_404(c, formats_dir):
    files = recordfiles.files(DataDir(formats_dir).records_dir).values()
    assert files
    for p in files:
        assert c.get(f"/original/{p.name}").status_code == 404


def test_a_record_naming_a_path_is_not_served(formats_dir, tmp_path):
    """Records are data too: an original that names anything but a plain file in originals/ is never opened."""
    copy = tmp_path / "kg-data"
    shutil.copytree(formats_dir, copy)
    folder = DataDir(copy).records_dir
    rec = next(r for r in recordfiles.read_all(folder) if r["format"] == "pdf")
    rec_path = recordfiles.path(folder, rec["id"])
    rec["original"] = f"../records/{rec_path.name}"
    recordfiles.write(folder, rec["id"], rec)
    client = create_app({"DATA_DIR": str(copy)}).test_client()
    assert client.get(f"/original/..%2Frecords%2F{rec_path.name}").status_code == 404
    body = _html(client.get(f"/plan/{rec['id']}"))
    assert "/original/" not in body and "沒有保存" in body


def test_a_missing_or_changed_original_is_not_served(formats_dir, tmp_path):
    copy = tmp_path / "kg-data"
    shutil.copytree(formats_dir, copy)
    app = create_app({"DATA_DIR": str(copy)})
    client = app.test_client()
    pdf, word = _plan(app, "pdf"), _plan(app, "docx")
    (DataDir(copy).originals_dir / pdf["original"]).write_bytes(b"%PDF-1.4 another file under the same name")
    (DataDir(copy).originals_dir / word["original"]).unlink()
    assert client.get(_href(pdf)).status_code == 404  # its content no longer matches the hash in its name
    assert client.get(_href(word)).status_code == 404
    body = _html(client.get(f"/plan/{word['id']}"))
    assert "下載原始檔案" not in body and "沒有保存" in body


# ----- where a measure was printed -----


def test_pdf_measure_shows_page_quote_and_links_to_the_page(c, formats_app):
    plan = _plan(formats_app, "pdf")
    mid = plan["measure_ids"][0]
    m = _state(formats_app).measures[mid]
    assert m["source"]["line_start"] is None and m["source"]["page"] == 1
    body = _html(c.get(f"/measure/{mid}"))
    assert "頁次 1" in body and "第 1 個表格" in body
    assert m["quote"] and m["quote"] in body
    assert f'href="{_href(plan)}#page=1"' in body
    assert "開啟原始檔案第 1 頁" in body
    data = c.get(f"/api/measure/{mid}").get_json()
    assert data["context"] == [] and data["source"]["line_start"] is None
    assert data["source"]["place"].startswith("頁次 1")
    assert data["source"]["original"].endswith("#page=1")
    for iri in (data["graph_id"], _state(formats_app).graph.iri_for("plan", plan["id"])):
        assert c.get("/api/graph/node", query_string={"id": iri}).status_code == 200
        assert c.get("/graph", query_string={"id": iri}).status_code == 200


def test_docx_measure_shows_deadline_benefit_and_the_download(c, formats_app):
    plan = _plan(formats_app, "docx")
    mid = plan["measure_ids"][0]
    m = _state(formats_app).measures[mid]
    assert m["deadline"] == DEADLINE and m["benefit"] == BENEFIT
    body = _html(c.get(f"/measure/{mid}"))
    assert "完成期限" in body and DEADLINE in body and "預期效益" in body and BENEFIT in body
    assert "第 1 個表格" in body and m["quote"] in body
    assert f'href="{_href(plan)}"' in body and "下載原始檔案" in body
    assert "年度未載明" in body


def test_text_measure_keeps_its_line_context(c, formats_app):
    plan = _plan(formats_app, "text")
    mid = plan["measure_ids"][1]
    m = _state(formats_app).measures[mid]
    data = c.get(f"/api/measure/{mid}").get_json()
    assert [x["line"] for x in data["context"] if x.get("current")] == list(
        range(m["source"]["line_start"], m["source"]["line_end"] + 1)
    )
    body = _html(c.get(f"/measure/{mid}"))
    assert f"第 {m['source']['line_start']}" in body and 'class="line current"' in body
    assert f'href="{_href(plan)}"' in body


# ----- a plan without a year, and measures without line numbers, everywhere -----


def test_plan_without_year_renders_everywhere(c, formats_app):
    plan = _plan(formats_app, "docx")
    assert plan["year"] is None and plan["year_roc"] is None and plan["title"] == UNDATED_TITLE
    body = _html(c.get(f"/plan/{plan['id']}"))
    assert "<dt>年度</dt><dd>未載明</dd>" in body
    assert "計畫（年度未載明）" in _html(c.get("/agencies"))
    assert "年度未載明" in _html(c.get(f"/agency/{plan['agency']['id']}"))
    assert UNDATED_TITLE in _html(c.get("/"))
    for path in ("/coverage", "/units", "/systems", "/practices", "/framework", "/downloads"):
        _html(c.get(path))
    for m in _state(formats_app).plan_measures(plan["id"]):
        if m["framework_item"]:
            assert "年度未載明" in _html(c.get(f"/framework/{m['framework_item']}"))
        for u in m["unit_entities"]:
            _html(c.get(f"/unit/{u['id']}"))
    for pr in plan["basis"]:
        assert "年度未載明" in _html(c.get(f"/programme/{pr['id']}"))


def test_search_facets_and_filters_plans_without_year(c, formats_app):
    undated = {m for m in _plan(formats_app, "docx")["measure_ids"]}
    data = c.get("/api/search", query_string={"q": "服務", "top_k": 50}).get_json()
    years = {e["value"]: e for e in data["facets"]["year"]}
    assert years["none"]["label"] == "未載明" and years["none"]["count"] == len(undated)
    body = _html(c.get("/search", query_string={"q": "服務"}))
    assert "未載明" in body and "year=none" in body and "年度未載明" in body
    only = c.get("/api/search", query_string={"q": "服務", "year": "none"}).get_json()
    assert only["results"] and {r["id"] for r in only["results"]} <= undated
    both = c.get("/api/search", query_string={"q": "服務", "year": ["none", "2024"], "top_k": 50}).get_json()
    assert {r["year"] for r in both["results"]} == {None, 2024}
    chip = _html(c.get("/search", query_string={"q": "服務", "year": "none"}))
    assert "年度：未載明" in chip


def test_search_results_and_csv_cope_without_line_numbers(c, formats_app):
    pdf = set(_plan(formats_app, "pdf")["measure_ids"])
    data = c.get("/api/search", query_string={"q": "電話禮貌測試", "top_k": 50}).get_json()
    hit = next(r for r in data["results"] if r["id"] in pdf)
    assert hit["source"]["line_start"] is None
    r = c.get("/search.csv", query_string={"q": "電話禮貌測試", "top_k": 50})
    assert r.status_code == 200
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True).lstrip("\ufeff"))))
    row = next(x for x in rows if x["id"] in pdf)
    assert row["line_start"] == "" and row["line_end"] == "" and row["place"].startswith("頁次 1")
    text = next(x for x in rows if x["id"] not in pdf and x["line_start"])
    assert text["place"] == "第 " + text["line_start"] + (
        " 行" if text["line_start"] == text["line_end"] else f"–{text['line_end']} 行"
    )
    lines = c.get("/download/measures.csv").get_data(as_text=True)
    assert lines.startswith("\ufeff編號,計畫,機關")
    assert len(c.get("/download/measures.jsonl").get_data(as_text=True).splitlines()) == len(
        _state(formats_app).measures
    )


# ----- the words -----


def test_places_and_findings_in_plain_chinese():
    assert parse_place("a.pdf, p.3, table 0, row 5, col 2", "a.pdf") == {"page": 3, "table": 0, "row": 5, "col": 2}
    assert (
        place_label(parse_place("a.pdf, p.3, table 0, row 5, col 2", "a.pdf"), "pdf")
        == "頁次 3，第 1 個表格第 6 列第 3 欄"
    )
    assert place_label(parse_place("a.txt:465", "a.txt"), "text") == "第 465 行"
    assert place_label(parse_place("a.docx, line 7", "a.docx"), "docx") == "第 7 段"
    assert parse_place("a.pdf, page three", "a.pdf") == {} and parse_place("other.pdf:3", "a.pdf") == {}
    assert finding_text("numbering jumps from 2 to 4") == "措施編號從 2 跳到 4，中間可能漏讀了措施"
    assert finding_text("something new") == "something new"
