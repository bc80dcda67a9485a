"""Numbering of this template: 壹、 sections, 一、 dimensions, (一) items, 1. measures; Chinese numerals; widths."""

from __future__ import annotations

import re

from kg.normalise import normalise

CN_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
# What may precede a section number: list bullets, markdown, a CMS's ":::" accesskey marker, heading marks.
BULLETS = r"(?:[-*•●○◆◇■□▪▫·‧►▶#>]+\s*|[:：]{2,3}\s*)*"  # noqa: RUF001
SECTION = re.compile(rf"^\s*{BULLETS}([壹貳參叁肆伍陸柒捌玖拾])\s*[、.．]\s*(.*)$")
SECTION_CN = re.compile(rf"^\s*{BULLETS}([一二三四五六七八九十])\s*、\s*(.*)$")
SECTION_ORDER = "壹貳參肆伍陸柒捌玖拾"
DIM = re.compile(r"^([一二三四五六七八九十]{1,3})\s*[、.．]\s*(.*)$", re.S)
ITEM = re.compile(r"^\(\s*([一二三四五六七八九十]{1,3})\s*\)\s*(.*)$", re.S)
NUM_DOT = re.compile(r"^(\d{1,2})\s*[.、．](?!\d)\s*(.*)$", re.S)
NUM_BARE = re.compile(r"^(\d{1,2})(?:\s+(\S.*)|([\u4e00-\u9fff].*))?$", re.S)
# The next number of a list printed inline: "…。2.…", "… 2. …" or "…；2、…".
INLINE_NUM = re.compile(r"(?:(?<=\s)|(?<=[。；]))(\d{1,2})\s*[.．](?!\d)\s*|(?<=[。；])\s*(\d{1,2})\s*、(?!\d)\s*")
SUBPOINT = re.compile(r"^\(\s*\d{1,2}\s*\)")
TERMINAL = "。！？；;.!?"
JUNK = re.compile(r"^[()\s一二三四五六七八九十]{0,3}$")


def cn_number(text: str) -> int:
    """Value of a Chinese numeral up to 99 (一, 十, 十二, 二十三)."""
    if "十" not in text:
        return CN_DIGITS.get(text, 0)
    tens, _, ones = text.partition("十")
    return (CN_DIGITS.get(tens, 1) if tens else 1) * 10 + (CN_DIGITS.get(ones, 0) if ones else 0)


def cn_numeral(n: int) -> str:
    """一 … 九十九 for 1 … 99."""
    digits = "一二三四五六七八九"
    if n < 10:
        return digits[n - 1]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else digits[tens - 1]) + "十" + (digits[ones - 1] if ones else "")


def width(text: str) -> float:
    """Printed width in CJK cells: ASCII counts half."""
    return sum(0.5 if ord(ch) < 0x2E80 else 1.0 for ch in text)


def compact(text: str) -> str:
    return normalise(text).replace(" ", "")


def inline_number(match: re.Match) -> int:
    return int(match.group(1) or match.group(2))


def split_inline(text: str, number: int) -> list[str]:
    """A body that goes on with the next numbers of its list inline ('…。2.…。3.…') cut into one text each."""
    out = []
    while True:
        hit = next((c for c in INLINE_NUM.finditer(text) if inline_number(c) == number + 1), None)
        if hit is None:
            return [*out, text]
        out.append(text[: hit.start()].rstrip())
        text, number = text[hit.end() :], number + 1
