"""The query syntax planners know from web search: "phrases", -exclusions, +required words, AND.

    電話 "禮貌測試"          ranks by 電話 禮貌測試; only measures containing 禮貌測試
    "1999" "陳情"            both phrases must occur
    臉書 -粉絲專頁            measures about 臉書 that do not contain 粉絲專頁
    線上申辦 AND 減少紙本      both words must occur (as +線上申辦 +減少紙本)

Quotes may be ASCII ("), full-width (＂), curly (“ ”) or corner brackets (「 」, 『 』). An unclosed quote runs to
the end of the query. A literal requirement is matched on the normalised text (index.textnorm.normalise: widths,
case and variant characters folded, spaces and punctuation ignored), so "ＦＢ" finds FB and a phrase broken by a hard
line break in the plan is still found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from index.textnorm import normalise

_OPEN_CLOSE = {'"': '"', "＂": "＂", "“": "”", "「": "」", "『": "』", "”": "”"}
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class ParsedQuery:
    """What a query asks for: free words to rank by, literal requirements and exclusions."""

    raw: str
    free: str  # the words to rank by (without operators; phrases included, so they count for ranking too)
    required: tuple[str, ...] = ()  # phrases and +words that must all occur literally
    excluded: tuple[str, ...] = ()  # words and phrases none of which may occur
    typed: tuple[str, ...] = field(default=())  # the words typed, operators removed (for highlighting)

    @property
    def positive(self) -> bool:
        """Whether anything is asked for (a query of exclusions alone asks for nothing)."""
        return bool(self.free.strip() or self.required)


def literal_key(text: str) -> str:
    """The form literal requirements are compared in: normalised, without spaces."""
    return normalise(text).replace(" ", "")


def parse_query(query: str) -> ParsedQuery:
    """Split a query into free words, required phrases/words and exclusions (see the module doc)."""
    tokens = _tokens(query)
    # AND joins its neighbours into requirements: a AND b AND c requires all three.
    joined: set[int] = set()
    for i, (sign, text, quoted) in enumerate(tokens):
        if (sign, text, quoted) == ("", "AND", False):
            joined.update(j for j in (i - 1, i + 1) if 0 <= j < len(tokens) and tokens[j][0] != "-")
    required: list[str] = []
    excluded: list[str] = []
    free: list[str] = []
    for i, (sign, text, quoted) in enumerate(tokens):
        if (sign, text, quoted) == ("", "AND", False) or not literal_key(text):
            continue
        if sign == "-":
            excluded.append(text)
            continue
        free.append(text)
        if quoted or sign == "+" or i in joined:
            required.append(text)
    return ParsedQuery(
        raw=query,
        free=" ".join(free),
        required=tuple(dict.fromkeys(required)),
        excluded=tuple(dict.fromkeys(excluded)),
        typed=tuple(dict.fromkeys(free)),
    )


def _tokens(query: str) -> list[tuple[str, str, bool]]:
    """(sign, text, quoted) for each word or quoted phrase; sign is '', '+' or '-'."""
    out: list[tuple[str, str, bool]] = []
    s = query or ""
    i, n = 0, len(s)
    while i < n:
        if s[i].isspace():
            i += 1
            continue
        sign = ""
        if s[i] in "+-－＋" and i + 1 < n and not s[i + 1].isspace():
            sign = "-" if s[i] in "-－" else "+"
            i += 1
        if s[i] in _OPEN_CLOSE:
            close = _OPEN_CLOSE[s[i]]
            end = s.find(close, i + 1)
            end = n if end < 0 else end
            out.append((sign, _SPACE.sub(" ", s[i + 1 : end]).strip(), True))
            i = end + 1
            continue
        j = i
        while j < n and not s[j].isspace() and s[j] not in _OPEN_CLOSE:
            j += 1
        out.append((sign, s[i:j], False))
        i = j
    return out
