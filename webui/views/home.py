"""The index page: what is in the graph and where to go from here."""

from __future__ import annotations

from flask import Blueprint
from flask.typing import ResponseReturnValue

from webui.counts import practice_rows, totals
from webui.state import get_state, year_key
from webui.views.common import respond

bp = Blueprint("home", __name__)


@bp.get("/", endpoint="index")
@bp.get("/api/", endpoint="index_api")
def index() -> ResponseReturnValue:
    state = get_state()

    def build() -> dict:
        return {
            "counts": totals(state),  # webui.counts: the one definition every page and /api/counts use
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
            "top_practices": [
                {"id": t["id"], "label": t["label"], "measures": t["measures"]} for t in practice_rows(state)[:12]
            ],
            "laws": [
                {"id": x["id"], "name": x["name"], "measures": len(x["measure_ids"])} for x in state.laws.values()
            ],
            "programmes": [
                {"id": p["id"], "name": p["name"], "plans": len(p["plan_ids"])} for p in state.programmes.values()
            ],
            "graph": state.graph.counts(),
        }

    return respond("index.html", state.cache.get(("index",), build))
