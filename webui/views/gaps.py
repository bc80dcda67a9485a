"""Gap analysis and comparison for a planner: what peer agencies do that my plan does not, with their most typical
measures as examples, and two to four agencies side by side per framework item; both downloadable.

A practice type is a gap when no measure of mine has it (every type a measure has counts: webui.counts) and some
peer agency's does. A framework item is a gap when none of my measures is filed under it and a peer's is. Items
are those of my plan's framework version; a measure of a plan on the other version counts for the items its own
item matches exactly (skos:closeMatch), or, when there is none, for those it is related to (skos:relatedMatch).
"""

from __future__ import annotations

from collections import Counter
from itertools import islice

import numpy as np
from flask import Blueprint, abort, request, url_for
from flask.typing import ResponseReturnValue

from index.arrays import Strings
from webui import counts as kgcounts
from webui.provenance import source_place
from webui.state import KGState, get_state, year_key
from webui.views.common import page_route, plan_index, respond
from webui.views.tables import FORMATS, Table, table_response

bp = Blueprint("gaps", __name__)

EXAMPLES = 3  # example measures shown per gap
GAP_AGENCIES = 12  # agencies a gap names on the page, most measures first (its JSON and downloads name them all)
TYPICAL_POOL = 2000  # measures of a gap whose vectors its examples are chosen from (the first, in plan order)
MIN_COMPARED, MAX_COMPARED = 2, 4  # agencies the comparison puts side by side
SHORT_TITLE = 24  # characters of a measure's text that name it when it has no title
KIND_LABELS = {"practice": "實務類型", "framework": "框架項目"}
MATCH_LABELS = {"same": "", "close": "版本對應", "related": "相關項目"}


# ----- what is compared -----


def short_title(m: dict) -> str:
    """A measure's title, or the first words of its text."""
    if m.get("title"):
        return m["title"]
    text = "".join(m["text"].split())
    return text[:SHORT_TITLE] + ("…" if len(text) > SHORT_TITLE else "")


def _agencies_of(state: KGState) -> dict[str, str]:
    """Measure id -> the agency of its plan (from the build's saved members: no record read)."""

    def build() -> dict[str, str]:
        members = kgcounts.counts(state).members
        agencies = members["agencies"]
        return {mid: agencies[a] for mid, a in zip(members["measures"], members["agency_of"], strict=True)}

    return state.cache.get(("gaps.agencies",), build)


def _measures_of_agency(state: KGState, aid: str) -> list[str]:
    """The measures of an agency's plans, by plan then id (the build's saved members: no SPARQL, no record)."""
    members = kgcounts.counts(state).members
    code = members["agencies"].index(aid) if aid in members["agencies"] else -1
    ids = members["measures"]
    return [ids[p] for p in np.flatnonzero(_agency_column(state) == code).tolist()]


def _agency_column(state: KGState) -> np.ndarray:
    """The saved members' agency of each measure (an index into their agencies), as an array."""
    members = kgcounts.counts(state).members
    return state.cache.get(("gaps.agency_of",), lambda: np.asarray(members["agency_of"], dtype=np.int64))


def _index_rows(state: KGState, ids: list[str]) -> np.ndarray:
    """The rows of these measures in the search index's vectors (-1: not in it), found together in the id table the
    index saved (memory-mapped; the index's records are not read)."""
    table = state.cache.get(
        ("gaps.ids",), lambda: Strings.open(state.search.data_dir.index_dir, "ids", len(state.search), lookup=True)
    )
    return table.find(ids) if ids else np.zeros(0, dtype=np.int64)


