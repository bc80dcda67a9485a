"""Summaries a planner asks for: units and what they own, systems and who uses them, counts."""

from __future__ import annotations

from collections import defaultdict

from kg.store import DataDir


def units(data_dir: str) -> list[dict]:
    rows: dict[str, dict] = {}
    for m in DataDir(data_dir).measures():
        for u in m["unit_entities"]:
            r = rows.setdefault(
                u["id"], {"id": u["id"], "unit": u["name"], "agency": u["parent"], "measures": 0, "systems": set()}
            )
            r["measures"] += 1
            r["systems"] |= {s["name"] for s in m["systems"]}
    out = [dict(r, systems=sorted(r["systems"])) for r in rows.values()]
    return sorted(out, key=lambda r: (r["agency"], -r["measures"], r["unit"]))


def systems(data_dir: str) -> list[dict]:
    rows: dict[str, dict] = {}
    for m in DataDir(data_dir).measures():
        for s in m["system_entities"]:
            r = rows.setdefault(
                s["id"],
                {
                    "id": s["id"],
                    "system": s["name"],
                    "type": s["type"],
                    "measures": 0,
                    "agencies": set(),
                    "units": set(),
                },
            )
            r["measures"] += 1
            r["agencies"].add(m["agency"])
            r["units"] |= {u["name"] for u in m["units"]}
    out = [dict(r, agencies=sorted(r["agencies"]), units=sorted(r["units"])) for r in rows.values()]
    return sorted(out, key=lambda r: (-len(r["agencies"]), -r["measures"], r["system"]))


def stats(data_dir: str) -> dict:
    d = DataDir(data_dir)
    records = d.records()
    measures = [m for r in records for m in r["measures"]]
    per_year: dict[int, int] = defaultdict(int)
    for r in records:
        per_year[r["year"]] += 1
    ds = d.dataset()
    try:
        triples = len(ds)
    finally:
        ds.close()
    return {
        "plans": len(records),
        "agencies": len({r["agency"]["id"] for r in records}),
        "measures": len(measures),
        "measures_with_units": sum(1 for m in measures if m["units"]),
        "units": len({u["id"] for m in measures for u in m["units"]}),
        "systems": len({s["id"] for m in measures for s in m["systems"]}),
        "laws": len({x["id"] for m in measures for x in m["law_entities"]}),
        "triples": triples,
        "plans_per_year": dict(sorted(per_year.items())),
    }
