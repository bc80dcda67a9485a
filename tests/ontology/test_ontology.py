"""Tests of the ontology package (spkg.ttl, shapes.ttl, framework.ttl) and of kg/data/aliases.toml."""

import re
import tomllib
from collections import Counter
from pathlib import Path

import pytest
from pyshacl import validate
from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.collection import Collection
from rdflib.namespace import DCTERMS, OWL, PROV, RDF, RDFS, SH, SKOS

import ontology
from kg.vocab import OA, ORG, SP

ROOT = Path(__file__).resolve().parents[2]
ALIASES = ROOT / "kg" / "data" / "aliases.toml"
FW = Namespace("https://w3id.org/spkg/id/framework/")
ID = Namespace("https://w3id.org/spkg/id/")
XSD = Namespace("http://www.w3.org/2001/XMLSchema#")  # plain Namespace: rdflib's XSD warns when pytest probes it
SP_NS = str(SP._NS)
TERMS = list(SP.__annotations__)
SYSTEM_TYPES = {"Hotline", "MobileApp", "WebPlatform", "Website", "Mailbox", "SocialMedia", "InformationSystem"}


@pytest.fixture(scope="module")
def onto() -> Graph:
    return ontology.ontology_graph()


@pytest.fixture(scope="module")
def shapes() -> Graph:
    return ontology.shapes_graph()


@pytest.fixture(scope="module")
def framework() -> Graph:
    return ontology.framework_graph()


@pytest.fixture(scope="module")
def aliases() -> dict:
    with ALIASES.open("rb") as f:
        return tomllib.load(f)


# ---------------------------------------------------------------- resources


@pytest.mark.parametrize("name", [ontology.ONTOLOGY, ontology.SHAPES, ontology.FRAMEWORK])
def test_every_ttl_parses(name):
    graph = Graph().parse(data=ontology.resource_text(name), format="turtle")
    assert len(graph) > 0


def test_no_undeclared_sp_terms_in_any_file(onto, shapes, framework):
    known = {SP[t] for t in TERMS}
    for graph in (onto, shapes, framework):
        used = {n for triple in graph for n in triple if isinstance(n, URIRef) and str(n).startswith(SP_NS)}
        assert used <= known, sorted(used - known)


# ---------------------------------------------------------------- ontology


@pytest.mark.parametrize("term", TERMS)
def test_every_sp_term_is_declared_with_labels(onto, term):
    iri = SP[term]
    types = set(onto.objects(iri, RDF.type))
    if term[0].isupper():
        assert OWL.Class in types
    else:
        assert types & {OWL.ObjectProperty, OWL.DatatypeProperty}
        assert (iri, RDFS.domain, None) in onto
        assert (iri, RDFS.range, None) in onto
    langs = {lbl.language for lbl in onto.objects(iri, RDFS.label)}
    assert {"zh-Hant", "en"} <= langs
    assert any(c.language == "en" for c in onto.objects(iri, RDFS.comment))


def test_reused_standards(onto):
    m8g = Namespace("http://data.europa.eu/m8g/")
    foaf = Namespace("http://xmlns.com/foaf/0.1/")
    assert (SP.Plan, RDFS.subClassOf, PROV.Entity) in onto
    assert (SP.Plan, RDFS.subClassOf, foaf.Document) in onto
    assert (SP.Measure, RDFS.subClassOf, PROV.Entity) in onto
    assert (SP.Programme, RDFS.subClassOf, PROV.Plan) in onto
    assert (SP.System, RDFS.subClassOf, m8g.Channel) in onto
    for sub in SYSTEM_TYPES:
        assert (SP[sub], RDFS.subClassOf, SP.System) in onto
    for heading in (SP.Dimension, SP.Item):
        assert (heading, RDFS.subClassOf, PROV.Entity) in onto
        assert (heading, RDFS.subClassOf, SKOS.Concept) not in onto
    union = onto.value(onto.value(SP.ownedBy, RDFS.range), OWL.unionOf)
    assert set(Collection(onto, union)) == {ORG.OrganizationalUnit, ORG.Organization}


def test_ontology_header(onto):
    header = URIRef(SP_NS.rstrip("#"))
    assert (header, RDF.type, OWL.Ontology) in onto
    assert onto.value(header, DCTERMS.title) is not None
    assert onto.value(header, OWL.versionInfo) is not None


# ---------------------------------------------------------------- shapes


def test_shapes_are_shacl(shapes):
    node_shapes = set(shapes.subjects(RDF.type, SH.NodeShape))
    expected = {
        "PlanShape",
        "MeasureShape",
        "SourceShape",
        "UnitShape",
        "OrganizationShape",
        "SystemShape",
        "FrameworkConceptShape",
    }
    assert expected <= {str(s).rsplit("#", 1)[-1] for s in node_shapes}
    assert any(shapes.triples((None, SH.sparql, None)))


