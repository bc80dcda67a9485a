"""The one definition of every count the web UI shows: pages, heatmap, exports and the JSON API all read it here.

What is counted:
- a measure counts for EVERY practice type it has (practices.json "membership" lists them all; the first is only
  the closest one), so one measure may appear under several types and a type × agency cell counts the agency's
  measures having that type;
- an agency (機關) is one with at least one plan of its own in the data dir; agencies named only as another's
  parent (上級機關) are counted apart, as parent_agencies, never as 機關;
- a practice type is counted when at least one measure has it.

Everything is computed once per KGState (its cache), from the state alone: no request, no Flask.
"""

from __future__ import annotations

from dataclasses import dataclass

from webui.state import KGState, year_key

COVERAGE_NOTE = "該機關具有此實務類型的措施數，一筆措施可屬多個類型"


@dataclass(frozen=True)
class Counts:
    """The counted facts of one state, built once (see counts())."""

    agency_ids: tuple[str, ...]  # agencies with a plan of their own, by name
    parent_agency_ids: tuple[str, ...]  # agencies in the graph only as a parent of one of those
    measures_by_agency: dict[str, tuple[str, ...]]  # agency id -> its measures, in plan order
    types_of: dict[str, tuple[str, ...]]  # measure id -> every practice type it has (closest first)
    measures_by_type: dict[str, tuple[str, ...]]  # practice type id -> every measure having it, in plan order
    matrix: dict[str, dict[str, tuple[str, ...]]]  # practice type id -> agency id -> those measures of that agency

    def cell(self, type_id: str, agency_id: str) -> int:
        """Measures of the agency having the practice type."""
        return len(self.matrix.get(type_id, {}).get(agency_id, ()))

    def agencies_with(self, type_id: str) -> list[str]:
        """Agencies (ids, by name order) with at least one measure of the practice type."""
        row = self.matrix.get(type_id, {})
        return [a for a in self.agency_ids if row.get(a)]

    def used_types(self) -> list[str]:
        """Practice types at least one measure has, largest first (then by label order of the state)."""
        return [t for t in self.measures_by_type if self.measures_by_type[t]]


def counts(state: KGState) -> Counts:
    """The Counts of this state (computed on first use, then kept in the state's cache)."""
    return state.cache.get(("webui.counts",), lambda: _build(state))


def _build(state: KGState) -> Counts:
    membership = state.search.practices.get("membership", {})
    known = state.practice_types
    agency_ids = tuple(sorted((a["id"] for a in state.agencies.values() if a["plan_ids"]), key=_agency_name(state)))
    parents = {state.agencies[a]["parent_id"] for a in agency_ids} - {None} - set(agency_ids)
    parent_ids = tuple(sorted((p for p in parents if p in state.agencies), key=_agency_name(state)))

    by_agency: dict[str, list[str]] = {a: [] for a in agency_ids}
    for a in agency_ids:
        plans = sorted(state.agencies[a]["plan_ids"], key=lambda p: year_key(state.plans[p]["year"]))
        by_agency[a] = [mid for p in plans for mid in state.plans[p]["measure_ids"]]

    types_of: dict[str, tuple[str, ...]] = {}
    by_type: dict[str, list[str]] = {t: [] for t in known}
    matrix: dict[str, dict[str, list[str]]] = {t: {} for t in known}
    for a in agency_ids:
        for mid in by_agency[a]:
            types = tuple(dict.fromkeys(t for t in membership.get(mid, ()) if t in known))
            types_of[mid] = types
            for t in types:
                by_type[t].append(mid)
                matrix[t].setdefault(a, []).append(mid)
    order = sorted(known, key=lambda t: (-len(by_type[t]), known[t]["label"]))
    return Counts(
        agency_ids=agency_ids,
        parent_agency_ids=parent_ids,
        measures_by_agency={a: tuple(ms) for a, ms in by_agency.items()},
        types_of=types_of,
        measures_by_type={t: tuple(by_type[t]) for t in order},
        matrix={t: {a: tuple(ms) for a, ms in matrix[t].items()} for t in order},
    )


def _agency_name(state: KGState):
    return lambda aid: state.agencies[aid]["name"]


def totals(state: KGState) -> dict[str, int]:
    """How many of each thing there are, as the home page, the graph legend and /api/counts say it.

    agencies: 機關 with a plan of their own; parent_agencies: 上級機關 named only as their parent (the graph shows
    both kinds as agency nodes: agency_nodes = agencies + parent_agencies)."""
    c = counts(state)
    return {
        "plans": len(state.plans),
        "measures": len(state.measures),
        "agencies": len(c.agency_ids),
        "parent_agencies": len(c.parent_agency_ids),
        "agency_nodes": len(c.agency_ids) + len(c.parent_agency_ids),
        "units": len(state.units),
        "systems": len(state.systems),
        "practice_types": len(c.used_types()),
        "framework_items": sum(1 for f in state.framework.values() if f["measure_ids"]),
        "laws": len(state.laws),
        "programmes": len(state.programmes),
    }


def practice_rows(state: KGState) -> list[dict]:
    """The practice types that measures have, with how many measures and agencies have each, largest first."""
    c = counts(state)
    return [
        {
            "id": t,
            "label": state.practice_types[t]["label"],
            "alt_labels": state.practice_types[t]["alt_labels"],
            "source": state.practice_types[t]["source"],
            "measures": len(c.measures_by_type[t]),
            "agencies": len(c.agencies_with(t)),
        }
        for t in c.used_types()
    ]


def coverage_matrix(state: KGState) -> dict:
    """The agency × practice-type matrix of the heatmap, its CSV and /api/coverage."""
    c = counts(state)
    agencies = [{"id": a, "name": state.agencies[a]["name"]} for a in c.agency_ids]
    types = []
    for t in c.used_types():
        cells = [{"agency": a["name"], "agency_id": a["id"], "count": c.cell(t, a["id"])} for a in agencies]
        types.append(
            {
                "id": t,
                "label": state.practice_types[t]["label"],
                "size": len(c.measures_by_type[t]),
                "agencies_doing": sum(1 for x in cells if x["count"]),
                "cells": cells,
            }
        )
    return {"agencies": agencies, "types": types, "note": COVERAGE_NOTE}


def agency_practice_counts(state: KGState, agency_id: str) -> list[dict]:
    """[{id, name, count}] of the practice types of one agency's measures, most frequent first."""
    c = counts(state)
    out = [
        {"id": t, "name": state.practice_types[t]["label"], "count": c.cell(t, agency_id)}
        for t in c.used_types()
        if c.cell(t, agency_id)
    ]
    return sorted(out, key=lambda e: (-e["count"], e["name"]))


def system_agency_count(state: KGState, system_id: str) -> int:
    """Agencies with a measure that names the system."""
    return len(
        {state.plans[state.measures[m]["plan_id"]]["agency"]["id"] for m in state.systems[system_id]["measure_ids"]}
    )
