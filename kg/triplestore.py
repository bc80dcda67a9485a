"""Where the graph lives: the data dir's own on-disk Oxigraph store, or a SPARQL 1.1 server.

    open_store(location)      a store folder (EmbeddedStore, opened read-only) or an http(s) URL (RemoteStore)
    store.select(q, bindings) the rows of a trusted SELECT, values as str / int / float / None (IRIs as str)
    store.answer(req, …)      a checked query (kg.sparql) answered as kg.sparql_worker.answer does
    store.put_graph / delete_graph   the Graph Store HTTP Protocol (a remote store only: the embedded one is written
                              by kg.store into a new generation)

A RemoteStore is given the server's SPARQL query endpoint; its Graph Store Protocol endpoint is the one the server
names next to it (Oxigraph: .../query and .../store), or given. Requests follow no redirect, are bounded in time
and size, and every failure is one line naming the URL.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from kg.errors import PlanError

XSD = "http://www.w3.org/2001/XMLSchema#"
# The prefixes every query may use undeclared (and exports bind), as plain strings: reading them loads no RDF library.
PREFIXES = {
    "sp": "https://w3id.org/spkg/ontology#",
    "id": "https://w3id.org/spkg/id/",
    "org": "http://www.w3.org/ns/org#",
    "oa": "http://www.w3.org/ns/oa#",
    "cpsv": "http://purl.org/vocab/cpsv#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "prov": "http://www.w3.org/ns/prov#",
    "dcterms": "http://purl.org/dc/terms/",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "xsd": XSD,
    "owl": "http://www.w3.org/2002/07/owl#",
    "foaf": "http://xmlns.com/foaf/0.1/",
}
_INTS = {XSD + t for t in ("integer", "int", "long", "short", "byte", "nonNegativeInteger", "positiveInteger")}
_INTS |= {XSD + t for t in ("negativeInteger", "nonPositiveInteger", "unsignedInt", "unsignedLong", "gYear")}
_FLOATS = {XSD + t for t in ("decimal", "double", "float")}
ENV = "KG_STORE"  # the store's location when --store is not given
GSP_ENV = "KG_GRAPH_STORE"  # the Graph Store Protocol endpoint, when it cannot be told from the query endpoint
TIMEOUT = 30.0


class TripleStoreError(PlanError):
    """The store cannot be reached or refused a request: one line naming its URL or folder."""


class Iri(str):
    """A binding that is an IRI (a plain str binds a string literal)."""


def value(cell: list | None) -> str | int | float | None:
    """A term of kg.sparql_worker's answer (['u', iri] / ['b', id] / ['l', text, datatype, lang]) as a Python value."""
    if cell is None:
        return None
    if cell[0] == "l":
        text, datatype = cell[1], cell[2]
        try:
            if datatype in _INTS:
                return int(text)
            if datatype in _FLOATS:
                return float(text)
        except ValueError:
            return text
        return text
    if cell[0] == "b":
        return "_:" + cell[1]
    return cell[1]


def _term(v: object) -> str:
    if isinstance(v, Iri):
        return f"<{v}>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return f'"{v}"^^<{XSD}integer>'
    if isinstance(v, float):
        return f'"{v!r}"^^<{XSD}double>'
    text = str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{text}"'


def with_bindings(query: str, bindings: Mapping[str, object] | None) -> str:
    """The query with a VALUES block binding the variables given (appended: SPARQL's trailing ValuesClause)."""
    if not bindings:
        return query
    names = list(bindings)
    return f"{query}\nVALUES ({' '.join('?' + n for n in names)}) {{ ({' '.join(_term(bindings[n]) for n in names)}) }}"


class TripleStore:
    location: str
    remote: bool = False

    def select(self, query: str, bindings: Mapping[str, object] | None = None) -> list[dict]:
        """The rows of a SELECT (the web pages' own, trusted queries: no limits), each {variable: value}."""
        data = self.answer({"query": with_bindings(query, bindings), "union": True}, TIMEOUT, 1 << 30)
        if "error" in data:
            raise TripleStoreError(self.location, f"query failed: {data.get('message', '')}")
        return [dict(zip(data["vars"], map(value, row), strict=True)) for row in data["rows"]]

    def answer(self, req: dict, timeout: float, max_bytes: int) -> dict:
        raise NotImplementedError

    def close(self) -> None:
        pass