def _conforming_graph() -> Graph:
    g = Graph()
    agency, unit = ID["org/kcg-labor-boai"], ID["org/kcg-labor-boai/unit/行政課"]
    plan, measure = ID["plan/004"], ID["plan/004/measure/1"]
    dim, item = ID["plan/004/dimension/1"], ID["plan/004/dimension/1/item/1"]
    hotline, law, prog = ID["system/hotline-1999"], ID["law/1"], ID["programme/1"]
    source, selector = BNode(), BNode()
    g.add((agency, RDF.type, ORG.Organization))
    g.add((agency, SKOS.prefLabel, Literal("高雄市政府勞工局博愛職業技能訓練中心", lang="zh-Hant")))
    g.add((agency, SKOS.prefLabel, Literal("Bo-Ai Vocational Training Center", lang="en")))
    g.add((unit, RDF.type, ORG.OrganizationalUnit))
    g.add((unit, SKOS.prefLabel, Literal("行政課", lang="zh-Hant")))
    g.add((unit, ORG.unitOf, agency))
    g.add((hotline, RDF.type, SP.Hotline))
    g.add((hotline, SKOS.prefLabel, Literal("1999專線", lang="zh-Hant")))
    g.add((law, RDF.type, SP.Law))
    g.add((prog, RDF.type, SP.Programme))
    g.add((plan, RDF.type, SP.Plan))
    g.add((plan, DCTERMS.title, Literal("107年度提升服務工作計畫", lang="zh-Hant")))
    g.add((plan, SP.agency, agency))
    g.add((plan, SP.year, Literal("2018", datatype=XSD.gYear)))
    g.add((plan, SP.yearROC, Literal(107)))
    g.add((plan, SP.sourceFile, Literal("004_eaa8df098b30e4bb.txt")))
    g.add((plan, SP.measure, measure))
    g.add((plan, SP.basedOn, prog))
    g.add((plan, DCTERMS.issued, Literal("2018-01-29", datatype=XSD.date)))
    g.add((plan, SP.frameworkVersion, FW["2018"]))
    g.add((dim, RDF.type, SP.Dimension))
    g.add((dim, SP.ordinal, Literal(1)))
    g.add((dim, SP.frameworkItem, FW["2018/1"]))
    g.add((item, RDF.type, SP.Item))
    g.add((item, SP.dimension, dim))
    g.add((measure, RDF.type, SP.Measure))
    g.add((measure, SP.text, Literal("善用 1999 專線受理陳情。", lang="zh-Hant")))
    g.add((measure, DCTERMS.isPartOf, plan))
    g.add((measure, SP.dimension, dim))
    g.add((measure, SP.item, item))
    g.add((measure, SP.ordinal, Literal(1)))
    g.add((measure, SP.ownedBy, unit))
    g.add((measure, SP.ownedBy, agency))
    g.add((measure, SP.usesSystem, hotline))
    g.add((measure, SP.citesLaw, law))
    g.add((measure, SP.unitsAsPrinted, Literal("行政課")))
    g.add((measure, SP.frameworkItem, FW["2018/1/1"]))
    g.add((measure, PROV.wasDerivedFrom, source))
    g.add((source, RDF.type, OA.SpecificResource))
    g.add((source, OA.hasSource, ID["file/004_eaa8df098b30e4bb.txt"]))
    g.add((source, OA.hasSelector, selector))
    g.add((selector, RDF.type, OA.TextQuoteSelector))
    g.add((source, SP.lineStart, Literal(30)))
    g.add((source, SP.lineEnd, Literal(32)))
    return g


def _validate(data: Graph, shapes: Graph, onto: Graph) -> tuple[bool, Graph]:
    conforms, report, _ = validate(data, shacl_graph=shapes, ont_graph=onto, inference="none")
    return conforms, report


def _components(report: Graph) -> set:
    return set(report.objects(None, SH.sourceConstraintComponent))


def test_hand_made_graph_conforms(shapes, onto):
    conforms, report = _validate(_conforming_graph(), shapes, onto)
    assert conforms, report.serialize(format="turtle")


def test_measure_without_text_fails(shapes, onto):
    g = _conforming_graph()
    g.remove((None, SP.text, None))
    conforms, report = _validate(g, shapes, onto)
    assert not conforms
    assert (None, SH.resultPath, SP.text) in report
    assert SH.MinCountConstraintComponent in _components(report)


