"""Read-only SPARQL over the store, with results as a table, CSV, SPARQL JSON or Turtle."""

from __future__ import annotations

import csv
import io
import json
import re

from rdflib import Dataset, Graph
from rdflib.query import Result

from kg.errors import QueryError

UPDATE = re.compile(
    r"^\s*(?:(?:PREFIX|BASE)\s+[^\n]*\s*)*(INSERT|DELETE|LOAD|CLEAR|CREATE|DROP|COPY|MOVE|ADD|WITH)\b", re.I | re.S
)
MAX_ROWS = 10_000


def check_read_only(query: str) -> None:
    """Refuse SPARQL Update: the graph is rebuilt from plans, never edited in place."""
    cleaned = re.sub(r"#[^\n]*", "", query)
    if UPDATE.search(cleaned):
        raise QueryError("updates are not allowed: this endpoint is read-only (rebuild from plans with 'kg build')")


def execute(ds: Dataset, query: str) -> Result:
    check_read_only(query)
    try:
        return ds.query(query)
    except Exception as exc:  # rdflib and oxigraph raise many types for a bad query
        raise QueryError(f"bad SPARQL query: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None


def result_rows(result: Result, limit: int = MAX_ROWS) -> tuple[list[str], list[list[str]], bool]:
    """Variables, rows (as strings) and whether rows were cut at the limit."""
    names = [str(v) for v in result.vars or []]
    rows = []
    for i, row in enumerate(result):
        if i >= limit:
            return names, rows, True
        rows.append(["" if v is None else str(v) for v in row])
    return names, rows, False


def run_query(ds: Dataset, query: str, fmt: str = "table", limit: int = MAX_ROWS) -> tuple[str, str]:
    """Run a query and render it; returns (body, media type)."""
    result = execute(ds, query)
    if result.type == "ASK":
        if fmt == "json":
            return json.dumps({"head": {}, "boolean": bool(result.askAnswer)}), "application/sparql-results+json"
        return ("true" if result.askAnswer else "false"), "text/plain"
    if result.type in ("CONSTRUCT", "DESCRIBE"):
        g = Graph()
        for i, t in enumerate(result):
            if i >= limit:
                break
            g.add(t)
        return g.serialize(format="turtle"), "text/turtle"
    names, rows, cut = result_rows(result, limit)
    if fmt == "json":
        bindings = []
        result_iter = execute(ds, query)
        for i, row in enumerate(result_iter):
            if i >= limit:
                break
            b = {}
            for name, v in zip(names, row, strict=False):
                if v is None:
                    continue
                kind = (
                    "uri"
                    if v.__class__.__name__ == "URIRef"
                    else "bnode"
                    if v.__class__.__name__ == "BNode"
                    else "literal"
                )
                cell = {"type": kind, "value": str(v)}
                if kind == "literal" and getattr(v, "language", None):
                    cell["xml:lang"] = v.language
                elif kind == "literal" and getattr(v, "datatype", None):
                    cell["datatype"] = str(v.datatype)
                b[name] = cell
            bindings.append(b)
        return json.dumps(
            {"head": {"vars": names}, "results": {"bindings": bindings}}, ensure_ascii=False
        ), "application/sparql-results+json"
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow(names)
        w.writerows(rows)
        return buf.getvalue(), "text/csv"
    if fmt == "ttl":
        raise QueryError("Turtle output needs a CONSTRUCT or DESCRIBE query")
    lines = ["\t".join(names)] + ["\t".join(r) for r in rows]
    if cut:
        lines.append(f"# cut at {limit} rows")
    return "\n".join(lines), "text/tab-separated-values"
