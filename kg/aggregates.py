"""Whole-corpus counts, made once by each build and saved in its generation (aggregates/counts.json).

Counting them in the store (SPARQL GROUP BYs over every measure) takes seconds at 100k measures; one pass over the
plan records and the practice-type column the index saved takes a fraction of one, so every build (a one-plan
update too) writes them and the web UI only reads them (webui.counts, which says what each count means). They are
counted exactly as the graph states them (kg.graph): a plan's measures belong to its sp:agency, a measure counts
for every practice type of the membership, once per distinct measure.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from index.arrays import Strings
from index.facets import MultiColumn

AGGREGATES_DIR = "aggregates"
COUNTS_FILE = "counts.json"
FORMAT = 1  # raised whenever what the file holds changes; a file of another format is counted again
SYSTEMS_FILE = "systems.json"  # each system's measures and their agencies and units (read by its page only)
SYSTEMS_FORMAT = 1


class AggregatesError(ValueError):
    """A generation's saved counts cannot be used (missing, unreadable, of another format)."""


def count(records: Iterable[Mapping], index_dir: Path) -> dict:
    """The counts of these plan records: measures per agency, per practice type (as the index in index_dir saved
    them), per (type, agency) and per framework item; how many distinct units, systems and laws the measures name
    and programmes the plans are based on; and how many links the graph has of the relations the plans state (by
    the sp: name of each, a pair of nodes once), with the derived unitSystem (a unit and a system its measures use)
    and agencyPracticeType (an agency and a practice type its measures have); and the members of each framework item
    and practice type (_members); each plan's title, year, agency (id, and name as the plan gives it), format and
    number of measures; and each system's number of measures and of agencies whose plans have them.

    A measure's id is made from its plan's id and its place in the plan (kg.records), so no measure is in two plans
    and counting the records' measures counts distinct measures."""
    by_agency: Counter[str] = Counter()
    by_item: Counter[str] = Counter()
    named: dict[str, set[str]] = {"units": set(), "systems": set(), "laws": set(), "programmes": set()}
    # links of a relation between distinct pairs of nodes, by its sp: name (plain ints: counted per measure)
    based_on = owned_by = uses_system = cites_law = 0
    unit_systems: set[tuple[str, str]] = set()  # (unit, system) of a measure owned by the unit using the system
    measure_ids: list[str] = []
    agency_of: list[str] = []  # the agency of each of measure_ids
    by_notation: dict[str, list[int]] = {}  # positions in measure_ids
    plans: dict[str, dict] = {}
    system_measures: Counter[str] = Counter()
    system_agencies: dict[str, set[str]] = {}
    for rec in sorted(records, key=lambda r: r["id"]):  # the order gaps lists measures in: by plan, then by id
        aid = rec["agency"]["id"]
        by_agency[aid] += len(rec["measures"])
        plans[rec["id"]] = {
            "title": rec["title"],
            "year": rec["year"],
            "agency_id": aid,
            "agency": rec["agency"]["name"],  # as the plan names it (its examples in the gap analysis say it so)
            "format": rec.get("format"),
            "measures": len(rec["measures"]),
        }
        basis = {p["id"] for p in rec["basis"]}
        named["programmes"] |= basis
        based_on += len(basis)
        for m in sorted(rec["measures"], key=lambda m: m["id"]):
            if m["framework_item"]:
                by_item[m["framework_item"]] += 1
                by_notation.setdefault(m["framework_item"], []).append(len(measure_ids))
            measure_ids.append(m["id"])
            agency_of.append(aid)
            units = {u["id"] for u in m["unit_entities"]}
            systems = {x["id"] for x in m["system_entities"]}
            laws = {x["id"] for x in m["law_entities"]}
            named["units"] |= units
            named["systems"] |= systems
            system_measures.update(systems)
            for x in systems:
                system_agencies.setdefault(x, set()).add(aid)
            named["laws"] |= laws
            owned_by, uses_system, cites_law = owned_by + len(units), uses_system + len(systems), cites_law + len(laws)
            unit_systems.update((u, x) for u in units for x in systems)
    type_sizes, cells, by_type = _practice_counts(index_dir, measure_ids, agency_of)
    links = dict(
        agency=len(plans),
        basedOn=based_on,
        measure=len(measure_ids),
        ownedBy=owned_by,
        usesSystem=uses_system,
        citesLaw=cites_law,
        frameworkItem=sum(by_item.values()),
        practiceType=sum(type_sizes.values()),
        unitSystem=len(unit_systems),
        agencyPracticeType=sum(len(row) for row in cells.values()),
    )
    return {
        "format": FORMAT,
        "measures_by_agency": dict(sorted(by_agency.items())),
        "type_sizes": type_sizes,
        "cells": cells,
        "framework_items": dict(sorted(by_item.items())),
        "named": {kind: len(ids) for kind, ids in named.items()},
        "links": dict(sorted(links.items())),
        "members": _members(measure_ids, agency_of, by_notation, by_type),
        "plans": plans,
        "systems": {
            x: {"measures": n, "agencies": len(system_agencies[x])} for x, n in sorted(system_measures.items())
        },
    }


