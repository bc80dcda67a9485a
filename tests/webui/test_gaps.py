"""Gap analysis, comparison and the planners' table downloads (CSV and .xlsx), checked against the records."""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from kg.search import build_index_into
from kg.store import build, bundled_plans
from tests.kg.test_csv_safety import DANGEROUS, dangerous_plan
from tests.webui.helpers import agency_id, state
from webui import create_app
from webui.views.gaps import items_of
from webui.views.tables import TABLES

RENWU = "高雄市仁武區公所"
ADMIN = "高雄市政府行政暨國際處"
BOAI = "高雄市政府勞工局博愛職業技能訓練中心"
BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@")
MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


def csv_rows(r) -> list[list[str]]:
    text = r.get_data(as_text=True)
    assert r.mimetype == "text/csv" and text.startswith(BOM)
    return list(csv.reader(io.StringIO(text[1:])))


def xlsx_rows(data: bytes) -> list[list[object]]:
    """The first sheet's rows: by openpyxl when it is installed, else read from the sheet's XML."""
    try:
        import openpyxl
    except ImportError:
        openpyxl = None
    if openpyxl is not None:
        ws = openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]
        return [["" if v is None else v for v in row] for row in ws.iter_rows(values_only=True)]
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert z.testzip() is None
        names = set(z.namelist())
        assert {"[Content_Types].xml", "xl/workbook.xml", "xl/worksheets/sheet1.xml"} <= names
        root = ET.fromstring(z.read("xl/worksheets/sheet1.xml"))
    rows = []
    for row in root.iter(MAIN + "row"):
        values: list[object] = []
        for c in row.iter(MAIN + "c"):
            assert c.find(MAIN + "f") is None  # never a formula
            if c.get("t") == "inlineStr":
                values.append("".join(t.text or "" for t in c.iter(MAIN + "t")))
            else:
                v = c.find(MAIN + "v")
                values.append("" if v is None else float(v.text or 0))
        rows.append(values)
    return rows


def types_of_agency(app, aid: str) -> set[str]:
    st = state(app)
    membership = st.search.practices["membership"]
    return {
        t for p in st.agencies[aid]["plan_ids"] for mid in st.plans[p]["measure_ids"] for t in membership.get(mid, [])
    }


# ----- gap analysis -----


def test_the_gaps_of_an_agency_are_the_types_others_have_and_it_lacks(client, app):
    st = state(app)
    renwu = agency_id(app, RENWU)
    peers = [a for a in st.agencies.values() if a["plan_ids"] and a["id"] != renwu]
    mine = types_of_agency(app, renwu)
    want = {}
    for p in peers:
        for t in types_of_agency(app, p["id"]) - mine:
            want.setdefault(t, set()).add(p["id"])
    assert want  # the sample data has gaps for Renwu
    data = client.get("/api/gaps", query_string={"agency": RENWU}).get_json()["result"]
    got = {g["id"]: g for g in data["practice_gaps"]}
    assert set(got) == set(want)
    for t, agencies in want.items():
        assert {a["id"] for a in got[t]["agencies"]} == agencies and got[t]["agency_count"] == len(agencies)
        examples = got[t]["examples"]
        assert 1 <= len(examples) <= 3
        for e in examples:  # peers' measures of that very type
            assert e["agency_id"] != renwu and t in st.search.practices["membership"].get(e["id"], [])
        if len(agencies) >= len(examples):  # one per agency while there are other agencies to show
            assert len({e["agency_id"] for e in examples}) == len(examples)
    counts = [g["agency_count"] for g in data["practice_gaps"]]
    assert counts == sorted(counts, reverse=True)

    # one gap, as the planner sees it: the type, who has it, an example measure and its source
    t = data["practice_gaps"][0]
    body = client.get("/gaps", query_string={"agency": RENWU}).get_data(as_text=True)
    section = body[body.index(f'id="gap-practice-{t["id"]}"') :]
    section = section[: section.index("</article>")]
    assert t["label"] in section
    e = t["examples"][0]
    assert f'href="/measure/{e["id"]}"' in section and f'href="/measure/{e["id"]}#provenance"' in section


