"""The SPARQL 1.1 protocol endpoint (read-only), and a query page with worked examples for browsers."""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request
from flask.typing import ResponseReturnValue
from rdflib import URIRef

from kg.errors import QueryError
from kg.sparql import Outcome, check_read_only, to_csv, to_json, to_tsv, to_turtle
from webui.sparql_runner import QueryBusy, QueryTimeout
from webui.state import KGState, get_state
from webui.views.graph import page_url

bp = Blueprint("sparql", __name__)

RESULTS_JSON = "application/sparql-results+json"
# Result media types by the short names of the optional `format` parameter (handy for links; Accept is the rule).
FORMATS = {
    "json": RESULTS_JSON,
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
    "ttl": "text/turtle",
    "jsonld": "application/ld+json",
    "nt": "application/n-triples",
    "html": "text/html",
}
TABLE_TYPES = [RESULTS_JSON, "application/json", "text/csv", "text/tab-separated-values", "text/html"]
GRAPH_TYPES = ["text/turtle", "application/ld+json", "application/n-triples", "text/html"]

_PREFIXES = """PREFIX sp: <https://w3id.org/spkg/ontology#>
PREFIX org: <http://www.w3.org/ns/org#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX dcterms: <http://purl.org/dc/terms/>
"""

# Labels are language-tagged @zh-Hant and Oxigraph returns tags lower-cased, so the examples compare str() of the
# label or use langMatches(), never lang(?x) = "zh-Hant".
EXAMPLES = [
    {
        "title": "哪些單位主辦使用 1999 專線的措施",
        "query": _PREFIXES
        + """
SELECT ?unitName ?agencyName (COUNT(DISTINCT ?measure) AS ?measures) WHERE {
  ?system skos:prefLabel ?systemName .
  FILTER(str(?systemName) = "1999專線")
  ?measure sp:usesSystem ?system ;
           sp:ownedBy ?unit .
  ?unit skos:prefLabel ?unitName ;
        org:unitOf ?agency .
  ?agency skos:prefLabel ?agencyName .
  FILTER(langMatches(lang(?agencyName), "zh-Hant"))
}
GROUP BY ?unitName ?agencyName
ORDER BY DESC(?measures) ?unitName""",
    },
    {
        "title": "各機關在每個框架項目下的措施數",
        "query": _PREFIXES
        + """
SELECT ?agencyName ?notation ?itemLabel (COUNT(DISTINCT ?measure) AS ?measures) WHERE {
  ?plan sp:measure ?measure ;
        sp:agency ?agency .
  ?agency skos:prefLabel ?agencyName .
  FILTER(langMatches(lang(?agencyName), "zh-Hant"))
  ?measure sp:frameworkItem ?item .
  ?item skos:notation ?notation ;
        skos:prefLabel ?itemLabel .
  FILTER(langMatches(lang(?itemLabel), "zh-Hant"))
}
GROUP BY ?agencyName ?notation ?itemLabel
ORDER BY ?notation ?agencyName""",
    },
    {
        "title": "依據「政府服務躍升方案」訂定的計畫",
        "query": _PREFIXES
        + """
SELECT DISTINCT ?plan ?title ?agencyName ?year WHERE {
  ?programme skos:prefLabel ?programmeName .
  FILTER(str(?programmeName) = "政府服務躍升方案")
  ?plan sp:basedOn ?programme ;
        dcterms:title ?title ;
        sp:agency ?agency .
  OPTIONAL { ?plan sp:year ?year }  # a plan whose title states no year has none
  ?agency skos:prefLabel ?agencyName .
  FILTER(langMatches(lang(?agencyName), "zh-Hant"))
}
ORDER BY ?year""",
    },
    {
        "title": "查報組主辦的措施（CONSTRUCT，回傳 Turtle）",
        "query": _PREFIXES
        + """
CONSTRUCT {
  ?measure sp:ownedBy ?unit ;
           sp:text ?text .
  ?unit skos:prefLabel ?unitName .
} WHERE {
  ?unit skos:prefLabel ?unitName .
  FILTER(str(?unitName) = "查報組")
  ?measure sp:ownedBy ?unit ;
           sp:text ?text .
}""",
    },
]


