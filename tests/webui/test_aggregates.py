"""The counts every build saves (kg.aggregates): written into the generation, equal to what the graph says and to
what the pages show, and a generation without them (or with a damaged file) still served with the same counts."""

from __future__ import annotations

import json
import logging
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest

from kg import aggregates, recordfiles
from kg.datadir import DataDir
from kg.search import PRACTICES_FILE, build_index_into
from kg.store import build
from tests.conftest import sample
from tests.webui.helpers import state
from webui import counts as kgcounts
from webui import create_app, entities
from webui.entities import local
from webui.graphindex import _RELATION_ENDS, DERIVED, RELATIONS
from webui.views.common import plan_index

# What the pages counted by SPARQL before the build saved the counts: the oracle they must still equal.
_AGENCY_MEASURES = (
    "SELECT ?a (COUNT(DISTINCT ?m) AS ?n) WHERE { ?plan a sp:Plan ; sp:agency ?a ; sp:measure ?m } GROUP BY ?a"
)
_TYPE_SIZES = (
    "SELECT ?t (COUNT(DISTINCT ?m) AS ?n) WHERE { ?plan a sp:Plan ; sp:measure ?m . ?m sp:practiceType ?t } GROUP BY ?t"
)
_CELLS = """SELECT ?t ?a (COUNT(DISTINCT ?m) AS ?n) WHERE {
  ?plan a sp:Plan ; sp:agency ?a ; sp:measure ?m . ?m sp:practiceType ?t .
} GROUP BY ?t ?a"""
_FRAMEWORK = "SELECT ?c (COUNT(DISTINCT ?m) AS ?n) WHERE { ?m a sp:Measure ; sp:frameworkItem ?c } GROUP BY ?c"


def _saved(data_dir: Path) -> dict:
    folder = DataDir(data_dir).current()
    assert folder is not None
    return json.loads((folder / aggregates.AGGREGATES_DIR / aggregates.COUNTS_FILE).read_text("utf-8"))


def test_the_build_saves_the_counts_the_graph_states(app, data_dir):
    saved = _saved(data_dir)
    store = state(app).store
    assert saved["measures_by_agency"] == {local(r["a"], "org"): int(r["n"]) for r in store.select(_AGENCY_MEASURES)}
    assert saved["type_sizes"] == {local(r["t"], "practice"): int(r["n"]) for r in store.select(_TYPE_SIZES)}
    cells: dict[str, dict[str, int]] = {}
    for r in store.select(_CELLS):
        cells.setdefault(local(r["t"], "practice"), {})[local(r["a"], "org")] = int(r["n"])  # type: ignore[index]
    assert saved["cells"] == cells
    framework = {c["iri"]: n for n, c in state(app).framework.items()}
    assert saved["framework_items"] == {framework[r["c"]]: int(r["n"]) for r in store.select(_FRAMEWORK)}
    st = state(app)
    assert saved["named"] == {
        "units": len(st.units.rows()),
        "systems": len(st.systems.rows()),
        "laws": len(st.laws.rows()),
        "programmes": len(st.programmes.rows()),
    }


def test_the_pages_show_the_saved_counts(client, data_dir):
    saved = _saved(data_dir)
    totals = client.get("/api/counts").get_json()
    assert totals["units"] == saved["named"]["units"] > 0
    assert totals["systems"] == saved["named"]["systems"] > 0
    assert totals["laws"] == saved["named"]["laws"]
    assert totals["programmes"] == saved["named"]["programmes"] > 0
    assert totals["framework_items"] == len(saved["framework_items"])
    assert totals["practice_types"] == sum(1 for n in saved["type_sizes"].values() if n)
    coverage = client.get("/api/coverage").get_json()
    shown = {(t["id"], c["agency_id"]): c["count"] for t in coverage["types"] for c in t["cells"] if c["count"]}
    assert shown == {(t, a): n for t, row in saved["cells"].items() for a, n in row.items()}


def test_a_one_plan_update_saves_the_counts_again(tmp_path):
    data = tmp_path / "kg-data"
    build([sample("004")], data, after_graph=build_index_into)
    one = _saved(data)
    build([sample("004"), sample("001")], data, after_graph=build_index_into)
    both = _saved(data)
    assert sum(both["measures_by_agency"].values()) > sum(one["measures_by_agency"].values())
    folder = DataDir(data).current()
    assert folder is not None
    records = recordfiles.read_all(folder / "records")
    membership = json.loads((folder / "index" / PRACTICES_FILE).read_text("utf-8"))["membership"]
    plan_of = {m["id"]: r["agency"]["id"] for r in records for m in r["measures"]}
    cells: dict[str, Counter] = {}
    for mid, types in membership.items():
        for t in set(types):
            cells.setdefault(t, Counter())[plan_of[mid]] += 1
    assert both["cells"] == {t: dict(row) for t, row in cells.items()}
    assert both["type_sizes"] == {t: sum(row.values()) for t, row in cells.items()}
    assert both == aggregates.count(records, folder / "index")
    systems = json.loads((folder / aggregates.AGGREGATES_DIR / aggregates.SYSTEMS_FILE).read_text("utf-8"))
    assert systems == aggregates.count_systems(records)
    assert sum(len(s["measures"]) for s in systems["systems"].values()) == both["links"]["usesSystem"]