def test_framework_gaps_are_items_only_peers_are_filed_under(client, app):
    st = state(app)
    renwu = agency_id(app, RENWU)
    data = client.get("/api/gaps", query_string={"agency": RENWU}).get_json()["result"]
    version = data["framework_version"]
    assert version == "2016"  # Renwu's plan follows the 2016 framework
    mine = {
        st.measures[mid]["framework_item"] for p in st.agencies[renwu]["plan_ids"] for mid in st.plans[p]["measure_ids"]
    }
    assert data["framework_gaps"]
    own = [mid for p in st.agencies[renwu]["plan_ids"] for mid in st.plans[p]["measure_ids"]]
    assert data["measure_count"] == len(own)
    covered = {n for mid in own for n, _ in items_of(st, st.measures[mid]["framework_item"], version)}
    assert data["framework_items_covered"] == len(covered) > 0
    for g in data["framework_gaps"]:
        assert st.framework[g["id"]]["version"] == version and g["id"] not in mine
        for e in g["examples"]:
            item = st.framework[e["framework_item"]]
            assert e["agency_id"] != renwu
            assert e["framework_item"] == g["id"] or g["id"] in item["close_match"] + item["related_match"]


def test_a_plan_narrows_the_analysis_and_bad_choices_are_told(client, app):
    st = state(app)
    renwu = agency_id(app, RENWU)
    plan = st.agencies[renwu]["plan_ids"][0]
    data = client.get("/api/gaps", query_string={"plan": plan}).get_json()
    assert data["selected"] == {"agency": renwu, "plan": plan}
    assert data["result"]["measure_count"] == len(st.plans[plan]["measure_ids"])
    other = st.agencies[agency_id(app, ADMIN)]["plan_ids"][0]
    assert client.get("/gaps", query_string={"agency": RENWU, "plan": other}).status_code == 400
    r = client.get("/gaps", query_string={"agency": "不存在的機關"})
    assert r.status_code == 404 and "找不到有計畫的機關" in r.get_data(as_text=True)
    assert client.get("/gaps").status_code == 200  # the form alone
    assert client.get("/gaps.csv").status_code == 400


# ----- comparison -----


def test_compare_puts_agencies_side_by_side_per_framework_item(client, app):
    st = state(app)
    data = client.get("/api/compare", query_string={"agency": [ADMIN, BOAI]}).get_json()["result"]
    assert data["version"] == "2018" and [a["name"] for a in data["agencies"]] == [ADMIN, BOAI]
    items = [i for d in data["dimensions"] for i in d["items"]]
    assert [i["notation"] for i in items] == [
        n for n, c in st.framework.items() if c["version"] == "2018" and c["broader"]
    ]
    for i in items:
        for a, cell in zip(data["agencies"], i["cells"], strict=True):
            want = [
                m for m in st.measures.values() if m["agency"] == a["name"] and m["framework_item"] == i["notation"]
            ]
            assert {m["id"] for m in cell["measures"]} == {m["id"] for m in want}
    body = client.get("/compare", query_string={"agency": [ADMIN, BOAI]}).get_data(as_text=True)
    assert "—" in body and body.count('href="/measure/') == sum(len(c["measures"]) for i in items for c in i["cells"])
    assert client.get("/compare", query_string={"agency": [ADMIN]}).status_code == 200  # asks for one more
    five = [a["name"] for a in st.agencies.values() if a["plan_ids"]]
    assert len(five) == 5 and client.get("/compare", query_string={"agency": five}).status_code == 400


def test_compare_maps_the_other_framework_version(client, app):
    data = client.get("/api/compare", query_string={"agency": [RENWU, ADMIN], "version": "2018"}).get_json()["result"]
    renwu_cells = [i["cells"][0] for d in data["dimensions"] for i in d["items"]]
    matched = [m for c in renwu_cells for m in c["measures"]]
    assert matched and all(m["match"] in ("版本對應", "相關項目") for m in matched)


# ----- downloads -----


