"""Search: query, mode, faceted filters with counts, highlighted results, similar practices, CSV download."""

from __future__ import annotations

import io

from flask import Blueprint, Response, render_template, request, url_for
from flask.typing import ResponseReturnValue

from kg.records import CSV_FIELDS, csv_row, write_csv
from webui.params import MODES, YEAR_UNKNOWN, get_int, get_mode, get_query, get_strings, get_years
from webui.provenance import source_place
from webui.state import KGState, get_state
from webui.text import highlight
from webui.views.common import is_api_request, page_route

bp = Blueprint("search", __name__)

FACETS = {
    "agency": "機關",
    "year": "年度",
    "framework_item": "框架項目",
    "unit": "單位",
    "system": "系統",
    "practice_type": "實務類型",
}
# Facet counts are taken over this many best matches: enough to show where a topic lives across agencies,
# small enough that every count stays relevant to the query.
FACET_POOL = 100
DEFAULT_K = 20
SIMILAR_INLINE = 3


def _params() -> tuple[str, str, int, dict[str, list]]:
    args = request.args
    filters: dict[str, list] = {f: get_strings(args, f) for f in FACETS if f != "year"}
    filters["year"] = get_years(args)
    return get_query(args), get_mode(args), get_int(args, "top_k", DEFAULT_K, 1, 100), filters


def _run(state: KGState, q: str, mode: str, k: int, filters: dict[str, list]) -> list[dict]:
    key = ("search", q, mode, k, tuple((f, tuple(v)) for f, v in sorted(filters.items())))
    return state.cache.get(key, lambda: _search(state, q, mode, k, filters))


def _search(state: KGState, q: str, mode: str, k: int, filters: dict[str, list]) -> list[dict]:
    years = filters.get("year") or []
    if YEAR_UNKNOWN not in years:
        return state.search.search(q, k=k, mode=mode, **{f: v for f, v in filters.items() if v})
    # The index filters by a year, and a plan without one has none to filter by: rank every match of the other
    # filters, then keep the undated ones (and those of any year also chosen).
    others = {f: v for f, v in filters.items() if v and f != "year"}
    dated = {y for y in years if y != YEAR_UNKNOWN}
    hits = state.search.search(q, k=max(len(state.search.measures), 1), mode=mode, **others)
    return [h for h in hits if h["year"] is None or h["year"] in dated][:k]


def _values(state: KGState, hit: dict, facet: str) -> list[str]:
    if facet == "agency":
        return [hit["agency"]]
    if facet == "year":
        return [str(hit["year"]) if hit["year"] is not None else YEAR_UNKNOWN]
    if facet == "framework_item":
        return [hit["framework_item"]] if hit["framework_item"] else []
    if facet == "unit":
        return [u["id"] for u in hit["units"]]
    if facet == "system":
        return [s["id"] for s in hit["systems"]]
    return [t["id"] for t in hit["practice_types"]]


def _label(state: KGState, facet: str, value: str) -> str:
    if facet == "unit":
        u = state.units.get(value)
        return f"{u['name']}（{u['agency']}）" if u else value
    if facet == "system":
        return state.systems[value]["name"] if value in state.systems else value
    if facet == "practice_type":
        return state.practice_types[value]["label"] if value in state.practice_types else value
    if facet == "framework_item":
        c = state.framework.get(value)
        return f"{value} {c['label']}" if c else value
    if facet == "year" and value == YEAR_UNKNOWN:
        return "未載明"
    return value


