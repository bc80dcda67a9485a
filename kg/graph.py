"""Emit RDF for one plan record in the ontology's terms: ORG, SKOS, PROV-O, Web Annotation, DCTERMS, sp:.

The triples are written as N-Triples text (no rdflib terms or Graph on the way: a build of 100k measures writes
millions of them), which the store bulk-loads into the plan's named graph; plan_graph parses them into an rdflib
Graph for the callers that want one.
"""

from __future__ import annotations

from collections.abc import Iterable

from rdflib import RDF, RDFS, XSD, Graph, URIRef
from rdflib.namespace import DCTERMS, FOAF, PROV, SKOS

from kg.link import short_id
from kg.vocab import ID, OA, ORG, SP

ZH = "zh-Hant"
RFC5147 = URIRef("http://tools.ietf.org/rfc/rfc5147")
SYSTEM_CLASS = {
    "Hotline": SP.Hotline,
    "MobileApp": SP.MobileApp,
    "WebPlatform": SP.WebPlatform,
    "Website": SP.Website,
    "Mailbox": SP.Mailbox,
    "SocialMedia": SP.SocialMedia,
    "InformationSystem": SP.InformationSystem,
}


def plan_iri(key: str) -> URIRef:
    return ID[f"plan/{key}"]


def graph_iri(key: str) -> URIRef:
    """The named graph that holds one plan: replacing the plan replaces this graph."""
    return ID[f"graph/{key}"]


def measure_iri(mid: str) -> URIRef:
    return ID[f"measure/{mid}"]


def org_iri(eid: str) -> URIRef:
    return ID[f"org/{eid}"]


def entity_iri(e: dict) -> URIRef:
    prefix = {"agency": "org", "unit": "org", "system": "system", "law": "law", "programme": "programme"}[e["kind"]]
    return ID[f"{prefix}/{e['id']}"]


def framework_iri(notation: str | None) -> URIRef | None:
    return ID["framework/" + notation.replace("-", "/")] if notation else None


_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r"})


def _iri(value: str) -> str:
    return f"<{value}>"


def _text(value: str, lang: str | None = None) -> str:
    """A literal in N-Triples: a language-tagged string, or a plain (xsd:string) one."""
    quoted = '"' + str(value).translate(_ESCAPES) + '"'
    return f"{quoted}@{lang}" if lang else quoted


def _typed(value: object, datatype: str) -> str:
    return '"' + str(value).translate(_ESCAPES) + '"^^<' + datatype + ">"


_ENTITY_FIELDS = ("id", "kind", "name", "name_en", "parent", "type")  # what an entity's description is made of


class Triples:
    """N-Triples lines (N-Quads when a graph is given), in the order added; a triple added twice is kept once."""

    def __init__(self, graph: str | None = None) -> None:
        self.lines: dict[str, None] = {}
        self.end = f" <{graph}> .\n" if graph else " .\n"
        self._described: set[tuple] = set()

    def first(self, kind: str, e: dict) -> bool:
        """True the first time this entity (as its record has it: every field its triples are made of) is described
        here: its triples are the same each time, so they are written once."""
        key = (kind, *(e.get(f) for f in _ENTITY_FIELDS))
        if key in self._described:
            return False
        self._described.add(key)
        return True

    def add(self, s: str, p: str, o: str) -> None:
        self.lines[f"{s} {p} {o}{self.end}"] = None

    def text(self) -> str:
        return "".join(self.lines)


# The IRIs used, in N-Triples form (looked up once, not built per triple).
_TYPE, _LABEL, _PREF = _iri(RDF.type), _iri(RDFS.label), _iri(SKOS.prefLabel)
_INTEGER, _STRING, _GYEAR, _DATE = str(XSD.integer), str(XSD.string), str(XSD.gYear), str(XSD.date)
_PART, _TITLE, _IDENT = _iri(DCTERMS.isPartOf), _iri(DCTERMS.title), _iri(DCTERMS.identifier)
_ORD, _FW_ITEM, _DIM = _iri(SP.ordinal), _iri(SP.frameworkItem), _iri(SP.dimension)
_SUB, _ORG_CLASS = _iri(ORG.subOrganizationOf), _iri(ORG.Organization)
_ID = str(ID)


def _node(path: str) -> str:
    """An IRI under the id namespace, e.g. 'plan/…', in N-Triples form."""
    return f"<{_ID}{path}>"


def _framework(notation: str) -> str:
    return _iri(framework_iri(notation))


