"""Incremental builds: a build that adds, replaces or removes plans patches a checkpoint of the previous store, and
the graph it publishes is the one a build from scratch of the same plans gives; the previous generation is never
written (its store files are shared by hard links, never modified); a build killed while writing loses nothing."""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import pyoxigraph as ox
import pytest
from rdflib.namespace import SKOS

from kg import store as store_module
from kg.datadir import DataDir
from kg.errors import PlanError
from kg.export import export
from kg.graph import practice_ntriples
from kg.search import PRACTICES_FILE, build_index_into
from kg.store import ENTITY_GRAPH, PRACTICE_GRAPH, SHARED_GRAPHS_DIR, STORE_INFO, build, remove
from kg.vocab import ORG, SP
from tests.kg.test_datadir import STRACE, A, B, C, _strace_ok, kg, plans_in, snapshot, stale, variant


def nt(data_dir: Path) -> str:
    out = io.StringIO()
    export(str(data_dir), "nt", out)
    return out.getvalue()


def from_scratch(tmp: Path, files: list[Path]) -> str:
    folder = tmp / f"scratch-{len(list(tmp.glob('scratch-*')))}"
    assert not build(files, folder).errors
    return nt(folder)


@pytest.fixture
def strace_available() -> None:
    assert _strace_ok(), "this test needs strace with ptrace: apt-get install -y strace"


def generation(data_dir: Path) -> Path:
    current = DataDir(data_dir).current()
    assert current is not None
    return current


def test_adding_replacing_and_removing_plans_gives_the_graph_of_a_build_from_scratch(tmp_path):
    data = tmp_path / "kg-data"
    assert not build([A, B], data).errors
    first = generation(data)
    before = snapshot(first)

    # Added: the new generation's store shares the previous one's data files, and copies all the others.
    assert not build([C], data).errors
    second = generation(data)
    assert nt(data) == from_scratch(tmp_path, [A, B, C])
    assert snapshot(first) == before  # the previous generation: not one byte, mode or time changed
    shared = [p for p in (second / "store").iterdir() if p.stat().st_nlink > 1]
    assert shared and all(p.suffix == ".sst" for p in shared)
    assert any(os.path.samefile(p, first / "store" / p.name) for p in shared if (first / "store" / p.name).exists())
    # Unchanged records and originals are hard links to the previous generation's files.
    for name in ("records", "originals"):
        linked = [p for p in (second / name).iterdir() if p.stat().st_nlink > 1]
        assert len(linked) == 2, name

    # Replaced: a plan of the same agency and year, with one measure changed.
    text = A.read_text("utf-8")
    assert "訂定機關年度提升服務品質執行計畫" in text
    revised = tmp_path / A.name
    revised.write_text(text.replace("訂定機關年度提升服務品質執行計畫", "訂定機關年度提升服務品質精進計畫", 1), "utf-8")
    before = snapshot(second)
    report = build([revised], data)
    assert not report.errors and report.plans == 3
    assert nt(data) == from_scratch(tmp_path, [revised, B, C])
    assert "精進計畫" in nt(data)
    assert snapshot(second) == before

    # Removed.
    key = next(r["id"] for r in DataDir(data).records() if r["file"] == B.name)
    removed = remove(data, [key])
    assert removed.plans == 2
    assert nt(data) == from_scratch(tmp_path, [revised, C])
    info = json.loads((generation(data) / STORE_INFO).read_text("utf-8"))
    assert info["store"] == "embedded" and info["triples"] == removed.triples


def test_a_changed_alias_file_rebuilds_the_whole_store(tmp_path):
    data = tmp_path / "kg-data"
    assert not build([A], data).errors
    (data / "aliases.toml").write_text('[[agency]]\nname = "高雄市政府工務局"\nname_en = "Public Works"\n', "utf-8")
    assert not build([B], data).errors
    store = generation(data) / "store"
    assert all(p.stat().st_nlink == 1 for p in store.iterdir())  # nothing shared: written anew
    assert plans_in(data) == {A.name, B.name}