@pytest.fixture(scope="module")
def copied(data_dir, tmp_path_factory) -> Path:
    """A copy of the sample data dir, whose saved counts a test may take away or damage."""
    path = tmp_path_factory.mktemp("aggregates") / "kg-data"
    shutil.copytree(data_dir, path)
    return path


def _counts_file(data_dir: Path) -> Path:
    folder = DataDir(data_dir).current()
    assert folder is not None
    return folder / aggregates.AGGREGATES_DIR / aggregates.COUNTS_FILE


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda p: p.unlink(), id="built-before-counts-were-saved"),
        pytest.param(lambda p: p.write_bytes(b"\x00{not json"), id="garbled"),
        pytest.param(lambda p: p.write_text('{"format": 0}', "utf-8"), id="another-format"),
        pytest.param(lambda p: p.write_text('{"format": 1, "cells": {}}', "utf-8"), id="incomplete"),
    ],
)
def test_without_usable_saved_counts_the_pages_count_them_again(client, copied, damage, caplog):
    want = {url: client.get(url).get_json() for url in ("/api/counts", "/api/coverage", "/api/practices")}
    path = _counts_file(copied)
    kept = path.read_bytes()
    damage(path)
    try:
        with pytest.raises(aggregates.AggregatesError, match=str(path)):
            aggregates.read_counts(path.parent.parent)
        other = create_app({"DATA_DIR": str(copied)}).test_client()
        with caplog.at_level(logging.WARNING, logger="webui.counts"):
            for url, answer in want.items():
                got = other.get(url)
                assert got.status_code == 200
                assert got.get_json() == answer
        assert "counting them now" in caplog.text
    finally:
        path.write_bytes(kept)


def test_the_saved_system_lists_are_what_the_store_answers(app):
    """Each system's measures, agencies and units as its page reads them from the build's counts: the rows, names,
    counts and order the store's SPARQL gives (entities.measure_order and entities.counted)."""
    st = state(app)
    systems = aggregates.read_systems(st.data_dir)["systems"]
    assert len(systems) >= 5 and "hotline-1999" in systems
    for sid in systems:
        rows, agencies, units = kgcounts.system_counts(st, sid)
        assert sorted(rows) == sorted(entities.measure_order(st.store, "system", sid)), sid
        assert agencies == entities.counted(st.store, "system", sid, "agency"), sid
        assert units == entities.counted(st.store, "system", sid, "unit"), sid
    assert kgcounts.system_counts(st, "no-such-system") == ([], [], [])


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda p: p.unlink(), id="built-before-they-were-saved"),
        pytest.param(lambda p: p.write_bytes(b"\xff\xfe{"), id="garbled"),
        pytest.param(lambda p: p.write_text('{"format": 1, "systems": {}}', "utf-8"), id="incomplete"),
        pytest.param(
            lambda p: p.write_text(
                '{"format": 1, "units": {}, "systems": {"hotline-1999": {"measures": [], "agencies": {}, '
                '"units": {"u1": 3}}}}',
                "utf-8",
            ),
            id="a-unit-it-does-not-name",
        ),
    ],
)
def test_without_usable_saved_system_lists_the_system_page_counts_them_again(client, copied, damage, caplog):
    url = "/system/hotline-1999"
    want = client.get(url).get_data(as_text=True)
    path = _counts_file(copied).with_name(aggregates.SYSTEMS_FILE)
    kept = path.read_bytes()
    damage(path)
    try:
        with pytest.raises(aggregates.AggregatesError, match=str(path)):
            aggregates.read_systems(path.parent.parent)
        other = create_app({"DATA_DIR": str(copied)}).test_client()
        with caplog.at_level(logging.WARNING, logger="webui.counts"):
            got = other.get(url)
        assert got.status_code == 200
        assert got.get_data(as_text=True) == want
        assert "counting them now" in caplog.text
    finally:
        path.write_bytes(kept)