def _label(g: Triples, node: str, name: str, name_en: str = "") -> None:
    g.add(node, _PREF, _text(name, ZH))
    if name_en:
        g.add(node, _PREF, _text(name_en, "en"))


def _agency(g: Triples, a: dict, agencies: dict[str, dict], seen: frozenset[str] = frozenset()) -> str:
    node = _node(f"org/{a['id']}")
    if not seen and not g.first("agency", a):
        return node
    g.add(node, _TYPE, _ORG_CLASS)
    _label(g, node, a["name"], a.get("name_en", ""))
    parent = agencies.get(a.get("parent", ""))
    if parent and parent["name"] not in seen | {a["name"]}:  # an alias file may loop: an agency is not its own part
        g.add(node, _SUB, _agency(g, parent, agencies, seen | {a["name"]}))
    return node


def _heading(g: Triples, node: str, cls: str, h: dict, plan: str) -> str:
    """A dimension or item as printed in the plan, linked to its framework concept when one matched."""
    g.add(node, _TYPE, cls)
    g.add(node, _LABEL, _text(h["label"], ZH))
    g.add(node, _ORD, _typed(h["ordinal"], _INTEGER))
    g.add(node, _PART, plan)
    if h["framework_item"]:
        g.add(node, _FW_ITEM, _framework(h["framework_item"]))
    return node


_ENTITY_PREFIX = {"agency": "org", "unit": "org", "system": "system", "law": "law", "programme": "programme"}
_SYSTEM_CLASS = {k: _iri(v) for k, v in SYSTEM_CLASS.items()}
_P = {  # the other predicates and classes, by their local name
    name: _iri(term)
    for name, term in {
        "Plan": SP.Plan,
        "agency": SP.agency,
        "year": SP.year,
        "yearROC": SP.yearROC,
        "originalFile": SP.originalFile,
        "finding": SP.finding,
        "sourceFile": SP.sourceFile,
        "frameworkVersion": SP.frameworkVersion,
        "issued": DCTERMS.issued,
        "Programme": SP.Programme,
        "basedOn": SP.basedOn,
        "goal": SP.goal,
        "targetUnits": SP.targetUnits,
        "Document": FOAF.Document,
        "wasDerivedFrom": PROV.wasDerivedFrom,
        "Dimension": SP.Dimension,
        "Item": SP.Item,
        "measure": SP.measure,
        "Measure": SP.Measure,
        "text": SP.text,
        "deadline": SP.deadline,
        "expectedBenefit": SP.expectedBenefit,
        "item": SP.item,
        "unitsAsPrinted": SP.unitsAsPrinted,
        "OrganizationalUnit": ORG.OrganizationalUnit,
        "unitOf": ORG.unitOf,
        "ownedBy": SP.ownedBy,
        "System": SP.System,
        "InformationSystem": SP.InformationSystem,
        "usesSystem": SP.usesSystem,
        "Law": SP.Law,
        "citesLaw": SP.citesLaw,
        "SpecificResource": OA.SpecificResource,
        "hasSource": OA.hasSource,
        "lineStart": SP.lineStart,
        "lineEnd": SP.lineEnd,
        "page": SP.page,
        "hasSelector": OA.hasSelector,
        "TextQuoteSelector": OA.TextQuoteSelector,
        "exact": OA.exact,
        "FragmentSelector": OA.FragmentSelector,
        "conformsTo": DCTERMS.conformsTo,
        "value": RDF.value,
    }.items()
}
_RFC5147 = _iri(RFC5147)


def _entity(e: dict) -> str:
    return _node(f"{_ENTITY_PREFIX[e['kind']]}/{e['id']}")


def _programme(g: Triples, p: dict) -> str:
    node = _entity(p)
    if not g.first("programme", p):
        return node
    g.add(node, _TYPE, _P["Programme"])
    _label(g, node, p["name"], p.get("name_en", ""))
    return node


def _unit(g: Triples, u: dict, agencies: dict[str, dict]) -> str:
    unit = _entity(u)
    if not g.first("unit", u):
        return unit
    g.add(unit, _TYPE, _P["OrganizationalUnit"])
    _label(g, unit, u["name"])
    owner_node = _agency(g, agencies[u["parent"]], agencies)
    g.add(unit, _P["unitOf"], owner_node)
    g.add(unit, _SUB, owner_node)
    return unit


def _system(g: Triples, s: dict) -> str:
    sys_node = _entity(s)
    if not g.first("system", s):
        return sys_node
    g.add(sys_node, _TYPE, _P["System"])
    g.add(sys_node, _TYPE, _SYSTEM_CLASS.get(s["type"], _P["InformationSystem"]))
    _label(g, sys_node, s["name"], s.get("name_en", ""))
    return sys_node


