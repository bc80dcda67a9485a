"""The interactive graph view: find a start node, expand neighbours, filter by type, open a node's page."""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, render_template, request, url_for
from flask.typing import ResponseReturnValue

from webui.graphindex import KINDS, Node
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


@bp.get("/graph")
def view() -> ResponseReturnValue:
    state = get_state()
    start = request.args.get("id", "")
    if start and state.graph.node(start) is None:
        abort(404, description=f"關係圖中沒有節點「{start}」")
    return render_template("graph.html", kinds=KINDS, start=start, counts=state.graph.counts())


@bp.get("/api/graph/node")
def node() -> ResponseReturnValue:
    state = get_state()
    iri = request.args.get("id", "").strip()
    if not iri:
        raise ParamError("缺少參數 id（節點的 IRI，例如 https://w3id.org/spkg/id/system/hotline-1999）")
    limit = get_int(request.args, "limit", 200, 1, 1000)
    if state.graph.node(iri) is None:
        abort(404, description=f"關係圖中沒有節點「{iri}」")
    data = state.graph.neighbourhood(iri, limit)
    data["node"] = _with_url(data["node"])
    data["neighbours"] = [_with_url(n) for n in data["neighbours"]]
    return jsonify(data)


@bp.get("/api/graph/find")
def find() -> ResponseReturnValue:
    state = get_state()
    q = get_query(request.args, "q", required=True)
    limit = get_int(request.args, "limit", 20, 1, 100)
    return jsonify({"query": q, "results": [_with_url(n) for n in state.graph.find(q, limit, _kinds())]})
