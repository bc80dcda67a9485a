"""A heading for every measure on the pages: the plan's own short title, else one taken from the start of its text.

The derived heading is for display only (never written into the graph or the exports) and says it is derived, so a
planner can tell the agency's words from ours.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import NamedTuple

HEADING_MAX = 20  # characters a derived heading holds at most before it is cut (and marked with …)
HEADING_MIN = 4  # a first clause shorter than this ("另", "如下") says nothing alone: the next clause is added
ELLIPSIS = "…"

# Where a clause ends: a derived heading is the text up to the first of these.
CLAUSE_END = "，。；：,;:！？!?\n"
# Where a clause too long for a heading may be cut: after an enumeration comma, a closing quote or bracket, a space.
SOFT_BREAK_AFTER = "、」』）)】 "
OPENING = "「『（(【"
CLOSING = "」』）)】"
# Numbering the plan put before the text, which says nothing as a heading: 1. (1) （一） 一、 2-1 ①
_NUMBERING = re.compile(
    r"^\s*(?:[(（]\s*[0-9０-９一二三四五六七八九十]+\s*[)）]|[0-9０-９]+(?:[-－][0-9０-９]+)*\s*[.．、)）]"
    r"|[一二三四五六七八九十]+\s*[、.．]|[①-⑳])\s*"
)
_SPACE = re.compile(r"\s+")


class Heading(NamedTuple):
    """What a measure is called on a page; `derived` when it was taken from the text, not printed in the plan."""

    text: str
    derived: bool


def measure_heading(m: Mapping) -> Heading:
    """The measure's heading: its title when the plan printed one, else one derived from its text."""
    title = (m.get("title") or "").strip()
    if title:
        return Heading(title, False)
    return Heading(derived_heading(m.get("text") or ""), True)


def derived_heading(text: str, limit: int = HEADING_MAX) -> str:
    """A heading from a measure's text: its first clause (up to the first ，。；：), cut at a clause boundary with …
    when that is longer than `limit` characters; numbering such as (1) or 1. in front is left out."""
    body = _SPACE.sub(" ", text).strip()
    while (found := _NUMBERING.match(body)) and found.end() < len(body):
        body = body[found.end() :]
    if not body:
        return "（沒有內容）"
    end = _clause_end(body)
    if end < HEADING_MIN and end < len(body):
        end = _clause_end(body, end + 1)
    clause = body[:end].rstrip(CLAUSE_END + " 、")
    if len(clause) <= limit:
        return clause or body[:limit]
    return _cut(clause, limit) + ELLIPSIS


def _clause_end(text: str, start: int = 0) -> int:
    """The index of the first clause end at or after `start` outside quotes and brackets (the length if none)."""
    depth = 0
    for i in range(start, len(text)):
        c = text[i]
        if c in OPENING:
            depth += 1
        elif c in CLOSING:
            depth = max(depth - 1, 0)
        elif c in CLAUSE_END and depth == 0:
            return i
    return len(text)


def _cut(clause: str, limit: int) -> str:
    """The clause cut to at most `limit` characters: at the last soft break that leaves no bracket open and keeps
    at least half the limit; else before an opening bracket; else at `limit`, never inside a Latin word or number."""
    depth = 0
    best = 0
    before_open = 0
    for i, c in enumerate(clause[:limit]):
        if c in OPENING:
            if depth == 0:
                before_open = i
            depth += 1
        elif c in CLOSING:
            depth = max(depth - 1, 0)
        if c in SOFT_BREAK_AFTER and depth == 0:
            best = i + 1
    if best >= limit // 2:
        return clause[:best].rstrip(" 、")
    if depth and before_open >= limit // 2:
        return clause[:before_open].rstrip(" 、")
    end = limit
    while end > limit // 2 and clause[end - 1].isascii() and clause[end].isascii() and clause[end].isalnum():
        end -= 1
    return clause[:end].rstrip(" 、")
