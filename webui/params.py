"""Reading request parameters strictly: a bad value is answered with 400 and a message, never guessed at."""

from __future__ import annotations

import re

from werkzeug.datastructures import MultiDict

MODES = {"hybrid": "混合", "lexical": "關鍵字", "dense": "語意"}
_INT = re.compile(r"[0-9]{1,9}")
_YEAR = re.compile(r"(19|20|21)[0-9]{2}")
MAX_QUERY_CHARS = 200
YEAR_UNKNOWN = "none"  # the year filter's value for plans whose title states no year


class ParamError(ValueError):
    """A request parameter that is missing, malformed or out of range; the message is shown to the planner."""


def get_int(args: MultiDict, name: str, default: int, lo: int, hi: int) -> int:
    raw = args.get(name, "")
    if raw == "":
        return default
    # int() would also take '+5', ' 5', '1_0' and other scripts' digits; a plain decimal is what we document.
    if not _INT.fullmatch(raw) or not lo <= int(raw) <= hi:
        raise ParamError(f"參數 {name} 必須是 {lo} 到 {hi} 之間的整數（收到「{raw}」）")
    return int(raw)


def get_mode(args: MultiDict) -> str:
    mode = args.get("mode", "") or "hybrid"
    if mode not in MODES:
        raise ParamError(f"未知的搜尋模式「{mode}」：請用 hybrid（混合）、lexical（關鍵字）或 dense（語意）")
    return mode


def get_years(args: MultiDict) -> list[int | str]:
    """The years asked for: Western years as ints, and YEAR_UNKNOWN for plans without a year."""
    years: list[int | str] = []
    for raw in args.getlist("year"):
        if raw == "":
            continue
        if raw == YEAR_UNKNOWN:
            years.append(YEAR_UNKNOWN)
            continue
        if not _YEAR.fullmatch(raw):
            raise ParamError(f"年度必須是西元年，例如 2018，或 {YEAR_UNKNOWN}（未載明年度）（收到「{raw}」）")
        years.append(int(raw))
    return years


def get_query(args: MultiDict, name: str = "q", required: bool = False) -> str:
    q = (args.get(name) or "").strip()
    if len(q) > MAX_QUERY_CHARS:
        raise ParamError(f"查詢字串太長（最多 {MAX_QUERY_CHARS} 字）")
    if required and not q:
        raise ParamError(f"缺少參數 {name}")
    return q


def get_strings(args: MultiDict, name: str) -> list[str]:
    values = [v.strip() for v in args.getlist(name) if v.strip()]
    if any(len(v) > MAX_QUERY_CHARS for v in values):
        raise ParamError(f"參數 {name} 的值太長")
    return values