def test_removing_a_plan_keeps_what_another_plan_of_the_same_parent_agency_names(tmp_path):
    """Agencies are described in each plan's graph: the parent two plans share outlives the removal of one."""
    data = tmp_path / "kg-data"
    assert not build([A, B], data).errors
    query = f"""SELECT DISTINCT ?org ?label WHERE {{
      ?p <{SP.agency}>/<{ORG.subOrganizationOf}>* ?org . OPTIONAL {{ ?org <{SKOS.prefLabel}> ?label }} }}"""

    def orgs() -> dict[str, set[str]]:
        store = ox.Store.read_only(str(DataDir(data).store_dir))
        out: dict[str, set[str]] = {}
        for row in store.query(query, use_default_graph_as_union=True):
            out.setdefault(row["org"].value, set()).add(row["label"].value if row["label"] else "")
        del store
        return out

    both = orgs()
    parent = [o for o, labels in both.items() if "高雄市政府" in labels]
    assert parent  # the two plans' agencies share their parent
    key = next(r["id"] for r in DataDir(data).records() if r["file"] == A.name)
    remove(data, [key])
    left = orgs()
    assert parent[0] in left and "高雄市政府" in left[parent[0]] and "" not in left[parent[0]]


def test_an_incremental_build_killed_while_it_writes_loses_nothing(tmp_path, strace_available):
    """Killed at its n-th fsync (the checkpoint, the store's own writes, the records, publishing): the data dir
    holds the old plans or the new ones, and the previous generation is byte for byte what it was."""
    data = tmp_path / "kg-data"
    assert not build([A, B], data).errors
    expected = {A.name, B.name}
    trace = tmp_path / "fsyncs.txt"
    shutil.copytree(data, tmp_path / "count")
    proc = kg(
        "build",
        "--no-index",
        C,
        "--data-dir",
        tmp_path / "count",
        prefix=[*STRACE, "-o", str(trace), "-e", "trace=fsync,fdatasync"],
    )
    assert proc.returncode == 0, proc.stderr
    count = sum(1 for line in trace.read_text().splitlines() if "sync(" in line)
    assert count > 10
    for n in [n for n in (1, 2, 3, 5, 8, 13, 21) if n < count // 3]:  # (the kills at renames: test_datadir)
        previous = generation(data)
        before = snapshot(previous)
        plan = variant(tmp_path, 90 + n)
        killed = kg(
            "build",
            "--no-index",
            plan,
            "--data-dir",
            data,
            prefix=[
                *STRACE,
                "-o",
                "/dev/null",
                "-e",
                "trace=fsync,fdatasync",
                "-e",
                f"inject=fsync,fdatasync:signal=SIGKILL:when={n}",
            ],
        )
        assert killed.returncode != 0, f"fsync {n}: the build was not killed"
        found = plans_in(data)
        assert found in (expected, expected | {plan.name}), f"killed at fsync {n}: {found}"
        assert snapshot(previous) == before, f"killed at fsync {n}: the previous generation changed"
        again = build([plan], data)
        assert again.built == [plan.name] and not again.errors
        expected = expected | {plan.name}
        assert plans_in(data) == expected and stale(data) == []


def store_triples(data_dir: Path, graph: str) -> set[ox.Triple]:
    """The triples of one named graph of the current store."""
    store = ox.Store.read_only(str(DataDir(data_dir).store_dir))
    try:
        return {q.triple for q in store.quads_for_pattern(None, None, None, ox.NamedNode(graph))}
    finally:
        del store


def quads_in_store(data_dir: Path) -> int:
    store = ox.Store.read_only(str(DataDir(data_dir).store_dir))
    try:
        return len(store)
    finally:
        del store


def published_practice_triples(data_dir: Path) -> set[ox.Triple]:
    """The practice graph the published practice scheme gives (what a build from scratch of it loads)."""
    scheme = json.loads((DataDir(data_dir).index_dir / PRACTICES_FILE).read_text("utf-8"))
    return {q.triple for q in ox.parse(practice_ntriples(scheme), ox.RdfFormat.N_TRIPLES)}


@pytest.mark.parametrize("saved", [True, False], ids=["graphs-saved", "graphs-read-from-the-store"])
def test_the_shared_graphs_are_patched_to_what_the_plans_and_the_scheme_give_and_the_quads_counted(tmp_path, saved):
    """The practice graph and the graph of what the plans name are patched by their difference (from the files the
    previous generation keeps, or from its store when it predates them): the result is the graph of the new scheme
    and of all the plans, and the count of quads the build reports is the store's."""
    data = tmp_path / "kg-data"
    first = build([A, B], data, after_graph=build_index_into)
    assert not first.errors and first.triples == quads_in_store(data)
    practices, entities = str(PRACTICE_GRAPH), str(ENTITY_GRAPH)
    assert store_triples(data, practices) == published_practice_triples(data) != set()

    def older(data_dir: Path) -> None:  # a generation written before the shared graphs were kept beside its store
        if not saved:
            shutil.rmtree(generation(data_dir) / SHARED_GRAPHS_DIR)

    older(data)
    added = build([C], data, after_graph=build_index_into)
    assert not added.errors and added.triples == quads_in_store(data)
    assert store_triples(data, practices) == published_practice_triples(data)
    scratch = tmp_path / "scratch"
    assert not build([A, B, C], scratch).errors
    assert store_triples(data, entities) == store_triples(scratch, entities)

    older(data)
    key = next(r["id"] for r in DataDir(data).records() if r["file"] == B.name)
    removed = remove(data, [key], after_graph=build_index_into)
    assert removed.triples == quads_in_store(data)
    assert store_triples(data, practices) == published_practice_triples(data)
    scratch = tmp_path / "scratch-2"
    assert not build([A, C], scratch).errors
    assert store_triples(data, entities) == store_triples(scratch, entities)
    info = json.loads((generation(data) / STORE_INFO).read_text("utf-8"))
    assert info["triples"] == removed.triples


def _but_staging(snap: dict) -> dict:
    return {k: v for k, v in snap.items() if k != "staging"}


@pytest.mark.parametrize("change", ["edited", "deleted", "made a pipe"])
def test_a_plan_file_changed_after_it_was_read_fails_the_build_and_changes_nothing(tmp_path, monkeypatch, change):
    # The build keeps no plan file's bytes while it runs: it copies each file into the new generation when it
    # publishes, and refuses one that is no longer what it read.
    data = tmp_path / "kg-data"
    assert not build([A], data).errors
    before = _but_staging(snapshot(data))
    later = tmp_path / "later.txt"
    shutil.copy(C, later)
    real = store_module._read_into

    def then_changed(*args):
        out = real(*args)
        if change == "edited":
            later.write_bytes(later.read_bytes() + "\n補充說明".encode())
        else:
            later.unlink()
            if change == "made a pipe":
                os.mkfifo(later)
        return out

    monkeypatch.setattr(store_module, "_read_into", then_changed)
    with pytest.raises(PlanError) as err:
        build([later], data)
    assert err.value.file == "later.txt"
    assert ("changed after it was read" if change == "edited" else "plan file") in str(err.value)
    assert _but_staging(snapshot(data)) == before  # the staging folder's own time changes: a build was staged there
    assert plans_in(data) == {A.name} and stale(data) == []  # the previous build, whole; nothing left staged


def test_a_build_keeps_each_new_plan_file_byte_for_byte(tmp_path):
    data = tmp_path / "kg-data"
    assert not build([A, C], data).errors
    d = DataDir(data).pin()
    kept = {r["file"]: (d.originals_dir / r["original"]).read_bytes() for r in d.records()}
    assert kept == {A.name: A.read_bytes(), C.name: C.read_bytes()}
