"""Browsing the graph by what planners know: agencies and their plans, units, systems, practice types, the city
framework across its two versions, laws and programmes.

Lists are aggregated by SPARQL (webui.entities, webui.counts) and sorted, filtered and paged here (webui.paging);
pages about one thing show its counts and one page of its measures (?page=), found by SPARQL in plan order."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from flask import Blueprint, abort, request
from flask.typing import ResponseReturnValue

from webui import counts as kgcounts
from webui import entities
from webui.paging import measures_size, page_of, table_page
from webui.provenance import finding_text, format_label, parse_place, place_label
from webui.state import KGState, get_state, year_key
from webui.views.common import lookup, measure_summary, page_route, plan_index, respond
from webui.views.originals import original_url

bp = Blueprint("browse", __name__)

COVERAGE_COLUMNS = 30  # agencies the heatmap shows at once (?page= for the next ones; the CSV has them all)
# Fixed count bands for the heatmap, so that a colour means the same number on every visit.
HEAT_BANDS = ((0, "0"), (1, "1"), (2, "2"), (3, "3–4"), (5, "5–9"), (10, "10+"))


def _cached(state: KGState, key: tuple, build: Callable[[], dict]) -> dict:
    return state.cache.get(key, build)


def _summaries(state: KGState, ids: list[str]) -> list[dict]:
    return [measure_summary(state, m) for m in state.search.records(ids)]


def _by_plan(state: KGState, ids: list[str]) -> list[dict]:
    """Measures grouped by plan (oldest plan first), for pages that span plans."""
    plans = plan_index(state)
    groups: dict[str, dict] = {}
    for s in _summaries(state, ids):
        plan = plans[s["plan_id"]]
        g = groups.setdefault(
            plan["id"],
            {
                "id": plan["id"],
                "title": plan["title"],
                "year": plan["year"],
                "agency": plan["agency"],
                "agency_id": plan["agency_id"],
                "measures": [],
            },
        )
        g["measures"].append(s)
    return sorted(groups.values(), key=lambda g: (year_key(g["year"]), g["agency"]))


def measure_ids(state: KGState, kind: str, key: str, agency: str | None = None) -> list[str]:
    """Every measure of a thing in plan order (oldest plan first, then by agency, then as the plan lists them): the
    store gives (plan, measure, ordinal), the plans' order comes from plan_index; kept per thing in the cache."""
    return state.cache.get(
        ("measure_ids", kind, key, agency),
        lambda: _in_plan_order(state, entities.measure_order(state.store, kind, key, agency)),
    )


def _in_plan_order(state: KGState, rows: list[tuple[str, str, int]]) -> list[str]:
    plans = plan_index(state)

    def order(row: tuple[str, str, int]) -> tuple:
        p = plans.get(entities.local(row[0], "plan") or "", {})
        return (*year_key(p.get("year")), p.get("agency", ""), row[0], row[2], row[1])

    return list(dict.fromkeys(r[1] for r in sorted(rows, key=order)))


def _counted_page(state: KGState, kind: str, key: str, lists: dict[str, str]) -> tuple[dict, list, dict]:
    """A unit's page data that SPARQL counts (kept for the build; a system's come from the build's counts,
    webui.counts.system_counts): its number of measures and, under
    each name of `lists`, what its measures are counted by (entities.counted); and the page of its measures shown.
    Its measures and each count are asked of the store at once (Store.together)."""
    store = state.store

    def counts() -> dict:
        rows, *counted = store.together(
            [partial(entities.measure_order, store, kind, key)]
            + [partial(entities.counted, store, kind, key, what) for what in lists.values()]
        )
        every = state.cache.get(("measure_ids", kind, key, None), lambda: _in_plan_order(state, rows))
        return {"measure_count": len(every), **dict(zip(lists, counted, strict=True))}

    c = _cached(state, (kind, key), counts)
    p = page_of(measure_ids(state, kind, key), measures_size())
    return c, p.pop("rows"), p


def _measures_page(state: KGState, kind: str, key: str, total: int, agency: str | None = None) -> tuple[list, dict]:
    """One page of a thing's measures (ids, plan order) and the pager's facts."""
    p = page_of(measure_ids(state, kind, key, agency), measures_size())
    return p.pop("rows"), p


