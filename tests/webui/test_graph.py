"""The graph view page and its API: find a start node, a node with its typed neighbours (all or by relation), the
derived links, the paths between two nodes, a shared scene."""

from __future__ import annotations

from collections import deque

import pytest

from kg.vocab import ID
from tests.webui.graph_oracle import WholeGraph, whole_graph
from tests.webui.helpers import state, unit_id
from webui.counts import counts
from webui.graphindex import GraphIndex

HOTLINE = str(ID["system/hotline-1999"])


def test_graph_page_ships_cytoscape_locally_with_a_legend_per_type(client):
    body = client.get("/graph").get_data(as_text=True)
    assert "/static/vendor/cytoscape/cytoscape.min.js" in body and "cdn" not in body.lower()
    for label in ("上位方案", "計畫", "機關", "單位", "措施", "系統", "實務類型", "框架項目", "法規"):
        assert label in body
    assert client.get("/static/vendor/cytoscape/cytoscape.min.js").status_code == 200
    assert "Cytoscape Consortium" in client.get("/static/vendor/cytoscape/LICENSE").get_data(as_text=True)
    for name in ("layout-base", "cose-base", "cytoscape-fcose"):
        assert f"/static/vendor/{name}/{name}.js" in body
        assert client.get(f"/static/vendor/{name}/{name}.js").status_code == 200
        assert "MIT" in client.get(f"/static/vendor/{name}/LICENSE").get_data(as_text=True)


def test_graph_legend_speaks_plain_chinese_and_counts_as_the_site_does(client, app):
    body = client.get("/graph").get_data(as_text=True)
    for word in ("skos", "closeMatch", "relatedMatch", "cose）", "RDF", "rdfs", "owl:"):
        assert word not in body
    for label in ("使用系統", "主辦單位", "跨版本對應", "措施使用系統", "措施實務類型"):
        assert f'name="rel" value="{label}"' in body
    st = state(app)
    plans = f'shape-plan"></span>計畫 <span class="n">{len(st.plans)}</span>'
    assert plans in body


def test_graph_page_can_start_from_a_node(client):
    body = client.get("/graph", query_string={"id": HOTLINE}).get_data(as_text=True)
    assert f'data-start="{HOTLINE}"' in body
    assert client.get("/graph", query_string={"id": "https://example.org/x"}).status_code == 404


def test_find_ranks_exact_labels_first(client):
    data = client.get("/api/graph/find", query_string={"q": "1999專線"}).get_json()
    top = data["results"][0]
    assert top["id"] == HOTLINE and top["type"] == "system" and top["url"] == "/system/hotline-1999"
    assert top["degree"] == 3
    units = client.get("/api/graph/find", query_string={"q": "組", "type": "unit"}).get_json()["results"]
    assert units and all(n["type"] == "unit" for n in units)


def test_node_returns_its_typed_neighbours_and_edges(client, app):
    data = client.get("/api/graph/node", query_string={"id": HOTLINE}).get_json()
    assert data["node"]["label"] == "1999專線" and data["node"]["type_label"] == "系統"
    assert len(data["neighbours"]) == data["degree"] == 3
    assert {n["type"] for n in data["neighbours"]} == {"measure"}
    assert all(e["label"] == "使用系統" and e["target"] == HOTLINE for e in data["edges"])
    measure = data["neighbours"][0]
    around = client.get("/api/graph/node", query_string={"id": measure["id"]}).get_json()
    kinds = {n["type"] for n in around["neighbours"]}
    assert {"plan", "system", "framework"} <= kinds
    assert measure["url"].startswith("/measure/m-")
    uid = unit_id(app, "查報組")
    unit = client.get("/api/graph/node", query_string={"id": str(ID[f"org/{uid}"]), "limit": 5}).get_json()
    assert unit["truncated"] and len(unit["neighbours"]) == 5
    assert unit["neighbours"][0]["type"] == "agency"  # organisations before the many measures
    assert unit["offset"] == 0 and unit["next"] == 5


def test_a_hub_s_neighbours_come_a_page_at_a_time(client, app):
    uid = unit_id(app, "查報組")
    ask = lambda **kw: client.get("/api/graph/node", query_string={"id": str(ID[f"org/{uid}"]), **kw}).get_json()  # noqa: E731
    whole = ask(limit=1000)
    assert whole["next"] is None and not whole["truncated"] and whole["available"] > 7
    seen, at = [], 0
    while at is not None:
        page = ask(limit=3, offset=at)
        assert page["offset"] == at and len(page["neighbours"]) <= 3
        seen += [n["id"] for n in page["neighbours"]]
        at = page["next"]
    assert seen == [n["id"] for n in whole["neighbours"]]  # the same neighbours in the same order, none twice
    past = ask(offset=whole["available"])
    assert past["neighbours"] == [] and past["next"] is None


