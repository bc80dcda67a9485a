import gc
import io
import shutil

from rdflib import Graph
from rdflib.compare import isomorphic
from rdflib.namespace import DCTERMS, PROV

from kg import store as store_module
from kg.export import export, whole_graph
from kg.sparql import run_query
from kg.store import DataDir, build, bundled_plans
from kg.validate import validate_graph
from kg.vocab import OA, SP
from tests.conftest import sample

UNITS_USING_1999 = """
SELECT DISTINCT ?agency ?unit WHERE {
  ?s skos:prefLabel "1999專線"@zh-Hant .
  ?m sp:usesSystem ?s ; sp:ownedBy ?u ; dcterms:isPartOf/sp:agency/skos:prefLabel ?agency .
  ?u skos:prefLabel ?unit .
  FILTER(langMatches(lang(?agency), "zh-Hant"))
} ORDER BY ?agency ?unit"""

MEASURES_UNDER_FRAMEWORK_ITEM = """
SELECT ?agency ?year ?text WHERE {
  ?c skos:altLabel "便捷服務"@zh-Hant .
  ?m sp:frameworkItem/skos:broader* ?c ; sp:text ?text ; dcterms:isPartOf ?p .
  ?p sp:agency/skos:prefLabel ?agency ; sp:year ?year .
  FILTER(langMatches(lang(?agency), "zh-Hant"))
} ORDER BY ?agency ?text"""


def rows(data_dir, query):
    ds = DataDir(data_dir).dataset()
    try:
        body, _ = run_query(ds, query, "table")
    finally:
        ds.close()
    return [line.split("\t") for line in body.splitlines()[1:]]


def test_units_owning_measures_that_use_the_1999_hotline(graph_dir):
    assert rows(graph_dir, UNITS_USING_1999) == [
        ["高雄市政府工務局違章建築處理大隊", "查報組"],
        ["高雄市政府行政暨國際處", "視察室"],
    ]


def test_all_measures_under_a_framework_item_across_agencies_and_years(graph_dir):
    found = rows(graph_dir, MEASURES_UNDER_FRAMEWORK_ITEM)
    agencies = {r[0] for r in found}
    years = {r[1] for r in found}
    assert len(agencies) >= 4 and {"2016", "2018"} <= years
    assert len(found) >= 40


def test_sample_graph_conforms_and_a_broken_graph_is_caught(graph_dir):
    g = whole_graph(graph_dir)
    assert validate_graph(g)[0]
    measure = next(g.subjects(SP.text, None))
    broken = Graph()
    for t in g:
        broken.add(t)
    broken.remove((measure, SP.text, None))
    conforms, text = validate_graph(broken)
    assert not conforms and "text" in text


def test_build_is_deterministic_byte_for_byte(tmp_path, graph_dir):
    build(bundled_plans(), tmp_path / "again")
    outs = []
    for d in (graph_dir, tmp_path / "again"):
        buf = io.StringIO()
        export(str(d), "ttl", buf)
        outs.append(buf.getvalue())
    assert outs[0] == outs[1]
    nt = [io.StringIO(), io.StringIO()]
    export(str(graph_dir), "nt", nt[0])
    export(str(tmp_path / "again"), "nt", nt[1])
    assert nt[0].getvalue() == nt[1].getvalue()


def test_a_whole_build_holds_no_plan_record_while_its_store_loads(tmp_path, graph_dir, monkeypatch):
    # The records go to the bulk loader read back from their files one at a time, and are read again after it.
    read, seen = set(), []
    real_read, real_write = store_module._read_into, store_module._write_store_full

    def reading(*args):
        parsed, originals = real_read(*args)
        read.update(id(r) for r in parsed.values())  # the objects this build read (other tests hold records too)
        return parsed, originals

    def watched(path, plans, agencies, fixed):
        gc.collect()
        seen.append(sum(1 for o in gc.get_objects() if id(o) in read and type(o) is dict and "measures" in o))
        return real_write(path, plans, agencies, fixed)

    monkeypatch.setattr(store_module, "_read_into", reading)
    monkeypatch.setattr(store_module, "_write_store_full", watched)
    report = build(bundled_plans(), tmp_path / "kg-data")
    assert report.plans == 5 and not report.errors and len(read) == 5
    assert len(seen) == 1 and seen[0] <= 1  # of the five, the last read may still be referenced where it was read
    assert report.measures == sum(len(r["measures"]) for r in DataDir(tmp_path / "kg-data").records())
    nt = [io.StringIO(), io.StringIO()]
    export(str(graph_dir), "nt", nt[0])
    export(str(tmp_path / "kg-data"), "nt", nt[1])
    assert nt[0].getvalue() == nt[1].getvalue()


def test_reingesting_a_plan_replaces_it(tmp_path, graph_dir):
    target = tmp_path / "kg-data"
    shutil.copytree(graph_dir, target)
    before = whole_graph(str(target))
    build([sample("004")], target)
    after = whole_graph(str(target))
    assert isomorphic(before, after)
    revised = tmp_path / "004-revised.txt"
    text = sample("004").read_text("utf-8").replace("進行標竿學習 鼓勵向海內外", "進行國際標竿學習 鼓勵向海內外")
    revised.write_text(text, "utf-8")
    build([revised], target)
    measures = DataDir(target).measures()
    assert len(measures) == len(DataDir(graph_dir).measures())
    titles = {m["title"] for m in measures}
    assert "進行國際標竿學習" in titles and "進行標竿學習" not in titles


def test_a_bad_file_is_reported_and_the_others_still_built(tmp_path):
    bad = tmp_path / "broken.txt"
    bad.write_bytes(b"\x00\x01binary")
    report = build([bad, sample("004")], tmp_path / "kg-data")
    assert [e.file for e in report.errors] == ["broken.txt"]
    assert report.built == [sample("004").name] and report.plans == 1


def test_a_failed_build_leaves_the_data_dir_untouched(tmp_path, graph_dir):
    target = tmp_path / "kg-data"
    shutil.copytree(graph_dir, target)
    snapshot = {p.relative_to(target): p.read_bytes() for p in target.rglob("*") if p.is_file()}
    empty = tmp_path / "empty.txt"
    empty.write_text("", "utf-8")
    report = build([empty], target)
    assert report.errors and not report.built
    assert {p.relative_to(target): p.read_bytes() for p in target.rglob("*") if p.is_file()} == snapshot
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".kg-data")]


def test_provenance_points_at_the_source_lines(graph_dir):
    g = whole_graph(graph_dir)
    [(quote, start, end)] = g.query(
        """
        SELECT ?quote ?start ?end WHERE {
          ?m dcterms:title ?title ; dcterms:isPartOf/sp:sourceFile ?file ; prov:wasDerivedFrom ?span .
          ?span sp:lineStart ?start ; sp:lineEnd ?end ; oa:hasSelector [ oa:exact ?quote ] .
          FILTER(str(?title) = "常見問題集 (FAQ)" && str(?file) = "004_eaa8df098b30e4bb.txt")
        }""",
        initNs={"sp": SP._NS, "oa": OA, "prov": PROV, "dcterms": DCTERMS},
    )
    assert (start.toPython(), end.toPython()) == (62, 64)
    assert "透過民眾經常詢問的案件" in quote and "常見問題集 (FAQ)" in quote
