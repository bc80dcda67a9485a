"""The practice types as RDF: the SKOS concept scheme kg.graph.practice_ntriples writes as N-Triples text."""

from rdflib import RDF, Graph, Literal
from rdflib.namespace import DCTERMS, SKOS

from kg.graph import practice_ntriples
from kg.vocab import ID, SP

SCHEME = {
    "types": [
        {"id": "sop", "label": "標準作業", "alt_labels": ["標準作業", 'SOP "流程"'], "source": "vocabulary"},
        {"id": "t-2", "label": "志工", "alt_labels": [], "source": "cluster"},
    ],
    "membership": {"m-1": ["sop", "t-2"], "m-2": ["t-2"]},
}


def test_practice_types_are_a_skos_scheme_and_measures_name_their_types():
    g = Graph().parse(data=practice_ntriples(SCHEME), format="nt")
    scheme, sop, t2 = ID["practice"], ID["practice/sop"], ID["practice/t-2"]
    assert (scheme, RDF.type, SKOS.ConceptScheme) in g
    assert set(g.objects(scheme, SKOS.prefLabel)) == {
        Literal("實務類型", lang="zh-Hant"),
        Literal("practice types", lang="en"),
    }
    assert len(set(g.objects(scheme, DCTERMS.description))) == 1
    for c in (sop, t2):
        assert {(c, RDF.type, SKOS.Concept), (c, SKOS.inScheme, scheme), (c, SKOS.topConceptOf, scheme)} <= set(g)
    assert set(g.objects(sop, SKOS.notation)) == {Literal("sop")}
    assert set(g.objects(sop, SKOS.prefLabel)) == {Literal("標準作業", lang="zh-Hant")}
    assert set(g.objects(sop, SKOS.altLabel)) == {Literal('SOP "流程"', lang="zh-Hant")}  # the label itself is no alt
    assert set(g.subject_objects(SP.practiceType)) == {
        (ID["measure/m-1"], sop),
        (ID["measure/m-1"], t2),
        (ID["measure/m-2"], t2),
    }
    assert len(g) == 4 + 2 * 5 + 1 + 3


def test_the_same_scheme_gives_the_same_text_sorted():
    text = practice_ntriples(SCHEME)
    assert text == practice_ntriples(dict(SCHEME, membership=dict(reversed(SCHEME["membership"].items()))))
    assert text.splitlines() == sorted(text.splitlines())
