"""Showing untrusted plan text: every piece is escaped, and only our own <mark> tags are added around query terms."""

from __future__ import annotations

import re

from markupsafe import Markup, escape

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_SPLIT = re.compile(r"[\s,，、；;。:：()（）「」\"']+")


def query_terms(query: str) -> list[str]:
    """What to mark for a query: each word typed, and for Chinese runs also their character pairs.

    Chinese queries rarely occur verbatim ('電話禮貌測試' vs '電話服務品質及禮貌測試'), but their two-character
    words do; single characters would mark half of every sentence.
    """
    terms: set[str] = set()
    for tok in _SPLIT.split(query.strip()):
        if not tok:
            continue
        terms.add(tok)
        if len(tok) > 2 and _CJK.search(tok):
            terms.update(tok[i : i + 2] for i in range(len(tok) - 1) if _CJK.search(tok[i : i + 2]))
    return sorted(terms, key=lambda t: (-len(t), t))


def highlight(text: str | None, query: str) -> Markup:
    """The text, HTML-escaped, with query terms wrapped in <mark>.

    Matching runs on the raw text and each slice is escaped on its own, so a term can never match inside an
    entity (&amp;) and no character of the data is ever emitted unescaped.
    """
    if not text:
        return Markup("")
    terms = query_terms(query)
    if not terms:
        return escape(text)
    pattern = re.compile("|".join(re.escape(t) for t in terms), re.IGNORECASE)
    spans: list[list[int]] = []
    for m in pattern.finditer(text):
        if spans and m.start() <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], m.end())  # adjacent pairs (電話|禮貌) become one mark
        else:
            spans.append([m.start(), m.end()])
    out = Markup("")
    pos = 0
    for start, end in spans:
        out += escape(text[pos:start]) + Markup("<mark>") + escape(text[start:end]) + Markup("</mark>")
        pos = end
    return out + escape(text[pos:])
