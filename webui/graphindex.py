"""The knowledge graph as typed nodes and labelled edges in memory, for the interactive graph view.

Built once from the RDF store with a handful of SPARQL queries, so that expanding a node in the browser is a dict
look-up instead of a query: a few hundred nodes must stay responsive.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rdflib import Dataset

from kg.vocab import BASE, ID

# The node types the graph view knows, in the order the legend lists them.
KINDS: dict[str, str] = {
    "programme": "上位方案",
    "plan": "計畫",
    "agency": "機關",
    "unit": "單位",
    "measure": "措施",
    "system": "系統",
    "practice": "實務類型",
    "framework": "框架項目",
    "law": "法規",
}

# When a search for a start node matches several things, planners mostly mean an organisation or a system.
_FIND_ORDER = {
    k: i
    for i, k in enumerate(("agency", "unit", "system", "practice", "framework", "programme", "plan", "law", "measure"))
}

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

# Relations shown as edges, with the words a planner reads on them.
RELATIONS: dict[str, str] = {
    f"{BASE}ontology#agency": "訂定機關",
    f"{BASE}ontology#basedOn": "依據",
    f"{BASE}ontology#measure": "含措施",
    f"{BASE}ontology#ownedBy": "主辦單位",
    "http://www.w3.org/ns/org#unitOf": "隸屬",
    "http://www.w3.org/ns/org#subOrganizationOf": "上級機關",
    f"{BASE}ontology#usesSystem": "使用系統",
    f"{BASE}ontology#citesLaw": "引用法規",
    f"{BASE}ontology#practiceType": "實務類型",
    f"{BASE}ontology#frameworkItem": "框架項目",
    "http://www.w3.org/2004/02/skos/core#broader": "上位項目",
    "http://www.w3.org/2004/02/skos/core#closeMatch": "跨版本對應",
    "http://purl.org/dc/terms/isPartOf": "屬於",
}

_EDGES = (
    _PREFIXES
    + "SELECT DISTINCT ?s ?p ?o WHERE { VALUES ?p { "
    + " ".join(f"<{p}>" for p in RELATIONS)
    + " } ?s ?p ?o . FILTER(isIRI(?o)) }"
)


@dataclass(frozen=True)
class Node:
    iri: str
    kind: str
    key: str  # the id the web pages use: local id, or the notation of a framework item
    label: str

    def as_dict(self) -> dict:
        return {"id": self.iri, "type": self.kind, "type_label": KINDS[self.kind], "key": self.key, "label": self.label}


@dataclass
class GraphIndex:
    nodes: dict[str, Node] = field(default_factory=dict)
    # iri -> [(other iri, relation label, True if the triple points from iri to other)]
    adjacency: dict[str, list[tuple[str, str, bool]]] = field(default_factory=dict)

    @classmethod
    def from_dataset(cls, ds: Dataset) -> GraphIndex:
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
        return index

    def node(self, iri: str) -> Node | None:
        return self.nodes.get(iri)

    def iri_for(self, kind: str, key: str) -> str | None:
        """The IRI of a page's subject, for the 'show in the graph' links."""
        iri = str(ID[_path(kind, key)])
        return iri if iri in self.nodes else None

    def neighbourhood(self, iri: str, limit: int) -> dict:
        """The node, up to `limit` neighbours and the edges to them (the client adds what it has not drawn yet)."""
        node = self.nodes[iri]
        edges = self.adjacency.get(iri, [])
        shown = edges[:limit]
        return {
            "node": node.as_dict(),
            "degree": len(edges),
            "truncated": len(edges) > limit,
            "neighbours": [self.nodes[other].as_dict() for other, _, _ in shown],
            "edges": [
                {"source": iri if out else other, "target": other if out else iri, "label": rel}
                for other, rel, out in shown
            ],
        }

    def find(self, query: str, limit: int = 20, kinds: set[str] | None = None) -> list[dict]:
        """Nodes whose label or key contains the query, best first (exact, then prefix, then anywhere)."""
        q = query.strip().casefold()
        if not q:
            return []
        hits = []
        for n in self.nodes.values():
            if kinds and n.kind not in kinds:
                continue
            label = n.label.casefold()
            if q == label or q == n.key.casefold() or q == n.iri.casefold():
                rank = 0
            elif label.startswith(q):
                rank = 1
            elif q in label:
                rank = 2
            else:
                continue
            hits.append((rank, _FIND_ORDER[n.kind], len(n.label), n.label, n))
        hits.sort(key=lambda h: h[:4])
        return [dict(h[4].as_dict(), degree=len(self.adjacency[h[4].iri])) for h in hits[:limit]]

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(KINDS, 0)
        for n in self.nodes.values():
            out[n.kind] += 1
        return out


def _key(iri: str, kind: str) -> str:
    local = iri[len(str(ID)) :] if iri.startswith(str(ID)) else iri
    if kind == "framework":
        return local.removeprefix("framework/").replace("/", "-")
    return local.split("/", 1)[-1]


def _path(kind: str, key: str) -> str:
    if kind == "framework":
        return "framework/" + key.replace("-", "/")
    prefix = {"agency": "org", "unit": "org"}.get(kind, kind)
    return f"{prefix}/{key}"
