"""Search: one query per request, with the true number of matches and facet counts over all of them, pages of
highlighted results, each result's similar practices when asked (/api/similar), and every match as CSV."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field

from flask import Blueprint, Response, jsonify, render_template, request, url_for
from flask.typing import ResponseReturnValue

from index.query import parse_query
from kg.records import CSV_FIELDS, csv_row, write_csv
from kg.years import roc_label
from webui.headings import measure_heading
from webui.params import (
    MODES,
    YEAR_UNKNOWN,
    ParamError,
    get_int,
    get_mode,
    get_query,
    get_strings,
    get_years,
)
from webui.provenance import source_place
from webui.state import KGState, get_state
from webui.text import highlight
from webui.views.common import API_PREFIX, is_api_request, lookup, page_route

bp = Blueprint("search", __name__)

FACETS = {
    "agency": "機關",
    "year": "年度",
    "framework_item": "框架項目",
    "unit": "單位",
    "system": "系統",
    "practice_type": "實務類型",
}
DEFAULT_K = 20  # results on a page (the parameter top_k)
PAGE_SIZES = (10, 20, 50, 100)
MAX_PAGE = 10_000
SIMILAR_INLINE = 3
FACET_VALUES_MAX = 100  # values a facet lists, most matches first (webui.views.search._facets)
CSV_MAX_ROWS = 5000  # the CSV holds every match up to this many; the page says so when there are more
EXPANSIONS_SHOWN = 8  # synonyms named on the expansion line; the rest are counted
PAGER_SPREAD = 2  # page numbers shown on each side of the current one
EXAMPLES = (
    ("電話禮貌測試", {}),
    ("1999", {}),
    ("線上申辦", {}),
    ("外籍人士 雙語服務", {"mode": "dense"}),
)


@dataclass(frozen=True)
class SearchParams:
    """What a search request asks for."""

    query: str
    mode: str = "hybrid"
    expand: bool = True  # also search the vocabulary's synonyms of the words typed
    page: int = 1  # 1-based
    size: int = DEFAULT_K
    filters: dict[str, list] = field(default_factory=dict)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size

    def key(self) -> tuple:
        return (self.query, self.mode, self.expand, tuple((f, tuple(v)) for f, v in sorted(self.filters.items())))


def _params() -> SearchParams:
    args = request.args
    filters: dict[str, list] = {f: get_strings(args, f) for f in FACETS if f != "year"}
    filters["year"] = get_years(args)
    expand = args.get("expand", "")
    if expand not in ("", "0", "1"):
        raise ParamError(f"參數 expand 必須是 1（也搜尋同義詞）或 0（只搜尋輸入的字）（收到「{expand}」）")
    return SearchParams(
        query=get_query(args),
        mode=get_mode(args),
        expand=expand != "0",
        page=get_int(args, "page", 1, 1, MAX_PAGE),
        size=get_int(args, "top_k", DEFAULT_K, 1, 100),
        filters=filters,
    )


def _run(state: KGState, p: SearchParams) -> dict:
    """The page of matches, the total and the facet counts: one query, cached for repeated requests."""
    key = ("search", *p.key(), p.offset, p.size)
    return state.cache.get(
        key,
        lambda: state.search.query(
            p.query, limit=p.size, offset=p.offset, mode=p.mode, expand=p.expand, facets=True, **p.filters
        ),
    )


def year_label(value: str) -> str:
    """A year as planners read it: Gregorian with its ROC year, 2016（民國105年）; a plan stating none: 未載明."""
    if value == YEAR_UNKNOWN:
        return "未載明"
    return roc_label(int(value)) if value.isdigit() else value


def _label(state: KGState, facet: str, value: str, units: dict[str, dict] | None = None) -> str:
    """How a facet value reads; `units`: those of the facet's values, looked up together (else this one alone)."""
    if facet == "unit":
        u = (units if units is not None else state.units.some([value])).get(value)
        return f"{u['name']}（{u['agency']}）" if u else value
    if facet == "system":
        return state.systems[value]["name"] if value in state.systems else value
    if facet == "practice_type":
        return state.practice_types[value]["label"] if value in state.practice_types else value
    if facet == "framework_item":
        c = state.framework.get(value)
        return f"{value} {c['label']}" if c else value
    if facet == "year":
        return year_label(value)
    return value


