"""Whole-corpus counts, made once by each build and saved in its generation (aggregates/counts.json).

Counting them in the store (SPARQL GROUP BYs over every measure) takes seconds at 100k measures; one pass over the
plan records and the practice membership the index saved takes a fraction of one, so every build (a one-plan
update too) writes them and the web UI only reads them (webui.counts, which says what each count means). They are
counted exactly as the graph states them (kg.graph): a plan's measures belong to its sp:agency, a measure counts
for every practice type of the membership, once per distinct measure.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

AGGREGATES_DIR = "aggregates"
COUNTS_FILE = "counts.json"
FORMAT = 1  # raised whenever what the file holds changes; a file of another format is counted again
PRACTICES_FILE = "practices.json"  # in the index folder: the practice scheme with every measure's types (kg.search)


class AggregatesError(ValueError):
    """A generation's saved counts cannot be used (missing, unreadable, of another format)."""


def count(records: Iterable[Mapping], membership: Mapping[str, Sequence[str]]) -> dict:
    """The counts of these plan records: measures per agency, per practice type, per (type, agency) and per framework
    item; how many distinct units, systems and laws the measures name and programmes the plans are based on."""
    by_agency: dict[str, set[str]] = {}
    by_type: dict[str, set[str]] = {}
    cells: dict[str, dict[str, set[str]]] = {}
    by_item: dict[str, set[str]] = {}
    named: dict[str, set[str]] = {"units": set(), "systems": set(), "laws": set(), "programmes": set()}
    for rec in records:
        aid = rec["agency"]["id"]
        mine = by_agency.setdefault(aid, set())
        named["programmes"].update(p["id"] for p in rec["basis"])
        for m in rec["measures"]:
            mid = m["id"]
            mine.add(mid)
            for t in membership.get(mid) or ():
                by_type.setdefault(t, set()).add(mid)
                cells.setdefault(t, {}).setdefault(aid, set()).add(mid)
            if m["framework_item"]:
                by_item.setdefault(m["framework_item"], set()).add(mid)
            named["units"].update(u["id"] for u in m["unit_entities"])
            named["systems"].update(s["id"] for s in m["system_entities"])
            named["laws"].update(x["id"] for x in m["law_entities"])
    return {
        "format": FORMAT,
        "measures_by_agency": _sizes(by_agency),
        "type_sizes": _sizes(by_type),
        "cells": {t: _sizes(row) for t, row in sorted(cells.items())},
        "framework_items": _sizes(by_item),
        "named": {kind: len(ids) for kind, ids in named.items()},
    }


def _sizes(sets: Mapping[str, set[str]]) -> dict[str, int]:
    return {k: len(v) for k, v in sorted(sets.items())}


def write_counts(work: Path, records: Iterable[Mapping]) -> None:
    """Count a staged generation's records (with the membership its index saved, if it has one) into
    work/aggregates/counts.json."""
    practices = work / "index" / PRACTICES_FILE
    membership = json.loads(practices.read_text("utf-8"))["membership"] if practices.is_file() else {}
    folder = work / AGGREGATES_DIR
    folder.mkdir(exist_ok=True)
    text = json.dumps(count(records, membership), ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    (folder / COUNTS_FILE).write_text(text, "utf-8")


def read_counts(generation: Path) -> dict:
    """The counts a build saved in this generation; AggregatesError saying why they cannot be used."""
    path = generation / AGGREGATES_DIR / COUNTS_FILE
    if not path.is_file():
        raise AggregatesError(f"{path}: no saved counts (built before they were saved: run 'kg build' to save them)")
    try:
        saved = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AggregatesError(f"{path}: unreadable ({exc})") from None
    if not isinstance(saved, dict) or saved.get("format") != FORMAT:
        raise AggregatesError(f"{path}: not counts of format {FORMAT}")
    keys = ("measures_by_agency", "type_sizes", "cells", "framework_items", "named")
    if not all(isinstance(saved.get(k), dict) for k in keys):
        raise AggregatesError(f"{path}: incomplete (it lacks one of {', '.join(keys)})")
    return saved