def _members(
    measure_ids: list[str], agency_of: list[str], by_notation: dict[str, list[int]], by_type: dict[str, list[int]]
) -> dict:
    """Which measures each framework item and practice type has (what the gap analysis picks examples from), as
    positions in one list of every measure by plan then id, with the agency of each (an index into agencies)."""
    agencies = sorted(set(agency_of))
    code = {a: i for i, a in enumerate(agencies)}
    return {
        "measures": measure_ids,
        "agencies": agencies,
        "agency_of": [code[a] for a in agency_of],
        "framework": dict(sorted(by_notation.items())),
        "practice": by_type,
    }


def _practice_counts(
    index_dir: Path, measure_ids: list[str], agency_of: list[str]
) -> tuple[dict[str, int], dict[str, dict[str, int]], dict[str, list[int]]]:
    """Measures per practice type, per (type, agency), and those of each type (positions in measure_ids, in order),
    from the practice-type column the index saved (arrays: counted without reading the scheme's JSON); none when
    the generation has no index (built with --no-index)."""
    manifest = index_dir / "manifest.json"
    if not manifest.is_file():
        return {}, {}, {}
    saved = json.loads(manifest.read_text("utf-8"))
    n, sizes = int(saved["count"]), saved["sizes"].get("practice_type")
    if sizes is None:
        return {}, {}, {}
    column = MultiColumn.open(index_dir, "practice_type", n, int(sizes["values"]), int(sizes["keys"]))
    agencies = sorted(set(agency_of))
    code = {a: i for i, a in enumerate(agencies)}
    agency_of_row = np.full(n, -1, dtype=np.int64)
    position_of_row = np.full(n, -1, dtype=np.int64)
    rows = Strings.open(index_dir, "ids", n, lookup=True).find(measure_ids)
    found = rows >= 0
    agency_of_row[rows[found]] = np.asarray([code[a] for a in agency_of], dtype=np.int64)[found]
    position_of_row[rows[found]] = np.flatnonzero(found)
    entry_row = np.repeat(np.arange(n, dtype=np.int64), column.per_row.sizes())  # one entry per (measure, type)
    entry_type = np.asarray(column.per_row.rows, dtype=np.int64)
    entry_agency = agency_of_row[entry_row]
    kept = entry_agency >= 0  # measures of these records only
    types = column.labels()
    pair = np.bincount(entry_type[kept] * len(agencies) + entry_agency[kept], minlength=len(types) * len(agencies))
    pair = pair.reshape(len(types), len(agencies))
    sizes_of = pair.sum(axis=1)
    type_sizes = {t: int(sizes_of[i]) for i, t in sorted(enumerate(types), key=lambda x: x[1]) if sizes_of[i]}
    cells = {
        t: {agencies[j]: int(pair[i, j]) for j in np.flatnonzero(pair[i])}
        for i, t in sorted(enumerate(types), key=lambda x: x[1])
        if sizes_of[i]
    }
    entry_type, entry_position = entry_type[kept], position_of_row[entry_row[kept]]
    order = np.lexsort((entry_position, entry_type))
    bounds = np.searchsorted(entry_type[order], np.arange(len(types) + 1))
    positions = entry_position[order]
    by_type = {
        t: positions[bounds[i] : bounds[i + 1]].tolist() for i, t in sorted(enumerate(types), key=lambda x: x[1])
    }
    return type_sizes, cells, {t: ps for t, ps in by_type.items() if ps}