# ----- agencies and plans -----


def agency_rows(state: KGState) -> list[dict]:
    """Every agency (by name) with its parent, plans, units and measures, aggregated once per state."""

    def build() -> dict:
        c = kgcounts.counts(state)
        plans = plan_index(state)
        units: dict[str, int] = {}
        for u in state.units.rows():
            units[u["agency_id"]] = units.get(u["agency_id"], 0) + 1
        rows = []
        for a in state.agencies.values():
            rows.append(
                {
                    "id": a["id"],
                    "name": a["name"],
                    "parent": state.agencies[a["parent_id"]]["name"] if a["parent_id"] in state.agencies else None,
                    "plans": [
                        {
                            "id": p,
                            "title": plans[p]["title"],
                            "year": plans[p]["year"],
                            "measures": plans[p]["measures"],
                        }
                        for p in a["plan_ids"]
                        if p in plans
                    ],
                    "units": units.get(a["id"], 0),
                    "measures": c.measures_by_agency.get(a["id"], 0),
                }
            )
        return {"rows": rows}

    return _cached(state, ("agency_rows",), build)["rows"]


@page_route(bp, "/agencies", "agencies")
def agencies() -> ResponseReturnValue:
    state = get_state()
    p = table_page(
        agency_rows(state),
        {
            "name": lambda r: r["name"],
            "parent": lambda r: r["parent"] or "",
            "plans": lambda r: len(r["plans"]),
            "units": lambda r: r["units"],
            "measures": lambda r: r["measures"],
        },
        "name",
        lambda r: f"{r['name']} {r['parent'] or ''}",
    )
    return respond("agencies.html", {"agencies": p.pop("rows"), "page": p, "totals": kgcounts.totals(state)})


@page_route(bp, "/agency/<aid>", "agency")
def agency(aid: str) -> ResponseReturnValue:
    state = get_state()
    a = lookup(state.agencies, aid, "機關")

    def build() -> dict:
        plans = plan_index(state)
        parent = state.agencies.get(a["parent_id"] or "")
        return {
            "id": a["id"],
            "name": a["name"],
            "name_en": a.get("name_en", ""),
            "parent": {"id": parent["id"], "name": parent["name"]} if parent else None,
            "children": [{"id": c, "name": state.agencies[c]["name"]} for c in sorted(a["children"])],
            "plans": [
                {
                    "id": p,
                    "title": plans[p]["title"],
                    "year": plans[p]["year"],
                    "year_roc": state.plans[p]["year_roc"],
                    "measures": plans[p]["measures"],
                }
                for p in a["plan_ids"]
                if p in plans
            ],
            "units": entities.agency_units(state.store, a["id"]),
            "practice_types": kgcounts.agency_practice_counts(state, a["id"]),
            "systems": entities.counted(state.store, "agency", a["id"], "system"),
            "graph_id": state.graph.iri_for("agency", a["id"]),
        }

    return respond("agency.html", _cached(state, ("agency", aid), build))


