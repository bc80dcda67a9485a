import io
import json
import shutil

import pytest

from kg.cli import main
from kg.search import Search, build_index_into
from kg.store import DataDir, build, bundled_plans
from tests.conftest import sample


@pytest.fixture(scope="module")
def full_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("full") / "kg-data"
    report = build(bundled_plans(), path, after_graph=build_index_into)
    assert not report.errors
    return path


def last_build(path):
    return json.loads((path / "index" / "last-build.json").read_text("utf-8"))


def test_graph_and_index_live_together_and_practice_types_are_in_the_graph(full_dir):
    manifest = json.loads((full_dir / "index" / "manifest.json").read_text("utf-8"))
    assert {"model_id", "dim", "corpus_hash"} <= set(manifest)
    ds = DataDir(full_dir).dataset()
    try:
        [(n,)] = list(
            ds.query("SELECT (COUNT(DISTINCT ?m) AS ?n) WHERE { ?m sp:practiceType ?t . ?t skos:inScheme id:practice }")
        )
    finally:
        ds.close()
    assert int(n) > 200


def test_replacing_one_plan_re_encodes_only_its_changed_measures(tmp_path, full_dir):
    target = tmp_path / "kg-data"
    shutil.copytree(full_dir, target)
    text = sample("004").read_text("utf-8").replace("進行標竿學習 鼓勵向海內外", "進行國際標竿學習 鼓勵向海內外")
    revised = tmp_path / "004-revised.txt"
    revised.write_text(text, "utf-8")
    build([revised], target, after_graph=build_index_into)
    assert last_build(target) == {"measures": last_build(full_dir)["measures"], "encoded": 1}
    hits = Search(target).search("國際標竿學習", k=3, mode="lexical")
    assert hits[0]["title"] == "進行國際標竿學習"


def test_index_built_with_another_model_is_reported_not_mixed(tmp_path, full_dir, monkeypatch, capsys):
    target = tmp_path / "kg-data"
    shutil.copytree(full_dir, target)
    manifest = json.loads((target / "index" / "manifest.json").read_text("utf-8"))
    manifest["model_id"] = "some-other-model"
    (target / "index" / "manifest.json").write_text(json.dumps(manifest), "utf-8")
    code = main(["search", "電話禮貌測試", "--data-dir", str(target)])
    assert code == 1
    assert "kg build" in capsys.readouterr().err


def test_search_json_carries_the_export_fields(full_dir, capsys):
    code = main(["search", "電話禮貌測試", "--json", "--top-k", "5", "--data-dir", str(full_dir)])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["results"]) == 5
    exported = {}
    main(["export", "--format", "jsonl", "--data-dir", str(full_dir)])
    for line in capsys.readouterr().out.splitlines():
        m = json.loads(line)
        exported[m["id"]] = m
    for hit in out["results"]:
        assert {"id", "score", "agency", "year", "title", "text", "units", "systems", "source"} <= set(hit)
        assert exported[hit["id"]]["text"] == hit["text"]


def test_search_reads_queries_from_stdin(full_dir, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("電話禮貌測試\n開放資料\n"))
    assert main(["search", "-", "--top-k", "3", "--data-dir", str(full_dir)]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["query"] for x in lines] == ["電話禮貌測試", "開放資料"]


def test_filters_combine_with_a_query(full_dir):
    s = Search(full_dir)
    hits = s.search("陳情", k=20, system=["1999專線"])
    assert hits and all(any(x["name"] == "1999專線" for x in h["systems"]) for h in hits)
    hits = s.search("網站", k=20, year=[2016], unit=["建築管理處"])
    assert hits and all(h["year"] == 2016 and any(u["name"] == "建築管理處" for u in h["units"]) for h in hits)


def test_similar_practices_come_from_other_agencies(full_dir, capsys):
    s = Search(full_dir)
    m = next(x for x in s.measures if x["title"] == "服務問題系統化")
    assert main(["similar", m["id"], "--json", "--data-dir", str(full_dir)]) == 0
    hits = json.loads(capsys.readouterr().out)["results"]
    assert len(hits) == 5 and all(h["agency"] != m["agency"] for h in hits)
    assert hits == sorted(hits, key=lambda h: -h["score"])


def test_practices_coverage_matrix(full_dir, capsys):
    assert main(["practices", "--json", "--data-dir", str(full_dir)]) == 0
    cov = json.loads(capsys.readouterr().out)
    assert len(cov["agencies"]) == 5
    assert any(sum(1 for v in t["agencies"].values() if v) == 5 for t in cov["types"])
    assert any(0 in t["agencies"].values() for t in cov["types"])


def test_bad_search_parameters_are_clear_errors(full_dir, capsys):
    assert main(["search", "x", "--top-k", "0", "--data-dir", str(full_dir)]) == 1
    assert "--top-k" in capsys.readouterr().err
    assert main(["similar", "m-nope", "--data-dir", str(full_dir)]) == 1
    assert "m-nope" in capsys.readouterr().err
