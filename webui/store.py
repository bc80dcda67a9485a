"""The pages' own SPARQL: one small adapter over a generation's on-disk store, opened read-only and queried with
Oxigraph's own engine (nothing is copied into memory).

select(query, bindings) is the whole interface: the query names its variables, bindings give some of them values,
and each solution comes back as a dict of plain Python values (IRIs and strings as str, numbers and booleans as
int or float, unbound as None). Bound values go in as one VALUES row at the start of the query's outermost WHERE,
each term written by pyoxigraph (so escaped: a value never becomes query syntax); a FILTER inside a nested group
does not see them, so filter on them at the top level. The default graph is the union of all graphs, as every page
reads it. A list of values goes in as a VALUES clause made by values(), escaped the same way.

together(calls) runs a page's independent questions at once: Oxigraph evaluates a query without holding the GIL,
so on two cores two queries take about as long as the longer one (a big system's page: 257 -> 146 ms).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pyoxigraph as ox

from kg.sparql_sort import INTEGER_TYPES
from kg.vocab import BASE, ID

PREFIXES = {
    "sp": BASE + "ontology#",
    "id": str(ID),
    "org": "http://www.w3.org/ns/org#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dcterms": "http://purl.org/dc/terms/",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}

_XSD = "http://www.w3.org/2001/XMLSchema#"
_INTEGERS = INTEGER_TYPES | {_XSD + "gYear"}
_FLOATS = {_XSD + t for t in ("decimal", "double", "float")}

Value = str | int | float | None
_WHERE = re.compile(r"\bWHERE\s*\{", re.IGNORECASE)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
T = TypeVar("T")


class StoreError(OSError):
    """The store cannot be opened or read: one line naming the folder."""


def iri(value: str) -> ox.NamedNode:
    """A value to bind as an IRI (a plain str binds as a string literal)."""
    return ox.NamedNode(value)


def values(var: str, iris: Iterable[str]) -> str:
    """A VALUES clause binding ?var to each IRI, each written by pyoxigraph (so escaped), for queries over a list."""
    return f"VALUES ?{var} {{ " + " ".join(str(ox.NamedNode(i)) for i in iris) + " }"


def _term(value: object) -> ox.NamedNode | ox.Literal | ox.BlankNode:
    if isinstance(value, ox.NamedNode | ox.Literal | ox.BlankNode):
        return value
    if isinstance(value, bool):
        return ox.Literal("true" if value else "false", datatype=ox.NamedNode(_XSD + "boolean"))
    if isinstance(value, int):
        return ox.Literal(str(value), datatype=ox.NamedNode(_XSD + "integer"))
    if isinstance(value, float):
        return ox.Literal(repr(value), datatype=ox.NamedNode(_XSD + "double"))
    if isinstance(value, str):
        return ox.Literal(value)
    raise TypeError(f"cannot bind {value!r} in a query")


def _plain(term: object) -> Value:
    if term is None:
        return None
    if isinstance(term, ox.Literal):
        kind = term.datatype.value
        if kind == _XSD + "boolean":
            return int(term.value in ("true", "1"))
        try:
            if kind in _INTEGERS:
                return int(term.value)
            if kind in _FLOATS:
                return float(term.value)
        except ValueError:
            return term.value
        return term.value
    return term.value  # NamedNode, BlankNode


def bind(query: str, bindings: Mapping[str, object] | None) -> str:
    """The query with its bound variables given by a VALUES row at the start of its outermost WHERE."""
    if not bindings:
        return query
    for name in bindings:
        if not _NAME.fullmatch(name):
            raise ValueError(f"not a variable name: {name!r}")
    where = _WHERE.search(query)
    if where is None:
        raise ValueError("a query with bindings needs a WHERE clause")
    names = " ".join(f"?{k}" for k in bindings)
    terms = " ".join(str(_term(v)) for v in bindings.values())
    return f"{query[: where.end()]} VALUES ({names}) {{ ({terms}) }} {query[where.end() :]}"


class Store:
    """A generation's store, opened read-only (any number of readers, a build running meanwhile)."""

    def __init__(self, path: str | Path) -> None:
        try:
            self._store = ox.Store.read_only(str(path))
        except OSError as exc:
            raise StoreError(f"{path}: cannot open the graph store: {str(exc).splitlines()[0]}") from None
        self.path = Path(path)
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._inside = threading.local()  # set in the pool's threads: what they run runs its own calls in turn

    def together(self, calls: Sequence[Callable[[], T]]) -> list[T]:
        """The results of these calls (each asking this store), in order, computed at once on a few threads; the
        first exception one of them raised is raised. A call made from inside another runs its own calls in turn,
        so no thread of the pool waits for another."""
        if len(calls) < 2 or getattr(self._inside, "busy", False):
            return [c() for c in calls]
        futures = [self._threads().submit(self._run, c) for c in calls[1:]]
        try:
            first = calls[0]()
        except BaseException:
            for f in futures:
                f.cancel()
            raise
        return [first, *(f.result() for f in futures)]

    def _run(self, call: Callable[[], T]) -> T:
        self._inside.busy = True
        try:
            return call()
        finally:
            self._inside.busy = False

    def _threads(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max(2, min(4, os.cpu_count() or 2)), thread_name_prefix="store")
            return self._pool

    def select(self, query: str, bindings: Mapping[str, object] | None = None) -> list[dict[str, Value]]:
        """The solutions of a SELECT query, each a dict of plain values by variable name."""
        result = self._store.query(bind(query, bindings), prefixes=PREFIXES, use_default_graph_as_union=True)
        names = [v.value for v in result.variables]
        return [{n: _plain(row[n]) for n in names} for row in result]