def test_line_start_after_line_end_fails(shapes, onto):
    g = _conforming_graph()
    g.set((_source(g), SP.lineStart, Literal(40)))
    conforms, report = _validate(g, shapes, onto)
    assert not conforms
    assert SH.SPARQLConstraintComponent in _components(report)


def test_broken_copy_fails(shapes, onto):
    g = _conforming_graph()
    g.remove((None, SP.text, None))
    g.set((_source(g), SP.lineStart, Literal(40)))
    assert not _validate(g, shapes, onto)[0]


PLAN, MEASURE, UNIT = ID["plan/004"], ID["plan/004/measure/1"], ID["org/kcg-labor-boai/unit/行政課"]


def _source(g: Graph):
    return next(g.objects(MEASURE, PROV.wasDerivedFrom))


@pytest.mark.parametrize(
    ("breakage", "component"),
    [
        (lambda g: g.add((PLAN, SP.agency, ID["org/other"])), SH.MaxCountConstraintComponent),
        (lambda g: g.set((PLAN, SP.agency, ID["org/untyped"])), SH.ClassConstraintComponent),
        (lambda g: g.set((PLAN, SP.year, Literal(2018))), SH.DatatypeConstraintComponent),
        (lambda g: g.remove((PLAN, SP.sourceFile, None)), SH.MinCountConstraintComponent),
        (lambda g: g.remove((PLAN, SP.measure, None)), SH.MinCountConstraintComponent),
        (lambda g: g.set((MEASURE, SP.text, Literal("", lang="zh-Hant"))), SH.MinLengthConstraintComponent),
        (lambda g: g.set((MEASURE, SP.text, Literal("無語言標記"))), SH.DatatypeConstraintComponent),
        (lambda g: g.remove((MEASURE, SP.ordinal, None)), SH.MinCountConstraintComponent),
        (lambda g: g.add((MEASURE, SP.usesSystem, ID["system/untyped"])), SH.ClassConstraintComponent),
        (lambda g: g.add((MEASURE, SP.ownedBy, Literal("行政課"))), SH.OrConstraintComponent),
        (lambda g: g.add((UNIT, SKOS.prefLabel, Literal("行政科", lang="zh-Hant"))), SH.UniqueLangConstraintComponent),
        (lambda g: g.remove((UNIT, ORG.unitOf, None)), SH.MinCountConstraintComponent),
        (lambda g: g.remove((None, OA.hasSelector, None)), SH.NodeConstraintComponent),
        (lambda g: g.set((_source(g), SP.lineStart, Literal(0))), SH.NodeConstraintComponent),
        (lambda g: g.remove((_source(g), SP.lineEnd, None)), SH.NodeConstraintComponent),
    ],
)
def test_other_breakage_is_caught(shapes, onto, breakage, component):
    g = _conforming_graph()
    breakage(g)
    conforms, report = _validate(g, shapes, onto)
    assert not conforms
    assert component in _components(report)


def test_framework_conforms_to_shapes(shapes, onto, framework):
    conforms, report = _validate(framework, shapes, onto)
    assert conforms, report.serialize(format="turtle")


# ---------------------------------------------------------------- framework


def _concepts(framework: Graph, year: str) -> set:
    return set(framework.subjects(SKOS.inScheme, FW[year]))


@pytest.mark.parametrize(("year", "count"), [("2016", 5), ("2018", 6)])
def test_top_concepts(framework, year, count):
    scheme = FW[year]
    assert (scheme, RDF.type, SKOS.ConceptScheme) in framework
    tops = set(framework.subjects(SKOS.topConceptOf, scheme))
    assert tops == set(framework.objects(scheme, SKOS.hasTopConcept))
    assert tops == {FW[f"{year}/{i}"] for i in range(1, count + 1)}
    assert framework.value(scheme, DCTERMS.title) is not None
    assert framework.value(scheme, DCTERMS.source) is not None


@pytest.mark.parametrize("year", ["2016", "2018"])
def test_every_concept_is_complete(framework, year):
    prefs = Counter()
    for concept in _concepts(framework, year):
        assert (concept, RDF.type, SKOS.Concept) in framework
        path = str(concept)[len(str(FW)) :]
        assert str(framework.value(concept, SKOS.notation)) == path.replace("/", "-")
        labels = {lbl.language: str(lbl) for lbl in framework.objects(concept, SKOS.prefLabel)}
        assert set(labels) == {"zh-Hant", "en"}
        assert not re.match(r"^[一二三四五六七八九十]+、|^[（(]", labels["zh-Hant"])
        assert not labels["zh-Hant"].endswith("。")
        prefs[labels["zh-Hant"]] += 1
        parts = path.split("/")
        if len(parts) == 3:
            parent = FW["/".join(parts[:2])]
            assert (concept, SKOS.broader, parent) in framework
            assert (parent, SKOS.narrower, concept) in framework
        else:
            assert len(parts) == 2
            assert any(framework.objects(concept, SKOS.narrower))
    assert max(prefs.values()) == 1