def _facets(
    state: KGState, counts: dict[str, dict[str, int]], filters: dict[str, list]
) -> tuple[dict[str, list[dict]], dict[str, int]]:
    """Per facet, its values with the number of matches having each (over all matches, each facet counted with
    the *other* facets' filters, so a second agency can be added as easily as one chosen); chosen values first.

    A facet lists its FACET_VALUES_MAX values with the most matches (and every chosen one): a common word matches
    measures of thousands of units, which no list helps to choose from, and naming them all would take the page
    longer than the search. The second dict says how many values each facet leaves out."""
    out: dict[str, list[dict]] = {}
    omitted: dict[str, int] = {}
    for facet in FACETS:
        values = dict(counts.get(facet, {}))
        selected = [str(v) for v in filters.get(facet, [])]
        for v in selected:
            values.setdefault(v, 0)
        ranked = sorted(values, key=lambda v: (v not in selected, -values[v], v))
        shown = ranked[: max(FACET_VALUES_MAX, len(selected))]
        if len(ranked) > len(shown):
            omitted[facet] = len(ranked) - len(shown)
        units = state.units.some(shown) if facet == "unit" else {}
        entries = [
            {"value": v, "label": _label(state, facet, v, units), "count": values[v], "selected": v in selected}
            for v in shown
        ]
        entries.sort(key=lambda e: (not e["selected"], -e["count"], e["label"]))
        out[facet] = entries
    return out, omitted


def _result(state: KGState, hit: dict) -> dict:
    m = state.measures[hit["id"]]
    return dict(hit, plan_id=m["plan_id"], agency_id=state.plans[m["plan_id"]]["agency"]["id"])


@bp.route(API_PREFIX + "/similar/<mid>")
def similar_api(mid: str) -> ResponseReturnValue:
    """A result's practices of other agencies, fetched when its 「其他機關的類似作法」 is opened: each is a search of
    its own (a scan of every vector), so the results page does not run twenty of them before it can answer."""
    state = get_state()
    lookup(state.measures, mid, "措施")
    similar = state.similar(mid, k=5)[:SIMILAR_INLINE]
    return jsonify(
        {
            "id": mid,
            "similar": [
                {
                    "id": s["id"],
                    "agency": s["agency"],
                    "year": s["year"],
                    "title": s["title"],
                    "text": s["text"],
                    "score": s["score"],
                    "url": url_for("measures.measure", mid=s["id"]),
                    "label": f"{s['agency']} {roc_label(s['year']) if s['year'] else '年度未載明'}："
                    + measure_heading(s).text,
                }
                for s in similar
            ],
        }
    )


def _search_data(state: KGState, p: SearchParams) -> dict:
    """What the page shows and /api/search returns: the true total, this page of it, the facets over all of it."""
    found = _run(state, p) if p.query else {}
    total = found.get("total", 0)
    facets, omitted = _facets(state, found.get("facets", {}), p.filters) if p.query else ({}, {})
    return {
        "query": p.query,
        "mode": p.mode,
        "expand": p.expand,
        "total": total,
        "page": p.page,
        "pages": math.ceil(total / p.size),
        "offset": p.offset,
        "limit": p.size,
        "top_k": p.size,
        "filters": {f: v for f, v in p.filters.items() if v},
        "results": [_result(state, h) for h in found.get("results", [])],
        "facets": facets,
        "facets_omitted": omitted,
        "expansions": found.get("expansions", []),
        "required": found.get("required", []),
        "excluded": found.get("excluded", []),
        "highlight": found.get("highlight", []),
        "calibrated": found.get("calibrated", True),
    }


def _args(
    p: SearchParams,
    *,
    query: str | None = None,
    mode: str | None = None,
    expand: bool | None = None,
    page: int = 1,
    filters: dict[str, list] | None = None,
) -> dict:
    """The parameters of a link to this search with some of them changed (and page 1 unless one is given)."""
    args: dict[str, object] = {"q": p.query if query is None else query, "mode": mode or p.mode}
    if p.size != DEFAULT_K:
        args["top_k"] = p.size
    if not (p.expand if expand is None else expand):
        args["expand"] = 0
    if page > 1:
        args["page"] = page
    for f, values in (p.filters if filters is None else filters).items():
        if values:
            args[f] = [str(v) for v in values]
    return args


def _toggled(p: SearchParams, facet: str, value: str) -> dict[str, list]:
    """The filters with one facet value switched on or off."""
    out = {f: [str(v) for v in values] for f, values in p.filters.items()}
    values = out.setdefault(facet, [])
    out[facet] = [v for v in values if v != value] if value in values else values + [value]
    return out


def _pager(p: SearchParams, pages: int) -> dict | None:
    """Links to the previous and next page and to the page numbers around this one (None: one page only)."""
    if pages <= 1:
        return None
    shown = sorted({1, pages, *range(max(1, p.page - PAGER_SPREAD), min(pages, p.page + PAGER_SPREAD) + 1)})
    numbers: list[dict] = []
    for i, n in enumerate(shown):
        if i and n - shown[i - 1] > 1:
            numbers.append({"gap": True})
        numbers.append({"page": n, "url": url_for("search.search", **_args(p, page=n)), "current": n == p.page})
    return {
        "prev": url_for("search.search", **_args(p, page=p.page - 1)) if p.page > 1 else None,
        "next": url_for("search.search", **_args(p, page=p.page + 1)) if p.page < pages else None,
        "last": url_for("search.search", **_args(p, page=pages)),
        "numbers": numbers,
    }