def typical(state: KGState, ids: list[str], k: int = EXAMPLES) -> list[tuple[str, float]]:
    """Up to k of the measures, most typical first: the nearest (cosine) to the centroid of all their unit vectors.
    One per agency first, so that the examples show different agencies while there are any."""
    unique = list(dict.fromkeys(ids))
    rows = _index_rows(state, unique)
    known = [mid for mid, row in zip(unique, rows, strict=True) if row >= 0]
    if not known:
        return []
    vectors = state.search.index.vectors[rows[rows >= 0]]
    centre = vectors.mean(axis=0)
    norm = float(np.linalg.norm(centre))
    scores = vectors @ (centre / norm) if norm else np.zeros(len(known))
    ranked = sorted(zip(known, (float(s) for s in scores), strict=True), key=lambda x: (-x[1], x[0]))
    picked: list[tuple[str, float]] = []
    seen: set[str] = set()
    agency_of = _agencies_of(state)
    for mid, score in ranked:  # the best of each agency, in order of typicality
        if agency_of[mid] not in seen:
            seen.add(agency_of[mid])
            picked.append((mid, score))
    picked += [x for x in ranked if x not in picked]
    return picked[:k]


def _items(state: KGState, version: str) -> list[str]:
    """The framework items (not the headings above them) of one version, in notation order."""
    return [n for n, c in state.framework.items() if c["version"] == version and c["broader"]]


def items_of(state: KGState, notation: str | None, version: str) -> list[tuple[str, str]]:
    """The items of `version` a measure filed under `notation` counts for, each with how it was matched."""
    c = state.framework.get(notation or "")
    if c is None or not c["broader"]:
        return []
    if c["version"] == version:
        return [(notation, "same")]  # type: ignore[list-item]
    for how in ("close", "related"):
        found = [n for n in c[how + "_match"] if n in state.framework and state.framework[n]["broader"]]
        found = [n for n in found if state.framework[n]["version"] == version]
        if found:
            return [(n, how) for n in found]
    return []


def framework_index(state: KGState, version: str) -> dict[str, dict[str, list[tuple[str, str]]]]:
    """Item of `version` -> agency id -> [(measure id, how matched)] in plan order, over every agency's measures
    (the build's saved members, grouped with numpy: 100k measures in a few tens of ms)."""

    def build() -> dict[str, dict[str, list[tuple[str, str]]]]:
        c = kgcounts.counts(state)
        members = c.members
        agencies, ids = members["agencies"], members["measures"]
        of = np.asarray(members["agency_of"], dtype=np.int64)
        having = set(c.agency_ids)
        known = np.asarray([a in having for a in agencies], dtype=bool)
        sources: dict[str, list[tuple[np.ndarray, str]]] = {n: [] for n in _items(state, version)}
        for notation, positions in members["framework"].items():
            matched = items_of(state, notation, version)
            if matched:
                pos = np.asarray(positions, dtype=np.int64)
                pos = pos[known[of[pos]]] if len(pos) else pos
                for n, how in matched:
                    sources[n].append((pos, how))
        return {n: _by_agency(parts, of, agencies, ids) for n, parts in sources.items()}

    return state.cache.get(("gaps.framework", version), build)


def prepare(state: KGState) -> None:
    """Work out now what every gap analysis of this build reads (each framework version's index of who covers
    which item, the agency of each measure): about 0.2 s at 100k measures, otherwise spent on the first visit."""
    for version in sorted({c["version"] for c in state.framework.values()}):
        framework_index(state, version)
    _agencies_of(state)
    _agency_column(state)


def _by_agency(
    parts: list[tuple[np.ndarray, str]], of: np.ndarray, agencies: list[str], ids: list[str]
) -> dict[str, list[tuple[str, str]]]:
    """Measures (positions in the members' list, each part with how it matched) grouped by agency, each group in
    position order."""
    if not parts:
        return {}
    pos = np.concatenate([p for p, _ in parts])
    how = np.repeat(np.arange(len(parts)), [len(p) for p, _ in parts])
    order = np.lexsort((how, pos, of[pos]))
    pos, how = pos[order], how[order]
    agency = of[pos]
    bounds = np.flatnonzero(np.diff(agency)) + 1
    labels = [h for _, h in parts]
    out = {}
    for start, end in zip([0, *bounds.tolist()], [*bounds.tolist(), len(pos)], strict=True):
        if end > start:
            out[agencies[int(agency[start])]] = [
                (ids[p], labels[h]) for p, h in zip(pos[start:end].tolist(), how[start:end].tolist(), strict=True)
            ]
    return out


