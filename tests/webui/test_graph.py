"""The graph view page and its API: find a start node, a node with its typed neighbours."""

from __future__ import annotations

import pytest

from kg.vocab import ID
from tests.webui.helpers import unit_id

HOTLINE = str(ID["system/hotline-1999"])


def test_graph_page_ships_cytoscape_locally_with_a_legend_per_type(client):
    body = client.get("/graph").get_data(as_text=True)
    assert "/static/vendor/cytoscape/cytoscape.min.js" in body and "cdn" not in body.lower()
    for label in ("上位方案", "計畫", "機關", "單位", "措施", "系統", "實務類型", "框架項目", "法規"):
        assert label in body
    assert client.get("/static/vendor/cytoscape/cytoscape.min.js").status_code == 200
    assert "Cytoscape Consortium" in client.get("/static/vendor/cytoscape/LICENSE").get_data(as_text=True)


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


def test_every_node_type_has_a_page(client, app):
    from tests.webui.helpers import state

    seen = set()
    for node in state(app).graph.nodes.values():
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
        ("/api/graph/find", 400),
        ("/api/graph/find?q=x&type=planet", 400),
        ("/api/graph/find?q=x&limit=x", 400),
    ],
)
def test_graph_api_errors_are_json(client, path, status):
    r = client.get(path)
    assert r.status_code == status and r.is_json and r.get_json()["error"]