def test_2016_top_concepts_map_into_2018(framework):
    for i in range(1, 6):
        targets = set(framework.objects(FW[f"2016/{i}"], SKOS.closeMatch))
        targets |= set(framework.objects(FW[f"2016/{i}"], SKOS.relatedMatch))
        assert any(str(t).startswith(str(FW["2018/"])) for t in targets), i


def test_mappings_are_stated_both_ways(framework):
    for prop in (SKOS.closeMatch, SKOS.relatedMatch):
        for a, b in framework.subject_objects(prop):
            assert (b, prop, a) in framework


def test_brief_mappings(framework):
    close = [("1", "1"), ("2", "3"), ("3", "2"), ("4", "5")]
    for a, b in close:
        assert (FW[f"2016/{a}"], SKOS.closeMatch, FW[f"2018/{b}"]) in framework
    for b in ("4", "6"):
        assert (FW["2016/5"], SKOS.relatedMatch, FW[f"2018/{b}"]) in framework


def test_alt_labels_are_unique_within_a_scheme(framework):
    for year in ("2016", "2018"):
        seen = Counter()
        for concept in _concepts(framework, year):
            for label in framework.objects(concept, SKOS.altLabel):
                seen[str(label)] += 1
        assert max(seen.values()) == 1, [k for k, v in seen.items() if v > 1]


# ---------------------------------------------------------------- aliases.toml


def test_aliases_parse(aliases):
    assert {"system", "unit", "agency", "law", "programme", "not_units"} <= set(aliases)
    assert all(isinstance(s, str) and s for s in aliases["not_units"])


def test_system_ids_unique_and_ascii(aliases):
    ids = [s["id"] for s in aliases["system"]]
    assert len(ids) == len(set(ids))
    for sid in ids:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", sid), sid


def test_system_entries_complete(aliases):
    for s in aliases["system"]:
        assert s["type"] in SYSTEM_TYPES, s
        assert s["name"] and s["name_en"], s
        assert isinstance(s["aliases"], list), s


def test_no_alias_under_two_systems(aliases):
    owner: dict[str, str] = {}
    for s in aliases["system"]:
        for spelling in [s["name"], *s["aliases"]]:
            assert spelling not in owner or owner[spelling] == s["id"], (spelling, owner.get(spelling), s["id"])
            owner[spelling] = s["id"]
        assert s["name"] not in s["aliases"]
        assert len(s["aliases"]) == len(set(s["aliases"])), s["id"]


def test_facebook_fan_pages_are_not_facebook(aliases):
    fb = next(s for s in aliases["system"] if s["id"] == "facebook")
    assert {"FB", "fb", "臉書"} <= set(fb["aliases"])
    assert not any("粉絲專頁" in a for a in fb["aliases"])


def test_agency_references_resolve(aliases):
    agencies = {a["name"] for a in aliases["agency"]}
    for a in aliases["agency"]:
        assert a["name_en"]
        assert isinstance(a["short"], list)
        if "parent" in a:
            assert a["parent"] in agencies, a
    for table in ("unit", "system"):
        for entry in aliases[table]:
            if "agency" in entry:
                assert entry["agency"] in agencies, entry


def test_sample_agencies_present(aliases):
    agencies = {a["name"] for a in aliases["agency"]}
    assert {
        "高雄市政府",
        "高雄市政府工務局",
        "高雄市政府工務局違章建築處理大隊",
        "高雄市政府勞工局",
        "高雄市政府勞工局博愛職業技能訓練中心",
        "高雄市仁武區公所",
        "高雄市政府行政暨國際處",
    } <= agencies


def test_unit_spellings_unique_per_agency(aliases):
    seen: set[tuple[str, str]] = set()
    not_units = set(aliases["not_units"])
    for u in aliases["unit"]:
        for spelling in [u["name"], *u["aliases"]]:
            key = (u.get("agency", ""), spelling)
            assert key not in seen, key
            assert spelling not in not_units, spelling
            seen.add(key)


@pytest.mark.parametrize("table", ["law", "programme"])
def test_named_tables_unique(aliases, table):
    spellings = [x for e in aliases[table] for x in [e["name"], *e["aliases"]]]
    assert len(spellings) == len(set(spellings))
    if table == "programme":
        assert all(e["name_en"] for e in aliases[table])