@page_route(bp, "/plan/<pid>", "plan")
def plan(pid: str) -> ResponseReturnValue:
    state = get_state()
    rec = lookup(state.plans, pid, "計畫")

    def build() -> dict:
        summaries = {s["id"]: s for s in _summaries(state, rec["measure_ids"])}
        measures = [state.measures[mid] for mid in rec["measure_ids"]]
        tree = []
        for d in rec["dimensions"]:
            node = {
                "id": d["id"],
                "label": d["label"],
                "framework_item": d["framework_item"],
                "measures": [summaries[m["id"]] for m in measures if m["dimension_id"] == d["id"] and not m["item_id"]],
                "items": [],
            }
            for i in rec["items"]:
                if i["dimension"] == d["id"]:
                    node["items"].append(
                        {
                            "id": i["id"],
                            "label": i["label"],
                            "framework_item": i["framework_item"],
                            "measures": [summaries[m["id"]] for m in measures if m["item_id"] == i["id"]],
                        }
                    )
            tree.append(node)
        placed = {s["id"] for d in tree for s in d["measures"] + [x for i in d["items"] for x in i["measures"]]}
        loose = [summaries[mid] for mid in rec["measure_ids"] if mid not in placed]
        if loose:  # measures the parser could not put under a heading stay visible
            tree.append(
                {"id": None, "label": "（未歸入執行要項）", "framework_item": None, "measures": loose, "items": []}
            )
        parent = rec.get("parent_agency")
        return {
            "id": rec["id"],
            "title": rec["title"],
            "year": rec["year"],
            "year_roc": rec["year_roc"],
            "agency": {"id": rec["agency"]["id"], "name": rec["agency"]["name"]},
            "parent_agency": {"id": parent["id"], "name": parent["name"]} if parent else None,
            "doc_no": rec.get("doc_no"),
            "issued_date": rec.get("issued_date"),
            "file": rec["file"],
            "framework_version": rec["framework_version"],
            "basis": [{"id": b["id"], "name": b["name"]} for b in rec["basis"]],
            "goals": rec["goals"],
            "target_units": rec["target_units"],
            "measure_count": len(rec["measure_ids"]),
            "tree": tree,
            "format": rec.get("format"),
            "format_label": format_label(rec.get("format")),
            "ocr": bool(rec.get("ocr")),
            "pages": rec.get("pages"),
            "original": original_url(state, rec),
            "findings": _findings(state, rec, measures),
            "graph_id": state.graph.iri_for("plan", rec["id"]),
        }

    return respond("plan.html", _cached(state, ("plan", pid), build))


def _findings(state: KGState, rec: dict, measures: list[dict]) -> list[dict]:
    """What looked odd when the plan was read, each with its place in words and the measure printed there."""
    out = []
    for f in rec.get("findings") or []:
        place = parse_place(f["where"], rec["file"])
        m = _measure_at(measures, f["where"], place)
        out.append(
            {
                "where": f["where"],
                "what": f["what"],
                "place": place_label(place, rec.get("format")) or f["where"],
                "text": finding_text(f["what"]),
                "measure_id": m["id"] if m else None,
                "original": original_url(state, rec, place.get("page")) if place.get("page") else None,
            }
        )
    return out


def _measure_at(measures: list[dict], where: str, place: dict[str, int]) -> dict | None:
    """The measure printed at a finding's place: the same cell or row of a table, or the lines of a text plan."""
    for m in measures:
        src = m["source"]
        if src.get("where") == where:
            return m
    for m in measures:
        src = m["source"]
        if "row" in place and (src.get("table"), src.get("row"), src.get("page")) == (
            place.get("table"),
            place["row"],
            place.get("page"),
        ):
            return m
        if "row" not in place and "line" in place and src.get("line_start") is not None:
            if src["line_start"] <= place["line"] <= (src.get("line_end") or src["line_start"]):
                return m
    return None


# ----- units and systems -----


@page_route(bp, "/units", "units")
def units() -> ResponseReturnValue:
    state = get_state()
    p = table_page(
        state.units.rows(),
        {"name": lambda r: r["name"], "agency": lambda r: r["agency"], "measures": lambda r: r["measures"]},
        "agency",
        lambda r: f"{r['name']} {r['agency']}",
    )
    return respond("units.html", {"units": p.pop("rows"), "page": p})


@page_route(bp, "/unit/<uid>", "unit")
def unit(uid: str) -> ResponseReturnValue:
    state = get_state()
    u = lookup(state.units, uid, "單位")

    c, ids, page = _counted_page(state, "unit", uid, {"systems": "system", "practice_types": "practice"})
    return respond(
        "unit.html",
        {
            "id": u["id"],
            "name": u["name"],
            "agency": u["agency"],
            "agency_id": u["agency_id"],
            **c,
            "plans": _by_plan(state, ids),
            "page": page,
            "graph_id": state.graph.iri_for("unit", u["id"]),
        },
    )


@page_route(bp, "/systems", "systems")
def systems() -> ResponseReturnValue:
    state = get_state()
    p = table_page(
        state.systems.rows(),
        {
            "name": lambda r: r["name"],
            "type": lambda r: r["type_label"],
            "measures": lambda r: r["measures"],
            "agencies": lambda r: r["agencies"],
        },
        "type",
        lambda r: f"{r['name']} {r['type_label']}",
    )
    return respond("systems.html", {"systems": p.pop("rows"), "page": p})