def _law(g: Triples, law: dict) -> str:
    law_node = _entity(law)
    if not g.first("law", law):
        return law_node
    g.add(law_node, _TYPE, _P["Law"])
    _label(g, law_node, law["name"], law.get("name_en", ""))
    if law.get("parent"):
        act = _node(f"law/{short_id('law', law['parent'])}")
        g.add(act, _TYPE, _P["Law"])
        _label(g, act, law["parent"])
        g.add(law_node, _PART, act)
    return law_node


def entity_ntriples(records: Iterable[dict], agencies: dict[str, dict], graph: str | None = None) -> str:
    """What the plans name, described once: their agencies (with their parents), programmes, units, systems and
    laws, exactly as plan_ntriples describes them."""
    g = Triples(graph)
    for rec in records:
        _describe(g, rec, agencies)
    return g.text()


def _describe(g: Triples, rec: dict, agencies: dict[str, dict]) -> None:
    _agency(g, rec["agency"], agencies)
    for p in rec["basis"]:
        _programme(g, p)
    for m in rec["measures"]:
        for u in m["unit_entities"]:
            _unit(g, u, agencies)
        for s in m["system_entities"]:
            _system(g, s)
        for law in m["law_entities"]:
            _law(g, law)


def plan_ntriples(
    rec: dict, agencies: dict[str, dict], graph: str | None = None, entities: Triples | None = None
) -> str:
    """All triples of one plan as N-Triples (N-Quads in `graph`, when given); agencies maps a name to its agency
    record so parents get their own node.

    The agencies, programmes, units, systems and laws it names are described in `entities` when given (the store
    keeps them in one graph of their own, each once: SPARQL's default graph, the union of the named graphs, has
    each triple once however many plans name an agency), else with the plan's own triples.
    """
    g = Triples(graph)
    ents = g if entities is None else entities
    P = _P
    key = rec["id"]
    plan = _node(f"plan/{key}")
    g.add(plan, _TYPE, P["Plan"])
    g.add(plan, _TITLE, _text(rec["title"], ZH))
    g.add(plan, _LABEL, _text(rec["title"], ZH))
    g.add(plan, P["agency"], _agency(ents, rec["agency"], agencies))
    if rec["year"] is not None:  # a plan whose title gives no year keeps its year unknown
        g.add(plan, P["year"], _typed(str(rec["year"]), _GYEAR))
        g.add(plan, P["yearROC"], _typed(rec["year_roc"], _INTEGER))
    if rec.get("original"):
        g.add(plan, P["originalFile"], _text(rec["original"]))
    for f in rec.get("findings", []):
        g.add(plan, P["finding"], _text(f"{f['where']}: {f['what']}"))
    g.add(plan, P["sourceFile"], _text(rec["file"]))
    g.add(plan, P["frameworkVersion"], _node("framework/" + rec["framework_version"]))
    if rec.get("doc_no"):
        g.add(plan, _IDENT, _text(rec["doc_no"]))
    if rec.get("issued_date"):
        g.add(plan, P["issued"], _typed(rec["issued_date"], _DATE))
    for p in rec["basis"]:
        g.add(plan, P["basedOn"], _programme(ents, p))
    for goal in rec["goals"]:
        g.add(plan, P["goal"], _text(goal, ZH))
    for t in rec["target_units"]:
        g.add(plan, P["targetUnits"], _text(t, ZH))
    source = _node(f"source/{key}")
    g.add(source, _TYPE, P["Document"])
    g.add(source, _TITLE, _text(rec["file"]))
    g.add(plan, P["wasDerivedFrom"], source)

    for d in rec["dimensions"]:
        _heading(g, _node(f"dimension/{d['id']}"), P["Dimension"], d, plan)
    for i in rec["items"]:
        node = _heading(g, _node(f"item/{i['id']}"), P["Item"], i, plan)
        if i["dimension"]:
            g.add(node, _DIM, _node(f"dimension/{i['dimension']}"))

    for m in rec["measures"]:
        mid = m["id"]
        node = _node(f"measure/{mid}")
        g.add(plan, P["measure"], node)
        g.add(node, _TYPE, P["Measure"])
        g.add(node, _PART, plan)
        g.add(node, _IDENT, _text(mid))
        g.add(node, P["text"], _text(m["text"], ZH))
        if m.get("deadline"):
            g.add(node, P["deadline"], _text(m["deadline"], ZH))
        if m.get("benefit"):
            g.add(node, P["expectedBenefit"], _text(m["benefit"], ZH))
        g.add(node, _LABEL, _text(m["title"] or m["text"][:40], ZH))
        if m["title"]:
            g.add(node, _TITLE, _text(m["title"], ZH))
        g.add(node, _ORD, _typed(m["ordinal"], _INTEGER))
        if m["dimension_id"]:
            g.add(node, _DIM, _node(f"dimension/{m['dimension_id']}"))
        if m["item_id"]:
            g.add(node, P["item"], _node(f"item/{m['item_id']}"))
        if m["framework_item"]:
            g.add(node, _FW_ITEM, _framework(m["framework_item"]))
        if m["units_raw"]:
            g.add(node, P["unitsAsPrinted"], _text(m["units_raw"], ZH))
        for u in m["unit_entities"]:
            g.add(node, P["ownedBy"], _unit(ents, u, agencies))
        for s in m["system_entities"]:
            g.add(node, P["usesSystem"], _system(ents, s))
        for law in m["law_entities"]:
            g.add(node, P["citesLaw"], _law(ents, law))
        # Provenance: the measure comes from a span of lines of the source file, quoted exactly.
        span = _node(f"span/{mid}")
        g.add(node, P["wasDerivedFrom"], span)
        g.add(span, _TYPE, P["SpecificResource"])
        g.add(span, P["hasSource"], source)
        src = m["source"]
        if src.get("line_start") is not None:
            g.add(span, P["lineStart"], _typed(src["line_start"], _INTEGER))
            g.add(span, P["lineEnd"], _typed(src["line_end"], _INTEGER))
        if src.get("page") is not None:
            g.add(span, P["page"], _typed(src["page"], _INTEGER))
        quote = _node(f"span/{mid}/quote")
        g.add(span, P["hasSelector"], quote)
        g.add(quote, _TYPE, P["TextQuoteSelector"])
        g.add(quote, P["exact"], _text(m["quote"]))
        if src.get("line_start") is not None:
            lines = _node(f"span/{mid}/lines")
            g.add(span, P["hasSelector"], lines)
            g.add(lines, _TYPE, P["FragmentSelector"])
            g.add(lines, P["conformsTo"], _RFC5147)
            g.add(lines, P["value"], _text(f"line={src['line_start'] - 1},{src['line_end']}"))
    return g.text()


