"""The plan's front matter: its sections (壹、貳、…), title, agency, year, issue, basis, goals and target units."""

from __future__ import annotations

import re
from dataclasses import dataclass

from kg.errors import PlanParseError
from kg.normalise import normalise, strip_markup
from kg.plan.numbering import BULLETS, SECTION, SECTION_CN
from kg.plan.units import UNIT_SUFFIX

SECTION_NAMES = re.compile(
    r"^[\u4e00-\u9fff()、與及]{0,8}(?:依據|目標|對象|內容|要項|方法|重點|措施|項目|方式|策略|作法|管制|考核|考評|獎勵|其他|附件|經費|時程)$"
)
# The measures table's section: 肆、計畫內容 / 實施要項與方法 / 具體作法 …
TABLE_SECTION = re.compile(r"內容|要項|方法|重點|措施|項目|方式|策略|作法|要領")
# Web-page furniture that a saved or copied page carries around the plan.
CHROME = re.compile(
    r"跳到主要內容(?:區塊)?|:::|友善列印|回上一頁|回首頁|網站導覽|字級[:：]?|分享至?|列印|瀏覽人次|點閱次數|"
    r"更新日期|發布日期|上版日期|資料來源|首頁\s*[>＞»/]"
)
BREADCRUMB = re.compile(r"^.*[>＞»]\s*")
TITLE_END = re.compile(r"(?:計畫|計劃|要點|方案)書?(?:\([^)]{1,12}\))?$")
ROC_YEAR = re.compile(r"(?:中華民國)?(\d{2,3}|[一二三四五六七八九〇○零]{3})\s*年度?")
# The words that start the plan's kind after the agency, when no year separates them.
PLAN_KIND = re.compile(r"提升|加強|精進|推動|強化|落實|創新|優質|為民服務|服務品質|便民服務|服務(?:工作|創新)")
DOC_NO = re.compile(r"([\u4e00-\u9fff]{2,14}字第?\s*[0-9A-Za-z]+(?:\s+[0-9A-Za-z]+)*\s*號)")
DATE = re.compile(r"(\d{2,3})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
# How many lines before the first section the title may start, and how many lines one title may span.
TITLE_WINDOW = 12
TITLE_MAX_LINES = 3
TITLE_MAX_WIDTH = 70
CN_YEAR_DIGITS = {
    "〇": 0,
    "○": 0,
    "零": 0,
    "一": 1,
    "二": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}


@dataclass(frozen=True)
class Section:
    """One 壹、貳、… section: the index of its heading in the plan's lines, its numeral, name and inline text."""

    index: int
    numeral: str
    name: str
    inline: str


@dataclass(frozen=True)
class Title:
    title: str
    agency: str
    year_roc: int | None
    doc_no: str | None
    issued_date: str | None


def sections(lines: list[str]) -> list[Section]:
    """The plan's 壹、貳、… sections; some agencies number them 一、二、… (then only template names count).

    A plan that prints its outline (大綱) first lists the sections twice: the run kept is the one that covers
    the most lines, the plan itself, not its outline.
    """
    found = _heads(lines, SECTION)
    if not found:
        found = [h for h in _heads(lines, SECTION_CN) if SECTION_NAMES.match(h.name)]
    runs: list[list[Section]] = []
    for s in found:
        if not runs or s.numeral in "壹一" and runs[-1]:
            runs.append([])
        runs[-1].append(s)
    if len(runs) <= 1:
        return found

    def span(k: int) -> int:
        end = runs[k + 1][0].index if k + 1 < len(runs) else len(lines)
        return end - runs[k][0].index

    best = max(range(len(runs)), key=span)
    return runs[best]


def _heads(lines: list[str], pattern: re.Pattern) -> list[Section]:
    found = []
    for i, raw in enumerate(lines):
        m = pattern.match(strip_markup(raw))
        if m:
            name, *inline = re.split(r"[:：]", normalise(m.group(2)), maxsplit=1)
            found.append(Section(i, m.group(1), name.strip(), inline[0].strip() if inline else ""))
    return found


def _clean(text: str) -> str:
    """A head line without web-page furniture: breadcrumbs and 友善列印-style links dropped."""
    text = re.sub(rf"^{BULLETS}", "", normalise(strip_markup(text)))
    if re.search(r"[>＞»]", text):
        text = BREADCRUMB.sub("", text)
    return CHROME.sub(" ", text).strip()


def _roc_year(text: str) -> tuple[int | None, re.Match | None]:
    for m in ROC_YEAR.finditer(text):
        raw = m.group(1)
        value = int(raw) if raw.isdigit() else int("".join(str(CN_YEAR_DIGITS[c]) for c in raw))
        if 40 <= value <= 200:
            return value, m
    return None, None


def _is_title_line(text: str) -> bool:
    flat = text.replace(" ", "")
    return (
        bool(TITLE_END.search(flat))
        and not re.search(r"字第|函頒|函訂|[。，；]", flat)
        and len(flat) <= TITLE_MAX_WIDTH
    )


def _has_agency(flat: str) -> bool:
    year, m = _roc_year(flat)
    head = flat[: m.start()] if m else flat[: (PLAN_KIND.search(flat) or re.search(r"$", flat)).start()]
    return len(head) >= 3


def title(lines: list[str], first_section: int, name: str) -> Title:
    """The title (agency, year, plan kind) printed before the first section, free of page chrome."""
    head = [(i, _clean(lines[i])) for i in range(max(0, first_section - TITLE_WINDOW), first_section)]
    head = [(i, t) for i, t in head if t]
    pick = max((k for k, (_, t) in enumerate(head) if _is_title_line(t)), default=None)
    if pick is None:
        raise PlanParseError(
            name, "no plan title (e.g. '高雄市政府○○局113年度提升服務品質執行計畫') before the first section", 1
        )
    parts = [head[pick][1].replace(" ", "")]
    k = pick
    # A title printed over two or three lines: the agency on one, the year and kind on the next.
    while not _has_agency("".join(parts)) and k > 0 and len(parts) < TITLE_MAX_LINES:
        prev = head[k - 1][1].replace(" ", "")
        if re.search(r"[。，；：:]", prev) or len(prev) > TITLE_MAX_WIDTH:
            break
        parts.insert(0, prev)
        k -= 1
    text = "".join(parts)
    year_roc, m = _roc_year(text)
    if m:
        agency = text[: m.start()]
    else:
        kind = PLAN_KIND.search(text)
        agency = text[: kind.start()] if kind else ""
    agency = re.sub(r"(?:中華民國)$", "", agency).strip()
    if len(agency) < 2:
        raise PlanParseError(name, f"the title '{text}' names no agency before the year or the plan's kind", 1)
    doc_no = issued = None
    for _, t in head[k:]:
        d = DOC_NO.search(t)
        if d and doc_no is None:
            doc_no = re.sub(r"^.*?日", "", re.sub(r"\s+", "", d.group(1)))
        t_date = DATE.search(t)
        if t_date and issued is None and (d or re.search(r"函|頒|訂|核定", t)):
            issued = f"{int(t_date.group(1)) + 1911:04d}-{int(t_date.group(2)):02d}-{int(t_date.group(3)):02d}"
    return Title(text, agency, year_roc, doc_no, issued)


def section_text(lines: list[str], found: list[Section], idx: int) -> list[str]:
    start = found[idx].index
    end = found[idx + 1].index if idx + 1 < len(found) else len(lines)
    out = [found[idx].inline] if found[idx].inline else []
    out += [normalise(strip_markup(x)) for x in lines[start + 1 : end]]
    return [re.sub(r"^[-*•●]\s*", "", x) for x in out if x]


def basis(texts: list[str]) -> list[str]:
    joined = "".join(texts)
    found = []
    for q in re.findall(r"「([^」]{4,60})」", joined):
        q = q.replace(" ", "")
        if re.search(r"方案|計畫|計劃|手冊|要點|原則", q) and q not in found:
            found.append(q)
    if not found:
        for text in texts:
            text = re.sub(r"^(?:[一二三四五六七八九十]+、|\d+[、.])\s*", "", text).replace(" ", "")
            text = re.sub(r"^依據", "", text).rstrip("。")
            if re.search(r"(方案|計畫|計劃)$", text):
                found.append(text)
    return found


def goals(texts: list[str]) -> list[str]:
    heads = []
    for text in texts:
        m = re.match(r"^([一二三四五六七八九十]+)\s*、\s*(.+)$", text)
        if m:
            heads.append(m.group(2).strip().rstrip("：:。").replace(" ", ""))
    if heads:
        return heads
    return [t.rstrip("。").replace(" ", "") for t in texts if len(t) > 2]


def targets(texts: list[str]) -> list[str]:
    if not texts:
        return []
    first = re.sub(r"^(?:[一二三四五六七八九十]+、)\s*", "", texts[0]).replace(" ", "")
    first = first.split("。")[0]
    parts = [p for p in re.split(r"[、，]", first) if p]
    if len(parts) > 1 and all(len(p) <= 12 and UNIT_SUFFIX.search(p) for p in parts):
        return parts
    return [first] if first else []
