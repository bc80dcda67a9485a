"""Emit RDF for one plan record in the ontology's terms: ORG, SKOS, PROV-O, Web Annotation, DCTERMS, sp:."""

from __future__ import annotations

from rdflib import RDF, RDFS, XSD, Graph, Literal, URIRef
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


def _label(g: Graph, node: URIRef, name: str, name_en: str = "") -> None:
    g.add((node, SKOS.prefLabel, Literal(name, lang=ZH)))
    if name_en:
        g.add((node, SKOS.prefLabel, Literal(name_en, lang="en")))


def _agency(g: Graph, a: dict, agencies: dict[str, dict], seen: frozenset[str] = frozenset()) -> URIRef:
    node = org_iri(a["id"])
    g.add((node, RDF.type, ORG.Organization))
    _label(g, node, a["name"], a.get("name_en", ""))
    parent = agencies.get(a.get("parent", ""))
    if parent and parent["name"] not in seen | {a["name"]}:  # an alias file may loop: an agency is not its own part
        g.add((node, ORG.subOrganizationOf, _agency(g, parent, agencies, seen | {a["name"]})))
    return node


def _heading(g: Graph, node: URIRef, cls: URIRef, h: dict, plan: URIRef) -> URIRef:
    """A dimension or item as printed in the plan, linked to its framework concept when one matched."""
    g.add((node, RDF.type, cls))
    g.add((node, RDFS.label, Literal(h["label"], lang=ZH)))
    g.add((node, SP.ordinal, Literal(h["ordinal"], datatype=XSD.integer)))
    g.add((node, DCTERMS.isPartOf, plan))
    if h["framework_item"]:
        g.add((node, SP.frameworkItem, framework_iri(h["framework_item"])))
    return node