def plan_graph(rec: dict, agencies: dict[str, dict]) -> Graph:
    """All triples of one plan as an rdflib Graph (the store loads plan_ntriples directly)."""
    return Graph().parse(data=plan_ntriples(rec, agencies), format="nt")


_SCHEME_CLASS, _CONCEPT = _iri(SKOS.ConceptScheme), _iri(SKOS.Concept)
_IN_SCHEME, _TOP = _iri(SKOS.inScheme), _iri(SKOS.topConceptOf)
_NOTATION, _ALT = _iri(SKOS.notation), _iri(SKOS.altLabel)
_DESCRIPTION, _PRACTICE_TYPE = _iri(DCTERMS.description), _iri(SP.practiceType)
PRACTICE_SCHEME_DESCRIPTION = (
    "Types of service practice found across agencies' measures, named from their members, correctable by planners."
)


def practice_ntriples(scheme: dict) -> str:
    """Practice types (index.practices.PracticeScheme.to_dict) as a SKOS concept scheme in N-Triples, each measure
    sp:practiceType its types; the lines sorted, so that the same scheme always gives the same text and two
    builds' texts can be compared line by line (the store patches its practice graph by that difference)."""
    g = Triples()
    top = _node("practice")
    g.add(top, _TYPE, _SCHEME_CLASS)
    g.add(top, _PREF, _text("實務類型", ZH))
    g.add(top, _PREF, _text("practice types", "en"))
    g.add(top, _DESCRIPTION, _text(PRACTICE_SCHEME_DESCRIPTION, "en"))
    for t in scheme["types"]:
        c = _node(f"practice/{t['id']}")
        g.add(c, _TYPE, _CONCEPT)
        g.add(c, _IN_SCHEME, top)
        g.add(c, _TOP, top)
        g.add(c, _NOTATION, _text(t["id"]))
        g.add(c, _PREF, _text(t["label"], ZH))
        for alt in sorted(set(t["alt_labels"]) - {t["label"]}):
            g.add(c, _ALT, _text(alt, ZH))
    for mid, types in scheme["membership"].items():
        for tid in types:
            g.add(_node(f"measure/{mid}"), _PRACTICE_TYPE, _node(f"practice/{tid}"))
    return "".join(sorted(g.lines))