def count_systems(records: Iterable[Mapping]) -> dict:
    """Each system's measures as (plan id, measure id, ordinal), and how many of them each agency's plans and each
    unit own, as the graph states them: a measure sp:usesSystem its systems, sp:ownedBy its units and is in a plan
    of one sp:agency; a measure counts once for each of its distinct units. With the name and agency (its name, as
    the records give it) of each unit counted: every plan's graph labels the units it names, so the least."""
    systems: dict[str, dict] = {}
    unit_names: dict[str, list[str]] = {}
    for rec in sorted(records, key=lambda r: r["id"]):
        aid = rec["agency"]["id"]
        for m in rec["measures"]:
            if not m["system_entities"]:
                continue
            units = set()
            for u in m["unit_entities"]:
                units.add(u["id"])
                seen = unit_names.get(u["id"])
                if seen is None:
                    unit_names[u["id"]] = [u["name"], u["parent"]]
                elif seen != [u["name"], u["parent"]]:  # the least of its names and agencies, as SPARQL's MIN gives
                    seen[:] = min(seen[0], u["name"]), min(seen[1], u["parent"])
            for sid in sorted({x["id"] for x in m["system_entities"]}):
                s = systems.setdefault(sid, {"measures": [], "agencies": Counter(), "units": Counter()})
                s["measures"].append([rec["id"], m["id"], m["ordinal"]])
                s["agencies"][aid] += 1
                s["units"].update(units)
    return {
        "format": SYSTEMS_FORMAT,
        "systems": {
            sid: {"measures": s["measures"], "agencies": dict(s["agencies"]), "units": dict(s["units"])}
            for sid, s in sorted(systems.items())
        },
        "units": dict(sorted(unit_names.items())),
    }


def write_counts(work: Path, records: Iterable[Mapping]) -> None:
    """Count a staged generation's records (with the practice types its index saved) into
    work/aggregates/counts.json, and its systems' measures into work/aggregates/systems.json."""
    folder = work / AGGREGATES_DIR
    folder.mkdir(exist_ok=True)
    records = list(records)
    for name, counted in ((COUNTS_FILE, count(records, work / "index")), (SYSTEMS_FILE, count_systems(records))):
        (folder / name).write_text(
            json.dumps(counted, ensure_ascii=False, separators=(",", ":"), sort_keys=True), "utf-8"
        )


def read_systems(generation: Path) -> dict:
    """What count_systems saved in this generation ({systems: {id: {measures: [[plan id, measure id, ordinal]],
    agencies: {id: n}, units: {id: n}}}, units: {id: [name, agency name]}}); AggregatesError saying why it cannot be
    used."""
    path = generation / AGGREGATES_DIR / SYSTEMS_FILE
    saved = _read(path, "system counts", SYSTEMS_FORMAT, ("systems", "units"))
    if not all(_system_entry(s, saved["units"]) for s in saved["systems"].values()):
        raise AggregatesError(f"{path}: a system's entry is not as count_systems writes it")
    return saved


def _system_entry(s: object, units: dict) -> bool:
    """Whether one system's saved entry has the shape count_systems gives it (and names only units it names)."""
    if not isinstance(s, dict) or not isinstance(s.get("measures"), list):
        return False
    if not isinstance(s.get("agencies"), dict) or not isinstance(s.get("units"), dict):
        return False
    return (
        all(isinstance(r, list) and len(r) == 3 and isinstance(r[2], int) for r in s["measures"])
        and all(isinstance(n, int) for n in s["agencies"].values())
        and all(
            isinstance(n, int) and isinstance(units.get(u), list) and len(units[u]) == 2 for u, n in s["units"].items()
        )
    )


def read_counts(generation: Path) -> dict:
    """The counts a build saved in this generation; AggregatesError saying why they cannot be used."""
    keys = (
        "measures_by_agency",
        "type_sizes",
        "cells",
        "framework_items",
        "named",
        "links",
        "members",
        "plans",
        "systems",
    )
    return _read(generation / AGGREGATES_DIR / COUNTS_FILE, "counts", FORMAT, keys)


def _read(path: Path, what: str, fmt: int, keys: tuple[str, ...]) -> dict:
    """A saved file of the given format holding an object under each of keys; AggregatesError naming the file."""
    if not path.is_file():
        raise AggregatesError(f"{path}: no saved {what} (built before they were saved: run 'kg build' to save them)")
    try:
        saved = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AggregatesError(f"{path}: unreadable ({exc})") from None
    if not isinstance(saved, dict) or saved.get("format") != fmt:
        raise AggregatesError(f"{path}: not {what} of format {fmt}")
    if not all(isinstance(saved.get(k), dict) for k in keys):
        raise AggregatesError(f"{path}: incomplete (it lacks one of {', '.join(keys)})")
    return saved
