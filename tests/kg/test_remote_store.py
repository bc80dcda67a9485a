"""A SPARQL 1.1 server as the store: a real `oxigraph serve` process (PyPI package oxigraph) on a free port.

The samples are built into it; its answers are the embedded store's; a plan is replaced and removed; a server down,
a wrong URL and refused requests give one line naming the URL and change nothing."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from kg.datadir import DataDir
from kg.graph import graph_iri
from kg.sparql import QueryRefused, QueryStoreError, run_query
from kg.store import STORE_INFO, build, bundled_plans, remove
from kg.triplestore import EmbeddedStore, RemoteStore, TripleStoreError, open_store
from tests.kg.test_datadir import kg, one_line_error, snapshot
from tests.kg.test_store import UNITS_USING_1999

OXIGRAPH = Path(sys.executable).with_name("oxigraph")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def oxigraph_server(location: Path):
    assert OXIGRAPH.exists(), "these tests need the oxigraph server: pip install oxigraph (the test extra has it)"
    port = free_port()
    proc = subprocess.Popen(
        [str(OXIGRAPH), "serve", "--location", str(location), "--bind", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            with contextlib.suppress(OSError):
                urllib.request.urlopen(base + "/query?query=ASK%7B%7D", timeout=1).close()
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the oxigraph server did not start")
        yield base
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with oxigraph_server(tmp_path_factory.mktemp("oxigraph")) as base:
        yield base


def graphs(base: str) -> set[str]:
    store = RemoteStore(base + "/query")
    return {r["g"] for r in store.select("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }")}


def table(source, query: str) -> str:
    body, _ = run_query(source, query, "table")
    return body


def test_the_samples_built_into_a_server_answer_as_the_embedded_store(server, tmp_path):
    data = tmp_path / "kg-data"
    url = server + "/query"
    report = build(bundled_plans(), data, store=url)
    assert not report.errors
    info = json.loads((DataDir(data).current() / STORE_INFO).read_text("utf-8"))
    assert info["remote"] == url  # the data dir records the store it was built into
    remote, embedded = RemoteStore(url), DataDir(data).store_dir
    assert table(remote, UNITS_USING_1999) == table(embedded, UNITS_USING_1999)
    assert "查報組" in table(remote, UNITS_USING_1999)
    count = "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }"
    assert remote.select(count) == EmbeddedStore(embedded).select(count) == [{"n": report.triples}]
    keys = {r["id"] for r in DataDir(data).records()}
    assert {str(graph_iri(k)) for k in keys} <= graphs(server)
    # select(): plain values, bindings by VALUES
    rows = remote.select("SELECT ?p ?y WHERE { ?p <https://w3id.org/spkg/ontology#yearROC> ?y }")
    assert rows and all(isinstance(r["y"], int) and isinstance(r["p"], str) for r in rows)
    one = remote.select("SELECT ?y WHERE { ?p <https://w3id.org/spkg/ontology#yearROC> ?y }", {"y": rows[0]["y"]})
    assert one and {r["y"] for r in one} == {rows[0]["y"]}
    # kg sparql --store forwards the checked query; an update or SERVICE is refused before it is sent
    proc = kg("sparql", "--store", url, UNITS_USING_1999)
    assert proc.returncode == 0 and "查報組" in proc.stdout, proc.stderr
    with pytest.raises(QueryRefused):
        run_query(remote, "DROP ALL")
    with pytest.raises(QueryRefused):
        run_query(remote, "SELECT * WHERE { SERVICE <http://example.org/> { ?s ?p ?o } }")
    assert graphs(server) >= {str(graph_iri(k)) for k in keys}

    # A plan replaced (the same agency and year) and one removed: the server's graphs follow.
    sample = bundled_plans()[0]
    text = sample.read_text("utf-8")
    revised = tmp_path / sample.name
    revised.write_text(text.replace("訂定機關年度提升服務品質執行計畫", "訂定機關年度提升服務品質精進計畫", 1), "utf-8")
    assert not build([revised], data, store=url).errors
    ask = 'ASK { ?m ?p ?t FILTER(isLiteral(?t) && CONTAINS(STR(?t), "精進計畫")) }'
    assert "true" in table(remote, ask).lower()
    gone = next(r["id"] for r in DataDir(data).records() if r["file"] != sample.name)
    removed = remove(data, [gone], store=url)
    assert str(graph_iri(gone)) not in graphs(server)
    assert remote.select(count) == [{"n": removed.triples}]
    assert table(remote, UNITS_USING_1999) == table(DataDir(data).store_dir, UNITS_USING_1999)


def test_a_server_down_a_wrong_url_or_a_refusal_is_one_line_and_changes_nothing(server, tmp_path):
    data = tmp_path / "kg-data"
    assert not build([bundled_plans()[1]], data).errors
    before = snapshot(data)
    down = f"http://127.0.0.1:{free_port()}/query"
    for url, words in (
        (down, "cannot reach"),
        (server + "/no-such-endpoint", "answered 404"),
        ("ftp://example.org/sparql", "http:// or https://"),
    ):
        for args in (
            ["build", "--no-index", bundled_plans()[2]],
            ["remove", "--no-index", DataDir(data).records()[0]["id"]],
        ):
            proc = kg(*args, "--data-dir", data, "--store", url)
            assert proc.returncode != 0
            line = one_line_error(proc)
            assert url in line and words in line, line
        proc = kg("sparql", "--store", url, "ASK {}")
        assert proc.returncode != 0 and url in one_line_error(proc)
    assert snapshot(data) == before
    with pytest.raises(QueryStoreError, match="cannot reach"):
        run_query(RemoteStore(down), "ASK {}")
    # The Graph Store Protocol refusing a graph (a 4xx): one line naming the URL
    remote = RemoteStore(server + "/query")
    with pytest.raises(TripleStoreError, match=r"answered 400.*PUT"):
        remote.put_graph("http://example.org/g", b"this is not N-Triples")
    assert "http://example.org/g" not in graphs(server)
    # A redirect is not followed
    assert isinstance(open_store(server + "/query"), RemoteStore) and isinstance(open_store(data), EmbeddedStore)
    env = dict(os.environ, KG_STORE=down)
    proc = subprocess.run(
        [sys.executable, "-m", "kg.cli", "sparql", "ASK {}"], capture_output=True, text=True, env=env, timeout=60
    )
    assert proc.returncode != 0 and down in proc.stderr
