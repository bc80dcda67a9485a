"""The interactive graph view: find a start node, expand neighbours (all, or one relation), filter types and
relations, find the paths between two nodes, share the scene by its URL, open a node's page."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify, render_template, request, url_for
from flask.typing import ResponseReturnValue

from kg.vocab import ID
from webui.counts import counts, totals
from webui.graphindex import (
    DEFAULT_HOPS,
    DERIVED_LABELS,
    KINDS,
    MAX_HOPS,
    MAX_PATHS,
    NEIGHBOURS,
    RELATION_NOTES,
    GraphIndex,
    Node,
)
from webui.params import ParamError, get_int, get_query
from webui.state import get_state

bp = Blueprint("graph", __name__)

# The page each node type opens, with the name of the URL argument that takes the node's key.
PAGES = {
    "plan": ("browse.plan", "pid"),
    "agency": ("browse.agency", "aid"),
    "unit": ("browse.unit", "uid"),
    "measure": ("measures.measure", "mid"),
    "system": ("browse.system", "sid"),
    "practice": ("browse.practice", "tid"),
    "framework": ("browse.framework_item", "notation"),
    "law": ("browse.law", "lid"),
    "programme": ("browse.programme", "pid"),
}

MAX_REF_CHARS = 300  # a node reference (an IRI) is far shorter; anything longer is not one
MAX_OFFSET = 1_000_000  # where a node's neighbours may be asked from (a hub of the largest graph has a few thousand)
MAX_SCENE_NODES = 1000  # a shared scene restores at most this many nodes (the whole sample graph has ~520)


def page_url(node: Node | dict) -> str:
    kind, key = (node.kind, node.key) if isinstance(node, Node) else (node["type"], node["key"])
    endpoint, arg = PAGES[kind]
    return url_for(endpoint, **{arg: key})


def _with_url(node: dict) -> dict:
    return dict(node, url=page_url(node))


def _kinds() -> set[str] | None:
    kinds = {k for k in request.args.getlist("type") if k}
    unknown = kinds - set(KINDS)
    if unknown:
        raise ParamError(f"未知的節點類型：{'、'.join(sorted(unknown))}（可用：{'、'.join(KINDS)}）")
    return kinds or None


def _relations() -> set[str] | None:
    rels = {r for r in request.args.getlist("rel") if r}
    unknown = rels - set(RELATION_NOTES)
    if unknown:
        raise ParamError(f"參數 rel：未知的關係「{'、'.join(sorted(unknown))}」（可用：{'、'.join(RELATION_NOTES)}）")
    return rels or None


def _node_ref(graph: GraphIndex, name: str) -> str:
    """The IRI a parameter names (a full IRI or its part after the id namespace); 400 naming the parameter if not."""
    raw = request.args.get(name, "").strip()
    if not raw:
        raise ParamError(f"缺少參數 {name}（節點的 IRI，例如 {ID}system/hotline-1999）")
    if len(raw) > MAX_REF_CHARS:
        raise ParamError(f"參數 {name} 太長（最多 {MAX_REF_CHARS} 字）")
    iri = graph.resolve(raw)
    if iri is None:
        raise ParamError(f"參數 {name}：關係圖中沒有節點「{raw}」")
    return iri


def _legend_counts(state) -> dict[str, int]:
    """The number of each kind the legend shows: the site's own counts (webui.counts), so that the graph says what
    the home page and the lists say; agencies include the parent agencies the graph draws too."""
    t = totals(state)
    return {
        "programme": t["programmes"],
        "plan": t["plans"],
        "agency": t["agency_nodes"],
        "unit": t["units"],
        "measure": t["measures"],
        "system": t["systems"],
        "practice": t["practice_types"],
        "framework": t["framework_items"],
        "law": t["laws"],
    }


@bp.get("/graph")
def view() -> ResponseReturnValue:
    state = get_state()
    start = request.args.get("id", "")
    if start and state.graph.node(start) is None:
        abort(404, description=f"關係圖中沒有節點「{start}」")
    t = totals(state)
    relations = [
        {"label": label, "note": RELATION_NOTES[label], "count": n, "derived": label in DERIVED_LABELS}
        for label, n in state.graph.relation_totals(counts(state).links).items()
    ]
    return render_template(
        "graph.html",
        kinds=KINDS,
        start=start,
        counts=_legend_counts(state),
        agency_note=f"機關 {t['agencies']}、上級機關 {t['parent_agencies']}",
        relations=relations,
        id_base=str(ID),
        default_hops=DEFAULT_HOPS,
        max_hops=MAX_HOPS,
    )


@bp.get("/api/graph/node")
def node() -> ResponseReturnValue:
    state = get_state()
    iri = request.args.get("id", "").strip()
    if not iri:
        raise ParamError("缺少參數 id（節點的 IRI，例如 https://w3id.org/spkg/id/system/hotline-1999）")
    limit = get_int(request.args, "limit", int(current_app.config.get("GRAPH_NEIGHBOURS") or NEIGHBOURS), 1, 1000)
    offset = get_int(request.args, "offset", 0, 0, MAX_OFFSET)
    relations = _relations()
    if state.graph.node(iri) is None:
        abort(404, description=f"關係圖中沒有節點「{iri}」")
    data = state.graph.neighbourhood(iri, limit, relations, offset)
    data["node"] = _with_url(data["node"])
    data["neighbours"] = [_with_url(n) for n in data["neighbours"]]
    return jsonify(data)


@bp.get("/api/graph/find")
def find() -> ResponseReturnValue:
    state = get_state()
    q = get_query(request.args, "q", required=True)
    limit = get_int(request.args, "limit", 20, 1, 100)
    kinds = _kinds()
    key = ("graph.find", q, limit, tuple(sorted(kinds or ())))
    found = state.cache.get(key, lambda: state.graph.find(q, limit, kinds))  # a scan of every label: keep answers
    return jsonify({"query": q, "results": [_with_url(n) for n in found]})


@bp.get("/api/graph/paths")
def paths() -> ResponseReturnValue:
    """Up to MAX_PATHS shortest paths between two nodes over the stated links, of at most max_hops links each."""
    state = get_state()
    graph = state.graph
    source = _node_ref(graph, "from")
    target = _node_ref(graph, "to")
    hops = get_int(request.args, "max_hops", DEFAULT_HOPS, 1, MAX_HOPS)
    if source == target:
        raise ParamError("參數 from 與 to 是同一個節點：請選兩個不同的節點")
    found = state.cache.get(("graph.paths", source, target, hops), lambda: graph.paths(source, target, hops))
    on_paths = list(dict.fromkeys(i for p in found for i in p))
    return jsonify(
        {
            "from": source,
            "to": target,
            "max_hops": hops,
            "limit": MAX_PATHS,
            "paths": [{"hops": len(p) - 1, "nodes": p, "edges": graph.path_edges(p)} for p in found],
            "nodes": [_with_url(dict(graph.describe(i), links=graph.links(i))) for i in on_paths],
            "message": "" if found else f"{hops} 步之內找不到兩者之間的路徑",
        }
    )


@bp.get("/api/graph/subgraph")
def subgraph() -> ResponseReturnValue:
    """The nodes a shared scene names (comma-separated, full IRIs or their part after the id namespace) and every
    link among them; names the graph no longer has (a later build) are listed as missing, not refused."""
    state = get_state()
    raw = request.args.get("ids", "")
    refs = [r.strip() for r in raw.split(",") if r.strip()]
    if not refs:
        raise ParamError("缺少參數 ids（以逗號分隔的節點 IRI）")
    if len(refs) > MAX_SCENE_NODES:
        raise ParamError(f"參數 ids 最多 {MAX_SCENE_NODES} 個節點（收到 {len(refs)} 個）")
    if any(len(r) > MAX_REF_CHARS for r in refs):
        raise ParamError(f"參數 ids 中有太長的節點名稱（每個最多 {MAX_REF_CHARS} 字）")
    iris, missing = [], []
    for r in refs:
        iri = state.graph.resolve(r)
        (iris if iri else missing).append(iri or r)
    data = state.graph.subgraph(list(dict.fromkeys(iris)))
    data["nodes"] = [_with_url(n) for n in data["nodes"]]
    data["missing"] = missing
    return jsonify(data)