def test_every_node_type_has_a_page(client, app):

    seen = set()
    for node in oracle(app).nodes.values():
        if node.kind in seen:
            continue
        seen.add(node.kind)
        url = client.get("/api/graph/node", query_string={"id": node.iri, "limit": 1}).get_json()["node"]["url"]
        assert client.get(url).status_code == 200, (node.kind, url)
    assert len(seen) == 9


@pytest.mark.parametrize(
    "path, status",
    [
        ("/api/graph/node", 400),
        ("/api/graph/node?id=https://w3id.org/spkg/id/system/none", 404),
        ("/api/graph/node?id=" + HOTLINE + "&limit=0", 400),
        ("/api/graph/node?id=" + HOTLINE + "&offset=-1", 400),
        ("/api/graph/node?id=" + HOTLINE + "&offset=99999999999", 400),
        ("/api/graph/find", 400),
        ("/api/graph/find?q=x&type=planet", 400),
        ("/api/graph/find?q=x&limit=x", 400),
    ],
)
def test_graph_api_errors_are_json(client, path, status):
    r = client.get(path)
    assert r.status_code == status and r.is_json and r.get_json()["error"]


def oracle(app) -> WholeGraph:
    """The whole graph built in memory with rdflib (the oracle of the on-demand answers)."""
    st = state(app)
    return whole_graph(st.root, st.data_dir)


def _iri(app, unit: str = "查報組") -> str:
    return str(ID[f"org/{unit_id(app, unit)}"])


def _hops(app, a: str, b: str) -> int | None:
    """The length of the shortest path, by a plain breadth-first search over the index (the oracle)."""
    adjacency = oracle(app).adjacency
    seen, todo = {a: 0}, deque([a])
    while todo:
        x = todo.popleft()
        for y, _, _ in adjacency[x]:
            if y not in seen:
                seen[y] = seen[x] + 1
                todo.append(y)
    return seen.get(b)


def test_paths_between_a_unit_and_the_1999_hotline(client, app):
    unit = _iri(app)
    data = client.get("/api/graph/paths", query_string={"from": unit, "to": HOTLINE}).get_json()
    paths = data["paths"]
    assert 1 <= len(paths) <= 10 and data["max_hops"] == 6
    assert paths[0]["hops"] == _hops(app, unit, HOTLINE) == 2
    assert [p["hops"] for p in paths] == sorted(p["hops"] for p in paths)
    graph = oracle(app)
    for p in paths:
        assert p["nodes"][0] == unit and p["nodes"][-1] == HOTLINE and len(set(p["nodes"])) == len(p["nodes"])
        assert p["hops"] == len(p["nodes"]) - 1 == len(p["edges"]) <= 6
        for a, b, e in zip(p["nodes"], p["nodes"][1:], p["edges"], strict=False):
            assert {e["source"], e["target"]} == {a, b}
            assert any(o == b and rel == e["label"] for o, rel, _ in graph.adjacency[a])
    # the measure between them is 查報組's and names the hotline
    middle = graph.nodes[paths[0]["nodes"][1]]
    assert middle.kind == "measure" and "1999" in middle.label
    assert {n["id"] for n in data["nodes"]} == {i for p in paths for i in p["nodes"]}
    assert all(n["url"] and n["links"] for n in data["nodes"])
    # short references (as the shared URLs hold them) name the same nodes
    short = client.get(
        "/api/graph/paths", query_string={"from": unit.removeprefix(str(ID)), "to": "system/hotline-1999"}
    )
    assert short.get_json()["paths"] == paths


def test_paths_respect_the_hop_limit(client, app):
    unit = _iri(app)
    none = client.get("/api/graph/paths", query_string={"from": unit, "to": HOTLINE, "max_hops": 1}).get_json()
    assert none["paths"] == [] and "1 步之內" in none["message"]
    for hops in (2, 3, 4):
        got = client.get("/api/graph/paths", query_string={"from": unit, "to": HOTLINE, "max_hops": hops}).get_json()
        assert got["paths"] and all(p["hops"] <= hops for p in got["paths"])
    four = client.get("/api/graph/paths", query_string={"from": unit, "to": HOTLINE, "max_hops": 4}).get_json()
    assert max(p["hops"] for p in four["paths"]) == 4  # longer paths are found when allowed


@pytest.mark.parametrize(
    "args, param",
    [
        ({"to": HOTLINE}, "from"),
        ({"from": HOTLINE}, "to"),
        ({"from": "https://example.org/x", "to": HOTLINE}, "from"),
        ({"from": HOTLINE, "to": "system/none"}, "to"),
        ({"from": "x" * 5000, "to": HOTLINE}, "from"),
        ({"from": HOTLINE, "to": "'; DROP TABLE x; --"}, "to"),
        ({"from": HOTLINE, "to": str(ID["system/itaiwan"]), "max_hops": "0"}, "max_hops"),
        ({"from": HOTLINE, "to": str(ID["system/itaiwan"]), "max_hops": "9"}, "max_hops"),
        ({"from": HOTLINE, "to": str(ID["system/itaiwan"]), "max_hops": "-1"}, "max_hops"),
        ({"from": HOTLINE, "to": str(ID["system/itaiwan"]), "max_hops": "1e9"}, "max_hops"),
        ({"from": HOTLINE, "to": HOTLINE}, "from"),
    ],
)
def test_paths_refuse_bad_parameters_naming_them(client, args, param):
    r = client.get("/api/graph/paths", query_string=args)
    assert r.status_code == 400 and r.is_json
    assert param in r.get_json()["error"]


