"""The endpoint forwarding to a SPARQL server (SPARQL_STORE): two web apps share one real `oxigraph serve`."""

from __future__ import annotations

from kg.search import build_index_into
from kg.store import build, bundled_plans
from tests.kg.test_remote_store import free_port, oxigraph_server
from tests.kg.test_store import UNITS_USING_1999
from webui import create_app

JSON = "application/sparql-results+json"


def test_two_web_apps_answer_from_one_server_as_from_their_own_store(tmp_path, data_dir, client):
    with oxigraph_server(tmp_path / "oxigraph") as base:
        url = base + "/query"
        assert not build(bundled_plans(), tmp_path / "kg-data", after_graph=build_index_into, store=url).errors
        apps = [create_app({"DATA_DIR": str(tmp_path / "kg-data"), "SPARQL_STORE": url}) for _ in range(2)]
        own = client.get("/sparql", query_string={"query": UNITS_USING_1999}, headers={"Accept": JSON})
        assert own.status_code == 200
        for app in apps:
            r = app.test_client().get("/sparql", query_string={"query": UNITS_USING_1999}, headers={"Accept": JSON})
            assert r.status_code == 200, r.get_data(as_text=True)
            assert r.get_json(force=True)["results"] == own.get_json(force=True)["results"]
            refused = app.test_client().get("/sparql", query_string={"query": "DROP ALL"})
            assert refused.status_code == 400
    down = create_app({"DATA_DIR": str(data_dir), "SPARQL_STORE": f"http://127.0.0.1:{free_port()}/query"})
    r = down.test_client().get("/sparql", query_string={"query": "ASK {}"}, headers={"Accept": JSON})
    assert r.status_code == 502 and "127.0.0.1" in r.get_data(as_text=True)
