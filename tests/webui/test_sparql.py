"""The SPARQL 1.1 protocol endpoint: GET and POST, content negotiation, read-only, time limit and row cap."""

from __future__ import annotations

import csv
import io
import os
import socket
import subprocess
import sys
import time

import pytest

from bench.scale import descendants
from kg.datadir import DataDir
from webui import create_app
from webui.views.sparql import EXAMPLES

SELECT = "SELECT ?s WHERE { ?s a sp:Plan } ORDER BY ?s"
HEAVY = "SELECT (COUNT(*) AS ?n) WHERE { ?a a ?t . ?b a ?u }"  # about 3 million rows: a few tenths of a second
JSON = "application/sparql-results+json"


def test_get_returns_sparql_json_by_default(client):
    r = client.get("/sparql", query_string={"query": SELECT})
    assert r.status_code == 200 and r.mimetype == JSON
    data = r.get_json(force=True)
    assert data["head"]["vars"] == ["s"]
    assert len(data["results"]["bindings"]) == 5
    assert data["results"]["bindings"][0]["s"]["type"] == "uri"


def test_literals_keep_their_language_and_datatype(client):
    q = "SELECT ?t ?y WHERE { ?p a sp:Plan ; dcterms:title ?t ; sp:year ?y } LIMIT 1"
    b = client.get("/sparql", query_string={"query": q}, headers={"Accept": JSON}).get_json(force=True)
    cell = b["results"]["bindings"][0]
    assert cell["t"]["xml:lang"].lower() == "zh-hant"
    assert cell["y"]["datatype"] == "http://www.w3.org/2001/XMLSchema#gYear"


@pytest.mark.parametrize(
    "accept, mimetype",
    [
        ("text/csv", "text/csv"),
        ("text/tab-separated-values", "text/tab-separated-values"),
        ("application/sparql-results+json", JSON),
        ("application/json", JSON),
        ("*/*", JSON),
        ("text/csv;q=0.5, application/sparql-results+json", JSON),
    ],
)
def test_accept_header_chooses_the_result_format(client, accept, mimetype):
    r = client.get("/sparql", query_string={"query": SELECT}, headers={"Accept": accept})
    assert r.status_code == 200 and r.mimetype == mimetype


def test_csv_results(client):
    r = client.get("/sparql", query_string={"query": SELECT}, headers={"Accept": "text/csv"})
    rows = list(csv.reader(io.StringIO(r.get_data(as_text=True))))
    assert rows[0] == ["s"] and len(rows) == 6 and rows[1][0].startswith("https://w3id.org/spkg/id/plan/")


def test_post_form_and_post_sparql_query(client):
    form = client.post("/sparql", data={"query": SELECT}, headers={"Accept": "text/csv"})
    direct = client.post(
        "/sparql", data=SELECT.encode("utf-8"), content_type="application/sparql-query", headers={"Accept": "text/csv"}
    )
    assert form.status_code == direct.status_code == 200
    assert form.data == direct.data
    assert client.post("/sparql", data="x", content_type="text/plain").status_code == 415


def test_construct_gives_turtle_and_ask_gives_a_boolean(client):
    r = client.get("/sparql", query_string={"query": EXAMPLES[3]["query"]}, headers={"Accept": "text/turtle"})
    assert r.status_code == 200 and r.mimetype == "text/turtle"
    assert "sp:ownedBy" in r.get_data(as_text=True)
    default = client.get("/sparql", query_string={"query": EXAMPLES[3]["query"]})
    assert default.mimetype == "text/turtle"
    ask = client.get("/sparql", query_string={"query": "ASK { ?s a sp:Measure }"}).get_json(force=True)
    assert ask == {"head": {}, "boolean": True}
    bad = client.get("/sparql", query_string={"query": SELECT}, headers={"Accept": "text/turtle"})
    assert bad.status_code == 406


@pytest.mark.parametrize("example", EXAMPLES, ids=[e["title"] for e in EXAMPLES])
def test_every_worked_example_returns_rows(client, example):
    r = client.get(
        "/sparql", query_string={"query": example["query"]}, headers={"Accept": "text/csv, text/turtle;q=0.9"}
    )
    assert r.status_code == 200
    text = r.get_data(as_text=True)
    if r.mimetype == "text/csv":
        assert len(list(csv.reader(io.StringIO(text)))) >= 3  # header and at least two rows
    else:
        assert text.count("sp:ownedBy") >= 2


def test_units_owning_1999_measures_example_names_the_units(client):
    r = client.get("/sparql", query_string={"query": EXAMPLES[0]["query"]}, headers={"Accept": "text/csv"})
    units = {row[0] for row in csv.reader(io.StringIO(r.get_data(as_text=True)))}
    assert {"查報組", "視察室"} <= units


