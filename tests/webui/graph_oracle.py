"""The whole graph in memory, built with rdflib's evaluator from the data dir's store: the oracle the graph view's
on-demand answers (webui.graphindex, from the store) are checked against."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from rdflib import Dataset

from kg.datadir import DataDir
from kg.vocab import BASE, ID
from webui.graphindex import _FIND_ORDER, DERIVED, RELATIONS, Node, _key

_PREFIXES = f"""
PREFIX sp: <{BASE}ontology#>
PREFIX id: <{ID}>
PREFIX org: <http://www.w3.org/ns/org#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX dcterms: <http://purl.org/dc/terms/>
"""

_NODES = (
    _PREFIXES
    + """
SELECT DISTINCT ?s ?kind WHERE {
  { ?s a sp:Plan . BIND("plan" AS ?kind) }
  UNION { ?s a org:Organization . BIND("agency" AS ?kind) }
  UNION { ?s a org:OrganizationalUnit . BIND("unit" AS ?kind) }
  UNION { ?s a sp:Measure . BIND("measure" AS ?kind) }
  UNION { ?s a sp:System . BIND("system" AS ?kind) }
  UNION { ?s a sp:Law . BIND("law" AS ?kind) }
  UNION { ?s a sp:Programme . BIND("programme" AS ?kind) }
  UNION { ?s a skos:Concept ; skos:inScheme id:practice . BIND("practice" AS ?kind) }
  UNION { ?s a skos:Concept ; skos:notation ?n .
          FILTER(STRSTARTS(STR(?s), STR(id:framework))) BIND("framework" AS ?kind) }
}
"""
)

_LABELS = (
    _PREFIXES
    + """
SELECT DISTINCT ?s ?p ?l WHERE {
  VALUES ?p { skos:prefLabel rdfs:label dcterms:title skos:notation }
  ?s ?p ?l .
  FILTER(lang(?l) = "" || langMatches(lang(?l), "zh-Hant"))
}
"""
)

_EDGES = (
    _PREFIXES
    + "SELECT DISTINCT ?s ?p ?o WHERE { VALUES ?p { "
    + " ".join(f"<{p}>" for p in RELATIONS)
    + " } ?s ?p ?o . FILTER(isIRI(?o)) }"
)


@dataclass
class WholeGraph:
    nodes: dict[str, Node] = field(default_factory=dict)
    # iri -> [(other iri, relation label, True if the triple points from iri to other)]
    adjacency: dict[str, list[tuple[str, str, bool]]] = field(default_factory=dict)
    # iri -> [(other iri, derived relation label, True if iri is the unit/agency end, number of measures)]
    derived: dict[str, list[tuple[str, str, bool, int]]] = field(default_factory=dict)

    @classmethod
    def from_dataset(cls, ds: Dataset) -> WholeGraph:
        kinds: dict[str, str] = {}
        for s, kind in ds.query(_NODES):
            # An IRI typed twice (never in practice) keeps its first, more specific kind.
            kinds.setdefault(str(s), str(kind))
        labels: dict[str, dict[str, str]] = {}
        for s, p, lit in ds.query(_LABELS):
            if str(s) in kinds:
                labels.setdefault(str(s), {}).setdefault(str(p).rsplit("#", 1)[-1].rsplit("/", 1)[-1], str(lit))
        index = cls()
        for iri, kind in kinds.items():
            found = labels.get(iri, {})
            label = found.get("prefLabel") or found.get("title") or found.get("label") or iri.rsplit("/", 1)[-1]
            key = _key(iri, kind)
            if kind == "framework":
                label = f"{key} {label}"
            index.nodes[iri] = Node(iri, kind, key, label)
            index.adjacency[iri] = []
        seen: set[frozenset[str]] = set()
        for s, p, o in ds.query(_EDGES):
            a, b = str(s), str(o)
            pair = frozenset((a, b))
            # Several triples state the same link (sp:measure / dcterms:isPartOf, unitOf / subOrganizationOf,
            # closeMatch both ways): the view draws one edge per pair of nodes.
            if a == b or a not in index.nodes or b not in index.nodes or pair in seen:
                continue
            seen.add(pair)
            rel = RELATIONS[str(p)]
            index.adjacency[a].append((b, rel, True))
            index.adjacency[b].append((a, rel, False))
        for edges in index.adjacency.values():
            edges.sort(key=lambda e: (_FIND_ORDER[index.nodes[e[0]].kind], index.nodes[e[0]].label))
        index._derive()
        return index

    def _derive(self) -> None:
        """The derived links, counted over the measures: a unit whose measures use a system, an agency whose plans
        have measures of a practice type (the plan's 訂定機關, as the rest of the site counts an agency's measures)."""
        pairs: Counter[tuple[str, str, str]] = Counter()
        for iri, node in self.nodes.items():
            if node.kind != "measure":
                continue
            around: dict[str, set[str]] = {}
            for other, _, _ in self.adjacency[iri]:
                around.setdefault(self.nodes[other].kind, set()).add(other)
            agencies = {
                a
                for plan in around.get("plan", ())
                for a, rel, out in self.adjacency[plan]
                if out and rel == RELATIONS[f"{BASE}ontology#agency"]
            }
            ends = {"unit": around.get("unit", set()), "agency": agencies}
            for (kind, other_kind), (label, _) in DERIVED.items():
                for a in ends[kind]:
                    for b in around.get(other_kind, ()):
                        pairs[(a, b, label)] += 1
        self.derived = {iri: [] for iri in self.nodes}
        for (a, b, label), n in sorted(pairs.items()):
            self.derived[a].append((b, label, True, n))
            self.derived[b].append((a, label, False, n))
        for edges in self.derived.values():
            edges.sort(key=lambda e: (-e[3], self.nodes[e[0]].label))


@cache
def whole_graph(root: Path, generation: Path) -> WholeGraph:
    """The graph of the data dir at root, whose current generation is `generation` (the cache key)."""
    return WholeGraph.from_dataset(DataDir(root).dataset())