class EmbeddedStore(TripleStore):
    """The on-disk Oxigraph store of one generation, opened read-only (any number of readers, during a build too)."""

    def __init__(self, path: str | Path) -> None:
        self.location = str(path)
        self._store: Any = None

    def _open(self) -> Any:
        if self._store is None:
            import pyoxigraph as ox

            try:
                self._store = ox.Store.read_only(self.location)
            except OSError as exc:
                raise TripleStoreError(
                    self.location, f"cannot open the graph store: {str(exc).splitlines()[0]}"
                ) from None
        return self._store

    def answer(self, req: dict, timeout: float, max_bytes: int) -> dict:  # noqa: ARG002 - in-process: no limits
        from kg.sparql_worker import answer_in_thread

        return answer_in_thread(self._open(), dict(req, max_rows=req.get("max_rows", 1 << 62)))

    def close(self) -> None:
        self._store = None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001, ARG002
        raise urllib.error.HTTPError(req.full_url, code, f"redirected to {newurl} (not followed)", headers, fp)


_OPENER = urllib.request.build_opener(_NoRedirect, urllib.request.ProxyHandler({}))


def graph_store_url(query_url: str) -> str | None:
    """The Graph Store Protocol endpoint next to a query endpoint, where the server's layout tells it."""
    parts = urllib.parse.urlsplit(query_url)
    path = parts.path.rstrip("/")
    for tail, gsp in (("/query", "/store"), ("/sparql", "/data")):  # Oxigraph; Fuseki's /DATASET/sparql
        if path.endswith(tail):
            return urllib.parse.urlunsplit(parts._replace(path=path[: -len(tail)] + gsp, query=""))
    return None


