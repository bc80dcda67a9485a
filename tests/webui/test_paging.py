"""Lists and pages paged on the server: a page past the first shows the next rows, totals count every row, the
downloads give them all; and the server reads the store where it is, read-only, copying nothing into memory."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pyoxigraph as ox
import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.webui.helpers import state
from webui import create_app
from webui.store import Store

SMALL = 4  # rows a list page holds in these tests
FEW = 3  # measures a unit or system page holds


@pytest.fixture(scope="module")
def small(data_dir: Path) -> FlaskClient:
    """The sample data dir served with tiny pages, so that the samples span several."""
    app = create_app({"DATA_DIR": str(data_dir), "PAGE_SIZE": SMALL, "MEASURES_PAGE": FEW})
    app.config["TESTING"] = True
    return app.test_client()


def _csv_rows(client: FlaskClient, path: str) -> list[list[str]]:
    r = client.get(path)
    assert r.status_code == 200
    return list(csv.reader(io.StringIO(r.get_data(as_text=True).lstrip("\ufeff"))))[1:]


def test_a_list_page_past_the_first_shows_the_next_rows_and_true_totals(small):
    every = _csv_rows(small, "/units.csv")  # the download gives every row, in the list's order
    assert len(every) > 2 * SMALL
    first = small.get("/api/units").get_json()
    second = small.get("/api/units?page=2").get_json()
    assert [u["name"] for u in first["units"]] == [r[0] for r in every[:SMALL]]
    assert [u["name"] for u in second["units"]] == [r[0] for r in every[SMALL : 2 * SMALL]]
    assert first["page"]["total"] == second["page"]["total"] == len(every)
    assert first["page"]["pages"] == -(-len(every) // SMALL) and second["page"]["page"] == 2
    body = small.get("/units?page=2").get_data(as_text=True)
    assert 'rel="prev"' in body and 'rel="next"' in body and f"共 {len(every)} 筆" in body
    assert "data-sortable" not in body  # the browser cannot sort what it does not hold: the server does


def test_every_page_together_is_the_whole_list(small):
    first = small.get("/api/systems").get_json()
    names = []
    for page in range(1, first["page"]["pages"] + 1):
        names += [s["name"] for s in small.get(f"/api/systems?page={page}").get_json()["systems"]]
    assert names == [r[0] for r in _csv_rows(small, "/systems.csv")]


def test_lists_sort_and_filter_on_the_server(small):
    by_count = small.get("/api/units?sort=measures&desc=1").get_json()
    counts = [int(r[2]) for r in _csv_rows(small, "/units.csv")]
    assert [u["measures"] for u in by_count["units"]] == sorted(counts, reverse=True)[:SMALL]
    found = small.get("/api/units", query_string={"q": "查報組"}).get_json()
    assert found["units"] and all("查報組" in u["name"] or "查報組" in u["agency"] for u in found["units"])
    assert found["page"]["total"] < found["page"]["all"] == len(counts)
    assert small.get("/api/units?sort=colour").status_code == 400


def test_a_unit_page_past_the_first_shows_its_next_measures(small, app: Flask):
    units = sorted(small.get("/api/units?sort=measures&desc=1").get_json()["units"], key=lambda u: -u["measures"])
    unit = units[0]
    owned = {m["id"] for m in state(app).measures.values() if unit["id"] in {u["id"] for u in m["unit_entities"]}}
    first = small.get(f"/api/unit/{unit['id']}").get_json()
    assert first["measure_count"] == len(owned) > 2 * FEW
    seen: list[str] = []
    for page in range(1, first["page"]["pages"] + 1):
        data = small.get(f"/api/unit/{unit['id']}?page={page}").get_json()
        ids = [m["id"] for p in data["plans"] for m in p["measures"]]
        assert len(ids) == (FEW if page < data["page"]["pages"] else len(owned) - FEW * (page - 1))
        seen += ids
    assert len(seen) == len(set(seen)) and set(seen) == owned  # every measure once, none twice
    assert first["page"]["total"] == len(owned)
    past = small.get(f"/api/unit/{unit['id']}?page={first['page']['pages'] + 1}")
    assert past.status_code == 400 and "page" in past.get_json()["error"]


def test_a_practice_page_counts_all_its_measures_and_shows_a_page_of_them(small, app: Flask):
    row = small.get("/api/practices").get_json()["types"][0]
    first = small.get(f"/api/practice/{row['id']}").get_json()
    assert first["measure_count"] == row["measures"] == sum(g["count"] for g in first["agencies"])
    shown = [m["id"] for g in first["agencies"] for m in g["measures"]]
    assert len(shown) == min(FEW, row["measures"])
    second = small.get(f"/api/practice/{row['id']}?page=2").get_json()
    assert not set(shown) & {m["id"] for g in second["agencies"] for m in g["measures"]}


def test_the_heatmap_pages_its_agencies_and_its_download_has_them_all(small, client):
    whole = client.get("/api/coverage").get_json()
    header = list(csv.reader(io.StringIO(client.get("/coverage.csv").get_data(as_text=True).lstrip("\ufeff"))))[0]
    assert header[1:-2] == [a["name"] for a in whole["agencies"]]
    assert len(whole["types"][0]["cells"]) == len(whole["agencies"])


def test_the_server_reads_the_store_on_disk_read_only_and_holds_no_copy(app: Flask):
    st = state(app)
    assert isinstance(st.store, Store) and st.store.path == st.data_dir / "store"
    with pytest.raises(RuntimeError, match="read-write"):  # opened read-only: the store refuses a write
        st.store._store.add(
            ox.Quad(ox.NamedNode("https://example.org/s"), ox.NamedNode("https://example.org/p"), ox.Literal("x"))
        )
    held = [v for v in vars(st).values() if isinstance(v, ox.Store)]
    assert held == []  # the only store is the on-disk one behind the adapter: no in-memory copy
    assert not hasattr(st, "dataset")
    # nothing per measure is loaded at start: the tables look things up when asked
    assert st.units._all is None or len(st.units._all) == len(st.units)
    assert st.store.select("SELECT (COUNT(*) AS ?n) WHERE { ?m a sp:Measure }")[0]["n"] == len(st.measures)


def test_bound_values_never_become_query_syntax(app: Flask):
    st = state(app)
    hostile = '"} } ; DROP ALL ; SELECT * WHERE { ?s ?p ?o . FILTER("'
    assert st.store.select("SELECT ?l WHERE { ?s rdfs:label ?l . FILTER(STR(?l) = ?q) }", {"q": hostile}) == []
    assert st.store.select("SELECT ?x WHERE { BIND(?q AS ?x) }", {"q": hostile})[0]["x"] == hostile