def _gap(kind: str, gid: str, label: str, url: str, having: list[dict], measures: int, examples: list[dict]) -> dict:
    """One gap: what is missing, the other agencies that have it (most measures first) and their examples."""
    return {
        "kind": kind,
        "id": gid,
        "label": label,
        "url": url,
        "agencies": sorted(having, key=lambda e: (-e["count"], e["name"])),
        "agency_count": len(having),
        "measure_count": measures,
        "examples": examples,
    }


def _example(state: KGState, mid: str, score: float, how: str = "same") -> dict:
    m = state.measures[mid]
    plan = kgcounts.counts(state).plans[m["plan_id"]]  # saved by the build: no plan record read
    return {
        "id": mid,
        "title": short_title(m),
        "text": m["text"],
        "agency": plan["agency"],
        "agency_id": plan["agency_id"],
        "plan_id": m["plan_id"],
        "year": plan["year"],
        "framework_item": m["framework_item"],
        "match": MATCH_LABELS.get(how, ""),
        "place": source_place(m["source"], plan.get("format")),
        "typicality": round(score, 4),
    }


# ----- the gap analysis -----


def _agency_param(state: KGState, value: str) -> str:
    """An agency with a plan, by id or by name; 404 naming it otherwise."""
    c = kgcounts.counts(state)
    aid = value if value in c.agency_ids else state.agency_by_name.get(value)
    if aid not in c.agency_ids:
        abort(404, description=f"找不到有計畫的機關「{value}」")
    return aid  # type: ignore[return-value]


def _latest_plan(state: KGState, aid: str) -> dict:
    return max((state.plans[p] for p in state.agencies[aid]["plan_ids"]), key=lambda p: year_key(p["year"]))


def _others_having(state: KGState, type_id: str, aid: str) -> list[str]:
    """Up to TYPICAL_POOL measures of a practice type in other agencies' plans, in plan order."""
    members = kgcounts.counts(state).members
    mine = members["agencies"].index(aid) if aid in members["agencies"] else -1
    of = members["agency_of"]
    others = (pos for pos in members["practice"].get(type_id, ()) if of[pos] != mine)
    return [members["measures"][pos] for pos in islice(others, TYPICAL_POOL)]


def gap_analysis(state: KGState, aid: str, plan_id: str | None = None) -> dict:
    """The gaps of one agency (all its plans, or one of them) against every other agency with a plan."""
    c = kgcounts.counts(state)
    a = state.agencies[aid]
    plan = state.plans[plan_id] if plan_id else None
    if plan:
        mine = list(plan["measure_ids"])
        my_types = {t["id"] for mid in mine for t in state.search.practice_types(mid)} & set(c.type_sizes)
    else:
        mine = _measures_of_agency(state, aid)
        my_types = {t for t in c.used_types() if c.cell(t, aid)}
    version = (plan or _latest_plan(state, aid))["framework_version"]
    peers = [p for p in c.agency_ids if p != aid]

    practice_gaps = []
    for t in c.used_types():
        if t in my_types:
            continue
        having = [{"id": p, "name": state.agencies[p]["name"], "count": c.cell(t, p)} for p in peers if c.cell(t, p)]
        if not having:
            continue
        ids = _others_having(state, t, aid)
        examples = [_example(state, mid, s) for mid, s in typical(state, ids)]
        label, url = state.practice_types[t]["label"], url_for("browse.practice", tid=t)
        practice_gaps.append(_gap("practice", t, label, url, having, sum(e["count"] for e in having), examples))

    index = framework_index(state, version)
    mine_set = set(mine)
    framework_gaps = []
    covered = 0
    for n, by_agency in index.items():
        if any(mid in mine_set for mid, _ in by_agency.get(aid, ())):  # its own measures are under its id
            covered += 1
            continue
        having = [
            {"id": p, "name": state.agencies[p]["name"], "count": len(by_agency[p])} for p in peers if by_agency.get(p)
        ]
        if not having:
            continue
        how = {mid: h for p in peers for mid, h in by_agency.get(p, ())}
        examples = [_example(state, mid, s, how[mid]) for mid, s in typical(state, list(how))]
        label, url = state.framework[n]["label"], url_for("browse.framework_item", notation=n)
        framework_gaps.append(_gap("framework", n, label, url, having, len(how), examples))
    order = lambda g: (-g["agency_count"], -g["measure_count"], g["id"])  # noqa: E731
    return {
        "agency": {"id": aid, "name": a["name"]},
        "plan": {"id": plan["id"], "title": plan["title"], "year": plan["year"]} if plan else None,
        "framework_version": version,
        "measure_count": len(mine),
        "peers": [{"id": p, "name": state.agencies[p]["name"]} for p in peers],
        "practice_types_covered": len(my_types),
        "framework_items_covered": covered,
        "framework_items": len(index),
        "practice_gaps": sorted(practice_gaps, key=order),
        "framework_gaps": sorted(framework_gaps, key=order),
    }


