"""The answer cache of a worker pool: a repeatable query on a generation's store is evaluated once, and a new
build (a new generation) is never answered from an older one's answers."""

from __future__ import annotations

import shutil

import pytest

from kg.sparql import check_query, evaluate
from kg.sparql_worker import AnswerCache, WorkerPool
from kg.store import DataDir, build, bundled_plans

PLANS = "SELECT (COUNT(DISTINCT ?plan) AS ?n) WHERE { ?plan sp:measure ?m }"


@pytest.fixture
def pool():
    p = WorkerPool(1, 1536 << 20)
    try:
        yield p
    finally:
        p.close()


def test_a_repeated_query_on_a_generation_is_answered_from_the_cache(graph_dir, pool):
    store = DataDir(graph_dir).store_dir
    first = evaluate(store, PLANS, pool=pool)
    assert pool.cache.hits == 0
    again = evaluate(store, PLANS, pool=pool)
    assert pool.cache.hits == 1
    assert again.rows == first.rows and again.variables == first.variables


def test_another_row_cap_or_dataset_is_another_answer(graph_dir, pool):
    store = DataDir(graph_dir).store_dir
    evaluate(store, PLANS, pool=pool)
    evaluate(store, PLANS, max_rows=5, pool=pool)
    evaluate(store, PLANS, default_graphs=["https://w3id.org/spkg/id/graph/ontology"], pool=pool)
    assert pool.cache.hits == 0


@pytest.mark.parametrize("call", ["NOW()", "RAND()", "UUID()", "STRUUID()", "BNODE()"])
def test_a_query_whose_answer_changes_at_each_run_is_never_cached(graph_dir, pool, call):
    query = f"SELECT ?x WHERE {{ BIND({call} AS ?x) }}"
    assert not check_query(query).repeatable
    for _ in range(2):
        evaluate(DataDir(graph_dir).store_dir, query, pool=pool)
    assert pool.cache.hits == 0


def test_a_store_outside_a_generation_is_not_cached(graph_dir, pool, tmp_path):
    """Only a generation is never written again; a store folder anywhere else may be."""
    loose = tmp_path / "store"
    shutil.copytree(DataDir(graph_dir).store_dir, loose)
    for _ in range(2):
        evaluate(loose, PLANS, pool=pool)
    assert pool.cache.hits == 0


def test_a_new_build_is_answered_from_its_own_store(tmp_path, pool):
    data = tmp_path / "kg-data"
    plans = bundled_plans()
    build(plans[:2], data)
    before = evaluate(DataDir(data).store_dir, PLANS, pool=pool)
    build(plans, data)
    after = evaluate(DataDir(data).store_dir, PLANS, pool=pool)
    assert pool.cache.hits == 0
    assert int(before.rows[0][0]) < int(after.rows[0][0])


def test_errors_are_not_kept(graph_dir, pool):
    store = str(DataDir(graph_dir).store_dir)
    req = {"query": "SELECT * WHERE { ?s ?p }", "store": store, "union": True, "cache": True}
    assert pool.run(req, timeout=10)["error"] == "syntax"
    assert pool.run(req, timeout=10)["error"] == "syntax"
    assert pool.cache.hits == 0


def test_the_least_recently_used_answer_goes_first_beyond_the_budget(graph_dir):
    cache = AnswerCache(budget=4100)
    store = str(DataDir(graph_dir).store_dir)
    keys = [cache.key({"query": f"ASK {{ ?s ?p {n} }}", "store": store, "cache": True}) for n in range(5)]

    def answer(key: str, size: int = 1000) -> bytes:  # key and answer together are `size` bytes
        return b"x" * (size - len(key))

    for key in keys[:4]:
        cache.put(key, answer(key))
    assert cache.get(keys[0]) is not None  # now the second one is the least recently used
    cache.put(keys[4], answer(keys[4]))
    assert cache.get(keys[1]) is None
    assert all(cache.get(k) is not None for k in (keys[0], keys[2], keys[3], keys[4]))
    cache.put(keys[1], answer(keys[1], 1026))  # over a quarter of the budget: not kept at all
    assert cache.get(keys[1]) is None
