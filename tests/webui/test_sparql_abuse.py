"""The SPARQL endpoint against abuse, on a real server (waitress on a port, real worker processes): deep nesting,
SERVICE (SSRF), runaway and memory-hungry queries, Host headers of other names (DNS rebinding), cross-site form
posts; and the protocol's HEAD and XML results."""

from __future__ import annotations

import http.client
import os
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest

from tests.kg.test_sparql_limits import listener, service_queries
from tests.webui.live import live_server
from webui import create_app

SELECT = "SELECT ?s WHERE { ?s a sp:Plan } ORDER BY ?s"
ASK = "ASK { ?s a sp:Measure }"
RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"  # 10^12 rows, constant memory
HOG = "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f } ORDER BY ?c ?f"  # 10^8 rows to sort: memory
SRX = "{http://www.w3.org/2005/sparql-results#}"
TIMEOUT = 2.0


class Answer:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.text = body.decode("utf-8", "replace")


def send(base: str, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> Answer:
    """One request with exactly the headers given (http.client sends our Host when one is given)."""
    where = urlsplit(base)
    conn = http.client.HTTPConnection(where.hostname, where.port, timeout=120)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return Answer(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    finally:
        conn.close()


def query(base: str, q: str, **headers: str) -> Answer:
    return send(base, "GET", "/sparql?" + urlencode({"query": q}), headers=headers)


@pytest.fixture(scope="module")
def server(data_dir: Path) -> Iterator[str]:
    app = create_app({"DATA_DIR": str(data_dir), "SPARQL_TIMEOUT": TIMEOUT, "SPARQL_WORKERS": 4})
    with live_server(app) as base:
        yield base


@pytest.fixture(scope="module")
def two_worker_server(data_dir: Path) -> Iterator[str]:
    """Two workers, and more server threads than that (live_server has 4): the third query finds them busy."""
    app = create_app({"DATA_DIR": str(data_dir), "SPARQL_TIMEOUT": TIMEOUT, "SPARQL_WORKERS": 2})
    with live_server(app) as base:
        yield base


@pytest.fixture(scope="module")
def small_memory_server(data_dir: Path) -> Iterator[str]:
    app = create_app({"DATA_DIR": str(data_dir), "SPARQL_TIMEOUT": 60, "SPARQL_WORKERS": 1, "SPARQL_MEMORY_MB": 700})
    with live_server(app) as base:
        yield base


def workers() -> list[int]:
    """The SPARQL worker processes of this process (the live server runs in it)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == os.getpid() and b"sparql_worker.py" in cmdline and fields[0] != "Z":
            out.append(int(entry))
    return out


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_used_by_workers(seconds: float = 1.0) -> float:
    pids = workers()
    before = {p: cpu_seconds(p) for p in pids}
    time.sleep(seconds)
    return sum(max(0.0, cpu_seconds(p) - before[p]) for p in pids)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def answers_normally(base: str, retry_for: float = 0.0) -> None:
    """A normal query is answered; with retry_for, after 503s with Retry-After (a worker being replaced) as a
    client honouring them does."""
    deadline = time.monotonic() + retry_for
    while True:
        r = query(base, SELECT, Accept="text/csv")
        if r.status != 503 or "retry-after" not in r.headers or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert r.status == 200, r.text
    assert len(r.text.splitlines()) == 6


# ---------------------------------------------------------------- (a) deep nesting


@pytest.mark.parametrize(
    "q",
    [
        "SELECT * WHERE " + "{" * 9500 + "}" * 9500,
        "SELECT * WHERE { FILTER(" + "(" * 9500 + "1" + ")" * 9500 + ") }",
    ],
    ids=["braces", "parentheses"],
)
def test_a_20kb_deeply_nested_query_is_refused_and_the_server_lives_on(server, q):
    assert 19_000 < len(q) < 20 * 1024
    r = query(server, q)
    assert r.status == 400 and "巢狀" in r.text and "64" in r.text
    answers_normally(server)


def test_a_query_over_the_size_limit_is_413(server):
    r = send(
        server,
        "POST",
        "/sparql",
        ("SELECT * WHERE { ?s ?p ?o }" + " " * 25_000).encode(),
        {"Content-Type": "application/sparql-query"},
    )
    assert r.status == 413 and "位元組" in r.text
    answers_normally(server)


# ---------------------------------------------------------------- (b) SERVICE and FROM


def test_service_is_refused_and_nothing_is_contacted(server):
    with listener() as remote:
        for q in service_queries(remote.url):
            r = query(server, q)
            assert r.status == 400 and "SERVICE" in r.text, (q, r.status, r.text)
            posted = send(server, "POST", "/sparql", q.encode(), {"Content-Type": "application/sparql-query"})
            assert posted.status == 400
    assert remote.contacts == 0


def test_from_names_local_graphs_and_fetches_nothing(server):
    count = "SELECT (COUNT(*) AS ?n) {} WHERE {{ ?s ?p ?o }}"

    def n(q: str, path_extra: str = "") -> int:
        r = send(server, "GET", "/sparql?" + urlencode({"query": q}) + path_extra, headers={"Accept": "text/csv"})
        assert r.status == 200, r.text
        return int(r.text.splitlines()[1])

    whole = n(count.format(""))
    ontology = n(count.format("FROM <https://w3id.org/spkg/id/graph/ontology>"))
    assert 0 < ontology < whole
    extra = "&" + urlencode({"default-graph-uri": "https://w3id.org/spkg/id/graph/ontology"})
    assert n(count.format(""), extra) == ontology
    with listener() as remote:
        assert n(count.format(f"FROM <{remote.url}>")) == 0
    assert remote.contacts == 0


# ---------------------------------------------------------------- (c) runaway queries


def test_runaway_queries_are_killed_and_give_their_cpu_back(server):
    for _ in range(4):  # four in a row: each one is stopped at the limit and its worker killed and replaced
        start = time.monotonic()
        r = query(server, RUNAWAY)
        elapsed = time.monotonic() - start
        assert r.status == 503 and "時間限制" in r.text
        assert TIMEOUT <= elapsed < TIMEOUT + 5
    answers_normally(server)
    time.sleep(1.0)  # replacements started in the background are ready
    assert workers(), "the pool keeps worker processes"
    assert cpu_used_by_workers(1.0) < 0.2  # nothing is still computing a killed query


def test_when_every_worker_is_busy_the_answer_is_a_quick_503_and_then_it_recovers(two_worker_server):
    server = two_worker_server
    results: list[Answer] = []
    threads = [threading.Thread(target=lambda: results.append(query(server, RUNAWAY))) for _ in range(2)]
    for t in threads:
        t.start()
    time.sleep(0.8)  # the two have their workers
    start = time.monotonic()
    busy = query(server, ASK)
    assert time.monotonic() - start < 1.0
    assert busy.status == 503 and "稍後" in busy.text and busy.headers["retry-after"].isdigit()
    for t in threads:
        t.join()
    assert [r.status for r in results] == [503] * 2 and all("時間限制" in r.text for r in results)
    deadline = time.monotonic() + 10
    while True:  # as a client honouring Retry-After does
        after = query(server, ASK)
        if after.status != 503 or time.monotonic() > deadline:
            break
        time.sleep(float(after.headers.get("retry-after", "1")) / 4)
    assert after.status == 200 and '"boolean": true' in after.text
    time.sleep(1.0)
    assert cpu_used_by_workers(1.0) < 0.2


# ---------------------------------------------------------------- (d) memory


def test_a_memory_hog_dies_at_the_memory_limit_not_the_server(small_memory_server):
    before = rss_mb()
    start = time.monotonic()
    r = query(small_memory_server, HOG)
    assert r.status == 503 and "記憶體" in r.text and "700 MB" in r.text
    assert time.monotonic() - start < 60  # the memory limit, not the time limit, stopped it
    assert rss_mb() - before < 150  # the server did not take the query's memory
    answers_normally(small_memory_server, retry_for=10)  # its only worker is replaced meanwhile


# ---------------------------------------------------------------- (e) Host header and cross-site posts


@pytest.mark.parametrize("path", ["/", "/sparql?" + urlencode({"query": ASK}), "/api/search?q=x", "/nowhere"])
def test_a_host_header_of_another_name_is_400_everywhere(server, path):
    r = send(server, "GET", path, headers={"Host": "evil.example"})
    assert r.status == 400 and "Host" in r.text
    r = send(server, "GET", path, headers={"Host": "evil.example:" + str(urlsplit(server).port)})
    assert r.status == 400


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "LOCALHOST."])
def test_the_local_host_names_are_served(server, host):
    r = send(server, "GET", "/sparql?" + urlencode({"query": ASK}), headers={"Host": f"{host}:8000"})
    assert r.status == 200


def test_allowed_hosts_are_configurable(data_dir):
    app = create_app({"DATA_DIR": str(data_dir), "ALLOWED_HOSTS": "kg.example.org, other.example"})
    c = app.test_client()
    assert c.get("/", headers={"Host": "kg.example.org"}).status_code == 200
    assert c.get("/", headers={"Host": "evil.example"}).status_code == 400
    assert c.get("/", headers={"Host": "localhost"}).status_code == 200
    anyone = create_app({"DATA_DIR": str(data_dir), "ALLOWED_HOSTS": ["*"]}).test_client()
    assert anyone.get("/", headers={"Host": "evil.example"}).status_code == 200


FORM = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/csv"}


@pytest.mark.parametrize(
    "extra",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Referer": "https://evil.example/page.html"},
        {"Sec-Fetch-Site": "cross-site"},
    ],
    ids=["origin", "null-origin", "referer", "sec-fetch-site"],
)
def test_a_cross_site_form_post_is_403(server, extra):
    r = send(server, "POST", "/sparql", urlencode({"query": SELECT}).encode(), {**FORM, **extra})
    assert r.status == 403 and "跨站" in r.text


def test_same_site_and_protocol_posts_are_answered(server):
    body = urlencode({"query": SELECT}).encode()
    own = send(server, "POST", "/sparql", body, {**FORM, "Origin": server, "Sec-Fetch-Site": "same-origin"})
    assert own.status == 200 and len(own.text.splitlines()) == 6
    plain = send(server, "POST", "/sparql", body, FORM)  # a SPARQL client sends no Origin
    assert plain.status == 200
    direct = send(
        server, "POST", "/sparql", SELECT.encode(), {"Content-Type": "application/sparql-query", "Accept": "text/csv"}
    )
    assert direct.status == 200 and direct.body == own.body
    multipart = send(server, "POST", "/sparql", b"--x--", {"Content-Type": "multipart/form-data; boundary=x"})
    assert multipart.status == 415


# ---------------------------------------------------------------- (f) HEAD and XML results


def test_head_is_answered_without_a_body(server):
    r = send(server, "HEAD", "/sparql?" + urlencode({"query": SELECT}))
    assert r.status == 200 and r.body == b""
    assert r.headers["content-type"].startswith("application/sparql-results+json")
    assert int(r.headers["content-length"]) > 100
    page = send(server, "HEAD", "/")
    assert page.status == 200 and page.body == b""


def test_sparql_results_xml_by_accept_and_by_format(server):
    r = query(server, SELECT, Accept="application/sparql-results+xml")
    assert r.status == 200 and r.headers["content-type"].startswith("application/sparql-results+xml")
    root = ET.fromstring(r.body)
    assert root.tag == SRX + "sparql"
    assert [v.get("name") for v in root.iter(SRX + "variable")] == ["s"]
    uris = [u.text for u in root.iter(SRX + "uri")]
    assert len(uris) == 5 and all(u.startswith("https://w3id.org/spkg/id/plan/") for u in uris)
    labels = query(
        server, "SELECT ?l WHERE { ?s a sp:Plan ; dcterms:title ?l } LIMIT 1", Accept="application/sparql-results+xml"
    )
    literal = next(ET.fromstring(labels.body).iter(SRX + "literal"))
    assert literal.get("{http://www.w3.org/XML/1998/namespace}lang", "").lower() == "zh-hant" and literal.text
    ask = send(server, "GET", "/sparql?" + urlencode({"query": ASK, "format": "srx"}))
    assert ET.fromstring(ask.body).find(SRX + "boolean").text == "true"


def test_sparqlwrapper_works_with_its_defaults(server):
    import SPARQLWrapper as sparqlwrapper  # in the test extras

    sw = sparqlwrapper.SPARQLWrapper(server + "/sparql")
    sw.setQuery("PREFIX sp: <https://w3id.org/spkg/ontology#> " + SELECT)
    doc = sw.query().convert()  # XML by default: format=xml&output=xml&results=xml, Accept: …sparql-results+xml
    assert len(doc.getElementsByTagName("result")) == 5
    sw.setReturnFormat(sparqlwrapper.JSON)
    sw.setMethod(sparqlwrapper.POST)
    data = sw.query().convert()
    assert len(data["results"]["bindings"]) == 5
    sw.setQuery(ASK)
    assert sw.query().convert()["boolean"] is True
