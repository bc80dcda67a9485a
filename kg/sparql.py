"""Read-only SPARQL over the store, for `kg sparql` and the web endpoint alike.

A query goes through three steps:

1. check_query: before the engine sees it, the query is bounded in size and in the nesting of its brackets, and
   refused if it is an update or uses SERVICE. This is decided on tokens (a tokenizer that follows Oxigraph's own
   grammar for strings, IRIs, comments, prefixed names and variables), so neither a comment nor a string can fool it.
2. evaluation in a worker process (kg.sparql_worker) with a time limit, a memory limit and no network, the store
   opened read-only by the worker itself. FROM / FROM NAMED keep their meaning over the local graphs (one per plan,
   plus the ontology, framework and practices graphs); without them the default graph is the union of all graphs.
3. the answer, materialised with a row cap, rendered in the SPARQL 1.1 result formats.

An rdflib Dataset (what older callers pass) is evaluated in this process instead, after the same checks.
"""

from __future__ import annotations

import csv
import io
import json
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from rdflib import BNode, Dataset, Graph, Literal, URIRef

from kg.errors import QueryError
from kg.sparql_sort import OrderPlan
from kg.sparql_sort import split as split_order
from kg.sparql_worker import MEMORY_MB, WorkerError, WorkerPool, answer_in_thread
from kg.triplestore import PREFIXES, RemoteStore, TripleStoreError

MAX_ROWS = 10_000  # rows (or triples) an answer holds at most
MAX_QUERY_BYTES = 20 * 1024  # the longest query text accepted (UTF-8)
MAX_DEPTH = 64  # brackets ({ ( [ and <<) open at once
TIMEOUT = 10.0  # seconds a query may run
MAX_ANSWER_CHARS = 16 << 20  # characters of all terms of an answer together (then it is cut, as at the row cap)

XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
UPDATE_WORDS = {"insert", "delete", "load", "clear", "create", "drop", "copy", "move", "add", "with"}
FORMS = {"select", "construct", "describe", "ask"}
# Functions whose value differs from one evaluation to the next: a query using one is never answered from a cache.
FRESH_WORDS = {"now", "rand", "uuid", "struuid", "bnode"}


# ---------------------------------------------------------------- errors (all are QueryError: the CLI prints them)


class QueryRefused(QueryError):
    """A query not run at all; reason: update, service, size or depth."""

    status = 400

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class QueryTooLarge(QueryRefused):
    status = 413


class QuerySyntaxError(QueryError):
    """The engine could not parse the query."""

    status = 400


class QueryLimitError(QueryError):
    """The query was stopped (or not started) for a resource limit."""

    status = 503


class QueryTimeout(QueryLimitError):
    pass


class QueryMemoryError(QueryLimitError):
    pass


class QueryBusy(QueryLimitError):
    """Every worker is running a query."""


class QueryStoreError(QueryError):
    """The SPARQL server given as the store could not be reached or failed."""

    status = 502


class QueryCrashed(QueryError):
    """The process running the query stopped without an answer (or could not be started)."""

    status = 500


@dataclass(frozen=True)
class Limits:
    timeout: float = TIMEOUT
    memory_mb: int = MEMORY_MB
    max_rows: int = MAX_ROWS
    max_query_bytes: int = MAX_QUERY_BYTES
    max_depth: int = MAX_DEPTH
    max_answer_chars: int = MAX_ANSWER_CHARS


# ---------------------------------------------------------------- the tokenizer