def _facets(state: KGState, q: str, mode: str, filters: dict[str, list]) -> dict[str, list[dict]]:
    """Counts per facet value among the best matches, each facet counted with the *other* facets' filters.

    Counting a facet without its own filter keeps its other values visible, so a planner can widen a choice
    (add a second agency) as easily as narrow it.
    """
    out: dict[str, list[dict]] = {}
    for facet in FACETS:
        others = {f: (v if f != facet else []) for f, v in filters.items()}
        counts: dict[str, int] = {}
        for hit in _run(state, q, mode, FACET_POOL, others):
            for v in _values(state, hit, facet):
                counts[v] = counts.get(v, 0) + 1
        selected = [str(v) for v in filters[facet]]
        for v in selected:
            counts.setdefault(v, 0)
        entries = [
            {"value": v, "label": _label(state, facet, v), "count": n, "selected": v in selected}
            for v, n in counts.items()
        ]
        entries.sort(key=lambda e: (not e["selected"], -e["count"], e["label"]))
        out[facet] = entries
    return out


def _result(state: KGState, hit: dict) -> dict:
    m = state.measures[hit["id"]]
    similar = [
        {
            "id": s["id"],
            "agency": s["agency"],
            "year": s["year"],
            "title": s["title"],
            "text": s["text"],
            "score": s["score"],
        }
        for s in state.similar(hit["id"], k=5)[:SIMILAR_INLINE]
    ]
    return dict(hit, plan_id=m["plan_id"], agency_id=state.plans[m["plan_id"]]["agency"]["id"], similar=similar)


def _search_data(state: KGState) -> dict:
    q, mode, k, filters = _params()
    results = [_result(state, h) for h in _run(state, q, mode, k, filters)] if q else []
    return {
        "query": q,
        "mode": mode,
        "top_k": k,
        "filters": {f: v for f, v in filters.items() if v},
        "results": results,
        "facets": _facets(state, q, mode, filters) if q else {},
        "facet_pool": FACET_POOL,
    }


def _link_args(data: dict, facet: str | None = None, value: str | None = None) -> dict:
    """The current search's parameters, with one facet value switched on or off."""
    args: dict[str, object] = {"q": data["query"], "mode": data["mode"]}
    if data["top_k"] != DEFAULT_K:
        args["top_k"] = data["top_k"]
    for f in FACETS:
        values = [str(v) for v in data["filters"].get(f, [])]
        if f == facet and value is not None:
            values = [v for v in values if v != value] if value in values else values + [value]
        if values:
            args[f] = values
    return args


@page_route(bp, "/search", "search")
def search() -> ResponseReturnValue:
    state = get_state()
    data = _search_data(state)
    if is_api_request():
        return data
    for facet, entries in data["facets"].items():
        for e in entries:
            e["url"] = url_for("search.search", **_link_args(data, facet, e["value"]))
    view = []
    for r in data["results"]:
        view.append(
            dict(r, title_html=highlight(r["title"], data["query"]), text_html=highlight(r["text"], data["query"]))
        )
    return render_template(
        "search.html",
        data=data,
        view=view,
        modes=MODES,
        facet_names=FACETS,
        csv_url=url_for("search.search_csv", **_link_args(data)),
        json_url=url_for("search.search_api", **_link_args(data)),
        selected=[
            (f, v, _label(state, f, str(v)), url_for("search.search", **_link_args(data, f, str(v))))
            for f, values in data["filters"].items()
            for v in values
        ],
    )


@bp.get("/search.csv")
def search_csv() -> Response:
    state = get_state()
    data = _search_data(state)
    rows = []
    for i, r in enumerate(data["results"], 1):
        types = "、".join(t["name"] for t in r["practice_types"])
        url = url_for("measures.measure", mid=r["id"], _external=True)
        m = state.measures[r["id"]]
        place = source_place(m["source"], state.plans[m["plan_id"]].get("format"))
        rows.append([i, r["score"], *csv_row(r), types, url, place])
    buf = io.StringIO()
    # line_start and line_end are empty for plans read from PDF, Word and other files; place says where then.
    # write_csv: a BOM (Excel, which planners open CSV files with, reads the Chinese as UTF-8), formulas escaped.
    write_csv(buf, ["rank", "score", *CSV_FIELDS, "practice_types", "url", "place"], rows)
    return Response(
        buf.getvalue(), mimetype="text/csv", headers={"Content-Disposition": "attachment; filename=search-results.csv"}
    )
