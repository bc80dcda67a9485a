"""The SPARQL 1.1 protocol endpoint (read-only), and a query page with worked examples for browsers."""

from __future__ import annotations

import os
from dataclasses import dataclass

from flask import Blueprint, Response, current_app, render_template, request
from flask.typing import ResponseReturnValue
from rdflib import URIRef

from kg.errors import QueryError
from kg.sparql import (
    MEMORY_MB,
    Limits,
    Outcome,
    QueryBusy,
    QueryCrashed,
    QueryMemoryError,
    QueryRefused,
    QueryStoreError,
    QueryTimeout,
    to_csv,
    to_json,
    to_tsv,
    to_turtle,
    to_xml,
)
from kg.store import DataDir
from kg.triplestore import ENV as TRIPLESTORE_ENV
from kg.triplestore import RemoteStore
from webui.state import KGState, get_state
from webui.views.graph import page_url

bp = Blueprint("sparql", __name__)

RESULTS_JSON = "application/sparql-results+json"
RESULTS_XML = "application/sparql-results+xml"  # SPARQLWrapper's default
# Result media types by the short names of the optional `format` parameter (handy for links; Accept is the rule).
# "xml" is not one of them: it could mean RDF/XML as well; SPARQLWrapper sends format=xml with an Accept header,
# and a format name we do not know is left to the Accept header when it names a type we serve.
FORMATS = {
    "json": RESULTS_JSON,
    "srx": RESULTS_XML,
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
    "ttl": "text/turtle",
    "jsonld": "application/ld+json",
    "nt": "application/n-triples",
    "rdfxml": "application/rdf+xml",
    "html": "text/html",
}
TABLE_TYPES = [RESULTS_JSON, "application/json", RESULTS_XML, "text/csv", "text/tab-separated-values", "text/html"]
GRAPH_TYPES = ["text/turtle", "application/ld+json", "application/n-triples", "application/rdf+xml", "text/html"]
RETRY_AFTER = "2"  # seconds, on a 503 for busy workers

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

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


@dataclass
class Request:
    """A query request per the SPARQL 1.1 protocol: the query and the dataset the protocol's parameters name."""

    query: str | None
    default_graphs: list[str] | None = None
    named_graphs: list[str] | None = None


def _read_query() -> Request:
    """The query of a GET or POST per the SPARQL 1.1 protocol; query None when a browser just opens the page.

    A POST carries application/sparql-query (a browser cannot send that to another site without asking first) or
    an application/x-www-form-urlencoded form (which the app accepts from this site only: see webui.guard_requests).
    """
    if request.method in ("GET", "HEAD"):
        params = request.args
    else:
        ctype = (request.mimetype or "").lower()
        if ctype == "application/sparql-update":
            raise Refused(400, _READ_ONLY)
        if ctype == "application/sparql-query":
            body = request.get_data(as_text=True)
            if request.args.getlist("query"):
                raise Refused(400, "請只用一種方式傳送查詢（請求本文或 query 參數擇一）")
            if request.args.getlist("update"):
                raise Refused(400, _READ_ONLY)
            return Request(body, *_dataset_params(request.args))
        if ctype != "application/x-www-form-urlencoded":
            raise Refused(
                415, "POST 的 Content-Type 必須是 application/x-www-form-urlencoded 或 application/sparql-query"
            )
        params = request.form
    if params.getlist("update"):
        raise Refused(400, _READ_ONLY)
    queries = params.getlist("query")
    if len(queries) > 1:
        raise Refused(400, "query 參數只能有一個")
    if not queries:
        return Request(None)
    return Request(queries[0], *_dataset_params(params))


def _dataset_params(params) -> tuple[list[str] | None, list[str] | None]:
    """default-graph-uri and named-graph-uri: the graphs (of this knowledge graph) the query reads; they override
    FROM and FROM NAMED. Without either, the default graph is the union of all graphs."""
    default, named = params.getlist("default-graph-uri"), params.getlist("named-graph-uri")
    return (default or None), (named or None)


_READ_ONLY = (
    "此 SPARQL 端點為唯讀，不接受更新（INSERT、DELETE、LOAD、CLEAR、DROP 等）。知識圖譜只由計畫檔以 kg build 重建。"
)


def _format() -> str:
    """The `format` parameter when it names a format we know; "" when absent, or unknown but the Accept header
    names a type we serve (what SPARQLWrapper sends: format=xml, Accept: application/sparql-results+xml)."""
    fmt = request.values.get("format", "")
    if fmt and fmt not in FORMATS:
        if request.accept_mimetypes.best_match(TABLE_TYPES + GRAPH_TYPES) not in (None, "text/html"):
            return ""
        raise Refused(400, f"未知的 format「{fmt}」（可用：{'、'.join(FORMATS)}）")
    return fmt


def _negotiate(offers: list[str]) -> str:
    fmt = _format()
    if fmt:
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
    try:
        fmt = _format()
    except Refused:
        return False
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