def _choices(state: KGState) -> dict:
    c = kgcounts.counts(state)
    return {
        "agencies": [{"id": a, "name": state.agencies[a]["name"]} for a in c.agency_ids],
        "plans": [
            {
                "id": p["id"],
                "title": p["title"],
                "year": p["year"],
                "agency_id": p["agency"]["id"],
                "agency": p["agency"]["name"],
            }
            for aid in c.agency_ids
            for p in sorted(
                (_plan_choice(state, x) for x in state.agencies[aid]["plan_ids"] if x in plan_index(state)),
                key=lambda p: year_key(p["year"]),
            )
        ],
    }


def _plan_choice(state: KGState, pid: str) -> dict:
    p = plan_index(state)[pid]
    return {"id": pid, "title": p["title"], "year": p["year"], "agency": {"id": p["agency_id"], "name": p["agency"]}}


def _gap_params(state: KGState) -> tuple[str | None, str | None]:
    """(agency id, plan id) asked for; a plan alone names its agency; a plan of another agency is refused."""
    plan_id = request.args.get("plan", "").strip() or None
    given = request.args.get("agency", "").strip()
    if plan_id is not None and plan_id not in state.plans:
        abort(404, description=f"找不到計畫「{plan_id}」")
    aid = _agency_param(state, given) if given else None
    if plan_id:
        owner = state.plans[plan_id]["agency"]["id"]
        if aid is not None and owner != aid:
            abort(400, description="所選計畫不屬於所選機關：請重新選擇機關或計畫")
        aid = owner
    return aid, plan_id


def _gap_data(state: KGState) -> dict:
    aid, plan_id = _gap_params(state)
    result = state.cache.get(("gaps", aid, plan_id), lambda: gap_analysis(state, aid, plan_id)) if aid else None
    return {"selected": {"agency": aid, "plan": plan_id}, "result": result, **_choices(state)}


@page_route(bp, "/gaps", "gaps")
def gaps() -> ResponseReturnValue:
    state = get_state()
    data = _gap_data(state)
    args = {k: v for k, v in data["selected"].items() if v}
    downloads = {f: url_for(f"gaps.gaps_{f}", **args) for f in FORMATS} if data["result"] else {}
    return respond("gaps.html", data, downloads=downloads, gap_agencies=GAP_AGENCIES)


def gaps_table(state: KGState, result: dict) -> Table:
    header = ["類別", "代號", "名稱", "有此項的其他機關數", "有此項的其他機關", "措施數"]
    header += ["範例序", "範例措施", "範例機關", "對應方式", "出處", "典型度", "範例網址"]
    rows: list[list[object]] = []
    for g in result["practice_gaps"] + result["framework_gaps"]:
        head = [
            KIND_LABELS[g["kind"]],
            g["id"],
            g["label"],
            g["agency_count"],
            "、".join(f"{a['name']}（{a['count']}）" for a in g["agencies"]),
            g["measure_count"],
        ]
        for i, e in enumerate(g["examples"], 1):
            url = url_for("measures.measure", mid=e["id"], _external=True)
            rows.append([*head, i, e["title"], e["agency"], e["match"], e["place"], e["typicality"], url])
        if not g["examples"]:
            rows.append([*head, "", "", "", "", "", "", ""])
    return Table(f"差距分析 {result['agency']['name']}", header, rows)


