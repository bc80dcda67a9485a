"""Read-only SPARQL over the store: evaluation with a row cap, and the SPARQL 1.1 result formats."""

from __future__ import annotations

import csv
import io
import json
import re
import threading
from dataclasses import dataclass, field

from rdflib import BNode, Dataset, Graph, Literal, URIRef
from rdflib.query import Result

from kg.errors import QueryError

UPDATE = re.compile(
    r"^\s*(?:(?:PREFIX|BASE)\s+[^\n]*\s*)*(INSERT|DELETE|LOAD|CLEAR|CREATE|DROP|COPY|MOVE|ADD|WITH)\b", re.I | re.S
)
MAX_ROWS = 10_000


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


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
        raise QueryError(f"bad SPARQL query: {_first_line(exc)}") from None


@dataclass
class Outcome:
    """A query's answer, materialised: SELECT rows (terms), an ASK boolean or a CONSTRUCT/DESCRIBE graph."""

    kind: str  # SELECT, ASK, CONSTRUCT or DESCRIBE
    variables: list[str] = field(default_factory=list)
    rows: list[tuple] = field(default_factory=list)
    boolean: bool | None = None
    graph: Graph | None = None
    truncated: bool = False


def evaluate(ds: Dataset, query: str, max_rows: int = MAX_ROWS, cancel: threading.Event | None = None) -> Outcome:
    """Run a read-only query up to max_rows results; stop early when cancel is set (a timed-out request)."""
    result: Result = execute(ds, query)
    try:
        if result.type == "ASK":
            return Outcome("ASK", boolean=bool(result.askAnswer))
        if result.type in ("CONSTRUCT", "DESCRIBE"):
            g = Graph()
            for prefix, ns in ds.namespaces():
                g.bind(prefix, ns)
            out = Outcome(result.type, graph=g)
            for i, t in enumerate(result):
                if i >= max_rows:
                    out.truncated = True
                    break
                g.add(t)
            return out
        out = Outcome("SELECT", variables=[str(v) for v in result.vars or []])
        for i, row in enumerate(result):
            if cancel is not None and cancel.is_set():
                break
            if i >= max_rows:
                out.truncated = True
                break
            out.rows.append(tuple(row))
        return out
    except QueryError:
        raise
    except Exception as exc:  # evaluation errors surface while iterating, after execute() returned
        raise QueryError(f"query failed: {_first_line(exc)}") from None
    finally:
        # Oxigraph's solution iterator may only be freed by the thread that made it. When we stop early (row cap,
        # cancel) rdflib's pending generator sits in a reference cycle that the garbage collector could free from
        # any thread, so close it here, in the evaluating thread.
        pending = getattr(result, "_genbindings", None)
        if pending is not None:
            pending.close()
            result._genbindings = None


def _term_json(term: object) -> dict | None:
    if term is None:
        return None
    if isinstance(term, URIRef):
        return {"type": "uri", "value": str(term)}
    if isinstance(term, BNode):
        return {"type": "bnode", "value": str(term)}
    cell = {"type": "literal", "value": str(term)}
    if isinstance(term, Literal):
        if term.language:
            cell["xml:lang"] = term.language
        elif term.datatype:
            cell["datatype"] = str(term.datatype)
    return cell


def to_json(o: Outcome) -> str:
    if o.kind == "ASK":
        return json.dumps({"head": {}, "boolean": o.boolean})
    bindings = []
    for row in o.rows:
        b = {}
        for name, term in zip(o.variables, row, strict=False):
            cell = _term_json(term)
            if cell is not None:
                b[name] = cell
        bindings.append(b)
    return json.dumps({"head": {"vars": o.variables}, "results": {"bindings": bindings}}, ensure_ascii=False)


def to_csv(o: Outcome) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")  # SPARQL 1.1 CSV results use CRLF line ends
    if o.kind == "ASK":
        w.writerow(["boolean"])
        w.writerow(["true" if o.boolean else "false"])
        return buf.getvalue()
    w.writerow(o.variables)
    for row in o.rows:
        w.writerow(["" if t is None else str(t) for t in row])
    return buf.getvalue()


def to_tsv(o: Outcome) -> str:
    if o.kind == "ASK":
        return "?boolean\n" + ("true" if o.boolean else "false") + "\n"
    lines = ["\t".join("?" + v for v in o.variables)]
    for row in o.rows:
        # TSV results write terms in Turtle syntax; tabs and newlines inside literals are escaped by n3().
        lines.append("\t".join("" if t is None else t.n3() for t in row))
    return "\n".join(lines) + "\n"


def to_turtle(o: Outcome) -> str:
    if o.graph is None:
        raise QueryError("Turtle output needs a CONSTRUCT or DESCRIBE query")
    return o.graph.serialize(format="turtle")


def to_table(o: Outcome) -> str:
    """Plain values separated by tabs, for reading in a terminal."""
    if o.kind == "ASK":
        return "true" if o.boolean else "false"
    if o.graph is not None:
        return to_turtle(o)
    lines = ["\t".join(o.variables)] + ["\t".join("" if t is None else str(t) for t in row) for row in o.rows]
    if o.truncated:
        lines.append(f"# cut at {len(o.rows)} rows")
    return "\n".join(lines)


RENDER = {
    "table": (to_table, "text/plain"),
    "csv": (to_csv, "text/csv"),
    "json": (to_json, "application/sparql-results+json"),
    "tsv": (to_tsv, "text/tab-separated-values"),
    "ttl": (to_turtle, "text/turtle"),
}


def run_query(ds: Dataset, query: str, fmt: str = "table", limit: int = MAX_ROWS) -> tuple[str, str]:
    """Run a query and render it; returns (body, media type)."""
    render, media = RENDER[fmt]
    outcome = evaluate(ds, query, limit)
    if outcome.graph is not None and fmt in ("csv", "json", "tsv"):
        return to_turtle(outcome), "text/turtle"
    return render(outcome), media
