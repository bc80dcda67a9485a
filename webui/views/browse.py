"""Browsing the graph by what planners know: agencies and their plans, units, systems, practice types, the city
framework across its two versions, laws and programmes."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, abort, request
from flask.typing import ResponseReturnValue

from webui import counts as kgcounts
from webui.provenance import finding_text, format_label, parse_place, place_label
from webui.state import KGState, get_state, year_key
from webui.views.common import count_by, lookup, measure_summary, page_route, respond
from webui.views.originals import original_url

bp = Blueprint("browse", __name__)

# Fixed count bands for the heatmap, so that a colour means the same number on every visit.
HEAT_BANDS = ((0, "0"), (1, "1"), (2, "2"), (3, "3–4"), (5, "5–9"), (10, "10+"))


def _cached(state: KGState, key: tuple, build: Callable[[], dict]) -> dict:
    return state.cache.get(key, build)


def _summaries(state: KGState, ids: list[str]) -> list[dict]:
    return [measure_summary(state, state.measures[mid]) for mid in ids]


def _by_plan(state: KGState, ids: list[str]) -> list[dict]:
    """Measures grouped by plan (oldest plan first), for pages that span plans."""
    groups: dict[str, dict] = {}
    for s in _summaries(state, ids):
        plan = state.plans[s["plan_id"]]
        g = groups.setdefault(
            plan["id"],
            {
                "id": plan["id"],
                "title": plan["title"],
                "year": plan["year"],
                "agency": plan["agency"]["name"],
                "agency_id": plan["agency"]["id"],
                "measures": [],
            },
        )
        g["measures"].append(s)
    return sorted(groups.values(), key=lambda g: (year_key(g["year"]), g["agency"]))


def _agency_counts(summaries: list[dict]) -> list[dict]:
    counts: dict[str, dict] = {}
    for s in summaries:
        e = counts.setdefault(s["agency_id"], {"id": s["agency_id"], "name": s["agency"], "count": 0})
        e["count"] += 1
    return sorted(counts.values(), key=lambda e: (-e["count"], e["name"]))


# ----- agencies and plans -----


@page_route(bp, "/agencies", "agencies")
def agencies() -> ResponseReturnValue:
    state = get_state()

    def build() -> dict:
        rows = []
        for a in sorted(state.agencies.values(), key=lambda a: a["name"]):
            rows.append(
                {
                    "id": a["id"],
                    "name": a["name"],
                    "parent": state.agencies[a["parent_id"]]["name"] if a["parent_id"] else None,
                    "plans": [
                        {
                            "id": p,
                            "title": state.plans[p]["title"],
                            "year": state.plans[p]["year"],
                            "measures": len(state.plans[p]["measure_ids"]),
                        }
                        for p in a["plan_ids"]
                    ],
                    "units": len(a["unit_ids"]),
                    "measures": len(kgcounts.counts(state).measures_by_agency.get(a["id"], ())),
                }
            )
        return {"agencies": rows, "totals": kgcounts.totals(state)}

    return respond("agencies.html", _cached(state, ("agencies",), build))


@page_route(bp, "/agency/<aid>", "agency")
def agency(aid: str) -> ResponseReturnValue:
    state = get_state()
    a = lookup(state.agencies, aid, "機關")

    def build() -> dict:
        ids = [mid for p in a["plan_ids"] for mid in state.plans[p]["measure_ids"]]
        summaries = _summaries(state, ids)
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
                    "title": state.plans[p]["title"],
                    "year": state.plans[p]["year"],
                    "year_roc": state.plans[p]["year_roc"],
                    "measures": len(state.plans[p]["measure_ids"]),
                }
                for p in a["plan_ids"]
            ],
            "units": [
                {"id": u, "name": state.units[u]["name"], "measures": len(state.units[u]["measure_ids"])}
                for u in a["unit_ids"]
            ],
            "practice_types": kgcounts.agency_practice_counts(state, a["id"]),
            "systems": count_by(summaries, "systems", "name"),
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
    rows = [
        {
            "id": u["id"],
            "name": u["name"],
            "agency": u["agency"],
            "agency_id": u["agency_id"],
            "measures": len(u["measure_ids"]),
        }
        for u in state.units.values()
    ]
    return respond("units.html", {"units": rows})


@page_route(bp, "/unit/<uid>", "unit")
def unit(uid: str) -> ResponseReturnValue:
    state = get_state()
    u = lookup(state.units, uid, "單位")

    def build() -> dict:
        summaries = _summaries(state, u["measure_ids"])
        return {
            "id": u["id"],
            "name": u["name"],
            "agency": u["agency"],
            "agency_id": u["agency_id"],
            "measure_count": len(u["measure_ids"]),
            "plans": _by_plan(state, u["measure_ids"]),
            "systems": count_by(summaries, "systems", "name"),
            "practice_types": count_by(summaries, "practice_types", "name"),
            "graph_id": state.graph.iri_for("unit", u["id"]),
        }

    return respond("unit.html", _cached(state, ("unit", uid), build))


@page_route(bp, "/systems", "systems")
def systems() -> ResponseReturnValue:
    state = get_state()
    rows = [
        {
            "id": s["id"],
            "name": s["name"],
            "type": s["type"],
            "type_label": s["type_label"],
            "measures": len(s["measure_ids"]),
            "agencies": kgcounts.system_agency_count(state, s["id"]),
        }
        for s in state.systems.values()
    ]
    return respond("systems.html", {"systems": rows})


@page_route(bp, "/system/<sid>", "system")
def system(sid: str) -> ResponseReturnValue:
    state = get_state()
    s = lookup(state.systems, sid, "系統")

    def build() -> dict:
        summaries = _summaries(state, s["measure_ids"])
        owners: dict[str, dict] = {}
        for m in s["measure_ids"]:
            for u in state.measures[m]["unit_entities"]:
                e = owners.setdefault(u["id"], {"id": u["id"], "name": u["name"], "agency": u["parent"], "count": 0})
                e["count"] += 1
        return {
            "id": s["id"],
            "name": s["name"],
            "name_en": s["name_en"],
            "type": s["type"],
            "type_label": s["type_label"],
            "measure_count": len(summaries),
            "agencies": _agency_counts(summaries),
            "units": sorted(owners.values(), key=lambda e: (-e["count"], e["name"])),
            "plans": _by_plan(state, s["measure_ids"]),
            "graph_id": state.graph.iri_for("system", s["id"]),
        }

    return respond("system.html", _cached(state, ("system", sid), build))


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

    def build() -> dict:
        groups = []
        for aid in c.agencies_with(tid):  # every measure having the type, whatever other types it has
            if only is None or aid == only:
                ms = _summaries(state, list(c.matrix[tid][aid]))
                groups.append({"id": aid, "name": state.agencies[aid]["name"], "count": len(ms), "measures": ms})
        return {
            "id": t["id"],
            "label": t["label"],
            "alt_labels": t["alt_labels"],
            "source": t["source"],
            "measure_count": sum(g["count"] for g in groups),
            "agencies": sorted(groups, key=lambda g: (-g["count"], g["name"])),
            "agency_filter": {"id": only, "name": state.agencies[only]["name"]} if only else None,
            "missing_agencies": [
                state.agencies[a]["name"] for a in c.agency_ids if not c.cell(tid, a) and (only is None or a == only)
            ],
            "note": kgcounts.COVERAGE_NOTE,
            "graph_id": state.graph.iri_for("practice", t["id"]),
        }

    return respond("practice.html", _cached(state, ("practice", tid, only), build))


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
    state = get_state()

    def build() -> dict:
        matrix = kgcounts.coverage_matrix(state)  # every type of every measure counts (webui.counts)
        for t in matrix["types"]:
            for cell in t["cells"]:
                cell["band"] = _band(cell["count"])
        return {**matrix, "bands": [{"band": i, "label": label} for i, (_, label) in enumerate(HEAT_BANDS)]}

    return respond("coverage.html", _cached(state, ("coverage",), build))


# ----- the city framework -----


def _concept_ref(state: KGState, notation: str) -> dict:
    c = state.framework[notation]
    return {"notation": notation, "label": c["label"], "version": c["version"]}


def _all_measures(state: KGState, notation: str) -> list[str]:
    """Measures tagged with a concept or any concept under it."""
    c = state.framework[notation]
    return c["measure_ids"] + [m for n in c["narrower"] for m in _all_measures(state, n)]


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
                        measures=len(_all_measures(state, c["notation"])),
                        close_match=[_concept_ref(state, n) for n in c["close_match"]],
                        items=[
                            dict(
                                _concept_ref(state, n),
                                measures=len(_all_measures(state, n)),
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

    def build() -> dict:
        ids = _all_measures(state, notation)
        by_year: dict[int | None, list[dict]] = {}
        for s in _summaries(state, ids):
            by_year.setdefault(s["year"], []).append(s)
        return {
            "notation": notation,
            "iri": c["iri"],
            "version": c["version"],
            "label": c["label"],
            "label_en": c["label_en"],
            "alt_labels": c["alt_labels"],
            "broader": _concept_ref(state, c["broader"]) if c["broader"] else None,
            "narrower": [dict(_concept_ref(state, n), measures=len(_all_measures(state, n))) for n in c["narrower"]],
            "close_match": [
                dict(_concept_ref(state, n), measures=len(_all_measures(state, n))) for n in c["close_match"]
            ],
            "related_match": [
                dict(_concept_ref(state, n), measures=len(_all_measures(state, n))) for n in c["related_match"]
            ],
            "measure_count": len(ids),
            "years": [{"year": y, "measures": ms} for y, ms in sorted(by_year.items(), key=lambda kv: year_key(kv[0]))],
            "graph_id": state.graph.iri_for("framework", notation),
        }

    return respond("framework_item.html", _cached(state, ("framework", notation), build))


# ----- laws and programmes -----


@page_route(bp, "/law/<lid>", "law")
def law(lid: str) -> ResponseReturnValue:
    state = get_state()
    x = lookup(state.laws, lid, "法規")
    return respond(
        "law.html",
        {
            "id": x["id"],
            "name": x["name"],
            "parent": x["parent"],
            "plans": _by_plan(state, x["measure_ids"]),
            "graph_id": state.graph.iri_for("law", x["id"]),
        },
    )


@page_route(bp, "/programme/<pid>", "programme")
def programme(pid: str) -> ResponseReturnValue:
    state = get_state()
    p = lookup(state.programmes, pid, "上位方案")
    return respond(
        "programme.html",
        {
            "id": p["id"],
            "name": p["name"],
            "name_en": p["name_en"],
            "plans": [
                {
                    "id": k,
                    "title": state.plans[k]["title"],
                    "year": state.plans[k]["year"],
                    "agency": state.plans[k]["agency"]["name"],
                    "agency_id": state.plans[k]["agency"]["id"],
                }
                for k in sorted(p["plan_ids"], key=lambda k: year_key(state.plans[k]["year"]))
            ],
            "graph_id": state.graph.iri_for("programme", p["id"]),
        },
    )
