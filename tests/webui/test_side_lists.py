"""The counted side lists of a unit's or system's page: what they count (against the plan records, not SPARQL), how
a long one is cut with a link to the whole list, and the store running a page's questions at once."""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from tests.webui.helpers import state
from webui import create_app, entities
from webui.store import Store

from .test_pages import html


def _from_records(app) -> tuple[dict, dict, dict]:
    """Per system, its measures counted by owning unit and by plan agency; per unit, by system: from the records."""
    st = state(app)
    system_units: dict[str, Counter] = defaultdict(Counter)
    system_agencies: dict[str, Counter] = defaultdict(Counter)
    unit_systems: dict[str, Counter] = defaultdict(Counter)
    for m in st.measures.values():
        agency = st.plans[m["plan_id"]]["agency"]["id"]
        units = {u["id"] for u in m["unit_entities"] if u["kind"] == "unit"}
        for s in {x["id"] for x in m["system_entities"]}:
            system_agencies[s][agency] += 1
            system_units[s].update(units)
            for u in units:
                unit_systems[u][s] += 1
    return system_units, system_agencies, unit_systems


def _as_counter(rows: list[dict]) -> Counter:
    return Counter({r["id"]: r["count"] for r in rows})


def test_each_counted_list_counts_the_measures_the_records_give(app):
    system_units, system_agencies, unit_systems = _from_records(app)
    store = state(app).store
    assert len(system_units) >= 5 and len(unit_systems) >= 5
    for system, units in system_units.items():
        assert _as_counter(entities.counted(store, "system", system, "unit")) == +units, system
        assert _as_counter(entities.counted(store, "system", system, "agency")) == system_agencies[system], system
    for unit, systems in unit_systems.items():
        assert _as_counter(entities.counted(store, "unit", unit, "system")) == systems, unit


def test_the_lists_are_named_and_ordered_by_count(app):
    st = state(app)
    rows = entities.counted(st.store, "system", "hotline-1999", "unit")
    assert [r["count"] for r in rows] == sorted((r["count"] for r in rows), reverse=True)
    for r in rows:
        assert r["name"] == st.units[r["id"]]["name"] and r["agency"] == st.units[r["id"]]["agency"]


@pytest.fixture(scope="module")
def short_lists(data_dir: Path):
    app = create_app({"DATA_DIR": str(data_dir), "ASIDE_ROWS": 1})
    app.config["TESTING"] = True
    return app.test_client()


def test_a_long_side_list_shows_its_first_rows_and_links_to_all_of_them(short_lists):
    data = short_lists.get("/api/system/hotline-1999").get_json()
    units = data["units"]
    assert len(units) >= 2  # the JSON twin lists every one
    body = _aside(short_lists.get("/system/hotline-1999?page=1"))
    assert units[0]["name"] in body and units[-1]["name"] not in body
    assert f"顯示全部 {len(units)} 個單位" in body
    assert "lists=all" in body and "page=1" in body  # the page's own query kept
    whole = _aside(short_lists.get("/system/hotline-1999?lists=all"))
    assert all(u["name"] in whole for u in units) and "顯示全部" not in whole


def _aside(response) -> str:
    body = html(response)
    return body[body.index("<aside>") : body.index("</aside>")]


def test_a_short_side_list_has_no_link(client):
    body = _aside(client.get("/system/hotline-1999"))
    assert "顯示全部" not in body


# ----- Store.together -----


@pytest.fixture(scope="module")
def store(data_dir: Path) -> Store:
    from kg.datadir import DataDir

    return Store(DataDir(data_dir).current() / "store")


def test_together_gives_each_answer_in_order(store):
    query = "SELECT (COUNT(*) AS ?n) WHERE {{ ?s a {} }}"
    kinds = ["sp:Plan", "sp:Measure", "org:OrganizationalUnit", "sp:System"]
    answers = store.together([lambda k=k: store.select(query.format(k))[0]["n"] for k in kinds])
    assert answers == [store.select(query.format(k))[0]["n"] for k in kinds]
    assert answers[0] == 5 and answers[1] > 100


def test_together_runs_the_calls_at_once(store):
    meeting = threading.Barrier(3, timeout=10)  # broken unless three calls wait at the same time

    def call() -> int:
        meeting.wait()
        return threading.get_ident()

    threads = store.together([call, call, call])
    assert len(set(threads)) == 3


def test_together_raises_what_a_call_raised_and_stays_usable(store):
    def bad():
        raise ValueError("not a query")

    with pytest.raises(ValueError, match="not a query"):
        store.together([lambda: 1, bad, lambda: 3])
    with pytest.raises(ValueError, match="not a query"):
        store.together([bad, lambda: 2])
    assert store.together([lambda: 1, lambda: 2]) == [1, 2]


def test_calls_made_together_inside_a_call_run_in_turn(store):
    def outer(k: int) -> list[int]:
        return store.together([lambda: k, lambda: k + 1])

    many = store.together([lambda k=k: outer(k) for k in range(12)])  # more than the pool's threads
    assert many == [[k, k + 1] for k in range(12)]