# Character classes and rules as Oxigraph's SPARQL grammar (spargebra) has them; possessive quantifiers, as its
# PEG parser never gives back what a repetition took.
_BASE = (
    "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02ff\u0370-\u037d\u037f-\u1fff\u200c-\u200d\u2070-\u218f"
    "\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd"
)
_U = _BASE + "_"
_CHARS = _U + "\\-0-9\u00b7\u0300-\u036f\u203f-\u2040"
_PLX = r"%[0-9A-Fa-f]{2}|\\[_~.\-!$&'()*+,;=/?#@%]"
_PN_PREFIX = f"[{_BASE}][{_CHARS}]*+(?:\\.++[{_CHARS}]++)*+"
_PN_LOCAL = f"(?:[{_U}:0-9]|{_PLX})(?:[{_CHARS}:]|{_PLX})*+(?:\\.++(?:[{_CHARS}:]|{_PLX})++)?+"
_ESC = r"\\[tbnrf\"'\\]|\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8}"
_LEX = re.compile(
    "|".join(
        [
            r"(?P<ws>[ \t\r\n]++)",
            r"(?P<comment>#[^\r\n]*+)",
            "(?P<string>"
            + f"'''(?:(?:''|')?+(?:[^'\\\\]|{_ESC}))*+'''"
            + f'|"""(?:(?:""|")?+(?:[^"\\\\]|{_ESC}))*+"""'
            + f"|'(?:[^'\\\\\\n\\r]|{_ESC})*+'"
            + f'|"(?:[^"\\\\\\n\\r]|{_ESC})*+")',
            r"(?P<iri><(?:[^<>\"{}|^`\\\x00-\x20]|\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8})*+>)",
            f"(?P<var>[?$][{_U}0-9][{_U}0-9\u00b7\u0300-\u036f\u203f-\u2040]*+)",
            r"(?P<langtag>@[a-zA-Z]++(?:-[a-zA-Z0-9]++)*+)",
            f"(?P<bnode>_:[{_U}0-9][{_CHARS}]*+(?:\\.++[{_CHARS}]++)*+)",
            f"(?P<pname>(?:{_PN_PREFIX})?+:(?:{_PN_LOCAL})?+)",
            r"(?P<number>(?:[0-9]++\.[0-9]*+|\.[0-9]++|[0-9]++)[eE][+-]?+[0-9]++|[0-9]*+\.[0-9]++|[0-9]++)",
            # a word takes dots inside it as a prefix does, so `a.a.a…` without a colon is not scanned again
            # from each `a` (quadratic); "service" inside it is found all the same
            f"(?P<word>[{_U}][{_CHARS}]*+(?:\\.++[{_CHARS}]++)*+)",
            r"(?P<punct>.)",
        ]
    ),
    re.S,
)
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_UNESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
# Where Oxigraph may read a SERVICE keyword inside what lexes as one prefixed name: at its start, or after a colon
# (an unknown prefix, or a name that makes no valid IRI, is read again as the bare `prefix:` and what follows),
# behind digits, `a`, `true` or `false` that can end a triple without a space.
_SERVICE_IN_NAME = re.compile(r"(?:^|:)(?:[0-9.eE]|a|true|false)*service", re.I)
OPEN, CLOSE = "{([", "})]"


@dataclass
class Token:
    kind: str
    text: str
    start: int = 0  # where it starts in the query


def _iri_valid(text: str) -> bool | None:
    """Whether Oxigraph reads `<text>` as an IRI: True, False, or None when it depends on a BASE."""
    import pyoxigraph as ox

    body = text[1:-1]
    try:
        body = _UNESCAPE.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), body)
        ox.NamedNode(body)
        return True
    except (ValueError, OverflowError):
        return None if not _SCHEME.match(body) else False


def tokens(query: str, relative_iris: bool = False) -> list[Token]:
    """The query's tokens (whitespace and comments dropped), as Oxigraph's parser reads them.

    An IRI Oxigraph would reject is not an IRI to it: its `<` is an operator and what follows is read as code,
    so it is split the same way here. A relative IRI is an IRI only after a BASE: relative_iris says which to
    assume (check_query looks at both readings).
    """
    out: list[Token] = []
    pos = 0
    n = len(query)
    while pos < n:
        m = _LEX.match(query, pos)
        kind = m.lastgroup or "punct"
        text = m.group()
        if kind == "iri":
            valid = _iri_valid(text)
            if not (valid or (valid is None and relative_iris)):
                kind, text = "punct", "<"
        if kind not in ("ws", "comment"):
            out.append(Token(kind, text, pos))
        pos += len(text)
    return out


