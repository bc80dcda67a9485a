"""Showing untrusted plan text: every piece is escaped, and only our own <mark> tags are added around search terms."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from markupsafe import Markup, escape

from index.textnorm import normalise

_WORD_CHAR = re.compile(r"[a-z0-9]")
_NOT_AFTER_WORD = r"(?<![a-z0-9])"
_NOT_BEFORE_WORD = r"(?![a-z0-9])"


@lru_cache(maxsize=8192)
def _fold(char: str) -> str:
    """One character as the search compares it (widths, case, variant characters folded), if that is still one
    character; otherwise the character itself. Folding one character at a time keeps every position of the text,
    so a match in the folded text is the same slice of the raw one."""
    folded = normalise(char)
    return folded if len(folded) == 1 else char


def _folded(text: str) -> str:
    return "".join(_fold(c) for c in text)


def _pattern(terms: Iterable[str]) -> re.Pattern[str] | None:
    """One pattern for all terms, longest first. A line break or space inside a term in the text still matches, as
    the search finds "禮貌測試" in 禮貌 / 測試 split over two lines; a Latin word or number matches whole, as the
    search matches it (line is not marked in online)."""
    folded = {_folded("".join(t.split())) for t in terms}
    alternatives = []
    for t in sorted(folded - {""}, key=lambda t: (-len(t), t)):
        body = r"\s*".join(map(re.escape, t))
        head = _NOT_AFTER_WORD if _WORD_CHAR.fullmatch(t[0]) else ""
        tail = _NOT_BEFORE_WORD if _WORD_CHAR.fullmatch(t[-1]) else ""
        alternatives.append(head + body + tail)
    return re.compile("|".join(alternatives)) if alternatives else None


def highlight(text: str | None, terms: Iterable[str]) -> Markup:
    """The text, HTML-escaped, with the given search terms (the result's `highlight`) wrapped in <mark>.

    Only these terms are marked, nothing derived from them. Matching runs on the raw text (folded as the search
    folds it, position for position) and each slice is escaped on its own, so a term can never match inside an
    entity (&amp;) and no character of the data is ever emitted unescaped.
    """
    if not text:
        return Markup("")
    pattern = _pattern(terms)
    if pattern is None:
        return escape(text)
    spans: list[list[int]] = []
    for m in pattern.finditer(_folded(text)):
        if spans and m.start() <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], m.end())  # adjacent terms (電話|禮貌測試) become one mark
        else:
            spans.append([m.start(), m.end()])
    out = Markup("")
    pos = 0
    for start, end in spans:
        out += escape(text[pos:start]) + Markup("<mark>") + escape(text[start:end]) + Markup("</mark>")
        pos = end
    return out + escape(text[pos:])