class Refused(Exception):
    """A request the endpoint will not run; carries the HTTP status and the message for the planner."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _read_query() -> str | None:
    """The query of a GET or POST per the SPARQL 1.1 protocol; None when a browser just opens the page."""
    if request.method == "GET":
        params = request.args
    else:
        ctype = (request.mimetype or "").lower()
        if ctype == "application/sparql-update":
            raise Refused(400, _READ_ONLY)
        if ctype == "application/sparql-query":
            body = request.get_data(as_text=True)
            if request.args.getlist("query"):
                raise Refused(400, "請只用一種方式傳送查詢（請求本文或 query 參數擇一）")
            return body
        if ctype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
            raise Refused(
                415, "POST 的 Content-Type 必須是 application/x-www-form-urlencoded 或 application/sparql-query"
            )
        params = request.form
    if params.getlist("update"):
        raise Refused(400, _READ_ONLY)
    if params.getlist("default-graph-uri") or params.getlist("named-graph-uri"):
        raise Refused(
            400,
            "本端點不支援 default-graph-uri／named-graph-uri；預設圖即所有具名圖的聯集，需要時請在查詢中用 GRAPH 指定",
        )
    queries = params.getlist("query")
    if len(queries) > 1:
        raise Refused(400, "query 參數只能有一個")
    if not queries:
        return None
    return queries[0]


_READ_ONLY = (
    "此 SPARQL 端點為唯讀，不接受更新（INSERT、DELETE、LOAD、CLEAR、DROP 等）。知識圖譜只由計畫檔以 kg build 重建。"
)


def _negotiate(offers: list[str]) -> str:
    fmt = request.values.get("format", "")
    if fmt:
        if fmt not in FORMATS:
            raise Refused(400, f"未知的 format「{fmt}」（可用：{'、'.join(FORMATS)}）")
        return FORMATS[fmt]
    accept = request.accept_mimetypes
    if not accept:
        return offers[0]  # no Accept header: the protocol's default format
    best = accept.best_match(offers)
    if best is None:
        kind = "SELECT／ASK" if offers is TABLE_TYPES else "CONSTRUCT／DESCRIBE"
        raise Refused(406, f"{kind} 查詢的結果可用的格式：{'、'.join(o for o in offers if o != 'text/html')}")
    return best


def _wants_page() -> bool:
    fmt = request.values.get("format", "")
    if fmt:
        return fmt == "html"
    accept = request.accept_mimetypes
    return bool(accept) and accept.best_match(TABLE_TYPES) == "text/html"


def _cells(state: KGState, o: Outcome) -> list[list[dict]]:
    """Result rows for the HTML table: IRIs of things the UI has a page for become links to that page."""
    rows = []
    for row in o.rows:
        cells = []
        for term in row:
            cell = {"text": "" if term is None else str(term), "url": None}
            if isinstance(term, URIRef):
                node = state.graph.node(str(term))
                if node is not None:
                    cell["url"] = page_url(node)
            cells.append(cell)
        rows.append(cells)
    return rows


def _page(
    state: KGState, query: str, status: int = 200, outcome: Outcome | None = None, error: str | None = None
) -> ResponseReturnValue:
    body = render_template(
        "sparql.html",
        query=query,
        examples=EXAMPLES,
        outcome=outcome,
        error=error,
        rows=_cells(state, outcome) if outcome is not None and outcome.kind == "SELECT" else [],
        turtle=to_turtle(outcome) if outcome is not None and outcome.graph is not None else None,
        max_rows=state.sparql.max_rows,
        timeout=state.sparql.timeout,
    )
    return body, status


def _error(state: KGState, status: int, message: str, query: str) -> ResponseReturnValue:
    if _wants_page():
        return _page(state, query, status, error=message)
    # Protocol clients get the message as plain text, which every SPARQL client library shows as is.
    return Response(message + "\n", status=status, mimetype="text/plain")


@bp.route("/sparql", methods=["GET", "POST"])
def endpoint() -> ResponseReturnValue:
    state = get_state()
    query = ""
    try:
        read = _read_query()
        if read is None:
            if _wants_page():
                return _page(state, EXAMPLES[0]["query"])
            raise Refused(400, "缺少 query 參數（SPARQL 1.1 protocol：GET ?query=… 或 POST）")
        query = read
        try:
            check_read_only(query)
        except QueryError:
            raise Refused(400, _READ_ONLY) from None
        wants_page = _wants_page()
        try:
            outcome = state.sparql.run(query)
        except QueryError as exc:
            raise Refused(400, f"SPARQL 查詢有誤：{exc}") from None
        except QueryTimeout:
            raise Refused(
                503, f"查詢超過 {state.sparql.timeout:g} 秒的時間限制，已停止等待。請縮小範圍或加上 LIMIT 後再試。"
            ) from None
        except QueryBusy:
            raise Refused(503, "目前執行中的查詢太多，請稍後再試。") from None
    except Refused as r:
        return _error(state, r.status, r.message, query)

    if wants_page:
        return _page(state, query, outcome=outcome)
    headers = {"X-SPARQL-Truncated": "true"} if outcome.truncated else {}
    try:
        if outcome.graph is not None:
            media = _negotiate(GRAPH_TYPES)
            if media == "application/ld+json":
                body = outcome.graph.serialize(format="json-ld", indent=1)
            elif media == "application/n-triples":
                body = outcome.graph.serialize(format="nt")
            else:
                media, body = "text/turtle", to_turtle(outcome)
        else:
            media = _negotiate(TABLE_TYPES)
            if media == "text/csv":
                body = to_csv(outcome)
            elif media == "text/tab-separated-values":
                body = to_tsv(outcome)
            elif media in GRAPH_TYPES:  # asked for by the format parameter
                raise Refused(406, "SELECT／ASK 的結果只能是 JSON、CSV 或 TSV；Turtle 需用 CONSTRUCT 或 DESCRIBE 查詢")
            else:
                media, body = RESULTS_JSON, to_json(outcome)
    except Refused as r:
        return _error(state, r.status, r.message, query)
    return Response(body, mimetype=media, headers=headers)