def plan_graph(rec: dict, agencies: dict[str, dict]) -> Graph:
    """All triples of one plan; agencies maps a name to its agency record so parents get their own node."""
    g = Graph()
    key = rec["id"]
    plan = plan_iri(key)
    g.add((plan, RDF.type, SP.Plan))
    g.add((plan, DCTERMS.title, Literal(rec["title"], lang=ZH)))
    g.add((plan, RDFS.label, Literal(rec["title"], lang=ZH)))
    agency = _agency(g, rec["agency"], agencies)
    g.add((plan, SP.agency, agency))
    if rec["year"] is not None:  # a plan whose title gives no year keeps its year unknown
        g.add((plan, SP.year, Literal(str(rec["year"]), datatype=XSD.gYear)))
        g.add((plan, SP.yearROC, Literal(rec["year_roc"], datatype=XSD.integer)))
    if rec.get("original"):
        g.add((plan, SP.originalFile, Literal(rec["original"], datatype=XSD.string)))
    for f in rec.get("findings", []):
        g.add((plan, SP.finding, Literal(f"{f['where']}: {f['what']}", datatype=XSD.string)))
    g.add((plan, SP.sourceFile, Literal(rec["file"], datatype=XSD.string)))
    g.add((plan, SP.frameworkVersion, ID["framework/" + rec["framework_version"]]))
    if rec.get("doc_no"):
        g.add((plan, DCTERMS.identifier, Literal(rec["doc_no"])))
    if rec.get("issued_date"):
        g.add((plan, DCTERMS.issued, Literal(rec["issued_date"], datatype=XSD.date)))
    for p in rec["basis"]:
        node = entity_iri(p)
        g.add((node, RDF.type, SP.Programme))
        _label(g, node, p["name"], p.get("name_en", ""))
        g.add((plan, SP.basedOn, node))
    for goal in rec["goals"]:
        g.add((plan, SP.goal, Literal(goal, lang=ZH)))
    for t in rec["target_units"]:
        g.add((plan, SP.targetUnits, Literal(t, lang=ZH)))
    source = ID[f"source/{key}"]
    g.add((source, RDF.type, FOAF.Document))
    g.add((source, DCTERMS.title, Literal(rec["file"])))
    g.add((plan, PROV.wasDerivedFrom, source))

    for d in rec["dimensions"]:
        _heading(g, ID[f"dimension/{d['id']}"], SP.Dimension, d, plan)
    for i in rec["items"]:
        node = _heading(g, ID[f"item/{i['id']}"], SP.Item, i, plan)
        if i["dimension"]:
            g.add((node, SP.dimension, ID[f"dimension/{i['dimension']}"]))

    for m in rec["measures"]:
        node = measure_iri(m["id"])
        g.add((plan, SP.measure, node))
        g.add((node, RDF.type, SP.Measure))
        g.add((node, DCTERMS.isPartOf, plan))
        g.add((node, DCTERMS.identifier, Literal(m["id"])))
        g.add((node, SP.text, Literal(m["text"], lang=ZH)))
        if m.get("deadline"):
            g.add((node, SP.deadline, Literal(m["deadline"], lang=ZH)))
        if m.get("benefit"):
            g.add((node, SP.expectedBenefit, Literal(m["benefit"], lang=ZH)))
        g.add((node, RDFS.label, Literal(m["title"] or m["text"][:40], lang=ZH)))
        if m["title"]:
            g.add((node, DCTERMS.title, Literal(m["title"], lang=ZH)))
        g.add((node, SP.ordinal, Literal(m["ordinal"], datatype=XSD.integer)))
        if m["dimension_id"]:
            g.add((node, SP.dimension, ID[f"dimension/{m['dimension_id']}"]))
        if m["item_id"]:
            g.add((node, SP.item, ID[f"item/{m['item_id']}"]))
        if m["framework_item"]:
            g.add((node, SP.frameworkItem, framework_iri(m["framework_item"])))
        if m["units_raw"]:
            g.add((node, SP.unitsAsPrinted, Literal(m["units_raw"], lang=ZH)))
        for u in m["unit_entities"]:
            unit = entity_iri(u)
            g.add((unit, RDF.type, ORG.OrganizationalUnit))
            _label(g, unit, u["name"])
            owner_node = _agency(g, agencies[u["parent"]], agencies)
            g.add((unit, ORG.unitOf, owner_node))
            g.add((unit, ORG.subOrganizationOf, owner_node))
            g.add((node, SP.ownedBy, unit))
        for s in m["system_entities"]:
            sys_node = entity_iri(s)
            g.add((sys_node, RDF.type, SP.System))
            g.add((sys_node, RDF.type, SYSTEM_CLASS.get(s["type"], SP.InformationSystem)))
            _label(g, sys_node, s["name"], s.get("name_en", ""))
            g.add((node, SP.usesSystem, sys_node))
        for law in m["law_entities"]:
            law_node = entity_iri(law)
            g.add((law_node, RDF.type, SP.Law))
            _label(g, law_node, law["name"], law.get("name_en", ""))
            if law.get("parent"):
                act = ID[f"law/{short_id('law', law['parent'])}"]
                g.add((act, RDF.type, SP.Law))
                _label(g, act, law["parent"])
                g.add((law_node, DCTERMS.isPartOf, act))
            g.add((node, SP.citesLaw, law_node))
        # Provenance: the measure comes from a span of lines of the source file, quoted exactly.
        span = ID[f"span/{m['id']}"]
        g.add((node, PROV.wasDerivedFrom, span))
        g.add((span, RDF.type, OA.SpecificResource))
        g.add((span, OA.hasSource, source))
        src = m["source"]
        if src.get("line_start") is not None:
            g.add((span, SP.lineStart, Literal(src["line_start"], datatype=XSD.integer)))
            g.add((span, SP.lineEnd, Literal(src["line_end"], datatype=XSD.integer)))
        if src.get("page") is not None:
            g.add((span, SP.page, Literal(src["page"], datatype=XSD.integer)))
        quote = ID[f"span/{m['id']}/quote"]
        g.add((span, OA.hasSelector, quote))
        g.add((quote, RDF.type, OA.TextQuoteSelector))
        g.add((quote, OA.exact, Literal(m["quote"])))
        if src.get("line_start") is not None:
            lines = ID[f"span/{m['id']}/lines"]
            g.add((span, OA.hasSelector, lines))
            g.add((lines, RDF.type, OA.FragmentSelector))
            g.add((lines, DCTERMS.conformsTo, RFC5147))
            g.add((lines, RDF.value, Literal(f"line={src['line_start'] - 1},{src['line_end']}")))
    return g