def _depth(toks: list[Token]) -> int:
    depth = deepest = 0
    i = 0
    while i < len(toks):
        t = toks[i]
        pair = t.kind == "punct" and i + 1 < len(toks) and toks[i + 1].kind == "punct" and toks[i + 1].text == t.text
        if t.kind == "punct" and (t.text in OPEN or (t.text == "<" and pair)):
            depth += 1
            deepest = max(deepest, depth)
        elif t.kind == "punct" and (t.text in CLOSE or (t.text == ">" and pair)):
            depth = max(0, depth - 1)
        i += 2 if pair and t.text in "<>" else 1
    return deepest


def _uses_service(toks: Iterable[Token]) -> bool:
    for t in toks:
        if t.kind == "word" and "service" in t.text.lower():
            return True  # SERVICE itself, or glued to a keyword before it (trueSERVICE)
        if t.kind == "pname" and _SERVICE_IN_NAME.search(t.text):
            return True
    return False


@dataclass
class Checked:
    """A query that passed check_query: its form (SELECT, ASK, CONSTRUCT, DESCRIBE), whether it has FROM, and
    whether its answer is the same at every run on the same data (no NOW(), RAND(), UUID(), STRUUID(), BNODE());
    order: how to sort its answer after evaluation instead of in the engine (kg.sparql_sort), or None."""

    query: str
    form: str
    has_dataset: bool
    repeatable: bool
    order: OrderPlan | None = None


_UPDATE_MESSAGE = "updates are not allowed: this endpoint is read-only (rebuild from plans with 'kg build')"


def check_query(query: str, limits: Limits = Limits()) -> Checked:
    """Refuse (QueryRefused) what must not reach the engine: too long, too deeply nested, an update, SERVICE."""
    size = len(query.encode("utf-8", "surrogatepass"))
    if size > limits.max_query_bytes:
        raise QueryTooLarge(
            "size", f"the query is {size} bytes long; at most {limits.max_query_bytes} bytes are accepted"
        )
    readings = [tokens(query)]
    if any(t.kind == "word" and t.text.lower() == "base" for t in readings[0]):
        readings.append(tokens(query, relative_iris=True))  # a relative IRI is one after BASE, else an operator
    depth = max(_depth(r) for r in readings)
    if depth > limits.max_depth:
        raise QueryRefused(
            "depth",
            f"the query nests brackets {depth} deep; "
            f"at most {limits.max_depth} levels of {{ }}, ( ) and [ ] are accepted",
        )
    words = [t.text.lower() for t in readings[0] if t.kind == "word"]
    first = next((w for w in words if w not in ("prefix", "base")), "")
    if first in UPDATE_WORDS:
        raise QueryRefused("update", _UPDATE_MESSAGE)
    if any(_uses_service(r) for r in readings):
        raise QueryRefused(
            "service",
            "SERVICE (federated query) is not allowed: only the local knowledge graph is queried, no other endpoint "
            "is contacted (a prefixed name that starts with 'service' counts too: write it as a full <IRI>)",
        )
    form = next((w.upper() for w in words if w in FORMS), "")
    order = split_order(query, readings[0]) if len(readings) == 1 else None
    return Checked(query, form, "from" in words, FRESH_WORDS.isdisjoint(words), order)


def check_read_only(query: str) -> None:
    """Refuse SPARQL Update: the graph is rebuilt from plans, never edited in place."""
    words = [t.text.lower() for t in tokens(query[: MAX_QUERY_BYTES * 4]) if t.kind == "word"]
    if next((w for w in words if w not in ("prefix", "base")), "") in UPDATE_WORDS:
        raise QueryRefused("update", _UPDATE_MESSAGE)


# ---------------------------------------------------------------- evaluation


@dataclass
class Outcome:
    """A query's answer, materialised: SELECT rows (terms), an ASK boolean or a CONSTRUCT/DESCRIBE graph."""

    kind: str  # SELECT, ASK, CONSTRUCT or DESCRIBE
    variables: list[str] = field(default_factory=list)
    rows: list[tuple] = field(default_factory=list)
    boolean: bool | None = None
    graph: Graph | None = None
    truncated: bool = False


def _prefixes() -> dict[str, str]:
    return dict(PREFIXES)


