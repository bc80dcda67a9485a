"""ORDER BY after evaluation (kg.sparql_sort): which queries are cut before their ORDER BY, and that their answer
comes in the engine's order, or is left to the engine when it cannot be sorted the same way. A worker pool opens
and warms its store before the first query when told which."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pyoxigraph as ox
import pytest

from kg import sparql_worker
from kg.sparql import _prefixes, check_query, evaluate
from kg.sparql_sort import sort_rows
from kg.sparql_worker import WorkerPool, answer
from kg.store import DataDir

README_UNITS = """SELECT DISTINCT ?agency ?unit WHERE {
  ?s skos:prefLabel "1999專線"@zh-Hant .
  ?m sp:usesSystem ?s ; sp:ownedBy ?u ; dcterms:isPartOf/sp:agency/skos:prefLabel ?agency .
  ?u skos:prefLabel ?unit .
  FILTER(langMatches(lang(?agency), "zh-Hant"))
} ORDER BY ?agency ?unit"""
README_ITEM = """SELECT ?agency ?year ?text WHERE {
  ?c skos:altLabel "便捷服務"@zh-Hant .
  ?m sp:frameworkItem/skos:broader* ?c ; sp:text ?text ; dcterms:isPartOf ?p .
  ?p sp:agency/skos:prefLabel ?agency ; sp:year ?year .
  FILTER(langMatches(lang(?agency), "zh-Hant"))
} ORDER BY ?agency ?text"""
MIXED = 'VALUES ?x { "b"@en <http://z> 3 "a" 2.5 <http://a> UNDEF 1e0 "c"@zh-Hant "10"^^xsd:integer }'


@pytest.fixture(scope="module")
def pool():
    p = WorkerPool(1, 1536 << 20, cache_bytes=0)
    try:
        yield p
    finally:
        p.close()


@pytest.mark.parametrize(
    ("query", "keys", "offset", "limit"),
    [
        ("SELECT ?a ?b WHERE { ?a ?p ?b } ORDER BY ?a DESC(?b) LIMIT 5 OFFSET 2", [("a", False), ("b", True)], 2, 5),
        ("SELECT * WHERE { ?a ?p ?b } ORDER BY asc(?b) offset 1", [("b", False)], 1, None),
        ("SELECT (STR(?a) AS ?s) WHERE { ?a ?p ?b } ORDER BY ?s", [("s", False)], 0, None),
        ("SELECT * WHERE { { SELECT ?a WHERE { ?a ?p ?b } ORDER BY ?b } } ORDER BY ?a", [("a", False)], 0, None),
        (README_UNITS, [("agency", False), ("unit", False)], 0, None),
    ],
)
def test_a_select_ordered_by_projected_variables_is_cut_before_its_order_by(query, keys, offset, limit):
    order = check_query(query).order
    assert order is not None
    assert (order.keys, order.offset, order.limit) == (keys, offset, limit)
    assert query.startswith(order.query) and "ORDER" not in order.query[order.query.rfind("}") :].upper()


@pytest.mark.parametrize(
    "query",
    [
        "SELECT ?a WHERE { ?a ?p ?b }",  # nothing to sort
        "SELECT ?a WHERE { ?a ?p ?b } ORDER BY ?b",  # ?b not in the answer
        "SELECT (STR(?b) AS ?s) WHERE { ?a ?p ?b } ORDER BY ?b",  # ?b only inside an expression
        "SELECT ?a WHERE { ?a ?p ?b } ORDER BY STR(?a)",  # an expression
        "SELECT ?a WHERE { ?a ?p ?b } ORDER BY ?a VALUES ?a { <http://x> }",  # VALUES after it
        "SELECT ?a WHERE { ?a ?p ?b } ORDER BY ?a LIMIT 1 LIMIT 2",
        "SELECT ?a WHERE { { SELECT ?a WHERE { ?a ?p ?b } ORDER BY ?a } }",  # only inside a subquery
        "CONSTRUCT { ?a ?p ?b } WHERE { ?a ?p ?b } ORDER BY ?a",
        "BASE <http://x/> SELECT ?a WHERE { ?a ?p <b> } ORDER BY ?a",  # relative IRIs: read both ways, not cut
        'SELECT ?a WHERE { ?a ?p "} ORDER BY ?a" }',  # inside a string
    ],
)
def test_other_queries_are_left_to_the_engine(query):
    assert check_query(query).order is None


def run(store_dir: Path, query: str, cut: bool) -> dict:
    """The answer, evaluated in this process: cut before its ORDER BY and sorted here, or as written."""
    st = ox.Store.read_only(str(store_dir))
    req = {"query": query, "prefixes": _prefixes(), "union": True, "max_rows": 100_000}
    order = check_query(query).order
    if cut:
        assert order is not None
        req.update(
            query=order.query, sort={"keys": order.keys, "offset": order.offset, "limit": order.limit, "query": query}
        )
    return answer(st, req)


SORTED_HERE = [
    README_UNITS,
    README_ITEM,
    "SELECT ?m ?n WHERE { ?m sp:text ?t BIND(STRLEN(?t) AS ?n) } ORDER BY DESC(?n) ?m LIMIT 7 OFFSET 3",
    "SELECT ?u ?l WHERE { ?u a org:OrganizationalUnit OPTIONAL { ?u skos:altLabel ?l } } ORDER BY DESC(?l) ?u",
    f"SELECT ?x WHERE {{ {MIXED} }} ORDER BY ?x",
    f"SELECT ?x WHERE {{ {MIXED} }} ORDER BY DESC(?x) LIMIT 4",
]


@pytest.mark.parametrize(
    ("query", "keys"),
    [
        (README_UNITS, (0, 1)),
        (README_ITEM, (0, 2)),
        ("SELECT ?m ?n WHERE { ?m sp:text ?t BIND(STRLEN(?t) AS ?n) } ORDER BY DESC(?n) ?m LIMIT 7 OFFSET 3", (0, 1)),
        (
            "SELECT ?u ?l WHERE { ?u a org:OrganizationalUnit OPTIONAL { ?u skos:altLabel ?l } } ORDER BY DESC(?l) ?u",
            (1, 0),
        ),
        (f"SELECT ?x WHERE {{ {MIXED} }} ORDER BY ?x", (0,)),
        (f"SELECT ?x WHERE {{ {MIXED} }} ORDER BY DESC(?x) LIMIT 4", (0,)),
        # what is not sorted here: the engine's order all the same
        ('SELECT ?x WHERE { VALUES ?x { "b" "a"@en "a"@fr } } ORDER BY ?x', (0,)),
        ('SELECT ?x WHERE { VALUES ?x { 2 1.0 1 "x" } } ORDER BY DESC(?x)', (0,)),
        ("SELECT ?x WHERE { VALUES ?x { true false } } ORDER BY ?x", (0,)),
        ('SELECT ?x WHERE { VALUES ?x { "2020-01-01"^^xsd:date "2019-05-01"^^xsd:date } } ORDER BY ?x', (0,)),
        ('SELECT ?x WHERE { VALUES ?x { "NaN"^^xsd:double 1 } } ORDER BY ?x', (0,)),
    ],
)
def test_the_answer_comes_in_the_engines_order(graph_dir, query, keys):
    store = DataDir(graph_dir).store_dir
    ours, theirs = run(store, query, cut=True)["rows"], run(store, query, cut=False)["rows"]
    assert ours and len(ours) == len(theirs)
    assert [[r[k] for k in keys] for r in ours] == [[r[k] for k in keys] for r in theirs]  # ties may come either way
    if "LIMIT" not in query:
        assert sorted(map(str, ours)) == sorted(map(str, theirs))
    order = check_query(query).order
    unsorted = run(store, order.query, cut=False)
    here = sort_rows(unsorted["rows"], unsorted["vars"], order.keys)
    assert (here is not None) == (query in SORTED_HERE)


def test_the_readme_queries_through_a_worker_pool(graph_dir, pool):
    store = DataDir(graph_dir).store_dir
    for query, keys in ((README_UNITS, (0, 1)), (README_ITEM, (0, 2))):
        ours = [[str(t) for t in row] for row in evaluate(store, query, pool=pool).rows]
        theirs = [[c[1] for c in row] for row in run(store, query, cut=False)["rows"]]
        assert ours and [[r[k] for k in keys] for r in ours] == [[r[k] for k in keys] for r in theirs]


def test_sort_rows_refuses_ties_of_different_terms_blank_nodes_and_nan():
    lang = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"
    double = "http://www.w3.org/2001/XMLSchema#double"
    assert sort_rows([[["l", "a", lang, "en"]], [["l", "a", lang, "fr"]]], ["x"], [("x", False)]) is None
    assert sort_rows([[["b", "n1"]], [["u", "http://a"]]], ["x"], [("x", False)]) is None
    assert sort_rows([[["l", "NaN", double, None]]], ["x"], [("x", False)]) is None
    rows = [[["l", "2", double, None]], [None], [["u", "http://a"]], [["l", "a", lang, "en"]]]
    assert sort_rows(rows, ["x"], [("x", False)]) == [rows[1], rows[2], rows[0], rows[3]]


def test_an_answer_too_long_to_sort_here_is_sorted_by_the_engine(monkeypatch):
    st = ox.Store()
    query = "SELECT ?x WHERE { VALUES ?x { 3 1 2 5 4 } } ORDER BY DESC(?x) LIMIT 3"
    order = check_query(query).order
    req = {"query": order.query, "sort": {"keys": order.keys, "offset": 0, "limit": 3, "query": query}}
    monkeypatch.setattr(sparql_worker, "SORT_ROWS", 2)
    out = answer(st, req)
    assert [r[0][1] for r in out["rows"]] == ["5", "4", "3"] and not out["truncated"]


def test_a_pool_told_its_store_opens_it_before_the_first_query(graph_dir):
    store = DataDir(graph_dir).store_dir
    p = WorkerPool(1, 1536 << 20, cache_bytes=0)
    try:
        p.start(store=store)
        deadline = time.monotonic() + 30
        while not p.pids() and time.monotonic() < deadline:
            time.sleep(0.05)
        (pid,) = p.pids()
        opened = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
        assert any(path.startswith(str(store.resolve())) for path in opened), opened
    finally:
        p.close()