class RemoteStore(TripleStore):
    """A SPARQL 1.1 server: queries by the query protocol, graphs written by the Graph Store HTTP Protocol."""

    remote = True

    def __init__(self, query_url: str, graph_store: str | None = None, union_param: bool | None = None) -> None:
        parts = urllib.parse.urlsplit(query_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise TripleStoreError(query_url, "a SPARQL store is given by its http:// or https:// query URL")
        self.location = query_url
        self.graph_store = graph_store or os.environ.get(GSP_ENV) or graph_store_url(query_url)
        # Oxigraph's server takes union-default-graph per query; other servers have their own setting for it.
        self.union_param = path_is_oxigraph(parts.path) if union_param is None else union_param

    # ----- HTTP

    def _request(
        self, method: str, url: str, body: bytes | None, headers: dict[str, str], timeout: float, max_bytes: int
    ) -> tuple[int, str, bytes]:
        req = urllib.request.Request(url, data=body, method=method, headers=headers)
        try:
            with _OPENER.open(req, timeout=timeout) as resp:
                data = resp.read(max_bytes + 1)
                return resp.status, resp.headers.get("Content-Type", ""), data
        except urllib.error.HTTPError as exc:
            detail = ""
            try:
                detail = exc.read(2000).decode("utf-8", "replace").strip().splitlines()[0]
            except (OSError, IndexError):
                pass
            return exc.code, "", (detail or str(exc.reason)).encode()
        except TimeoutError:
            raise TripleStoreError(url, f"the SPARQL store gave no answer within {timeout:g} s") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            why = getattr(exc, "reason", exc)
            raise TripleStoreError(url, f"cannot reach the SPARQL store: {why}") from None

    def _fail(self, url: str, status: int, detail: bytes, what: str) -> TripleStoreError:
        text = detail.decode("utf-8", "replace").strip().replace("\n", " ")[:300]
        return TripleStoreError(url, f"the SPARQL store answered {status} to {what}: {text}")

    # ----- reading

    def answer(self, req: dict, timeout: float, max_bytes: int) -> dict:
        """A query forwarded by the SPARQL protocol, answered in kg.sparql_worker's terms (rows capped, size capped)."""
        query = "".join(f"PREFIX {p}: <{iri}>\n" for p, iri in (req.get("prefixes") or {}).items()) + req["query"]
        params: list[tuple[str, str]] = []
        if req.get("default_graph") is not None:
            params += [("default-graph-uri", g) for g in req["default_graph"]]
        elif req.get("union") and self.union_param:
            params.append(("union-default-graph", ""))
        params += [("named-graph-uri", g) for g in req.get("named_graphs") or []]
        url = self.location + ("?" + urllib.parse.urlencode(params) if params else "")
        headers = {
            "Content-Type": "application/sparql-query; charset=utf-8",
            "Accept": "application/sparql-results+json, application/n-triples;q=0.9",
        }
        status, media, data = self._request("POST", url, query.encode("utf-8"), headers, timeout, max_bytes)
        if status == 400:
            return {"error": "syntax", "message": data.decode("utf-8", "replace")[:300]}
        if status >= 300:
            raise self._fail(self.location, status, data, "a query")
        if len(data) > max_bytes:
            return {"error": "eval", "message": f"the answer is over {max_bytes >> 20} MB"}
        return _parse_answer(media, data, int(req.get("max_rows", 10_000)), int(req.get("max_chars", 32 << 20)))

    def probe(self) -> None:
        """Fail with one line unless the server answers a query (before anything is written)."""
        self.answer({"query": "ASK {}"}, 10.0, 1 << 16)

    # ----- writing (the Graph Store HTTP Protocol)

    def _gsp(self, graph: str) -> str:
        if not self.graph_store:
            raise TripleStoreError(
                self.location, f"its Graph Store Protocol endpoint cannot be told from this URL: set {GSP_ENV}"
            )
        return f"{self.graph_store}?{urllib.parse.urlencode({'graph': graph})}"

    def put_graph(self, graph: str, ntriples: bytes) -> None:
        """Replace one named graph (created when absent)."""
        url = self._gsp(graph)
        status, _, data = self._request("PUT", url, ntriples, {"Content-Type": "application/n-triples"}, 600, 1 << 16)
        if status not in (200, 201, 204):
            raise self._fail(url, status, data, f"PUT of the graph <{graph}>")

    def delete_graph(self, graph: str) -> None:
        """Remove one named graph (one that is not there is no error)."""
        url = self._gsp(graph)
        status, _, data = self._request("DELETE", url, None, {}, 600, 1 << 16)
        if status not in (200, 202, 204, 404):
            raise self._fail(url, status, data, f"DELETE of the graph <{graph}>")

    def put_graphs(self, graphs: Iterable[tuple[str, bytes]]) -> None:
        for name, data in graphs:
            self.put_graph(name, data)


def path_is_oxigraph(path: str) -> bool:
    return path.rstrip("/").endswith("/query")


def _parse_answer(media: str, data: bytes, max_rows: int, max_chars: int) -> dict:
    media = media.split(";")[0].strip().lower()
    if media in ("application/n-triples", "text/plain", "application/n-quads"):
        import pyoxigraph as ox

        triples: list[list] = []
        truncated = False
        for q in ox.parse(data, ox.RdfFormat.N_TRIPLES):
            if len(triples) >= max_rows:
                truncated = True
                break
            triples.append([_ox_cell(q.subject), _ox_cell(q.predicate), _ox_cell(q.object)])
        return {"kind": "GRAPH", "triples": triples, "truncated": truncated}
    try:
        doc = json.loads(data)
    except ValueError:
        return {"error": "eval", "message": f"the store's answer is not SPARQL JSON results ({media or 'no type'})"}
    if "boolean" in doc:
        return {"kind": "ASK", "boolean": bool(doc["boolean"])}
    variables = list(doc.get("head", {}).get("vars", []))
    rows: list[list] = []
    size = 0
    truncated = False
    for binding in doc.get("results", {}).get("bindings", []):
        if len(rows) >= max_rows:
            truncated = True
            break
        row = [_json_cell(binding.get(v)) for v in variables]
        size += sum(len(c[1]) for c in row if c is not None)
        if size > max_chars:
            truncated = True
            break
        rows.append(row)
    return {"kind": "SELECT", "vars": variables, "rows": rows, "truncated": truncated}


def _json_cell(t: dict | None) -> list | None:
    if t is None:
        return None
    kind = t.get("type")
    if kind == "uri":
        return ["u", t["value"]]
    if kind == "bnode":
        return ["b", t["value"]]
    lang = t.get("xml:lang")
    datatype = t.get("datatype") or (
        "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString" if lang else XSD + "string"
    )
    return ["l", t["value"], datatype, lang]


def _ox_cell(term: Any) -> list:
    from kg.sparql_worker import _cell

    return _cell(term)


def open_store(location: str | Path) -> TripleStore:
    """An http(s) URL is a SPARQL server; anything else is a store folder."""
    text = str(location)
    if text.startswith(("http://", "https://")) or "://" in text:
        return RemoteStore(text)
    return EmbeddedStore(text)