@pytest.mark.parametrize("name", sorted(TABLES))
def test_every_table_downloads_as_csv_and_xlsx_with_chinese_headers(client, name):
    rows = csv_rows(client.get(f"/{name}.csv"))
    assert rows[0] and all(re.search(r"[\u4e00-\u9fff]", h) for h in rows[0] if h)
    r = client.get(f"/{name}.xlsx")
    assert r.status_code == 200 and r.mimetype.endswith("spreadsheetml.sheet")
    assert f"filename={name}.xlsx" in r.headers["Content-Disposition"]
    sheet = xlsx_rows(r.data)
    assert [str(h) for h in sheet[0]] == rows[0] and len(sheet) == len(rows) > 1
    assert int(r.headers["X-Rows"]) == len(rows) - 1


def test_the_page_links_its_downloads(client):
    for page, name in [
        ("/units", "units"),
        ("/systems", "systems"),
        ("/agencies", "agencies"),
        ("/practices", "practices"),
        ("/coverage", "coverage"),
    ]:
        body = client.get(page).get_data(as_text=True)
        assert f'href="/{name}.csv"' in body and f'href="/{name}.xlsx"' in body
        assert "data-sortable" in body and "data-filterable" in body and "/static/tables.js" in body


def test_coverage_download_has_the_heatmap_counts(client):
    api = client.get("/api/coverage").get_json()
    rows = csv_rows(client.get("/coverage.csv"))
    assert rows[0] == ["實務類型", *(a["name"] for a in api["agencies"]), "機關數", "措施數"]
    assert [[int(x) for x in r[1:-2]] for r in rows[1:]] == [[c["count"] for c in t["cells"]] for t in api["types"]]


def test_gap_and_compare_downloads(client):
    gaps = client.get("/api/gaps", query_string={"agency": RENWU}).get_json()["result"]
    rows = csv_rows(client.get("/gaps.csv", query_string={"agency": RENWU}))
    assert rows[0][:3] == ["類別", "代號", "名稱"] and "範例措施" in rows[0]
    examples = sum(len(g["examples"]) or 1 for g in gaps["practice_gaps"] + gaps["framework_gaps"])
    assert len(rows) - 1 == examples
    sheet = xlsx_rows(client.get("/gaps.xlsx", query_string={"agency": RENWU}).data)
    assert sheet[0] == rows[0] and len(sheet) == len(rows)
    cmp_rows = csv_rows(client.get("/compare.csv", query_string={"agency": [ADMIN, BOAI]}))
    assert cmp_rows[0] == ["框架項目代號", "框架項目", ADMIN, BOAI]
    assert any(c == "—" for r in cmp_rows[1:] for c in r[2:])
    assert xlsx_rows(client.get("/compare.xlsx", query_string={"agency": [ADMIN, BOAI]}).data)[0] == cmp_rows[0]


@pytest.fixture(scope="module")
def dangerous_client(tmp_path_factory) -> FlaskClient:
    """Renwu's plan and a plan whose measures start with =, +, - and @: those are Renwu's peers' examples."""
    folder: Path = tmp_path_factory.mktemp("gaps-dangerous")
    renwu = next(p for p in bundled_plans() if p.name.startswith("002"))
    report = build([dangerous_plan(folder), renwu], folder / "kg-data", after_graph=build_index_into)
    assert not report.errors
    app = create_app({"DATA_DIR": str(folder / "kg-data")})
    app.config["TESTING"] = True
    return app.test_client()


def test_downloads_never_hold_a_formula(dangerous_client):
    rows = csv_rows(dangerous_client.get("/gaps.csv", query_string={"agency": RENWU}))
    cells = [c for r in rows for c in r]
    assert not any(c.startswith(FORMULA_STARTS) for c in cells)
    escaped = [c for c in cells if c.startswith("'") and c[1:].startswith(FORMULA_STARTS)]
    assert escaped and all(any(c[1:].startswith(s[:8]) for s in DANGEROUS.values()) for c in escaped)

    data = dangerous_client.get("/gaps.xlsx", query_string={"agency": RENWU}).data
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode("utf-8")
    assert "<f>" not in sheet and "<f " not in sheet
    texts = [c for r in xlsx_rows(data) for c in r if isinstance(c, str)]
    # as text cells the plan's words stay as written (a spreadsheet shows them, never runs them)
    assert sorted(c for c in texts if c.startswith(FORMULA_STARTS)) == sorted(c[1:] for c in escaped)


