"""The knowledge graph as typed nodes and labelled edges in memory, for the interactive graph view.

Built once from the RDF store with a handful of SPARQL queries, so that expanding a node in the browser is a dict
look-up instead of a query: a few hundred nodes must stay responsive. Besides the stated relations it holds derived
links a planner would otherwise assemble by expanding every measure (a unit and the systems its measures use, an
agency and the practice types of its measures, with how many measures make each), and finds the shortest paths
between two nodes with networkx over a graph built once per index.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from itertools import islice

import networkx as nx
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

# Links the index works out from two stated ones through the measures, with the words a planner reads on them and
# what they mean (the legend says it). Keyed by (kind of one end, kind of the other end).
DERIVED: dict[tuple[str, str], tuple[str, str]] = {
    ("unit", "system"): ("措施使用系統", "單位的措施使用此系統；數字為措施數"),
    ("agency", "practice"): ("措施實務類型", "機關計畫中有此實務類型的措施；數字為措施數"),
}
DERIVED_LABELS = frozenset(label for label, _ in DERIVED.values())

# The hop limits of path finding: a planner asks for up to MAX_HOPS, gets at most MAX_PATHS paths, shortest first.
DEFAULT_HOPS = 6
MAX_HOPS = 8
MAX_PATHS = 10

# What each relation says, read from one end to the other (the edge legend's explanations).
RELATION_NOTES: dict[str, str] = {
    "訂定機關": "計畫由此機關訂定",
    "依據": "計畫依據此上位方案",
    "含措施": "計畫列有此措施",
    "主辦單位": "措施由此單位主辦",
    "隸屬": "單位隸屬此機關",
    "上級機關": "機關的上級機關",
    "使用系統": "措施使用此系統",
    "引用法規": "措施引用此法規",
    "實務類型": "措施屬於此實務類型",
    "框架項目": "措施對應此框架項目",
    "上位項目": "框架項目的上一層項目",
    "跨版本對應": "兩版框架間相近的項目",
    "屬於": "法規條文屬於此法規",
    **{label: note for label, note in DERIVED.values()},
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
    # iri -> [(other iri, derived relation label, True if iri is the unit/agency end, number of measures)]
    derived: dict[str, list[tuple[str, str, bool, int]]] = field(default_factory=dict)
    _nx: nx.Graph | None = field(default=None, repr=False)
    _nx_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

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

    # ----- what the browser is sent -----

    def describe(self, iri: str) -> dict:
        """A node as the graph view draws it: its kind, label, degree and how many links of each relation it has."""
        rels: Counter[str] = Counter(rel for _, rel, _ in self.adjacency[iri])
        rels.update(rel for _, rel, _, _ in self.derived[iri])
        return dict(self.nodes[iri].as_dict(), degree=len(self.adjacency[iri]), relations=dict(rels))

    def links(self, iri: str, relations: set[str] | None = None, derived_from_end: bool = False) -> list[dict]:
        """The links of a node (all, or those of `relations`), stated then derived, as edges; derived ones carry
        their count of measures. `derived_from_end`: only the derived links a unit or agency has to its systems or
        practice types, not the reverse (a system's users are asked for by relation, not shown on every click)."""
        out = [
            _edge(iri, other, rel, forward)
            for other, rel, forward in self.adjacency[iri]
            if relations is None or rel in relations
        ]
        out += [
            dict(_edge(iri, other, rel, forward), derived=True, count=n)
            for other, rel, forward, n in self.derived[iri]
            if (relations is None or rel in relations) and (forward or not derived_from_end)
        ]
        return out

    def resolve(self, ref: str) -> str | None:
        """The IRI a reference names: a full IRI, or its part after the id namespace (as the shared URLs hold)."""
        iri = ref if ref.startswith(("http://", "https://")) else str(ID) + ref
        return iri if iri in self.nodes else None

    def short_id(self, iri: str) -> str:
        return iri[len(str(ID)) :] if iri.startswith(str(ID)) else iri

    def relation_totals(self) -> dict[str, int]:
        """How many links of each relation the whole graph has, stated relations first (the edge legend)."""
        stated: Counter[str] = Counter(rel for edges in self.adjacency.values() for _, rel, out in edges if out)
        derived: Counter[str] = Counter(rel for edges in self.derived.values() for _, rel, out, _ in edges if out)
        out = {label: stated[label] for label in dict.fromkeys(RELATIONS.values()) if stated[label]}
        out.update({label: derived[label] for label, _ in DERIVED.values()})
        return out

    def subgraph(self, iris: list[str]) -> dict:
        """The nodes and every link among them, stated and derived (a shared scene, restored)."""
        wanted = set(iris)
        edges = []
        for iri in iris:
            edges += [e for e in self.links(iri) if e["source"] == iri and e["target"] in wanted]
        return {"nodes": [self.describe(i) for i in iris], "edges": edges}

    # ----- paths -----

    def nx_graph(self) -> nx.Graph:
        """The stated links as an undirected networkx graph, built on first use and kept (an index never changes:
        a new build gives a new state with a new index). Derived links are left out: each stands for a two-hop
        path through a measure, which a path should show."""
        with self._nx_lock:
            if self._nx is None:
                g = nx.Graph()
                g.add_nodes_from(self.nodes)
                g.add_edges_from((a, b) for a, edges in self.adjacency.items() for b, _, out in edges if out)
                self._nx = g
            return self._nx

    def paths(self, source: str, target: str, max_hops: int = DEFAULT_HOPS, limit: int = MAX_PATHS) -> list[list[str]]:
        """Up to `limit` simple paths from source to target of at most `max_hops` links, shortest first.

        Yen's algorithm (networkx.shortest_simple_paths) yields paths in order of length, so the search stops at the
        first one that is too long: the work is bounded by limit × path length shortest-path searches."""
        g = self.nx_graph()
        found: list[list[str]] = []
        try:
            for path in islice(nx.shortest_simple_paths(g, source, target), limit):
                if len(path) - 1 > max_hops:
                    break
                found.append(path)
        except nx.NetworkXNoPath:
            pass
        return found

    def path_edges(self, path: list[str]) -> list[dict]:
        """The stated links along a path, each as it is stated (its direction and relation)."""
        out = []
        for a, b in zip(path, path[1:], strict=False):
            rel, forward = next((rel, fw) for other, rel, fw in self.adjacency[a] if other == b)
            out.append(_edge(a, b, rel, forward))
        return out

    def node(self, iri: str) -> Node | None:
        return self.nodes.get(iri)

    def iri_for(self, kind: str, key: str) -> str | None:
        """The IRI of a page's subject, for the 'show in the graph' links."""
        iri = str(ID[_path(kind, key)])
        return iri if iri in self.nodes else None

    def neighbourhood(self, iri: str, limit: int, relations: set[str] | None = None) -> dict:
        """The node, up to `limit` neighbours and the edges to them: those linked by `relations` when given, else
        every stated link and the derived ones from a unit or agency. Each neighbour comes with its own links, so
        that the browser can draw every link between what it shows (it adds those whose other end it has)."""
        edges = self.links(iri, relations, derived_from_end=relations is None)
        shown = edges[:limit]
        others = [e["target"] if e["source"] == iri else e["source"] for e in shown]
        return {
            "node": dict(self.describe(iri), links=self.links(iri)),
            "degree": len(self.adjacency[iri]),
            "available": len(edges),
            "truncated": len(edges) > limit,
            "neighbours": [dict(self.describe(o), links=self.links(o)) for o in others],
            "edges": shown,
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


def _edge(iri: str, other: str, rel: str, forward: bool) -> dict:
    source, target = (iri, other) if forward else (other, iri)
    return {"id": f"{source}|{target}|{rel}", "source": source, "target": target, "label": rel}


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