@page_route(bp, "/system/<sid>", "system")
def system(sid: str) -> ResponseReturnValue:
    state = get_state()
    s = lookup(state.systems, sid, "系統")

    rows, agencies, units = kgcounts.system_counts(state, sid)
    every = state.cache.get(("measure_ids", "system", sid, None), lambda: _in_plan_order(state, rows))
    page = page_of(every, measures_size())
    ids = page.pop("rows")
    c = {"measure_count": len(every), "agencies": agencies, "units": units}
    return respond(
        "system.html",
        {
            "id": s["id"],
            "name": s["name"],
            "name_en": s.get("name_en", ""),
            "type": s["type"],
            "type_label": s["type_label"],
            **c,
            "plans": _by_plan(state, ids),
            "page": page,
            "graph_id": state.graph.iri_for("system", s["id"]),
        },
    )


# ----- practice types and coverage -----


@page_route(bp, "/practices", "practices")
def practices() -> ResponseReturnValue:
    state = get_state()
    return respond("practices.html", {"types": kgcounts.practice_rows(state)})


@page_route(bp, "/practice/<tid>", "practice")
def practice(tid: str) -> ResponseReturnValue:
    state = get_state()
    t = lookup(state.practice_types, tid, "實務類型")
    c = kgcounts.counts(state)
    only = _agency_filter(state, request.args.get("agency", ""))

    total = sum(c.cell(tid, a) for a in c.agency_ids if only is None or a == only)
    ids, page = _measures_page(state, "practice", tid, total, only)
    shown: dict[str, list[dict]] = {}
    for m in _summaries(state, ids):
        shown.setdefault(m["agency_id"], []).append(m)
    groups = [
        {"id": aid, "name": state.agencies[aid]["name"], "count": c.cell(tid, aid), "measures": shown.get(aid, [])}
        for aid in c.agencies_with(tid)
        if only is None or aid == only
    ]
    data = {
        "id": t["id"],
        "label": t["label"],
        "alt_labels": t["alt_labels"],
        "source": t["source"],
        "measure_count": total,
        "agencies": sorted(groups, key=lambda g: (-g["count"], g["name"])),
        "agency_filter": {"id": only, "name": state.agencies[only]["name"]} if only else None,
        "missing_agencies": [
            state.agencies[a]["name"] for a in c.agency_ids if not c.cell(tid, a) and (only is None or a == only)
        ],
        "note": kgcounts.COVERAGE_NOTE,
        "page": page,
        "graph_id": state.graph.iri_for("practice", t["id"]),
    }
    return respond("practice.html", data)


def _agency_filter(state: KGState, value: str) -> str | None:
    """The agency (with a plan) a page is narrowed to, by name or id; None when none is asked; 404 if unknown."""
    value = value.strip()
    if not value:
        return None
    aid = value if value in state.agencies else state.agency_by_name.get(value)
    if aid is None or not state.agencies[aid]["plan_ids"]:
        abort(404, description=f"找不到有計畫的機關「{value}」")
    return aid


def _band(count: int) -> int:
    return max(i for i, (lo, _) in enumerate(HEAT_BANDS) if count >= lo)


@page_route(bp, "/coverage", "coverage")
def coverage() -> ResponseReturnValue:
    """The heatmap, counted by SPARQL (webui.counts); its columns, the agencies, COVERAGE_COLUMNS at a time."""
    state = get_state()
    matrix = _cached(state, ("coverage",), lambda: kgcounts.coverage_matrix(state))
    p = page_of(matrix["agencies"], COVERAGE_COLUMNS)

    def build() -> dict:
        lo = (p["page"] - 1) * COVERAGE_COLUMNS
        types = []
        for t in matrix["types"]:
            cells = [dict(cell, band=_band(cell["count"])) for cell in t["cells"][lo : lo + COVERAGE_COLUMNS]]
            types.append(dict(t, cells=cells))
        return {
            "agencies": p["rows"],
            "types": types,
            "note": matrix["note"],
            "page": {k: v for k, v in p.items() if k != "rows"},
            "bands": [{"band": i, "label": label} for i, (_, label) in enumerate(HEAT_BANDS)],
        }

    return respond("coverage.html", _cached(state, ("coverage", p["page"]), build))