def _suggestions(p: SearchParams, data: dict) -> list[dict]:
    """What to try when nothing matches: each a sentence, and a link that does it when there is one."""
    out: list[dict] = []
    parsed = parse_query(p.query)
    if not parsed.positive:
        out.append({"text": "查詢中只有要排除的詞（以「-」開頭）：請再加上想找的字詞。"})
    if data["filters"]:
        out.append(
            {
                "text": "目前有篩選條件，可能把符合的措施濾掉了。",
                "link": "移除所有篩選條件再搜尋",
                "url": url_for("search.search", **_args(p, filters={})),
            }
        )
    if p.mode in ("lexical", "literal"):
        out.append(
            {
                "text": f"「{MODES[p.mode]}」模式只比對字詞。",
                "link": "改用「語意」模式，找意思相近的措施",
                "url": url_for("search.search", **_args(p, mode="dense")),
            }
        )
    if p.mode == "literal":
        out.append(
            {
                "text": "「逐字」模式要求每個輸入的字詞都出現。",
                "link": "改用「混合」模式，不必每個字詞都出現",
                "url": url_for("search.search", **_args(p, mode="hybrid")),
            }
        )
    if data["required"] or data["excluded"]:
        plain = " ".join(parsed.typed)
        item = {
            "text": "請檢查引號與減號：加了引號的片語必須一字不差地出現，以「-」開頭的詞會排除含有它的措施。",
        }
        if plain and plain != p.query:
            item.update(
                link=f"不加引號、不排除任何詞，改搜「{plain}」", url=url_for("search.search", **_args(p, query=plain))
            )
        out.append(item)
    if not p.expand and p.mode != "literal":
        out.append(
            {
                "text": "目前只搜尋您輸入的字。",
                "link": "也搜尋同義詞與相關說法",
                "url": url_for("search.search", **_args(p, expand=True)),
            }
        )
    return out


def _relevance(score: float, calibrated: bool) -> tuple[str, str]:
    """The score as planners read it, and what it means (a calibrated score is the chance the measure is relevant,
    the same from query to query; another is good only for ordering, so no number is shown)."""
    if not calibrated:
        return "—", "依相關程度排序"
    pct = round(score * 100)
    # An estimate is never certain: 99.8% is shown as 99%, not as a 100% no estimate can claim.
    text = "相關度 <1%" if pct < 1 else f"相關度 {min(pct, 99)}%"
    return text, "這筆措施與查詢相關的估計機率"


@page_route(bp, "/search", "search")
def search() -> ResponseReturnValue:
    state = get_state()
    p = _params()
    data = _search_data(state, p)
    if is_api_request():
        return data
    for facet, entries in data["facets"].items():
        for e in entries:
            e["url"] = url_for("search.search", **_args(p, filters=_toggled(p, facet, e["value"])))
    view = []
    for r in data["results"]:
        relevance, relevance_title = _relevance(r["score"], data["calibrated"])
        view.append(
            dict(
                r,
                title_html=highlight(r["title"], data["highlight"]),
                text_html=highlight(r["text"], data["highlight"]),
                relevance=relevance,
                relevance_title=relevance_title,
            )
        )
    expansions = data["expansions"]
    return render_template(
        "search.html",
        data=data,
        view=view,
        modes=MODES,
        page_sizes=PAGE_SIZES,
        facet_names=FACETS,
        first=p.offset + 1,
        last=p.offset + len(view),
        pager=_pager(p, data["pages"]),
        expansions_shown=expansions[:EXPANSIONS_SHOWN],
        expansions_more=max(len(expansions) - EXPANSIONS_SHOWN, 0),
        expand_off_url=url_for("search.search", **_args(p, expand=False)),
        expand_on_url=url_for("search.search", **_args(p, expand=True)),
        suggestions=_suggestions(p, data) if p.query and not data["total"] else [],
        examples=[(q, url_for("search.search", q=q, **extra)) for q, extra in EXAMPLES],
        csv_url=url_for("search.search_csv", **_args(p)),
        csv_rows=min(data["total"], CSV_MAX_ROWS),
        json_url=url_for("search.search_api", **_args(p, page=p.page)),
        selected=[
            (f, v, _label(state, f, str(v)), url_for("search.search", **_args(p, filters=_toggled(p, f, str(v)))))
            for f, values in data["filters"].items()
            for v in values
        ],
    )


@bp.get("/search.csv")
def search_csv() -> Response:
    """Every match of the search (up to CSV_MAX_ROWS), best first, whatever page the link was on."""
    state = get_state()
    p = _params()
    found = (
        state.search.query(p.query, limit=CSV_MAX_ROWS, mode=p.mode, expand=p.expand, **p.filters)
        if p.query
        else {"results": [], "total": 0}
    )
    rows = []
    for i, r in enumerate(found["results"], 1):
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
        buf.getvalue(),
        mimetype="text/csv",
        headers={
            "Content-Disposition": "attachment; filename=search-results.csv",
            # How many matches there are and how many rows this file holds (fewer when over CSV_MAX_ROWS).
            "X-Total-Matches": str(found["total"]),
            "X-Rows": str(len(rows)),
        },
    )
