"""ORDER BY done after evaluation, on the decoded answer, when that gives the engine's order.

Oxigraph's on-disk store sorts by comparing terms it decodes again at every comparison (a string table lookup for
each long literal), so ORDER BY is often most of a query's time: the README's two queries at 100k measures spend
about half of it there (1,102 rows: 60 of 121 ms; 17,827 rows: 1.4 of 2.4 s). A SELECT whose outermost ORDER BY
names projected variables only is therefore evaluated without it (and without the LIMIT / OFFSET that follow it),
and its rows sorted here. This module holds both halves: `split` (in the parent, on the query's tokens) and
`sort_rows` (in the worker, on its answer's cells).

Only what is known to sort as the engine sorts is sorted here: unbound < IRIs (by their text) < numbers (by
value) < strings (plain and language-tagged, by their text). A column holding anything else (a blank node, a
boolean, a date, another datatype, NaN), or two different terms that compare equal ("a"@en and "a"@fr, 1 and
1.0), or more rows than SORT_ROWS, gives None: the caller runs the query as it was written.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

SORT_ROWS = 200_000  # rows sorted here at most (beyond, the engine sorts: its rows are smaller than ours)
SORT_CHARS = 32 << 20  # characters of all the answer's terms at most, likewise

XSD = "http://www.w3.org/2001/XMLSchema#"
LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"
INTEGER_TYPES = {
    XSD + t
    for t in (
        "integer",
        "int",
        "long",
        "short",
        "byte",
        "nonNegativeInteger",
        "nonPositiveInteger",
        "negativeInteger",
        "positiveInteger",
        "unsignedLong",
        "unsignedInt",
        "unsignedShort",
        "unsignedByte",
    )
}
_DECIMALS = {XSD + "decimal"}
_FLOATS = {XSD + "double", XSD + "float"}
_STRINGS = {XSD + "string", LANG_STRING}
_MODIFIERS = {"limit", "offset"}


class _Tok(Protocol):
    kind: str
    text: str
    start: int


@dataclass(frozen=True)
class OrderPlan:
    """A query to run without its outermost ORDER BY (and the LIMIT / OFFSET after it), and how to sort its rows."""

    query: str  # the query with the ORDER BY clause and what follows it cut off
    keys: list[tuple[str, bool]]  # (variable name without ?, descending)
    offset: int
    limit: int | None


def _word(t: _Tok, *words: str) -> bool:
    return t.kind == "word" and t.text.lower() in words


def _punct(t: _Tok, text: str) -> bool:
    return t.kind == "punct" and t.text == text


def _projected(toks: list[_Tok]) -> set[str] | None:
    """The variables the outermost SELECT projects (None: all of them, SELECT *); toks start after SELECT."""
    out: set[str] = set()
    depth = 0
    after_as = False
    for t in toks:
        if depth == 0 and (_punct(t, "{") or _word(t, "where", "from")):
            return out
        if depth == 0 and _punct(t, "*"):
            return None
        if _punct(t, "("):
            depth += 1
        elif _punct(t, ")"):
            depth -= 1
        elif t.kind == "var" and (depth == 0 or after_as):
            out.add(t.text[1:])
        after_as = _word(t, "as")
    return out


def _keys(toks: list[_Tok]) -> tuple[list[tuple[str, bool]], int] | None:
    """The order conditions at the start of toks, if each is ?v, ASC(?v) or DESC(?v); and how many tokens they take."""
    keys: list[tuple[str, bool]] = []
    i = 0
    while i < len(toks):
        t = toks[i]
        if t.kind == "var":
            keys.append((t.text[1:], False))
            i += 1
        elif _word(t, "asc", "desc"):
            if not (
                i + 3 < len(toks)
                and _punct(toks[i + 1], "(")
                and toks[i + 2].kind == "var"
                and _punct(toks[i + 3], ")")
            ):
                return None
            keys.append((toks[i + 2].text[1:], t.text.lower() == "desc"))
            i += 4
        elif _word(t, *_MODIFIERS):
            break
        else:
            return None  # an expression, a function, VALUES after the query …
    return (keys, i) if keys else None


def split(query: str, toks: list[_Tok]) -> OrderPlan | None:
    """The plan for sorting the answer of `query` (its tokens, with positions) outside the engine, or None."""
    words = [t for t in toks if t.kind == "word"]
    first = next((t for t in words if not _word(t, "prefix", "base")), None)
    if first is None or not _word(first, "select") or any(_word(t, "base") for t in words):
        return None
    depth = 0
    order_at = -1
    for i, t in enumerate(toks):
        if t.kind == "punct" and t.text in "{}":
            depth += 1 if t.text == "{" else -1
        elif depth == 0 and _word(t, "order") and i + 1 < len(toks) and _word(toks[i + 1], "by"):
            order_at = i
    if order_at < 0:
        return None
    parsed = _keys(toks[order_at + 2 :])
    if parsed is None:
        return None
    keys, used = parsed
    projected = _projected(toks[toks.index(first) + 1 :])
    if projected is not None and any(name not in projected for name, _ in keys):
        return None
    offset, limit = 0, None
    rest = toks[order_at + 2 + used :]
    seen: set[str] = set()
    while rest:
        if len(rest) < 2 or not _word(rest[0], *_MODIFIERS) or rest[1].kind != "number" or not rest[1].text.isdigit():
            return None
        name = rest[0].text.lower()
        if name in seen:
            return None
        seen.add(name)
        if name == "limit":
            limit = int(rest[1].text)
        else:
            offset = int(rest[1].text)
        rest = rest[2:]
    return OrderPlan(query[: toks[order_at].start], keys, offset, limit)


# ---------------------------------------------------------------- sorting the answer's cells (in the worker)


def _key(cell: list | None) -> tuple | None:
    """A cell's place in the order (see the module's docstring), or None when it is not sorted here."""
    if cell is None:
        return (0,)
    kind = cell[0]
    if kind == "u":
        return (1, cell[1])
    if kind != "l":
        return None
    value, datatype = cell[1], cell[2]
    if datatype in _STRINGS:
        return (3, value)
    try:
        if datatype in INTEGER_TYPES:
            return (2, int(value.strip()))
        if datatype in _DECIMALS:
            return (2, Decimal(value.strip()))
        if datatype in _FLOATS:
            number = float(value.strip())
            return None if number != number else (2, number)
    except (ValueError, InvalidOperation):
        return None
    return None


def _cell_id(cell: list | None) -> Any:
    return None if cell is None else tuple(cell)


def sort_rows(rows: list[list], variables: list[str], keys: list[tuple[str, bool]]) -> list[list] | None:
    """rows (lists of cells, in `variables` order) sorted by keys as the engine would, or None (see above)."""
    columns = []
    for name, desc in keys:
        if name not in variables:
            return None
        columns.append((variables.index(name), desc))
    ordered = list(rows)
    for col, desc in reversed(columns):  # stable sorts, the last key first
        seen: dict[tuple, Any] = {}
        keyed = []
        for row in ordered:
            k = _key(row[col])
            if k is None:
                return None
            ident = _cell_id(row[col])
            if seen.setdefault(k, ident) != ident:
                return None  # two different terms in one place: which comes first is the engine's to say
            keyed.append((k, row))
        keyed.sort(key=lambda pair: pair[0], reverse=desc)
        ordered = [row for _, row in keyed]
    return ordered