def _term(cell: list | None) -> object:
    if cell is None:
        return None
    kind, value = cell[0], cell[1]
    if kind == "u":
        return URIRef(value)
    if kind == "b":
        return BNode(value)
    if kind == "l":
        if cell[3]:
            return Literal(value, lang=cell[3])
        return Literal(value, datatype=URIRef(cell[2]))
    return Literal(value)


def _outcome(data: dict, form: str, prefixes: Mapping[str, str]) -> Outcome:
    if "error" in data:
        message = data.get("message", "")
        if data["error"] == "syntax":
            raise QuerySyntaxError(f"bad SPARQL query: {message}")
        if data["error"] == "memory":
            raise QueryMemoryError("the query ran out of memory")
        if data["error"] == "store":
            raise QueryError(message)
        raise QueryError(f"query failed: {message}")
    if data["kind"] == "ASK":
        return Outcome("ASK", boolean=bool(data["boolean"]))
    if data["kind"] == "SELECT":
        rows = [tuple(_term(c) for c in row) for row in data["rows"]]
        return Outcome("SELECT", variables=list(data["vars"]), rows=rows, truncated=bool(data["truncated"]))
    g = Graph()
    for prefix, ns in prefixes.items():
        g.bind(prefix, ns)
    for s, p, o in data["triples"]:
        g.add((_term(s), _term(p), _term(o)))  # type: ignore[arg-type]
    return Outcome(form if form in ("CONSTRUCT", "DESCRIBE") else "CONSTRUCT", graph=g, truncated=data["truncated"])


def _worker_error(exc: WorkerError, limits: Limits) -> QueryError:
    if exc.kind == "timeout":
        return QueryTimeout(f"the query was stopped at the time limit of {limits.timeout:g} s")
    if exc.kind == "memory":
        return QueryMemoryError(f"the query was stopped at the memory limit of {limits.memory_mb} MB")
    if exc.kind == "busy":
        return QueryBusy("every query worker is busy: try again in a moment")
    if exc.kind == "large":
        return QueryMemoryError("the answer is too large: add LIMIT or select fewer columns")
    if exc.kind == "start":
        return QueryCrashed(f"could not start a query worker: {exc.detail}")
    return QueryCrashed(f"the query stopped the process running it ({exc.detail or 'no answer'})")


def evaluate(
    source: Dataset | RemoteStore | str | Path,
    query: str,
    max_rows: int = MAX_ROWS,
    cancel: threading.Event | None = None,  # noqa: ARG001 - kept for older callers; workers are killed instead
    *,
    limits: Limits | None = None,
    pool: WorkerPool | None = None,
    default_graphs: list[str] | None = None,
    named_graphs: list[str] | None = None,
) -> Outcome:
    """Check and run a read-only query, up to max_rows results.

    source: the store folder (DataDir(...).store_dir, taken by the caller when the query comes), run in a worker
    process of `pool` (a one-off worker when None) with the time and memory limits; or an rdflib Dataset over
    Oxigraph, run in this process after the same checks. default_graphs / named_graphs: the protocol's
    default-graph-uri / named-graph-uri (they override FROM / FROM NAMED).
    """
    limits = limits or Limits(max_rows=max_rows)
    checked = check_query(query, limits)
    own_dataset = checked.has_dataset or default_graphs is not None or named_graphs is not None
    req: dict = {
        "query": query,
        "union": not own_dataset,
        "default_graph": default_graphs,
        "named_graphs": named_graphs,
        "max_rows": limits.max_rows,
        "max_chars": limits.max_answer_chars,
    }
    if isinstance(source, RemoteStore):  # a SPARQL server: the query forwarded, with the same limits
        req.update(prefixes=_prefixes())
        try:
            data = source.answer(req, limits.timeout, 2 * limits.max_answer_chars + (1 << 20))
        except TripleStoreError as exc:
            raise QueryStoreError(str(exc)) from None
        return _outcome(data, checked.form, req["prefixes"])
    if checked.order is not None:  # the engine evaluates, the worker sorts (the query as written if it cannot)
        o = checked.order
        req.update(query=o.query, sort={"keys": o.keys, "offset": o.offset, "limit": o.limit, "query": query})
    if isinstance(source, Dataset):
        store = getattr(source.store, "_inner", None)
        if store is None:
            raise QueryError("SPARQL needs a dataset over an Oxigraph store")
        prefixes = {p: str(ns) for p, ns in source.namespaces()}
        req["prefixes"] = prefixes
        return _outcome(answer_in_thread(store, req), checked.form, prefixes)
    prefixes = _prefixes()
    # A pool keeps the answer of a repeatable query on a generation's store (which is never written again).
    req.update(prefixes=prefixes, store=str(source), cpu=limits.timeout, cache=checked.repeatable)
    one_off = pool is None
    runner = pool or WorkerPool(1, limits.memory_mb << 20, cache_bytes=0)
    try:
        data = runner.run(req, limits.timeout, max_bytes=2 * limits.max_answer_chars + (1 << 20))
    except WorkerError as exc:
        raise _worker_error(exc, limits) from None
    finally:
        if one_off:
            runner.close()
    return _outcome(data, checked.form, prefixes)