def test_the_xlsx_writer_keeps_text_as_text():
    from webui.xlsx import sheet_name, xlsx_bytes

    hostile = ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "a\x0cb<&>"]
    data = xlsx_bytes(["欄位", "數字"], [[h, 3] for h in hostile] + [["負數", -5.5]], title="差距分析 [a/b]")
    rows = xlsx_rows(data)
    assert rows[0] == ["欄位", "數字"]
    assert [r[0] for r in rows[1:]] == [*hostile[:4], "ab<&>", "負數"]
    assert rows[-1][1] == -5.5 and rows[1][1] == 3
    assert sheet_name("差距分析 [a/b]") == "差距分析 _a_b_" and len(sheet_name("長" * 40)) == 31


def test_the_framework_index_files_each_measure_as_its_record_says(app):
    """framework_index against a reference worked out from the measure records, for both framework versions."""
    from webui.views.gaps import framework_index, items_of

    st = state(app)
    order = {mid: k for k, mid in enumerate(sorted(st.measures, key=lambda m: (st.measures[m]["plan_id"], m)))}
    for version in sorted({c["version"] for c in st.framework.values()}):
        expected: dict[str, dict[str, list]] = {}
        for mid, m in st.measures.items():
            aid = st.plans[m["plan_id"]]["agency"]["id"]
            for n, how in items_of(st, m["framework_item"], version):
                expected.setdefault(n, {}).setdefault(aid, []).append((mid, how))
        index = framework_index(st, version)
        assert {n: row for n, row in index.items() if row} == {
            n: {a: sorted(ms, key=lambda x: order[x[0]]) for a, ms in row.items()} for n, row in expected.items()
        }
        assert sum(len(ms) for row in index.values() for ms in row.values()) > 50


def test_a_gap_names_its_first_agencies_and_counts_the_rest(client, app, monkeypatch):
    from webui.views import gaps

    data = client.get("/api/gaps", query_string={"agency": RENWU}).get_json()["result"]
    wide = next(g for g in data["practice_gaps"] + data["framework_gaps"] if g["agency_count"] >= 2)
    monkeypatch.setattr(gaps, "GAP_AGENCIES", 1)
    body = client.get("/gaps", query_string={"agency": RENWU}).get_data(as_text=True)
    article = body[body.index(f'id="gap-{wide["kind"]}-{wide["id"]}"') :]
    who = article[article.index('class="gap-who"') :].split("</p>")[0]
    first, *rest = wide["agencies"]
    assert f">{first['name']}</a>（{first['count']}）" in who
    assert all(f">{a['name']}</a>" not in who for a in rest)
    assert f"…等 {wide['agency_count']} 個機關" in who
    summary = body[body.index('class="gap-summary"') :].split("</section>")[0]
    assert f"{data['peers'][0]['name']}等）" in summary


def test_the_server_compiles_every_page_template_before_its_first_visit(data_dir):
    from webui import compile_templates

    fresh = create_app({"DATA_DIR": str(data_dir)})
    names = [n for n in fresh.jinja_env.list_templates() if n.endswith(".html")]
    assert len(names) >= 20 and not fresh.jinja_env.cache
    compile_templates(fresh)
    assert {key[1] for key in fresh.jinja_env.cache} == set(names)


def test_the_server_works_out_the_gap_analysis_indexes_before_the_first_visit(data_dir):
    from webui import prepare_pages
    from webui.state import EXTENSION

    fresh = create_app({"DATA_DIR": str(data_dir)})
    state = fresh.extensions[EXTENSION]
    versions = {c["version"] for c in state.framework.values()}
    keys = [("gaps.framework", v) for v in sorted(versions)] + [("gaps.agencies",)]
    assert len(versions) >= 2 and not any(k in state.cache._data for k in keys)
    prepare_pages(fresh)
    assert all(k in state.cache._data for k in keys)
    with fresh.test_client() as c:  # and the analysis reads what was worked out
        assert c.get("/api/gaps", query_string={"agency": next(iter(state.agencies))}).status_code == 200
