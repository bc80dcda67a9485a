"""Where things come from in a plan's original file, said in plain Chinese: formats, places, reading findings.

The reader writes places as `file:line` (a line of a text dump) or `file, p.3, table 0, row 5, col 2` (page, table,
row and column counted from 0, as kg.document.Source prints them) and findings as short English notes; planners
read them here as 頁次 3，第 1 個表格第 6 列第 3 欄 and a Chinese sentence, the original note kept beside it.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

FORMAT_LABELS = {"pdf": "PDF", "docx": "Word", "doc": "Word", "odt": "ODF", "html": "網頁", "text": "純文字"}

# Media types of the originals by their extension; what no extension names is served as plain bytes.
MEDIA_TYPES = {
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".doc": "application/msword",
    ".odt": "application/vnd.oasis.opendocument.text",
    ".html": "text/html",
    ".htm": "text/html",
    ".xhtml": "application/xhtml+xml",
    ".txt": "text/plain",
    ".text": "text/plain",
}
# An original whose extension says nothing known is typed by what the reader found it to be.
FORMAT_MEDIA_TYPES = {"pdf": ".pdf", "docx": ".docx", "doc": ".doc", "odt": ".odt", "html": ".html", "text": ".txt"}
OCTET_STREAM = "application/octet-stream"
# Python's names of the encodings the readers report, as the charset names browsers know.
CHARSETS = {"utf-8-sig": "utf-8", "cp950": "big5", "utf_8": "utf-8"}
_CHARSET = re.compile(r"[a-z0-9][a-z0-9._:-]{0,39}")

_PLACE_PART = re.compile(
    r", (?:p\.(?P<page>\d+)|line (?P<line>\d+)|table (?P<table>\d+)|row (?P<row>\d+)|col (?P<col>\d+))"
)
_TEXT_LINE = re.compile(r":(?P<line>\d+)")

# The reader's notes (kg.plan.checks and the layouts), each with what it means for the planner.
_FINDINGS = [
    (re.compile(r"numbering jumps from (\S+) to (\S+)"), "措施編號從 {0} 跳到 {1}，中間可能漏讀了措施"),
    (re.compile(r"the first measure under its heading is numbered (\S+)"), "此要項下的第一項措施編號是 {0}，不是 1"),
    (re.compile(r"no unit for the measure '(.*)'", re.S), "措施「{0}」沒有讀到執行單位"),
    (re.compile(r"the unit cell '(.*)' does not look like units", re.S), "執行單位欄「{0}」看起來不像單位名稱"),
    (
        re.compile(r"the heading '(.*)' reads like a sentence", re.S),
        "標題「{0}」讀起來像一段句子，可能是措施被當成了標題",
    ),
    (re.compile(r"a table in the measures section could not be read as measures"), "計畫內容中有一個表格無法讀成措施"),
    (re.compile(r"a cell that could not be placed: '(.*)'", re.S), "有一格內容無法歸入任何措施：「{0}」"),
    (
        re.compile(r"(\d+) unit lines for (\d+) measures: all given to each"),
        "執行單位欄有 {0} 行，但對應 {1} 項措施，無法一一對應，已將全部單位列給每項措施",
    ),
]


def format_label(fmt: str | None) -> str:
    return FORMAT_LABELS.get(fmt or "", "未知格式")


def media_type(name: str, fmt: str | None) -> str:
    """The Content-Type of an original: by its extension, else by the format it was read as."""
    suffix = PurePosixPath(name).suffix.lower()
    if suffix not in MEDIA_TYPES:
        suffix = FORMAT_MEDIA_TYPES.get(fmt or "", "")
    return MEDIA_TYPES.get(suffix, OCTET_STREAM)


def content_type(name: str, fmt: str | None, encoding: str | None) -> str:
    """The full Content-Type header of an original: a text file says the character set it was read in."""
    mime = media_type(name, fmt)
    if not mime.startswith("text/") or not encoding:
        return mime
    charset = CHARSETS.get(encoding.lower(), encoding.lower())
    return f"{mime}; charset={charset}" if _CHARSET.fullmatch(charset) else mime


def parse_place(where: str, file: str) -> dict[str, int]:
    """The numbers of a printed place (page, line, table, row, col as printed, i.e. table/row/col from 0);
    {} when the place is not in a form the reader writes."""
    if not where.startswith(file):
        return {}
    rest = where[len(file) :]
    if m := _TEXT_LINE.fullmatch(rest):
        return {"line": int(m["line"])}
    found: dict[str, int] = {}
    pos = 0
    for m in _PLACE_PART.finditer(rest):
        if m.start() != pos:
            return {}
        found.update({k: int(v) for k, v in m.groupdict().items() if v is not None})
        pos = m.end()
    return found if pos == len(rest) else {}


def place_label(place: dict[str, int], fmt: str | None) -> str:
    """A place in words: 頁次 3，第 1 個表格第 6 列第 3 欄; the lines of a Word or ODF file are its paragraphs."""
    parts = []
    if place.get("page") is not None:
        parts.append(f"頁次 {place['page']}")
    if place.get("line") is not None:
        if fmt in ("docx", "doc", "odt"):
            parts.append(f"第 {place['line']} 段")
        elif fmt == "html":
            parts.append(f"網頁原始碼第 {place['line']} 行")
        else:
            parts.append(f"第 {place['line']} 行")
    cell = ""
    if place.get("table") is not None:
        cell += f"第 {place['table'] + 1} 個表格"
    if place.get("row") is not None:
        cell += f"第 {place['row'] + 1} 列"
    if place.get("col") is not None:
        cell += f"第 {place['col'] + 1} 欄"
    if cell:
        parts.append(cell)
    return "，".join(parts)


def source_place(source: dict, fmt: str | None) -> str:
    """Where a measure was printed, in words (empty when nothing is known beyond the file)."""
    if source.get("line_start") is not None:
        start, end = source["line_start"], source.get("line_end") or source["line_start"]
        return f"第 {start} 行" if end == start else f"第 {start}–{end} 行"
    place = parse_place(source.get("where") or "", source.get("file") or "")
    if not place:
        place = {k: source[k] for k in ("page", "table", "row") if source.get(k) is not None}
    return place_label(place, fmt)


def finding_text(what: str) -> str:
    """A reader's note in Chinese; a note of a kind not known here is shown as written."""
    for pattern, template in _FINDINGS:
        if m := pattern.fullmatch(what.strip()):
            return template.format(*m.groups())
    return what
