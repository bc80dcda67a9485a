"""One clean form of plan text: markup left by extraction removed, misprints fixed, one punctuation width."""

from __future__ import annotations

import re

# Characters that PDF/Word extraction of Big5 documents prints in place of the intended one.
MISPRINTS = {"帄": "平", "褔": "福", "搥": "捶"}

_TAG = re.compile(r"</?(?:p|ol|ul|li|td|tr|th|table|tbody|thead|span|div|br|b|strong|em|i|u|font)\b[^>]*>", re.I)
_CJK = r"\u3400-\u9fff\uf900-\ufaff"
_HALF_TO_FULL = {",": "，", ";": "；", ":": "：", "!": "！", "?": "？"}
_PUNCT_NEAR_CJK = re.compile(rf"(?<=[{_CJK}」）)])\s*([,;:!?])\s*|([,;:!?])\s*(?=[{_CJK}「（(])")
_SPACE_IN_CJK = re.compile(rf"(?<=[{_CJK}，。、；：「」（）])[ \u3000]+(?=[{_CJK}，。、；：「」（）])")
# One character for another, in one pass: misprints fixed; full-width digits, letters and parentheses to ASCII
# (one form to match and show); full-width and no-break spaces to plain ones.
_FULL_WIDTH = [*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF5B)]
_ONE_FORM = str.maketrans(
    {**MISPRINTS, **{chr(c): chr(c - 0xFEE0) for c in _FULL_WIDTH}, "（": "(", "）": ")", "\u3000": " ", "\xa0": " "}
)


def strip_markup(text: str) -> str:
    """Remove HTML fragments, markdown bold and HTML entities that extraction leaves in the text."""
    text = _TAG.sub(" ", text)
    text = text.replace("**", "").replace("&nbsp;", " ").replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    return text


def normalise(text: str, keep_spaces: bool = False) -> str:
    """One clean form of a fragment: markup gone, misprints fixed, one punctuation width, no stray spaces.

    keep_spaces keeps the spaces between CJK words, which still separate a measure's title from its body.
    """
    text = strip_markup(text).translate(_ONE_FORM)
    text = _PUNCT_NEAR_CJK.sub(lambda m: _HALF_TO_FULL[m.group(1) or m.group(2)], text)
    if keep_spaces:
        # A run of spaces is how some plans separate a measure's title from its body: keep it visible.
        text = re.sub(r"[ \t]{2,}", "\x00", text)
        text = re.sub(r"\s+", " ", text).replace("\x00", "  ")
    else:
        text = _SPACE_IN_CJK.sub("", text)
        text = re.sub(r"\s+", " ", text)
    return text.strip()


def join_text(left: str, right: str) -> str:
    """Join two pieces of one sentence broken by a hard line break: no space between CJK, one between words."""
    if not left:
        return right
    if not right:
        return left
    if re.match(r"[A-Za-z0-9]", left[-1]) and re.match(r"[A-Za-z0-9(]", right[0]):
        return left + " " + right
    return left + right
