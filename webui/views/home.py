"""The index page: what is in the graph and where to go from here."""

from __future__ import annotations

from flask import Blueprint
from flask.typing import ResponseReturnValue

from webui.state import get_state, year_key
from webui.views.common import respond

bp = Blueprint("home", __name__)


@bp.get("/", endpoint="index")
@bp.get("/api/", endpoint="index_api")
def index() -> ResponseReturnValue:
    state = get_state()

    def build() -> dict:
        return {
            "counts": {
                "plans": len(state.plans),
                "measures": len(state.measures),
                "agencies": sum(1 for a in state.agencies.values() if a["plan_ids"]),
                "units": len(state.units),
                "systems": len(state.systems),
                "practice_types": sum(1 for t in state.practice_types.values() if t["measure_ids"]),
                "laws": len(state.laws),
                "programmes": len(state.programmes),
            },
            "plans": [
                {
                    "id": p["id"],
                    "title": p["title"],
                    "year": p["year"],
                    "agency": p["agency"]["name"],
                    "agency_id": p["agency"]["id"],
                    "measures": len(p["measure_ids"]),
                }
                for p in sorted(state.plans.values(), key=lambda p: (year_key(p["year"]), p["agency"]["name"]))
            ],
            "top_systems": sorted(
                ({"id": s["id"], "name": s["name"], "measures": len(s["measure_ids"])} for s in state.systems.values()),
                key=lambda s: (-s["measures"], s["name"]),
            )[:12],
            "top_practices": sorted(
                (
                    {"id": t["id"], "label": t["label"], "measures": len(t["measure_ids"])}
                    for t in state.practice_types.values()
                    if t["measure_ids"]
                ),
                key=lambda t: (-t["measures"], t["label"]),
            )[:12],
            "laws": [
                {"id": x["id"], "name": x["name"], "measures": len(x["measure_ids"])} for x in state.laws.values()
            ],
            "programmes": [
                {"id": p["id"], "name": p["name"], "plans": len(p["plan_ids"])} for p in state.programmes.values()
            ],
            "graph": state.graph.counts(),
        }

    return respond("index.html", state.cache.get(("index",), build))
