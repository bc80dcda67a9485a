"""Downloads: the graph in Turtle and JSON-LD, the measures, the ontology, the practice types."""

from __future__ import annotations

import json

import pytest
from rdflib import Graph


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
    assert client.get("/download/measures.csv").get_data(as_text=True).startswith("id,plan,agency")
    assert "skos:closeMatch" in client.get("/download/framework.ttl").get_data(as_text=True)


def test_unknown_download_is_404(client):
    assert client.get("/download/store").status_code == 404
