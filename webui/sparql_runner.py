"""Run read-only SPARQL with a time limit and a row cap, and render results in the SPARQL 1.1 result formats.

Oxigraph cannot cancel a running query, so the query runs in a daemon worker thread: the request gives up after the
time limit (503), the worker stops at the next row it would produce, and a fixed number of worker slots keeps
abandoned heavy queries from piling up.
"""

from __future__ import annotations

import csv
import io
import json
import threading
from dataclasses import dataclass, field

from rdflib import BNode, Dataset, Graph, Literal, URIRef
from rdflib.query import Result

from kg.errors import QueryError
from kg.sparql import execute


class QueryTimeout(Exception):
    """The query did not finish within the time limit."""


class QueryBusy(Exception):
    """Every worker slot is taken (by queries still running or given up on)."""


@dataclass
class Outcome:
    kind: str  # SELECT, ASK, CONSTRUCT or DESCRIBE
    variables: list[str] = field(default_factory=list)
    rows: list[tuple] = field(default_factory=list)
    boolean: bool | None = None
    graph: Graph | None = None
    truncated: bool = False


class SparqlRunner:
    def __init__(self, dataset: Dataset, timeout: float, max_rows: int, workers: int = 4) -> None:
        self.dataset = dataset
        self.timeout = timeout
        self.max_rows = max_rows
        self._slots = threading.BoundedSemaphore(workers)

    def run(self, query: str) -> Outcome:
        if not self._slots.acquire(blocking=False):
            raise QueryBusy()
        box: dict[str, object] = {}
        done = threading.Event()
        cancel = threading.Event()

        def work() -> None:
            try:
                box["outcome"] = self._evaluate(query, cancel)
            except BaseException as exc:  # handed to the request thread, which decides what to answer
                box["error"] = exc
            finally:
                self._slots.release()
                done.set()

        # A daemon thread: a query still running when the server stops must not keep the process alive.
        threading.Thread(target=work, name="sparql-query", daemon=True).start()
        if not done.wait(self.timeout):
            cancel.set()
            raise QueryTimeout()
        if "error" in box:
            raise box["error"]  # type: ignore[misc]
        return box["outcome"]  # type: ignore[return-value]

    def _evaluate(self, query: str, cancel: threading.Event) -> Outcome:
        result: Result = execute(self.dataset, query)  # refuses updates, turns parse errors into QueryError
        try:
            if result.type == "ASK":
                return Outcome("ASK", boolean=bool(result.askAnswer))
            if result.type in ("CONSTRUCT", "DESCRIBE"):
                g = Graph()
                for prefix, ns in self.dataset.namespaces():
                    g.bind(prefix, ns)
                truncated = False
                for i, t in enumerate(result):
                    if i >= self.max_rows:
                        truncated = True
                        break
                    g.add(t)
                return Outcome(result.type, graph=g, truncated=truncated)
            out = Outcome("SELECT", variables=[str(v) for v in result.vars or []])
            for i, row in enumerate(result):
                if cancel.is_set():
                    break
                if i >= self.max_rows:
                    out.truncated = True
                    break
                out.rows.append(tuple(row))
            return out
        except QueryError:
            raise
        except Exception as exc:  # evaluation errors surface while iterating, after execute() returned
            raise QueryError(f"query failed: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") \
                from None
        finally:
            # Oxigraph's solution iterator may only be freed by the thread that made it. When we stop early (row
            # cap, cancel) rdflib's pending generator sits in a reference cycle that the garbage collector could
            # free from any thread, so close it here, in the worker.
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
    return (o.graph or Graph()).serialize(format="turtle")
