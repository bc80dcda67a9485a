"""The index page: what is in the graph and where to go from here."""

from __future__ import annotations

from flask import Blueprint
from flask.typing import ResponseReturnValue

from webui.counts import practice_rows, totals
from webui.paging import list_size, page_of
from webui.state import get_state, year_key
from webui.views.common import plan_index, respond

bp = Blueprint("home", __name__)


@bp.get("/", endpoint="index")
@bp.get("/api/", endpoint="index_api")
def index() -> ResponseReturnValue:
    state = get_state()

    def build() -> dict:
        return {
            "counts": totals(state),  # webui.counts: the one definition every page and /api/counts use
            "plans": sorted(plan_index(state).values(), key=lambda p: (year_key(p["year"]), p["agency"])),
            "top_systems": sorted(
                ({"id": s["id"], "name": s["name"], "measures": s["measures"]} for s in state.systems.rows()),
                key=lambda s: (-s["measures"], s["name"]),
            )[:12],
            "top_practices": [
                {"id": t["id"], "label": t["label"], "measures": t["measures"]} for t in practice_rows(state)[:12]
            ],
            "laws": [{"id": x["id"], "name": x["name"], "measures": x["measures"]} for x in state.laws.rows()],
            "programmes": [{"id": p["id"], "name": p["name"], "plans": p["plans"]} for p in state.programmes.rows()],
            "graph": state.graph.counts(),
        }

    data = state.cache.get(("index",), build)
    p = page_of(data["plans"], list_size())  # the plans, a page at a time (?page=)
    return respond("index.html", dict(data, plans=p.pop("rows"), page=p))