def _relation_oracle(store) -> dict[str, int]:
    """The links of every relation the graph view draws, counted by SPARQL (each pair once, as the legend does)."""
    out = {}
    for p, label in RELATIONS.items():
        query = (
            "SELECT (COUNT(*) AS ?n) WHERE { SELECT DISTINCT ?s ?o WHERE { "
            + f"?s <{p}> ?o . FILTER(isIRI(?o) && ?s != ?o) {_RELATION_ENDS.get(p, '')} }} }}"
        )
        out[label] = int(store.select(query)[0]["n"] or 0)
    out = {label: n for label, n in out.items() if n}
    out[DERIVED[("unit", "system")][0]] = int(
        store.select(
            "SELECT (COUNT(*) AS ?n) WHERE { SELECT DISTINCT ?u ?o WHERE { ?m sp:ownedBy ?u ; sp:usesSystem ?o . "
            "?u a org:OrganizationalUnit . ?o a sp:System } }"
        )[0]["n"]
    )
    out[DERIVED[("agency", "practice")][0]] = int(
        store.select(
            "SELECT (COUNT(*) AS ?n) WHERE { SELECT DISTINCT ?a ?o WHERE { ?plan a sp:Plan ; sp:agency ?a ; "
            "sp:measure ?m . ?m sp:practiceType ?o . ?o skos:inScheme id:practice } }"
        )[0]["n"]
    )
    return out


def test_the_graph_legend_counts_every_relation_as_the_graph_states_it(client, app):
    body = client.get("/graph").get_data(as_text=True)
    shown = re.findall(
        r'name="rel" value="([^"]+)"[^>]*> <span class="edge-swatch[^"]*"></span>[^<]+<span class="n">(\d+)', body
    )
    want = _relation_oracle(state(app).store)
    assert [label for label, _ in shown] == list(want)
    assert {label: int(n) for label, n in shown} == want
    assert want["含措施"] == len(state(app).measures) and want["措施實務類型"] > 0


def test_the_saved_members_list_each_item_and_types_measures_in_plan_order(app, data_dir):
    members = _saved(data_dir)["members"]
    store = state(app).store
    ids = members["measures"]
    framework = {c["iri"]: n for n, c in state(app).framework.items()}
    by_item: dict[str, list[str]] = {}
    for r in store.select(
        "SELECT ?c ?id WHERE { ?plan a sp:Plan ; sp:measure ?m . ?m sp:frameworkItem ?c ; dcterms:identifier ?id } "
        "ORDER BY ?plan ?id"
    ):
        by_item.setdefault(framework[r["c"]], []).append(str(r["id"]))
    assert {n: [ids[p] for p in ps] for n, ps in members["framework"].items()} == by_item
    by_type: dict[str, list[str]] = {}
    for r in store.select(
        "SELECT ?t ?id WHERE { ?m sp:practiceType ?t ; dcterms:identifier ?id . ?plan a sp:Plan ; sp:measure ?m } "
        "ORDER BY ?plan ?id"
    ):
        by_type.setdefault(local(r["t"], "practice"), []).append(str(r["id"]))  # type: ignore[arg-type]
    assert {t: [ids[p] for p in ps] for t, ps in members["practice"].items()} == by_type
    st = state(app)
    agencies = [members["agencies"][a] for a in members["agency_of"]]
    assert agencies == [st.plans[st.measures[mid]["plan_id"]]["agency"]["id"] for mid in ids]


def test_the_plan_index_says_what_the_graph_says_of_every_plan(app):
    rows = state(app).store.select(
        "SELECT ?plan (MIN(STR(?t)) AS ?title) (MIN(?y) AS ?year) (MIN(STR(?a)) AS ?agency) "
        "(COUNT(DISTINCT ?m) AS ?n) WHERE { ?plan a sp:Plan ; dcterms:title ?t ; sp:agency ?a . "
        "OPTIONAL { ?plan sp:year ?y } OPTIONAL { ?plan sp:measure ?m } } GROUP BY ?plan"
    )
    names = {a["id"]: a["name"] for a in state(app).agencies.values()}
    want = {
        local(r["plan"], "plan"): {
            "id": local(r["plan"], "plan"),
            "title": r["title"],
            "year": int(r["year"]) if r["year"] is not None else None,
            "agency": names[local(r["agency"], "org")],  # type: ignore[index]
            "agency_id": local(r["agency"], "org"),
            "measures": int(r["n"]),
        }
        for r in rows
    }
    with app.app_context():
        assert plan_index(state(app)) == want


def test_the_systems_list_counts_as_the_graph_states(client, app):
    rows = state(app).store.select(
        "SELECT ?s (COUNT(DISTINCT ?m) AS ?n) (COUNT(DISTINCT ?a) AS ?agencies) WHERE { ?m sp:usesSystem ?s . "
        "?plan sp:measure ?m ; sp:agency ?a } GROUP BY ?s"
    )
    want = {local(r["s"], "system"): (int(r["n"]), int(r["agencies"])) for r in rows}
    listed = client.get("/api/systems").get_json()["systems"]
    assert {s["id"]: (s["measures"], s["agencies"]) for s in listed} == want
    assert len(want) > 3
