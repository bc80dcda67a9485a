"""Plan years as planners write them: Gregorian (2016) or ROC (民國105年), and the year of a plan stating none."""

from __future__ import annotations

import re
import unicodedata

YEAR_UNKNOWN = "none"  # index.search.UNKNOWN: the year of a plan that states none
ROC_OFFSET = 1911  # a 民國 (ROC) year + 1911 is the Gregorian year
ROC_YEARS = range(1, 201)
GREGORIAN_YEARS = range(ROC_OFFSET + 1, 2200)
_YEAR = re.compile(r"(?P<roc>(?:中華)?民國)?(?P<n>[0-9]{1,4})(?:年度?)?")


def parse_year(text: str) -> int:
    """A plan year as planners write it, as the Gregorian year: 2016, 105, 105年, 民國105年 (and 105年度) are all
    2016. ROC years run from 1 to 200 and Gregorian ones from 1912 to 2199, so a number is never both; ValueError
    for anything else. Full-width digits are read as digits."""
    raw = unicodedata.normalize("NFKC", text or "").replace(" ", "")
    m = _YEAR.fullmatch(raw)
    if m is None:
        raise ValueError(text)
    n = int(m["n"])
    if n in ROC_YEARS:
        return n + ROC_OFFSET
    if n in GREGORIAN_YEARS and not m["roc"]:
        return n
    raise ValueError(text)


def roc_label(year: int) -> str:
    """A Gregorian year with its ROC year beside it, as planners read it: 2016（民國105年）."""
    return f"{year}（民國{year - ROC_OFFSET}年）"
