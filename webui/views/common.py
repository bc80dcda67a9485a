"""Helpers every area shares: one function serving a page as HTML and as JSON, and compact measure summaries."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, jsonify, render_template, request
from flask.typing import ResponseReturnValue

from webui.counts import counts
from webui.state import KGState

API_PREFIX = "/api"


def is_api_request() -> bool:
    return request.path.startswith(API_PREFIX + "/") or request.path == API_PREFIX


def page_route(bp: Blueprint, rule: str, endpoint: str) -> Callable[[Callable], Callable]:
    """Serve one view at `rule` (HTML) and at /api`rule` (JSON, endpoint name + '_api').

    One function for both keeps the page and its API from drifting apart: the JSON is exactly the page's data.
    """

    def register(view: Callable) -> Callable:
        bp.add_url_rule(rule, endpoint, view)
        bp.add_url_rule(API_PREFIX + rule, endpoint + "_api", view)
        return view

    return register


def respond(template: str, data: dict[str, Any], **html_only: Any) -> ResponseReturnValue:
    """JSON of `data` for /api requests; otherwise the template with `data` and extras only the page needs."""
    if is_api_request():
        return jsonify(data)
    return render_template(template, data=data, **data, **html_only)


def lookup(table: dict[str, dict], key: str, what: str) -> dict:
    """An entry by id from a table (a dict, or a state's lazy table), or a 404 naming what was not found."""
    found = table.get(key)
    if found is None:
        abort(404, description=f"找不到{what}「{key}」")
    return found


def plan_index(state: KGState) -> dict[str, dict]:
    """Every plan's title, year, agency and number of measures by id (as the build counted them: webui.counts)."""

    def build() -> dict[str, dict]:
        names = {aid: a["name"] for aid, a in state.agencies.items()}
        return {
            pid: {
                "id": pid,
                "title": p["title"],
                "year": p["year"],
                "agency": names.get(p["agency_id"], ""),
                "agency_id": p["agency_id"],
                "measures": p["measures"],
            }
            for pid, p in counts(state).plans.items()
        }

    return state.cache.get(("plan_index",), build)


def measure_summary(state: KGState, m: dict) -> dict:
    """What lists of measures show: enough to read the measure and follow its links."""
    plan = plan_index(state)[m["plan_id"]]
    return {
        "id": m["id"],
        "number": m.get("number"),
        "title": m["title"],
        "text": m["text"],
        "agency": m["agency"],
        "agency_id": plan["agency_id"],
        "plan_id": m["plan_id"],
        "plan": m["plan"],
        "year": m["year"],
        "framework_item": m["framework_item"],
        "units": [{"id": u["id"], "name": u["name"]} for u in m["units"]],
        "systems": [{"id": s["id"], "name": s["name"]} for s in m["systems"]],
        "practice_types": state.practice_types_of(m["id"]),
    }


def count_by(items: list[dict], key: str, label: str) -> list[dict]:
    """[{id, name, count}] of the values of items[key] (dicts with id and name), most frequent first."""
    counts: dict[str, dict] = {}
    for it in items:
        for v in it[key]:
            entry = counts.setdefault(v["id"], {"id": v["id"], label: v.get("name", v.get("label")), "count": 0})
            entry["count"] += 1
    return sorted(counts.values(), key=lambda e: (-e["count"], e[label]))