def _error(
    state: KGState, status: int, message: str, query: str, headers: dict[str, str] | None = None
) -> ResponseReturnValue:
    if _wants_page():
        body, code = _page(state, query, status, error=message)
        return body, code, headers or {}
    # Protocol clients get the message as plain text, which every SPARQL client library shows as is.
    return Response(message + "\n", status=status, mimetype="text/plain", headers=headers)


def _refusal(exc: QueryError, limits: Limits) -> Refused:
    """What the planner is told when a query was not run, or was stopped."""
    if isinstance(exc, QueryRefused):
        if exc.reason == "update":
            return Refused(400, _READ_ONLY)
        if exc.reason == "size":
            return Refused(
                413, f"查詢太長：最多接受 {limits.max_query_bytes} 位元組（約 {limits.max_query_bytes // 1024} KB）。"
            )
        if exc.reason == "depth":
            return Refused(
                400, f"查詢的括號（{{ }}、( )、[ ]）巢狀超過 {limits.max_depth} 層，無法執行。請把查詢拆開或簡化。"
            )
        if exc.reason == "service":
            return Refused(
                400,
                "不支援 SERVICE（聯邦查詢）：本端點只查詢本機的知識圖譜，不會連線到其他端點或網址。"
                "（以 service 開頭的前綴名稱也會被當成 SERVICE，請改寫成完整的 <IRI>。）",
            )
    if isinstance(exc, QueryTimeout):
        return Refused(503, f"查詢超過 {limits.timeout:g} 秒的時間限制，已停止執行。請縮小範圍或加上 LIMIT 後再試。")
    if isinstance(exc, QueryMemoryError):
        return Refused(
            503,
            f"查詢需要的記憶體超過 {limits.memory_mb} MB 的上限，已停止執行。"
            "請縮小範圍（例如加上 LIMIT，或避免沒有共同變數的樣式相乘）後再試。",
        )
    if isinstance(exc, QueryBusy):
        return Refused(503, "目前執行中的查詢太多，請稍後再試。", {"Retry-After": RETRY_AFTER})
    if isinstance(exc, QueryStoreError):
        return Refused(502, f"存放圖譜的 SPARQL 伺服器無法回應：{exc}")
    if isinstance(exc, QueryCrashed):
        return Refused(500, f"執行查詢的程序意外停止，未取得結果。請簡化查詢後再試。（{exc}）")
    return Refused(400, f"SPARQL 查詢有誤：{exc}")


def remote_store() -> RemoteStore | None:
    """The SPARQL server the endpoint forwards to (SPARQL_STORE, else $KG_STORE), or None: the data dir's store."""
    location = current_app.config.get("SPARQL_STORE") or os.environ.get(TRIPLESTORE_ENV)
    if not location or location == "embedded":
        return None
    return RemoteStore(location)


@bp.route("/sparql", methods=["GET", "POST"])
def endpoint() -> ResponseReturnValue:
    state = get_state()
    query = ""
    config = current_app.config
    memory_mb = int(config.get("SPARQL_MEMORY_MB", MEMORY_MB))
    limits = state.sparql.limits(memory_mb)
    try:
        read = _read_query()
        if read.query is None:
            if _wants_page():
                return _page(state, EXAMPLES[0]["query"])
            raise Refused(400, "缺少 query 參數（SPARQL 1.1 protocol：GET ?query=… 或 POST）")
        query = read.query
        _format()  # an unknown format is refused before the query runs
        wants_page = _wants_page()
        try:
            outcome = state.sparql.run(
                query,
                remote_store() or DataDir(state.data_dir).store_dir,  # the build this state shows, taken now
                memory_mb=memory_mb,
                queue=int(config.get("SPARQL_QUEUE", 0)),
                default_graphs=read.default_graphs,
                named_graphs=read.named_graphs,
            )
        except QueryError as exc:
            raise _refusal(exc, limits) from None
    except Refused as r:
        return _error(state, r.status, r.message, query, r.headers)

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
            elif media == "application/rdf+xml":
                body = outcome.graph.serialize(format="xml")
            else:
                media, body = "text/turtle", to_turtle(outcome)
        else:
            media = _negotiate(TABLE_TYPES)
            if media == "text/csv":
                body = to_csv(outcome)
            elif media == "text/tab-separated-values":
                body = to_tsv(outcome)
            elif media == RESULTS_XML:
                body = to_xml(outcome)
            elif media in GRAPH_TYPES:  # asked for by the format parameter
                raise Refused(
                    406, "SELECT／ASK 的結果只能是 JSON、XML、CSV 或 TSV；Turtle 需用 CONSTRUCT 或 DESCRIBE 查詢"
                )
            else:
                media, body = RESULTS_JSON, to_json(outcome)
    except Refused as r:
        return _error(state, r.status, r.message, query, r.headers)
    return Response(body, mimetype=media, headers=headers)
