"""The one definition of every count the web UI shows: pages, heatmap, exports and the JSON API all read it here.

What is counted:
- a measure counts for EVERY practice type it has (sp:practiceType, one triple per type the practice scheme's
  membership gives it), so one measure may appear under several types and a type × agency cell counts the agency's
  measures having that type;
- an agency (機關) is one with at least one plan of its own in the data dir; agencies named only as another's
  parent (上級機關) are counted apart, as parent_agencies, never as 機關;
- a practice type is counted when at least one measure has it.

The counts are made by the build (kg.aggregates: one pass over the records and the practice membership) and
saved in its generation; a state reads them once (its cache): no request, no Flask, no SPARQL. A generation built
before they were saved (or whose file is damaged) is counted the same way when first asked, from its records.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kg import aggregates
from webui import entities

if TYPE_CHECKING:
    from webui.state import KGState

log = logging.getLogger(__name__)

COVERAGE_NOTE = "該機關具有此實務類型的措施數，一筆措施可屬多個類型"


@dataclass(frozen=True)
class Counts:
    """The counted facts of one state, built once (see counts())."""

    agency_ids: tuple[str, ...]  # agencies with a plan of their own, by name
    parent_agency_ids: tuple[str, ...]  # agencies in the graph only as a parent of one of those
    measures_by_agency: dict[str, int]  # agency id -> how many measures its plans have
    type_sizes: dict[str, int]  # practice type id -> measures having it, largest first (then by label)
    cells: dict[str, dict[str, int]]  # practice type id -> agency id -> those measures of that agency
    framework_items: dict[str, int]  # framework notation -> measures filed under that concept itself
    named: dict[str, int]  # units, systems, laws the measures name; programmes the plans are based on
    links: dict[str, int]  # links of the relations the plans state, by sp: name (kg.aggregates.count)
    plans: dict[str, dict]  # plan id -> its title, year, agency_id, agency, format and number of measures
    systems: dict[str, dict[str, int]]  # system id -> measures using it and agencies with such measures
    members: dict  # the measures of each framework item and practice type, by plan then id (kg.aggregates._members)

    def cell(self, type_id: str, agency_id: str) -> int:
        """Measures of the agency having the practice type."""
        return self.cells.get(type_id, {}).get(agency_id, 0)

    def agencies_with(self, type_id: str) -> list[str]:
        """Agencies (ids, by name order) with at least one measure of the practice type."""
        row = self.cells.get(type_id, {})
        return [a for a in self.agency_ids if row.get(a)]

    def used_types(self) -> list[str]:
        """Practice types at least one measure has, largest first (then by label order of the state)."""
        return [t for t, n in self.type_sizes.items() if n]


def counts(state: KGState) -> Counts:
    """The Counts of this state (computed on first use, then kept in the state's cache)."""
    return state.cache.get(("webui.counts",), lambda: _build(state))


def saved_counts(state: KGState) -> dict:
    """The counts the build saved in the state's generation; counted from its records when it saved none (built
    before they were saved) or they cannot be read (logged)."""
    try:
        return aggregates.read_counts(state.data_dir)
    except aggregates.AggregatesError as exc:
        log.warning("%s; counting them now", exc)
        records = (state.plans[p] for p in state.plans)
        return aggregates.count(records, state.search.data_dir.index_dir)


def _build(state: KGState) -> Counts:
    known = state.practice_types
    saved = saved_counts(state)
    agency_ids = tuple(a["id"] for a in state.agencies.values() if a["plan_ids"])  # state.agencies is by name
    parents = {state.agencies[a]["parent_id"] for a in agency_ids} - {None} - set(agency_ids)
    parent_ids = tuple(a for a in state.agencies if a in parents)
    by_agency = {a: saved["measures_by_agency"].get(a, 0) for a in agency_ids}
    sizes = {t: saved["type_sizes"].get(t, 0) for t in known}
    cells = {t: {a: n for a, n in saved["cells"].get(t, {}).items() if a in by_agency} for t in known}
    order = sorted(known, key=lambda t: (-sizes[t], known[t]["label"]))
    return Counts(
        agency_ids=agency_ids,
        parent_agency_ids=parent_ids,
        measures_by_agency=by_agency,
        type_sizes={t: sizes[t] for t in order},
        cells={t: cells[t] for t in order},
        framework_items=dict(saved["framework_items"]),
        named=dict(saved["named"]),
        links=dict(saved["links"]),
        members=saved["members"],
        plans=saved["plans"],
        systems=saved["systems"],
    )


def totals(state: KGState) -> dict[str, int]:
    """How many of each thing there are, as the home page, the graph legend and /api/counts say it.

    agencies: 機關 with a plan of their own; parent_agencies: 上級機關 named only as their parent (the graph shows
    both kinds as agency nodes: agency_nodes = agencies + parent_agencies)."""

    def build() -> dict[str, int]:
        c = counts(state)
        framework = sum(1 for n in state.framework if c.framework_items.get(n))
        return {
            "plans": len(state.plans),
            "measures": len(state.measures),
            "agencies": len(c.agency_ids),
            "parent_agencies": len(c.parent_agency_ids),
            "agency_nodes": len(c.agency_ids) + len(c.parent_agency_ids),
            "units": c.named["units"],
            "systems": c.named["systems"],
            "practice_types": len(c.used_types()),
            "framework_items": framework,
            "laws": c.named["laws"],
            "programmes": c.named["programmes"],
        }

    return state.cache.get(("webui.totals",), build)


def practice_rows(state: KGState) -> list[dict]:
    """The practice types that measures have, with how many measures and agencies have each, largest first."""
    c = counts(state)
    return [
        {
            "id": t,
            "label": state.practice_types[t]["label"],
            "alt_labels": state.practice_types[t]["alt_labels"],
            "source": state.practice_types[t]["source"],
            "measures": c.type_sizes[t],
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
                "size": c.type_sizes[t],
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


def saved_systems(state: KGState) -> dict:
    """Each system's measures and their agencies and units, as the build saved them (kg.aggregates.count_systems);
    counted from the records when it saved none or they cannot be read (logged). Read on first use."""

    def read() -> dict:
        try:
            return aggregates.read_systems(state.data_dir)
        except aggregates.AggregatesError as exc:
            log.warning("%s; counting them now", exc)
            return aggregates.count_systems(state.plans[p] for p in state.plans)

    return state.cache.get(("webui.systems",), read)


def derived_of(state: KGState, kind: str, key: str) -> list[tuple[str, int]]:
    """The graph view's derived links of one node (webui.graphindex.DERIVED) from the build's counts: [(IRI of the
    other end, number of measures)]. A unit and the systems its measures use, with how many of the unit's measures
    use each (the systems' saved units, and the reverse); an agency and the practice types of its plans' measures,
    with how many have each (the heatmap's cells, and the reverse)."""
    c = counts(state)
    if kind == "system":
        system = saved_systems(state)["systems"].get(key) or {"units": {}}
        return [(entities.entity_iri("unit", u), n) for u, n in system["units"].items()]
    if kind == "unit":
        return [(entities.entity_iri("system", s), n) for s, n in _systems_of_units(state).get(key, {}).items()]
    if kind == "agency":
        return [(entities.entity_iri("practice", t), row[key]) for t, row in c.cells.items() if row.get(key)]
    if kind == "practice":
        return [(entities.entity_iri("agency", a), n) for a, n in c.cells.get(key, {}).items() if n]
    return []


def _systems_of_units(state: KGState) -> dict[str, dict[str, int]]:
    """Unit id -> system id -> the unit's measures using the system (the saved systems' units, turned round)."""

    def build() -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for sid, s in saved_systems(state)["systems"].items():
            for uid, n in s["units"].items():
                out.setdefault(uid, {})[sid] = n
        return out

    return state.cache.get(("webui.systems_of_units",), build)


def system_counts(state: KGState, system_id: str) -> tuple[list[tuple[str, str, int]], list[dict], list[dict]]:
    """One system's measures as (plan IRI, measure id, ordinal), and [{id, name, count}] of the agencies whose plans
    have them and of the units owning them (a unit also with its agency's name), most measures first: what
    entities.measure_order and entities.counted ask the store, read from the build's counts."""
    saved = saved_systems(state)
    s = saved["systems"].get(system_id) or {"measures": [], "agencies": {}, "units": {}}
    rows = [(entities.entity_iri("plan", p), m, int(o)) for p, m, o in s["measures"]]
    agencies = [
        {"id": a, "name": state.agencies[a]["name"], "count": n}
        for a, n in s["agencies"].items()
        if a in state.agencies
    ]
    units = []
    for u, n in s["units"].items():
        name, parent = saved["units"][u]
        owner = state.agencies.get(state.agency_by_name.get(parent, ""))
        units.append({"id": u, "name": name, "count": n, "agency": owner["name"] if owner else parent})
    return rows, entities.ranked(agencies), entities.ranked(units)
