"""The knowledge graph as typed nodes and labelled edges, for the interactive graph view, read from the store on
demand.

Nothing of the whole graph is held: a node's kind, label and links come from a few SPARQL queries when the view
asks for it (kept in a small LRU, so expanding around the same nodes does not ask again). Besides the stated
relations a node has derived links a planner would otherwise assemble by expanding every measure (a unit and the
systems its measures use, an agency and the practice types of its measures, with how many measures make each).
Paths between two nodes are found by a bounded bidirectional breadth-first search over neighbour queries, then
ranked shortest first (Yen's algorithm, networkx) over the part of the graph that search saw.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from itertools import islice

import networkx as nx
import pyoxigraph as ox

from kg.vocab import BASE, ID
from webui.store import Store, values

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

# The neighbours one expansion returns each come with at most this many of their own links (a hub next to the node
# expanded, an agency with thousands of measures, must not make the answer huge); the browser draws the links among
# what it shows from them.
LINKS_PER_NODE = 500
# One expansion shows at most this many neighbours unless more are asked for (the API's limit, up to 1000): more
# nodes than this around one are unreadable on the canvas; the status line says how many there are, and the next
# ones come on asking (the API's offset).
NEIGHBOURS = 100
# Path finding looks at no more than this many nodes' neighbours, and does not go through nodes with more links than
# HUB_DEGREE (an agency or a practice type with thousands of measures links nearly everything to everything).
PATH_EXPANSIONS = 150
HUB_DEGREE = 300
CACHE_NODES = 4096  # nodes whose kind, label and links are kept between requests

# rdf:type -> kind, most specific first: an IRI typed twice keeps the first.
_TYPE_KINDS = (
    (BASE + "ontology#Plan", "plan"),
    ("http://www.w3.org/ns/org#Organization", "agency"),
    ("http://www.w3.org/ns/org#OrganizationalUnit", "unit"),
    (BASE + "ontology#Measure", "measure"),
    (BASE + "ontology#System", "system"),
    (BASE + "ontology#Law", "law"),
    (BASE + "ontology#Programme", "programme"),
)
_CONCEPT = "http://www.w3.org/2004/02/skos/core#Concept"
_KIND_RANK = {k: i for i, k in enumerate([k for _, k in _TYPE_KINDS] + ["practice", "framework"])}


def _kind_pattern(var: str) -> str:
    """Binds ?{var}_k to the kind of ?{var} (one row per kind it has; the caller keeps the most specific)."""
    types = "".join(f'{{ ?{var} a <{t}> . BIND("{k}" AS ?{var}_k) }} UNION ' for t, k in _TYPE_KINDS)
    return (
        "{ "
        + types
        + f'{{ ?{var} a skos:Concept ; skos:inScheme id:practice . BIND("practice" AS ?{var}_k) }} UNION '
        + f"{{ ?{var} a skos:Concept ; skos:notation ?{var}_n . "
        + f'FILTER(STRSTARTS(STR(?{var}), "{ID}framework/")) BIND("framework" AS ?{var}_k) }} }}'
    )


_LABEL_ORDER = {
    "http://www.w3.org/2004/02/skos/core#prefLabel": 0,
    "http://purl.org/dc/terms/title": 1,
    "http://www.w3.org/2000/01/rdf-schema#label": 2,
}
_PRIORITY = {p: i for i, p in enumerate(RELATIONS)}
# What the legend's totals count of each relation: links between nodes of the graph view, each pair once under the
# relation that names it (a measure's dcterms:isPartOf its plan is the plan's sp:measure; a unit's
# org:subOrganizationOf its agency is org:unitOf; skos:closeMatch is stated both ways).
_RELATION_ENDS = {
    f"{BASE}ontology#frameworkItem": "?s a sp:Measure .",
    "http://purl.org/dc/terms/isPartOf": "?s a sp:Law . ?o a sp:Law .",
    "http://www.w3.org/ns/org#subOrganizationOf": "?o a org:Organization . FILTER NOT EXISTS { ?s org:unitOf ?o }",
    "http://www.w3.org/2004/02/skos/core#closeMatch": (
        "FILTER(STR(?s) < STR(?o) || NOT EXISTS { ?o skos:closeMatch ?s })"
    ),
    "http://www.w3.org/2004/02/skos/core#broader": "?s a skos:Concept . ?o a skos:Concept .",
}  # of two predicates stating one link, the first names it
_RELATION_VALUES = "VALUES ?p { " + " ".join(f"<{p}>" for p in RELATIONS) + " }"

# A node's links, by index look-ups only (the kinds and labels of the other ends are asked apart: nodes_of). The
# patterns are inside an OPTIONAL: Oxigraph then looks each node up; joined with the nodes' VALUES directly, they
# are evaluated over every triple first (24 s for 200 measures at 100k measures, 90 ms this way).
_ADJACENCY = """
SELECT DISTINCT ?s ?o ?p ?out WHERE {
  VALUES_HERE
  OPTIONAL {
    { ?s ?p ?o . BIND(true AS ?out) } UNION { ?o ?p ?s . BIND(false AS ?out) }
    FILTER(isIRI(?o) && ?o != ?s)
  }
  FILTER(BOUND(?o))
}"""

# The types and concept scheme of some IRIs, and apart (each plan's graph repeats a thing's type and label: asked
# together they would multiply) their labels; their kinds are worked out from these (_node_rows).
_TYPES = """
SELECT DISTINCT ?o ?type ?scheme WHERE {
  VALUES_HERE
  ?o a ?type .
  OPTIONAL { ?o skos:inScheme ?scheme }
}"""
# The label pattern is inside an OPTIONAL, like _ADJACENCY's (5 s for 500 IRIs at 100k measures, 40 ms this way).
_LABELS = """
SELECT DISTINCT ?o ?o_lp ?o_l WHERE {
  VALUES_HERE
  OPTIONAL {
    VALUES ?o_lp { skos:prefLabel dcterms:title rdfs:label }
    ?o ?o_lp ?o_l .
    FILTER(lang(?o_l) = "" || langMatches(lang(?o_l), "zh-Hant"))
  }
  FILTER(BOUND(?o_l))
}"""

# The stated links of some nodes to other nodes, for path finding: no labels, no kinds (the nodes of the view are
# told by their IRIs' paths, which is cheap; a type test would meet each plan's graph repeating the type).
_NODE_PATHS = "plan|org|measure|system|law|programme|practice|framework"
_LINKS = f"""
SELECT DISTINCT ?s ?o WHERE {{
  VALUES_HERE
  OPTIONAL {{
    {{ ?s ?p ?o }} UNION {{ ?o ?p ?s }}
    FILTER(isIRI(?o) && ?o != ?s && REGEX(STR(?o), "^{ID}({_NODE_PATHS})/"))
  }}
  FILTER(BOUND(?o))
}}"""

_DERIVED = {
    # (kind of the node asked about) -> [(pattern binding ?o from the node ?s and its measures ?m, derived label,
    # node is the unit/agency end)]; counted for many nodes at once (GraphIndex._derived_queries)
    "unit": [("?m sp:ownedBy ?s ; sp:usesSystem ?o . ?o a sp:System", "措施使用系統", True)],
    "system": [("?m sp:usesSystem ?s ; sp:ownedBy ?o . ?o a org:OrganizationalUnit", "措施使用系統", False)],
    "agency": [
        (
            "?plan a sp:Plan ; sp:agency ?s ; sp:measure ?m . ?m sp:practiceType ?o . ?o skos:inScheme id:practice",
            "措施實務類型",
            True,
        )
    ],
    "practice": [("?m sp:practiceType ?s . ?plan a sp:Plan ; sp:measure ?m ; sp:agency ?o", "措施實務類型", False)],
}


Derived = tuple[str, str, bool, int]  # a derived link: other end, label, the node is its first end, measures


@dataclass(frozen=True)
class Node:
    iri: str
    kind: str
    key: str  # the id the web pages use: local id, or the notation of a framework item
    label: str

    def as_dict(self) -> dict:
        return {"id": self.iri, "type": self.kind, "type_label": KINDS[self.kind], "key": self.key, "label": self.label}


@dataclass(frozen=True)
class Around:
    """What one node links to: stated links (other, relation label, True if stated from this node), one per other
    node, ordered as the view lists them; derived links (other, label, True if this is the unit/agency end, number
    of measures), most measures first."""

    stated: tuple[tuple[str, str, bool], ...]
    derived: tuple[tuple[str, str, bool, int], ...]


class _LRU:
    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[str, object] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str):
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
        return None

    def put(self, key: str, value: object) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)


_TYPE_KIND = dict(_TYPE_KINDS)


def _kind_of(o: str, type_: str | None, scheme: str | None) -> str | None:
    if type_ in _TYPE_KIND:
        return _TYPE_KIND[type_]
    if type_ == _CONCEPT:
        if scheme == f"{ID}practice":
            return "practice"
        if o.startswith(f"{ID}framework/"):
            return "framework"
    return None


def _node_rows(rows: Iterable[dict]) -> dict[str, Node]:
    """Nodes from rows of ?o ?type ?scheme ?o_lp ?o_l (several rows per node: its types and labels)."""
    kinds: dict[str, str] = {}
    labels: dict[str, tuple[int, str]] = {}
    for r in rows:
        o, k = r["o"], _kind_of(r["o"], r.get("type"), r.get("scheme"))
        if k is not None and (o not in kinds or _KIND_RANK[k] < _KIND_RANK[kinds[o]]):
            kinds[o] = k
        if r.get("o_l") is not None:
            rank = _LABEL_ORDER.get(r["o_lp"], 9)
            if o not in labels or (rank, r["o_l"]) < labels[o]:
                labels[o] = (rank, r["o_l"])
    out = {}
    for o, kind in kinds.items():
        key = _key(o, kind)
        label = labels[o][1] if o in labels else o.rsplit("/", 1)[-1]
        out[o] = Node(o, kind, key, f"{key} {label}" if kind == "framework" else label)
    return out


def _derived_links(counted: Iterable[tuple[str, str, str, bool, int]]) -> dict:
    """Per node, its derived links (other end, label, forward, number of measures), most measures first, then by the
    other end's IRI. Their patterns type the other end, so it is a node of the view without asking: a system used by
    a thousand units is not made to look them all up before its first expansion."""
    out: dict[str, list[Derived]] = {}
    for s, o, label, forward, n in counted:
        out.setdefault(s, []).append((o, label, forward, n))
    for links in out.values():
        links.sort(key=lambda e: (-e[3], e[0]))
    return out


def _valid(value: str) -> bool:
    try:
        ox.NamedNode(value)
    except ValueError:
        return False
    return True


def _sort_key(node: Node) -> tuple[int, str]:
    return (_FIND_ORDER[node.kind], node.label)


class GraphIndex:
    """The graph view's questions, answered from the store.

    `derived`, when given, answers a node's derived links (kind and key of the node -> [(other end's IRI, number of
    measures)], e.g. from the counts the build saved) instead of a SPARQL GROUP BY over its measures (87 ms of the
    1999 hotline's first expansion at 100k measures)."""

    def __init__(
        self,
        store: Store,
        cache_nodes: int = CACHE_NODES,
        derived: Callable[[str, str], Iterable[tuple[str, int]]] | None = None,
    ) -> None:
        self.store = store
        self._derived_of = derived
        self._nodes = _LRU(cache_nodes * 4)
        self._around = _LRU(cache_nodes)
        self._totals: dict | None = None
        self._counts: dict | None = None

    # ----- nodes -----

    def nodes_of(self, iris: Iterable[str]) -> dict[str, Node]:
        """The nodes among these IRIs (those the graph has), by IRI."""
        wanted = [i for i in dict.fromkeys(iris) if i.startswith(("http://", "https://")) and _valid(i)]
        out: dict[str, Node] = {}
        missing = []
        for i in wanted:
            n = self._nodes.get(i)
            if n is None:
                missing.append(i)
            elif n is not False:
                out[i] = n
        chunks = [missing[x : x + 500] for x in range(0, len(missing), 500)]
        asked = [q.replace("VALUES_HERE", values("o", chunk)) for chunk in chunks for q in (_TYPES, _LABELS)]
        answers = self.store.together([partial(self.store.select, q) for q in asked])
        for k, chunk in enumerate(chunks):
            found = _node_rows(answers[2 * k] + answers[2 * k + 1])
            for i in chunk:
                self._nodes.put(i, found.get(i, False))
            out.update(found)
        return {i: out[i] for i in wanted if i in out}

    def node(self, iri_: str) -> Node | None:
        return self.nodes_of([iri_]).get(iri_)

    def around(self, iri_: str) -> Around:
        return self.around_many([iri_])[iri_]

    def around_many(self, iris: list[str]) -> dict[str, Around]:
        """The links of each of these nodes, asked of the store together for those not kept: their adjacency in
        chunks, then the nodes at the other ends of the stated links and the derived links' counts, each in a few
        queries (a 1999 hotline's neighbourhood asked them node by node: 383 queries)."""
        out: dict[str, Around] = {}
        missing = []
        for i in dict.fromkeys(iris):
            a = self._around.get(i)
            if a is None:
                missing.append(i)
            else:
                out[i] = a
        nodes = self.nodes_of(missing)
        adjacency = [
            _ADJACENCY.replace("VALUES_HERE", values("s", missing[x : x + 200]) + " " + _RELATION_VALUES)
            for x in range(0, len(missing), 200)
        ]
        asked = [s for s in missing if s in nodes]
        derived = self._derived_queries(asked, nodes) if self._derived_of is None else []
        answers = self.store.together([partial(self.store.select, q) for q in adjacency + [d[0] for d in derived]])
        by_s: dict[str, list[dict]] = {}
        for rows in answers[: len(adjacency)]:
            for r in rows:
                by_s.setdefault(r["s"], []).append(r)
        counted = [
            (r["s"], r["o"], label, forward, int(r["n"]))
            for (_, label, forward), rows in zip(derived, answers[len(adjacency) :], strict=True)
            for r in rows
        ]
        if self._derived_of is not None:
            counted = [
                (s, o, label, forward, n)
                for s in asked
                for _, label, forward in _DERIVED.get(nodes[s].kind, [])
                for o, n in self._derived_of(nodes[s].kind, nodes[s].key)
            ]
        others = self.nodes_of([r["o"] for rows in by_s.values() for r in rows])
        links = _derived_links(counted)
        for s in missing:
            out[s] = self._build_around(by_s.get(s, []), others, links.get(s, []))
            self._around.put(s, out[s])
        return {i: out[i] for i in iris}

    @staticmethod
    def _derived_queries(iris: list[str], nodes: Mapping[str, Node]) -> list[tuple[str, str, bool]]:
        """(query, label, forward) asking the derived links of these nodes and their numbers of measures: one
        GROUP BY per kind of node, derived relation and chunk of nodes."""
        by_kind: dict[str, list[str]] = {}
        for i in iris:
            by_kind.setdefault(nodes[i].kind, []).append(i)
        return [
            (
                f"SELECT ?s ?o (COUNT(DISTINCT ?m) AS ?n) WHERE {{ {values('s', members[x : x + 200])} {pattern} }} "
                "GROUP BY ?s ?o",
                label,
                forward,
            )
            for kind, members in by_kind.items()
            for pattern, label, forward in _DERIVED.get(kind, [])
            for x in range(0, len(members), 200)
        ]

    def _build_around(self, rows: list[dict], others: Mapping[str, Node], derived: list[Derived]) -> Around:
        best: dict[str, tuple[int, str, bool]] = {}  # several triples state the same link: one edge per pair
        for r in rows:
            o = r["o"]
            if o not in others:
                continue
            pr = _PRIORITY[r["p"]]
            cand = (pr, RELATIONS[r["p"]], bool(r["out"]))
            if o not in best or cand[:1] < best[o][:1] or (cand[0] == best[o][0] and cand[2] and not best[o][2]):
                best[o] = cand
        stated = sorted(((o, rel, out) for o, (_, rel, out) in best.items()), key=lambda e: _sort_key(others[e[0]]))
        return Around(tuple(stated), tuple(derived))

    # ----- what the browser is sent -----

    def describe(self, iri_: str, around: Around | None = None) -> dict:
        """A node as the graph view draws it: its kind, label, degree and how many links of each relation it has."""
        a = around or self.around(iri_)
        rels: Counter[str] = Counter(rel for _, rel, _ in a.stated)
        rels.update(rel for _, rel, _, _ in a.derived)
        node = self.node(iri_)
        assert node is not None
        return dict(node.as_dict(), degree=len(a.stated), relations=dict(rels))

    def links(
        self,
        iri_: str,
        relations: set[str] | None = None,
        derived_from_end: bool = False,
        around: Around | None = None,
    ) -> list[dict]:
        """The links of a node (all, or those of `relations`), stated then derived, as edges; derived ones carry
        their count of measures. `derived_from_end`: only the derived links a unit or agency has to its systems or
        practice types, not the reverse (a system's users are asked for by relation, not shown on every click)."""
        a = around or self.around(iri_)
        out = [
            _edge(iri_, other, rel, forward)
            for other, rel, forward in a.stated
            if relations is None or rel in relations
        ]
        out += [
            dict(_edge(iri_, other, rel, forward), derived=True, count=n)
            for other, rel, forward, n in a.derived
            if (relations is None or rel in relations) and (forward or not derived_from_end)
        ]
        return out

    def resolve(self, ref: str) -> str | None:
        """The IRI a reference names: a full IRI, or its part after the id namespace (as the shared URLs hold)."""
        iri_ = ref if ref.startswith(("http://", "https://")) else str(ID) + ref
        return iri_ if self.node(iri_) is not None else None

    def short_id(self, iri_: str) -> str:
        return iri_[len(str(ID)) :] if iri_.startswith(str(ID)) else iri_

    def relation_totals(self, saved: Mapping[str, int]) -> dict[str, int]:
        """How many links of each relation the whole graph has, stated relations first (the edge legend), each pair
        of nodes once, under the relation that names it: those between plans, measures and what they name as the
        build counted them (`saved`: kg.aggregates' links, by sp: name), the others (between agencies, units, laws and
        concepts: a few thousand triples) counted by SPARQL once per build."""
        if self._totals is None:
            self._totals = self._count_relations(saved)
        return self._totals

    def _count_relations(self, saved: Mapping[str, int]) -> dict[str, int]:
        stated: dict[str, int] = {}
        for p, label in RELATIONS.items():
            name = p.removeprefix(f"{BASE}ontology#")
            if name in saved:
                stated[label] = saved[name]
                continue
            query = (
                "SELECT (COUNT(*) AS ?n) WHERE { SELECT DISTINCT ?s ?o WHERE { "
                + f"?s <{p}> ?o . FILTER(isIRI(?o) && ?s != ?o) {_RELATION_ENDS.get(p, '')} }} }}"
            )
            stated[label] = int(self.store.select(query)[0]["n"] or 0)
        out = {label: n for label, n in stated.items() if n}
        out[DERIVED[("unit", "system")][0]] = saved["unitSystem"]
        out[DERIVED[("agency", "practice")][0]] = saved["agencyPracticeType"]
        return out

    def subgraph(self, iris: list[str]) -> dict:
        """The nodes and every link among them, stated and derived (a shared scene, restored)."""
        wanted = set(iris)
        arounds = self.around_many(iris)
        edges = []
        for i in iris:
            edges += [e for e in self.links(i, around=arounds[i]) if e["source"] == i and e["target"] in wanted]
        return {"nodes": [self.describe(i, arounds[i]) for i in iris], "edges": edges}

    def neighbourhood(self, iri_: str, limit: int, relations: set[str] | None = None, offset: int = 0) -> dict:
        """The node, up to `limit` neighbours (from the offset-th on) and the edges to them: those linked by
        `relations` when given, else every stated link and the derived ones from a unit or agency. Each neighbour
        comes with (up to LINKS_PER_NODE of) its own links, so that the browser can draw the links between what it
        shows; `next` is the offset of the neighbours after these (None when there are no more)."""
        a = self.around(iri_)
        edges = self.links(iri_, relations, derived_from_end=relations is None, around=a)
        page = [(e, e["target"] if e["source"] == iri_ else e["source"]) for e in edges[offset : offset + limit]]
        known = self.nodes_of(o for _, o in page)  # a derived link's other end is typed by its pattern; checked here
        shown = [e for e, o in page if o in known]
        others = [o for _, o in page if o in known]
        arounds = self.around_many(others)
        more = len(edges) > offset + limit
        return {
            "node": dict(self.describe(iri_, a), links=self.links(iri_, around=a)[:LINKS_PER_NODE]),
            "degree": len(a.stated),
            "available": len(edges),
            "truncated": more,
            "offset": offset,
            "next": offset + limit if more else None,
            "neighbours": [
                dict(self.describe(o, arounds[o]), links=self.links(o, around=arounds[o])[:LINKS_PER_NODE])
                for o in others
            ],
            "edges": shown,
        }

    # ----- paths -----

    def paths(self, source: str, target: str, max_hops: int = DEFAULT_HOPS, limit: int = MAX_PATHS) -> list[list[str]]:
        """Up to `limit` simple paths from source to target of at most `max_hops` links, shortest first.

        A bidirectional breadth-first search over the stated links (neighbour queries, the smaller frontier first)
        collects the part of the graph within reach, at most PATH_EXPANSIONS nodes expanded and no hub (more than
        HUB_DEGREE links) gone through; Yen's algorithm then yields that part's paths in order of length, and the
        search stops at the first one that is too long."""
        g = nx.Graph()
        g.add_nodes_from((source, target))
        seen = {source: {source}, target: {target}}
        frontier = {source: [source], target: [target]}
        depth = {source: 0, target: 0}  # layers expanded from each end
        expanded = 0
        # Every path of at most max_hops links has each of its links seen from one end once the two depths add up
        # to max_hops: a link i steps from the source is seen from there when i < depth[source], else from the target.
        while depth[source] + depth[target] < max_hops and expanded < PATH_EXPANSIONS:
            sides = [s for s in (source, target) if frontier[s]]
            if not sides:
                break
            side = min(sides, key=lambda s: len(frontier[s]))
            todo = frontier[side][: PATH_EXPANSIONS - expanded]
            expanded += len(todo)
            frontier[side] = []
            linked = self._links(todo)
            for x in todo:
                ys = linked.get(x, ())
                if x not in (source, target) and len(ys) > HUB_DEGREE:
                    continue
                for y in ys:
                    g.add_edge(x, y)
                    if y not in seen[side]:
                        seen[side].add(y)
                        frontier[side].append(y)
            depth[side] += 1
        found: list[list[str]] = []
        try:
            for path in islice(nx.shortest_simple_paths(g, source, target), limit):
                if len(path) - 1 > max_hops:
                    break
                found.append(path)
        except nx.NetworkXNoPath:
            pass
        return found

    def _links(self, iris: list[str]) -> dict[str, set[str]]:
        """The other nodes each of these is linked to by a stated relation (path finding needs no more)."""
        out: dict[str, set[str]] = {}
        for chunk in (iris[x : x + 100] for x in range(0, len(iris), 100)):
            query = _LINKS.replace("VALUES_HERE", values("s", chunk) + " " + _RELATION_VALUES)
            for r in self.store.select(query):
                out.setdefault(r["s"], set()).add(r["o"])
        return out

    def path_edges(self, path: list[str]) -> list[dict]:
        """The stated links along a path, each as it is stated (its direction and relation)."""
        arounds = self.around_many(path[:-1])
        out = []
        for a, b in zip(path, path[1:], strict=False):
            rel, forward = next((rel, fw) for other, rel, fw in arounds[a].stated if other == b)
            out.append(_edge(a, b, rel, forward))
        return out

    def iri_for(self, kind: str, key: str) -> str | None:
        """The IRI of a page's subject, for the 'show in the graph' links."""
        iri_ = str(ID[_path(kind, key)])
        return iri_ if self.node(iri_) is not None else None

    def find(self, query: str, limit: int = 20, kinds: set[str] | None = None) -> list[dict]:
        """Nodes whose label or key contains the query, best first (exact, then prefix, then anywhere)."""
        q = query.strip().casefold()
        if not q:
            return []
        rows = self.store.select(
            "SELECT DISTINCT ?o WHERE { { VALUES ?o_lp { skos:prefLabel dcterms:title rdfs:label } ?o ?o_lp ?l . "
            'FILTER(lang(?l) = "" || langMatches(lang(?l), "zh-Hant")) BIND(false AS ?whole) } '
            "UNION { ?o skos:notation ?l . BIND(true AS ?whole) } "
            "UNION { ?o dcterms:identifier ?l . BIND(true AS ?whole) } "
            "FILTER(IF(?whole, LCASE(STR(?l)) = ?q, CONTAINS(LCASE(STR(?l)), ?q))) }",
            {"q": q},
        )
        candidates = [r["o"] for r in rows]
        direct = self.resolve(query.strip())
        if direct:
            candidates.append(direct)
        hits = []
        for n in self.nodes_of(candidates).values():
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
        top = [h[4] for h in hits[:limit]]
        arounds = self.around_many([n.iri for n in top])
        return [dict(n.as_dict(), degree=len(arounds[n.iri].stated)) for n in top]

    def counts(self) -> dict[str, int]:
        """How many nodes of each kind the graph has (counted by SPARQL once per build)."""
        if self._counts is None:
            out = dict.fromkeys(KINDS, 0)
            rows = self.store.select(
                "SELECT ?o_k (COUNT(DISTINCT ?o) AS ?n) WHERE { " + _kind_pattern("o") + " } GROUP BY ?o_k"
            )
            for r in rows:
                out[r["o_k"]] = int(r["n"])
            self._counts = out
        return self._counts


def _edge(iri_: str, other: str, rel: str, forward: bool) -> dict:
    source, target = (iri_, other) if forward else (other, iri_)
    return {"id": f"{source}|{target}|{rel}", "source": source, "target": target, "label": rel}


def _key(iri_: str, kind: str) -> str:
    local = iri_[len(str(ID)) :] if iri_.startswith(str(ID)) else iri_
    if kind == "framework":
        return local.removeprefix("framework/").replace("/", "-")
    return local.split("/", 1)[-1]


def _path(kind: str, key: str) -> str:
    if kind == "framework":
        return "framework/" + key.replace("-", "/")
    prefix = {"agency": "org", "unit": "org"}.get(kind, kind)
    return f"{prefix}/{key}"
