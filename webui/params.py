"""Reading request parameters strictly: a bad value is answered with 400 and a message, never guessed at."""

from __future__ import annotations

import re

from werkzeug.datastructures import MultiDict

from kg.years import YEAR_UNKNOWN, parse_year

MODES = {"hybrid": "混合", "lexical": "關鍵字", "dense": "語意", "literal": "逐字"}
_INT = re.compile(r"[0-9]{1,9}")
MAX_QUERY_CHARS = 200


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
        raise ParamError(
            f"未知的搜尋模式「{mode}」：請用 hybrid（混合）、lexical（關鍵字）、dense（語意）或 literal（逐字）"
        )
    return mode


def get_years(args: MultiDict) -> list[int | str]:
    """The years asked for, as Gregorian years (ints), each once: planners write 2016, 105, 105年 or 民國105年
    (kg.years.parse_year); YEAR_UNKNOWN stands for plans without a year."""
    years: list[int | str] = []
    for raw in args.getlist("year"):
        raw = raw.strip()
        if raw == "":
            continue
        if raw == YEAR_UNKNOWN:
            year: int | str = YEAR_UNKNOWN
        else:
            try:
                year = parse_year(raw)
            except ValueError:
                raise ParamError(
                    "年度請寫西元年或民國年，例如 2016、105 或 民國105年；"
                    f"未載明年度請用 {YEAR_UNKNOWN}（收到「{raw}」）"
                ) from None
        if year not in years:
            years.append(year)
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
