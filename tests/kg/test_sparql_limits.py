"""SPARQL limits shared by `kg sparql` and the endpoint: checks before the engine (size, nesting, updates, SERVICE),
the worker process (time and memory limits, no network) and FROM over the local graphs."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from kg.sparql import (
    Limits,
    QueryMemoryError,
    QueryRefused,
    QuerySyntaxError,
    QueryTimeout,
    QueryTooLarge,
    check_query,
    evaluate,
    run_query,
)
from kg.sparql_worker import WorkerPool
from kg.store import DataDir

ONTOLOGY = "https://w3id.org/spkg/id/graph/ontology"
COUNT = "SELECT (COUNT(*) AS ?n) {} WHERE {{ ?s ?p ?o }}"


class Listener:
    """A TCP server on 127.0.0.1 that records whether anything connected to it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/sparql"
        self.contacts = 0
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.contacts += 1
            conn.close()

    def close(self) -> None:
        self.sock.close()


@contextmanager
def listener() -> Iterator[Listener]:
    lst = Listener()
    try:
        yield lst
    finally:
        time.sleep(0.2)  # a connection still on its way is counted before the test looks
        lst.close()


def service_queries(url: str) -> list[str]:
    """SERVICE in the forms a naive check misses; every one of them makes Oxigraph contact `url` if run."""
    return [
        f"SELECT * WHERE {{ SERVICE <{url}> {{ ?s ?p ?o }} }}",
        f"select * where {{ service silent <{url}> {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ {{ {{ OPTIONAL {{ SeRvIcE <{url}> {{ ?s ?p ?o }} }} }} }} }}",
        f"SELECT * WHERE {{ # a comment\n SERVICE <{url}> {{ ?s ?p ?o }} }}",
        f'SELECT * WHERE {{ ?s ?p "#" SERVICE <{url}> {{ ?s ?p ?o }} }}',
        f"PREFIX e: <{url}#> SELECT * WHERE {{ SERVICE e:x {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ ?s ?p ?o SERVICE<{url}>{{}} }}",
        f"SELECT * WHERE {{ ?s ?p 1SERVICE<{url}>{{}} }}",
        f"SELECT * WHERE {{ ?s ?p trueSERVICE<{url}>{{}} }}",
        f"PREFIX : <{url}#> SELECT * WHERE {{ ?s ?p ?o SERVICE:x{{}} }}",
        f"PREFIX p: <http://h:> SELECT * WHERE {{ ?s ?p p:SERVICE<{url}>{{}} }}",
        f"PREFIX ex: <http://e/> SELECT * WHERE {{ ?s ?p ex:a.b.SERVICE <{url}> {{}} }}",
        f"SELECT * WHERE {{ ?s ?p ?o FILTER EXISTS {{ SERVICE <{url}> {{ ?s ?p ?o }} }} }}",
    ]


@pytest.mark.parametrize("index", range(len(service_queries("http://x/"))))
def test_service_in_any_form_is_refused_before_the_engine(index):
    with pytest.raises(QueryRefused) as err:
        check_query(service_queries("http://127.0.0.1:9/")[index])
    assert err.value.reason == "service" and "SERVICE" in str(err.value)


@pytest.mark.parametrize(
    "query",
    [
        'SELECT * WHERE { ?s ?p "SERVICE <http://x/> { }" }',
        "SELECT * WHERE { ?s ?p ?o } # SERVICE <http://x/> { }",
        "SELECT ?service WHERE { ?service a cpsv:PublicService }",
        "SELECT * WHERE { ?s ?p <http://example.org/service> }",
        "SELECT * WHERE { ?s ?p '''SERVICE''' }",
    ],
)
def test_service_in_strings_comments_iris_and_names_is_not_the_keyword(query):
    assert check_query(query).form == "SELECT"


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * WHERE " + "{" * 9000 + "}" * 9000,
        "SELECT * WHERE { FILTER(" + "(" * 9000 + "1" + ")" * 9000 + ") }",
        "SELECT * WHERE { ?s ?p " + "[ ?p " * 2500 + "1" + " ]" * 2500 + " }",
        # `<(((…1>` is no IRI (relative, no BASE): Oxigraph reads `<` as less-than and the brackets as brackets
        "SELECT * WHERE { FILTER(?x <" + "(" * 3000 + "1" + ")" * 3000 + "> 1) }",
    ],
)
def test_deep_nesting_is_refused_before_the_engine(query):
    assert len(query.encode()) < 20 * 1024
    with pytest.raises(QueryRefused) as err:
        check_query(query)
    assert err.value.reason == "depth" and "64" in str(err.value)


def test_brackets_in_strings_and_iris_do_not_count():
    q = 'SELECT * WHERE { ?s ?p "' + "{" * 200 + '" . ?s ?p <http://x/' + "(" * 200 + "> }"
    assert check_query(q).form == "SELECT"


def test_a_too_long_query_is_refused():
    with pytest.raises(QueryTooLarge) as err:
        check_query("SELECT * WHERE { ?s ?p ?o }" + " " * 30_000)
    assert err.value.status == 413 and "20480" in str(err.value)


@pytest.mark.parametrize(
    "query",
    [
        "INSERT DATA { <urn:a> <urn:b> <urn:c> }",
        "# comment\nLOAD <http://example.org/x>",
        "PREFIX x: <urn:x>\nBASE <urn:b>\ndelete where { ?s ?p ?o }",
        "CLEAR ALL",
        "WITH <urn:g> DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }",
    ],
)
def test_updates_are_refused(query):
    with pytest.raises(QueryRefused) as err:
        check_query(query)
    assert err.value.reason == "update" and "read-only" in str(err.value)