# ----- the city framework -----


def _concept_ref(state: KGState, notation: str) -> dict:
    c = state.framework[notation]
    return {"notation": notation, "label": c["label"], "version": c["version"]}


def _measure_total(state: KGState, notation: str) -> int:
    """Measures tagged with a concept or any concept under it."""
    c = state.framework[notation]
    return state.framework_count(notation) + sum(_measure_total(state, n) for n in c["narrower"])


@page_route(bp, "/framework", "framework")
def framework() -> ResponseReturnValue:
    state = get_state()

    def build() -> dict:
        versions = []
        for version in sorted({c["version"] for c in state.framework.values()}):
            tops = []
            for c in state.framework.values():
                if c["version"] != version or c["broader"]:
                    continue
                tops.append(
                    dict(
                        _concept_ref(state, c["notation"]),
                        measures=_measure_total(state, c["notation"]),
                        close_match=[_concept_ref(state, n) for n in c["close_match"]],
                        items=[
                            dict(
                                _concept_ref(state, n),
                                measures=_measure_total(state, n),
                                close_match=[_concept_ref(state, x) for x in state.framework[n]["close_match"]],
                                related_match=[_concept_ref(state, x) for x in state.framework[n]["related_match"]],
                            )
                            for n in c["narrower"]
                        ],
                    )
                )
            versions.append({"version": version, "top": tops})
        return {"versions": versions}

    return respond("framework.html", _cached(state, ("framework",), build))


@page_route(bp, "/framework/<notation>", "framework_item")
def framework_item(notation: str) -> ResponseReturnValue:
    state = get_state()
    c = lookup(state.framework, notation, "框架項目")

    total = _measure_total(state, notation)
    ids, page = _measures_page(state, "framework", notation, total)
    by_year: dict[int | None, list[dict]] = {}
    for s in _summaries(state, ids):
        by_year.setdefault(s["year"], []).append(s)
    data = {
        "notation": notation,
        "iri": c["iri"],
        "version": c["version"],
        "label": c["label"],
        "label_en": c["label_en"],
        "alt_labels": c["alt_labels"],
        "broader": _concept_ref(state, c["broader"]) if c["broader"] else None,
        "narrower": [dict(_concept_ref(state, n), measures=_measure_total(state, n)) for n in c["narrower"]],
        "close_match": [dict(_concept_ref(state, n), measures=_measure_total(state, n)) for n in c["close_match"]],
        "related_match": [dict(_concept_ref(state, n), measures=_measure_total(state, n)) for n in c["related_match"]],
        "measure_count": total,
        "years": [{"year": y, "measures": ms} for y, ms in sorted(by_year.items(), key=lambda kv: year_key(kv[0]))],
        "page": page,
        "graph_id": state.graph.iri_for("framework", notation),
    }
    return respond("framework_item.html", data)


# ----- laws and programmes -----


@page_route(bp, "/law/<lid>", "law")
def law(lid: str) -> ResponseReturnValue:
    state = get_state()
    x = lookup(state.laws, lid, "法規")
    ids, page = _measures_page(state, "law", lid, x["measures"])
    return respond(
        "law.html",
        {
            "id": x["id"],
            "name": x["name"],
            "parent": x["parent"],
            "plans": _by_plan(state, ids),
            "page": page,
            "graph_id": state.graph.iri_for("law", x["id"]),
        },
    )


@page_route(bp, "/programme/<pid>", "programme")
def programme(pid: str) -> ResponseReturnValue:
    state = get_state()
    p = lookup(state.programmes, pid, "上位方案")
    plans = plan_index(state)
    return respond(
        "programme.html",
        {
            "id": p["id"],
            "name": p["name"],
            "name_en": p["name_en"],
            "plans": [
                {
                    "id": k,
                    "title": plans[k]["title"],
                    "year": plans[k]["year"],
                    "agency": plans[k]["agency"],
                    "agency_id": plans[k]["agency_id"],
                }
                for k in sorted(
                    (k for k in entities.programme_plans(state.store, pid) if k in plans),
                    key=lambda k: year_key(plans[k]["year"]),
                )
            ],
            "graph_id": state.graph.iri_for("programme", p["id"]),
        },
    )
