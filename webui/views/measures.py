"""The measure page: full text, where it comes from in the plan, who owns it, and what other agencies do alike."""

from __future__ import annotations

from flask import Blueprint
from flask.typing import ResponseReturnValue

from webui.provenance import format_label, source_place
from webui.state import KGState, get_state
from webui.views.common import lookup, page_route, plan_index, respond
from webui.views.originals import original_url

bp = Blueprint("measures", __name__)

CONTEXT_LINES = 3  # lines of the plan shown before and after the measure's own lines
NEIGHBOURS = 3  # measures on each side whose quotes may supply those lines


def _numbered(m: dict) -> list[tuple[int, str]]:
    """The measure's quote as (line number, text) pairs; none for a measure read from a table or a non-text file.

    The quote is the source lines joined and stripped; when stripping removed blank edge lines the count no longer
    matches the span, and the lines are numbered from the start as the best available guess.
    """
    start = m["source"].get("line_start")
    if start is None:
        return []
    parts = m["quote"].split("\n")
    return list(zip(range(start, start + len(parts)), parts, strict=True))


def context(state: KGState, m: dict) -> list[dict]:
    """Source lines around the measure, taken from its own and neighbouring measures' quotes (no file is read for
    a page), with gaps where no quote covers a line; none when the measure has no line numbers (PDF, Word, tables)."""
    start, end = m["source"].get("line_start"), m["source"].get("line_end")
    if start is None:
        return []
    end = start if end is None else end
    siblings = state.plan_measures(m["plan_id"])
    idx = next(i for i, s in enumerate(siblings) if s["id"] == m["id"])
    lo, hi = start - CONTEXT_LINES, end + CONTEXT_LINES
    lines: dict[int, str] = {}
    for s in siblings[max(0, idx - NEIGHBOURS) : idx + NEIGHBOURS + 1]:
        if s["id"] == m["id"]:
            continue
        for n, text in _numbered(s):
            if lo <= n <= hi:
                lines.setdefault(n, text)
    lines.update(_numbered(m))  # the measure's own quote is the authority on its lines
    out: list[dict] = []
    prev = None
    for n in sorted(lines):
        if prev is not None and n > prev + 1:
            out.append({"gap": True})
        out.append({"line": n, "text": lines[n], "current": start <= n <= end})
        prev = n
    return out


def measure_data(state: KGState, mid: str) -> dict:
    m = lookup(state.measures, mid, "措施")
    return state.cache.get(("measure", mid), lambda: _build(state, m))


def _build(state: KGState, m: dict) -> dict:
    plan = state.plans[m["plan_id"]]
    fw = state.framework.get(m["framework_item"] or "")
    return {
        "id": m["id"],
        "number": m["number"],
        "ordinal": m["ordinal"],
        "title": m["title"],
        "text": m["text"],
        "plan": {
            "id": plan["id"],
            "title": plan["title"],
            "year": plan["year"],
            "year_roc": plan["year_roc"],
            "format": plan.get("format"),
            "format_label": format_label(plan.get("format")),
            "ocr": bool(plan.get("ocr")),
        },
        "agency": {"id": plan["agency"]["id"], "name": plan["agency"]["name"]},
        "dimension": {"id": m["dimension_id"], "label": m["dimension"]} if m["dimension_id"] else None,
        "item": {"id": m["item_id"], "label": m["item"]} if m["item_id"] else None,
        "framework_item": {"notation": fw["notation"], "label": fw["label"], "version": fw["version"]} if fw else None,
        "units": [
            {"id": u["id"], "name": u["name"], "agency": u["parent"], "agency_id": state.agency_id(u["parent"])}
            for u in m["unit_entities"]
        ],
        "units_as_printed": m["units_raw"],
        "systems": [
            {"id": s["id"], "name": s["name"], "type": s["type"], "type_label": state.systems[s["id"]]["type_label"]}
            for s in m["system_entities"]
        ],
        "laws": [{"id": x["id"], "name": x["name"]} for x in m["law_entities"]],
        "practice_types": state.practice_types_of(m["id"]),
        "deadline": m.get("deadline"),
        "benefit": m.get("benefit"),
        "source": dict(
            m["source"],
            quote=m["quote"],
            place=source_place(m["source"], plan.get("format")),
            original=original_url(state, plan, m["source"].get("page")),
        ),
        "context": context(state, m),
        "similar": [
            {
                "id": s["id"],
                "agency": s["agency"],
                "agency_id": plan_index(state)[state.measures[s["id"]]["plan_id"]]["agency_id"],
                "year": s["year"],
                "title": s["title"],
                "text": s["text"],
                "score": s["score"],
                "units": s["units"],
                "practice_types": s["practice_types"],
            }
            for s in state.similar(m["id"], k=5)
        ],
        "graph_id": state.graph.iri_for("measure", m["id"]),
    }


@page_route(bp, "/measure/<mid>", "measure")
def measure(mid: str) -> ResponseReturnValue:
    return respond("measure.html", measure_data(get_state(), mid))