def _gaps_download(fmt: str) -> ResponseReturnValue:
    state = get_state()
    data = _gap_data(state)
    if data["result"] is None:
        abort(400, description="請指定機關（agency）")
    return table_response(gaps_table(state, data["result"]), "gaps", fmt)


for _fmt in FORMATS:
    bp.add_url_rule(f"/gaps.{_fmt}", f"gaps_{_fmt}", _gaps_download, defaults={"fmt": _fmt})


# ----- agencies side by side -----


def comparison(state: KGState, agency_ids: list[str], version: str | None = None) -> dict:
    """Rows: the framework items of `version` (by default the one most of these agencies' latest plans use);
    columns: the agencies; cells: their measures filed under the item (or matched to it from the other version)."""
    versions = Counter(_latest_plan(state, a)["framework_version"] for a in agency_ids)
    all_versions = sorted({c["version"] for c in state.framework.values()})
    if version not in all_versions:
        version = max(versions, key=lambda v: (versions[v], v))
    index = framework_index(state, version)
    dimensions = []
    for top in (n for n, c in state.framework.items() if c["version"] == version and not c["broader"]):
        rows = []
        for n in state.framework[top]["narrower"]:
            cells = []
            for a in agency_ids:
                found = index.get(n, {}).get(a, [])
                cells.append(
                    {
                        "agency_id": a,
                        "measures": [
                            {"id": mid, "title": short_title(state.measures[mid]), "match": MATCH_LABELS[how]}
                            for mid, how in found
                        ],
                    }
                )
            rows.append(
                {
                    "notation": n,
                    "label": state.framework[n]["label"],
                    "cells": cells,
                    "agencies_having": sum(1 for c in cells if c["measures"]),
                }
            )
        dimensions.append({"notation": top, "label": state.framework[top]["label"], "items": rows})
    return {
        "version": version,
        "versions": all_versions,
        "agencies": [
            {"id": a, "name": state.agencies[a]["name"], "version": _latest_plan(state, a)["framework_version"]}
            for a in agency_ids
        ],
        "dimensions": dimensions,
    }


def _compare_data(state: KGState) -> dict:
    chosen = list(dict.fromkeys(_agency_param(state, v.strip()) for v in request.args.getlist("agency") if v.strip()))
    if len(chosen) > MAX_COMPARED:
        abort(400, description=f"最多同時比較 {MAX_COMPARED} 個機關")
    version = request.args.get("version") or None
    result = None
    if len(chosen) >= MIN_COMPARED:
        result = state.cache.get(("compare", tuple(chosen), version), lambda: comparison(state, chosen, version))
    return {
        "selected": {"agencies": chosen, "version": version},
        "result": result,
        "min": MIN_COMPARED,
        "max": MAX_COMPARED,
        **_choices(state),
    }


@page_route(bp, "/compare", "compare")
def compare() -> ResponseReturnValue:
    state = get_state()
    data = _compare_data(state)
    downloads = {}
    if data["result"]:
        args = {"agency": data["selected"]["agencies"], "version": data["result"]["version"]}
        downloads = {f: url_for(f"gaps.compare_{f}", **args) for f in FORMATS}
    return respond("compare.html", data, downloads=downloads)


def compare_table(state: KGState, result: dict) -> Table:
    header = ["框架項目代號", "框架項目", *(a["name"] for a in result["agencies"])]
    rows: list[list[object]] = []
    for d in result["dimensions"]:
        for item in d["items"]:
            cells = [
                "\n".join(m["title"] + (f"（{m['match']}）" if m["match"] else "") for m in c["measures"]) or "—"
                for c in item["cells"]
            ]
            rows.append([item["notation"], item["label"], *cells])
    return Table(f"機關比較 {result['version']}", header, rows)


def _compare_download(fmt: str) -> ResponseReturnValue:
    state = get_state()
    data = _compare_data(state)
    if data["result"] is None:
        abort(400, description=f"請選擇 {MIN_COMPARED} 至 {MAX_COMPARED} 個機關（agency）")
    return table_response(compare_table(state, data["result"]), "compare", fmt)


for _fmt in FORMATS:
    bp.add_url_rule(f"/compare.{_fmt}", f"compare_{_fmt}", _compare_download, defaults={"fmt": _fmt})