# ---------------------------------------------------------------- the worker process


def test_from_reads_the_local_named_graph_and_fetches_nothing(graph_dir):
    store = DataDir(graph_dir).store_dir
    whole = evaluate(store, COUNT.format(""))
    only = evaluate(store, COUNT.format(f"FROM <{ONTOLOGY}>"))
    named = evaluate(store, f"SELECT (COUNT(*) AS ?n) FROM NAMED <{ONTOLOGY}> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}")
    assert 0 < int(only.rows[0][0]) == int(named.rows[0][0]) < int(whole.rows[0][0])
    with listener() as remote:
        out = evaluate(store, COUNT.format(f"FROM <{remote.url}> FROM NAMED <{remote.url}>"))
        assert int(out.rows[0][0]) == 0  # no such local graph: empty, and nothing fetched
    assert remote.contacts == 0
    protocol = evaluate(store, COUNT.format(""), default_graphs=[ONTOLOGY])
    assert protocol.rows == only.rows


def test_the_worker_cannot_reach_the_network_even_if_a_service_got_through(graph_dir):
    """Second line behind check_query: the worker has no sockets at all (seccomp), so SERVICE fails inside it."""
    pool = WorkerPool(1, 1536 << 20)
    try:
        with listener() as remote:
            req = {
                "query": f"SELECT * WHERE {{ SERVICE <{remote.url}> {{ ?s ?p ?o }} }}",
                "store": str(DataDir(graph_dir).store_dir),
                "union": True,
            }
            out = pool.run(req, timeout=10)
        assert out["error"] == "eval" and "not permitted" in out["message"]
        assert remote.contacts == 0
    finally:
        pool.close()


def test_a_runaway_query_is_killed_at_the_time_limit(graph_dir):
    runaway = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
    start = time.monotonic()
    with pytest.raises(QueryTimeout) as err:
        evaluate(DataDir(graph_dir).store_dir, runaway, limits=Limits(timeout=1.5))
    assert 1.5 <= time.monotonic() - start < 6 and "1.5 s" in str(err.value)


def test_a_memory_hog_dies_at_the_memory_limit(graph_dir):
    hog = "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f } ORDER BY ?c ?f"
    with pytest.raises(QueryMemoryError) as err:
        evaluate(DataDir(graph_dir).store_dir, hog, limits=Limits(timeout=60, memory_mb=700))
    assert "700 MB" in str(err.value)


def test_a_query_the_size_check_allows_does_not_overflow_the_worker(graph_dir):
    long_sum = "SELECT (" + "+".join(["1"] * 9000) + " AS ?n) WHERE {}"  # 18 KB, one deep expression
    assert len(long_sum) < 20 * 1024
    out = evaluate(DataDir(graph_dir).store_dir, long_sum)
    assert int(out.rows[0][0]) == 9000


def test_bad_queries_and_row_caps_in_the_worker(graph_dir):
    store = DataDir(graph_dir).store_dir
    with pytest.raises(QuerySyntaxError, match="bad SPARQL"):
        evaluate(store, "SELECT WHERE {")
    body, media = run_query(store, "SELECT * WHERE { ?s ?p ?o }", "csv", limit=5)
    assert media == "text/csv" and len(body.splitlines()) == 6


# ---------------------------------------------------------------- kg sparql, as a real process


def kg_sparql(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kg.cli", "sparql", *args], capture_output=True, text=True, timeout=timeout
    )


def test_kg_sparql_refuses_service_and_contacts_nothing(graph_dir):
    with listener() as remote:
        for query in service_queries(remote.url)[:6]:
            done = kg_sparql(query, "--data-dir", str(graph_dir))
            assert done.returncode == 1, done.stderr
            assert "SERVICE" in done.stderr and "not allowed" in done.stderr
    assert remote.contacts == 0


def test_kg_sparql_survives_deep_nesting(graph_dir):
    for query in (
        "SELECT * WHERE " + "{" * 9000 + "}" * 9000,  # 18 KB: refused for its depth
        "SELECT * WHERE { FILTER(" + "(" * 10_000 + "1" + ")" * 10_000 + ") }",  # 20 KB: refused for its size
    ):
        done = kg_sparql(query, "--data-dir", str(graph_dir))
        assert done.returncode == 1, (done.returncode, done.stderr[-300:])  # an error, not a segfault (-11)
        assert "bytes" in done.stderr or "deep" in done.stderr
    ok = kg_sparql("ASK { ?s a sp:Plan }", "--data-dir", str(graph_dir))
    assert ok.returncode == 0 and ok.stdout.strip() == "true"


def test_a_started_pool_boots_its_worker_before_the_first_query_and_that_query_waits_for_it(graph_dir):
    """kg sparql starts its worker while it loads the rest of itself; the query then runs in that same process."""
    pool = WorkerPool(1, 1536 << 20, queue=1, queue_wait=30, cache_bytes=0)
    try:
        pool.start()
        out = evaluate(DataDir(graph_dir).store_dir, COUNT.format(""), pool=pool)  # may come before it is ready
        assert int(out.rows[0][0]) > 0
        started = pool.pids()
        assert len(started) == 1
        evaluate(DataDir(graph_dir).store_dir, COUNT.format(""), pool=pool)
        assert pool.pids() == started
    finally:
        pool.close()


def test_a_started_pool_has_its_worker_with_no_query_asked(graph_dir):
    pool = WorkerPool(1, 1536 << 20)
    try:
        pool.start()
        deadline = time.monotonic() + 30
        while not pool.pids() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(pool.pids()) == 1
    finally:
        pool.close()
