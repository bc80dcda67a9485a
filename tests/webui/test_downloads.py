"""Downloads: the graph in Turtle and JSON-LD, the measures, the ontology, the practice types."""

from __future__ import annotations

import csv
import io
import json

import pytest
from flask.testing import FlaskClient
from rdflib import Graph

from kg.export import export_csv
from kg.records import CSV_FIELDS, CSV_HEADERS_ZH
from kg.search import build_index_into
from kg.store import build
from tests.kg.test_csv_safety import DANGEROUS, dangerous_plan
from webui import create_app

BOM = "\ufeff"
ZH_HEADER = [CSV_HEADERS_ZH[f] for f in CSV_FIELDS]


def test_listing_links_every_file(client):
    body = client.get("/downloads").get_data(as_text=True)
    files = client.get("/api/downloads").get_json()["files"]
    assert {f["name"] for f in files} >= {"graph.ttl", "graph.jsonld", "ontology.ttl", "practices.json"}
    for f in files:
        assert f'href="{f["url"]}"' in body


@pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")  # inside rdflib's parser
def test_graph_turtle_and_jsonld_parse_and_agree(client):
    ttl = client.get("/download/graph.ttl")
    assert ttl.status_code == 200 and ttl.mimetype == "text/turtle"
    assert "attachment; filename=graph.ttl" in ttl.headers["Content-Disposition"]
    g1 = Graph().parse(data=ttl.get_data(as_text=True), format="turtle")
    jsonld = client.get("/download/graph.jsonld")
    assert jsonld.mimetype == "application/ld+json"
    g2 = Graph().parse(data=jsonld.get_data(as_text=True), format="json-ld")
    assert len(g1) == len(g2) > 10_000


def test_ontology_practices_and_measures(client):
    onto = client.get("/download/ontology.ttl").get_data(as_text=True)
    assert "owl:Ontology" in onto or "Ontology" in onto
    practices = json.loads(client.get("/download/practices.json").get_data(as_text=True))
    assert {"types", "membership"} <= set(practices)
    lines = client.get("/download/measures.jsonl").get_data(as_text=True).splitlines()
    assert len(lines) == 311
    assert client.get("/download/measures.csv").get_data(as_text=True).startswith(BOM + "編號,計畫,機關,年度")
    assert "skos:closeMatch" in client.get("/download/framework.ttl").get_data(as_text=True)


def test_unknown_download_is_404(client):
    assert client.get("/download/store").status_code == 404


def test_measures_csv_is_kg_export_under_chinese_headers(client, data_dir):
    r = client.get("/download/measures.csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert "attachment; filename=measures.csv" in r.headers["Content-Disposition"]
    rows = _rows(r.get_data(as_text=True))
    assert rows[0] == ZH_HEADER
    assert {"機關", "年度", "計畫", "執行要項", "子項", "標題", "內容", "執行單位", "系統", "來源檔案"} <= set(rows[0])
    buf = io.StringIO()
    export_csv(str(data_dir), buf)
    exported = _rows(buf.getvalue())
    assert tuple(exported[0]) == CSV_FIELDS
    assert rows[1:] == exported[1:] and len(rows) == 312  # the same cells as `kg export --format csv`


def _rows(text: str) -> list[list[str]]:
    assert text.startswith(BOM) and text.count(BOM) == 1, "a UTF-8 BOM, so that Excel reads the Chinese as UTF-8"
    return list(csv.reader(io.StringIO(text[1:])))


@pytest.fixture(scope="module")
def dangerous_client(tmp_path_factory) -> FlaskClient:
    """A client over a data dir holding one plan whose measures start with =, +, - and @."""
    folder = tmp_path_factory.mktemp("dangerous")
    report = build([dangerous_plan(folder)], folder / "kg-data", after_graph=build_index_into)
    assert not report.errors and report.measures == 5
    app = create_app({"DATA_DIR": str(folder / "kg-data")})
    app.config["TESTING"] = True
    return app.test_client()


def _escaped_texts(rows: list[list[str]], column: str) -> list[str]:
    texts = [r[rows[0].index(column)] for r in rows[1:]]
    return [t for t in texts if t.startswith("'")]


def test_measures_csv_escapes_formulas(dangerous_client):
    rows = _rows(dangerous_client.get("/download/measures.csv").get_data(as_text=True))
    assert rows[0] == ZH_HEADER and len(rows) == 6
    escaped = _escaped_texts(rows, "內容")
    assert sorted(t[1] for t in escaped) == sorted(s[0] for s in DANGEROUS.values())
    assert '\'=HYPERLINK("http://x")設置單一窗口，提供土地登記一次申辦。' in escaped
    assert not any(c.startswith(("=", "+", "-", "@", "\t", "\r")) for r in rows for c in r)


def test_search_results_csv_escapes_formulas(dangerous_client):
    r = dangerous_client.get("/search.csv", query_string={"q": "設置 提供 推動 申辦", "mode": "lexical"})
    assert r.status_code == 200
    rows = _rows(r.get_data(as_text=True))
    assert rows[0][:3] == ["rank", "score", "id"]
    escaped = _escaped_texts(rows, "text")
    assert any(t.startswith("'=HYPERLINK(") for t in escaped), rows
    assert not any(c.startswith(("=", "+", "-", "@", "\t", "\r")) for r in rows for c in r)