def test_derived_links_count_measures_as_the_records_do(client, app):
    st = state(app)
    graph = oracle(app)
    c = counts(st)
    measures_of: dict[str, set[str]] = {}  # unit or system id -> its measures, from the records
    for m in st.measures.values():
        for e in m["unit_entities"] + m["system_entities"]:
            measures_of.setdefault(e["id"], set()).add(m["id"])
    seen = {"unit": 0, "agency": 0}
    for iri, links in graph.derived.items():
        node = graph.nodes[iri]
        for other, label, forward, n in links:
            if not forward:
                continue
            end = graph.nodes[other]
            if node.kind == "unit":
                assert label == "措施使用系統" and end.kind == "system"
                mine = measures_of[node.key] & measures_of[end.key]
                assert n == len(mine), (node.label, end.label)
            else:
                assert node.kind == "agency" and label == "措施實務類型" and end.kind == "practice"
                assert n == c.cell(end.key, node.key), (node.label, end.label)
            seen[node.kind] += 1
    # and none is missing: every unit × system and agency × practice type with measures has its link
    expected_units = sum(
        1 for u in st.units for s in st.systems if measures_of.get(u, set()) & measures_of.get(s, set())
    )
    expected_agencies = sum(1 for t in c.used_types() for a in c.agency_ids if c.cell(t, a))
    assert seen == {"unit": expected_units, "agency": expected_agencies} and expected_units and expected_agencies


def test_derived_links_read_from_the_build_s_counts_equal_the_store_s_and_the_oracle_s(app):
    """The state's graph index reads derived links from the saved counts; one without a source counts them by
    SPARQL: both give every node the oracle's links, most measures first, then by the other end's IRI."""
    st = state(app)
    graph = oracle(app)
    counted = GraphIndex(st.store)
    nodes = [iri for iri, node in graph.nodes.items() if node.kind in ("unit", "system", "agency", "practice")]
    saved, asked = st.graph.around_many(nodes), counted.around_many(nodes)
    for iri in nodes:
        want = sorted(graph.derived[iri], key=lambda e: (-e[3], e[0]))
        assert list(saved[iri].derived) == list(asked[iri].derived) == want, graph.nodes[iri].label
    assert sum(len(graph.derived[i]) for i in nodes) > 50


def test_a_unit_shows_the_systems_its_measures_use_in_one_expansion(client, app):
    unit = _iri(app)
    data = client.get("/api/graph/node", query_string={"id": unit}).get_json()
    derived = [e for e in data["edges"] if e.get("derived")]
    assert derived and all(e["label"] == "措施使用系統" and e["source"] == unit and e["count"] >= 1 for e in derived)
    hotline = next(e for e in derived if e["target"] == HOTLINE)
    assert hotline["count"] == 1
    assert data["node"]["relations"]["措施使用系統"] == len(derived)
    # expand by one relation only
    only = client.get("/api/graph/node", query_string={"id": unit, "rel": "措施使用系統"}).get_json()
    assert {n["type"] for n in only["neighbours"]} == {"system"} and len(only["neighbours"]) == len(derived)
    users = client.get("/api/graph/node", query_string={"id": HOTLINE, "rel": "措施使用系統"}).get_json()
    assert unit in {n["id"] for n in users["neighbours"]}
    bad = client.get("/api/graph/node", query_string={"id": unit, "rel": "skos:closeMatch"})
    assert bad.status_code == 400 and "rel" in bad.get_json()["error"]


def test_a_shared_scene_comes_back_with_the_links_among_its_nodes(client, app):
    unit = _iri(app)
    path = client.get("/api/graph/paths", query_string={"from": unit, "to": HOTLINE, "max_hops": 2}).get_json()
    ids = path["paths"][0]["nodes"]
    refs = ",".join(i.removeprefix(str(ID)) for i in ids) + ",system/none"
    data = client.get("/api/graph/subgraph", query_string={"ids": refs}).get_json()
    assert [n["id"] for n in data["nodes"]] == ids and data["missing"] == ["system/none"]
    pairs = {frozenset((e["source"], e["target"])) for e in data["edges"]}
    assert frozenset((unit, HOTLINE)) in pairs  # the derived unit → system link
    assert frozenset((ids[0], ids[1])) in pairs and frozenset((ids[1], ids[2])) in pairs
    too_many = client.get("/api/graph/subgraph", query_string={"ids": ",".join(["x"] * 1001)})
    assert too_many.status_code == 400 and "ids" in too_many.get_json()["error"]
    assert client.get("/api/graph/subgraph").status_code == 400