# ---------------------------------------------------------------- result formats


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


# Characters XML 1.0 cannot carry at all; a literal holding one shows U+FFFD there instead.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _xml_text(text: str) -> str:
    return escape(_NOT_XML.sub("\ufffd", text))


def _xml_attr(text: str) -> str:
    return quoteattr(_NOT_XML.sub("\ufffd", text))


def to_xml(o: Outcome) -> str:
    """SPARQL 1.1 Query Results XML Format (application/sparql-results+xml)."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>', '<sparql xmlns="http://www.w3.org/2005/sparql-results#">']
    if o.kind == "ASK":
        out += ["  <head/>", f"  <boolean>{'true' if o.boolean else 'false'}</boolean>", "</sparql>"]
        return "\n".join(out) + "\n"
    out.append("  <head>")
    out += [f"    <variable name={_xml_attr(v)}/>" for v in o.variables]
    out += ["  </head>", "  <results>"]
    for row in o.rows:
        out.append("    <result>")
        for name, term in zip(o.variables, row, strict=False):
            if term is None:
                continue
            if isinstance(term, URIRef):
                value = f"<uri>{_xml_text(str(term))}</uri>"
            elif isinstance(term, BNode):
                value = f"<bnode>{_xml_text(str(term))}</bnode>"
            elif isinstance(term, Literal) and term.language:
                value = f"<literal xml:lang={_xml_attr(term.language)}>{_xml_text(str(term))}</literal>"
            elif isinstance(term, Literal) and term.datatype:
                value = f"<literal datatype={_xml_attr(str(term.datatype))}>{_xml_text(str(term))}</literal>"
            else:
                value = f"<literal>{_xml_text(str(term))}</literal>"
            out.append(f"      <binding name={_xml_attr(name)}>{value}</binding>")
        out.append("    </result>")
    out += ["  </results>", "</sparql>"]
    return "\n".join(out) + "\n"


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


RENDER: dict[str, tuple[Callable[[Outcome], str], str]] = {
    "table": (to_table, "text/plain"),
    "csv": (to_csv, "text/csv"),
    "json": (to_json, "application/sparql-results+json"),
    "tsv": (to_tsv, "text/tab-separated-values"),
    "xml": (to_xml, "application/sparql-results+xml"),
    "ttl": (to_turtle, "text/turtle"),
}


def run_query(
    source: Dataset | RemoteStore | str | Path,
    query: str,
    fmt: str = "table",
    limit: int = MAX_ROWS,
    limits: Limits | None = None,
    pool: WorkerPool | None = None,
) -> tuple[str, str]:
    """Run a query and render it; returns (body, media type).

    source: a store folder (run in a worker process of `pool`, a one-off one when None, with the time and memory
    limits), or an open Dataset.
    """
    render, media = RENDER[fmt]
    outcome = evaluate(source, query, limit, limits=limits or Limits(max_rows=limit), pool=pool)
    if outcome.graph is not None and fmt in ("csv", "json", "tsv", "xml"):
        return to_turtle(outcome), "text/turtle"
    return render(outcome), media