def test_browser_without_a_query_gets_the_query_page_with_examples(client):
    r = client.get("/sparql", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert r.status_code == 200 and r.mimetype == "text/html"
    body = r.get_data(as_text=True)
    assert "範例" in body and body.count("執行此範例") == len(EXAMPLES)
    assert "1999專線" in body and "政府服務躍升方案" in body


def test_browser_with_a_query_gets_a_result_table_with_links(client):
    r = client.get("/sparql", query_string={"query": EXAMPLES[2]["query"], "format": "html"})
    body = r.get_data(as_text=True)
    assert r.status_code == 200 and "<table" in body and "?title" in body
    assert 'href="/plan/' in body


def test_a_client_without_a_query_gets_400(client):
    r = client.get("/sparql", headers={"Accept": JSON})
    assert r.status_code == 400 and "query" in r.get_data(as_text=True)
    assert client.get("/sparql?query=a&query=b").status_code == 400


@pytest.mark.parametrize(
    "send",
    [
        lambda c: c.get("/sparql", query_string={"query": "INSERT DATA { <urn:a> <urn:b> <urn:c> }"}),
        lambda c: c.get("/sparql", query_string={"query": "PREFIX x: <urn:x>\nDELETE WHERE { ?s ?p ?o }"}),
        lambda c: c.post("/sparql", data={"update": "CLEAR ALL"}),
        lambda c: c.post("/sparql", data=b"DROP ALL", content_type="application/sparql-update"),
        lambda c: c.post("/sparql", data={"query": "# comment\nLOAD <http://example.org/x>"}),
    ],
)
def test_updates_are_refused_with_400_and_a_clear_message(client, send):
    r = send(client)
    assert r.status_code == 400
    assert "唯讀" in r.get_data(as_text=True)
    count = client.get("/sparql", query_string={"query": "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"})
    assert int(count.get_json(force=True)["results"]["bindings"][0]["n"]["value"]) > 10_000


def test_a_malformed_query_is_400_and_shown_on_the_page(client):
    r = client.get("/sparql", query_string={"query": "SELECT WHERE {"}, headers={"Accept": "text/csv"})
    assert r.status_code == 400 and "SPARQL 查詢有誤" in r.get_data(as_text=True)
    page = client.get("/sparql", query_string={"query": "SELECT WHERE {", "format": "html"})
    assert page.status_code == 400 and "error-message" in page.get_data(as_text=True)
    assert client.get("/sparql", query_string={"query": SELECT, "format": "xml"}).status_code == 400


def test_rows_are_capped_and_the_cut_is_signalled(data_dir):
    app = create_app({"DATA_DIR": str(data_dir), "SPARQL_MAX_ROWS": 7})
    r = app.test_client().get("/sparql", query_string={"query": "SELECT * WHERE { ?s ?p ?o }"})
    assert len(r.get_json(force=True)["results"]["bindings"]) == 7
    assert r.headers["X-SPARQL-Truncated"] == "true"


def test_a_slow_query_gives_503_and_frees_its_worker_later(data_dir):
    app = create_app({"DATA_DIR": str(data_dir), "SPARQL_TIMEOUT": 0.02, "SPARQL_WORKERS": 1})
    c = app.test_client()
    r = c.get("/sparql", query_string={"query": HEAVY})
    assert r.status_code == 503 and "時間限制" in r.get_data(as_text=True)
    # the abandoned query still holds the only worker: proof that the request gave up before the query ended
    busy = c.get("/sparql", query_string={"query": "ASK { ?s ?p ?o }"})
    assert busy.status_code == 503 and "稍後" in busy.get_data(as_text=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        again = c.get("/sparql", query_string={"query": "ASK { ?s a sp:Plan }"})
        if again.status_code == 200:
            break
        time.sleep(0.1)
    assert again.status_code == 200


def _open_files(pid: int) -> set[str]:
    files = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            files.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            pass
    return files


def test_kg_serve_has_its_query_workers_open_the_store_before_the_first_query(data_dir):
    """The first query does not wait for a process to start nor for a cold store."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "kg.cli", "serve", "--port", str(port), "--data-dir", str(data_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    store = str(DataDir(data_dir).store_dir.resolve())
    try:
        deadline = time.monotonic() + 90
        workers: list[int] = []
        while time.monotonic() < deadline and server.poll() is None:
            workers = [p for p in descendants(server.pid) if any(f.startswith(store) for f in _open_files(p))]
            if workers:
                break
            time.sleep(0.2)
        assert workers, "no query worker has the store open"
        assert b"sparql_worker" in open(f"/proc/{workers[0]}/cmdline", "rb").read()
    finally:
        server.terminate()
        server.wait(30)
