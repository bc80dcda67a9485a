"""Grid tables: a measures table whose cells are known (Word, ODF, PDF, HTML, box-drawn text), read by column roles.

The columns are found by what their header says, whatever the words and their order: the dimension
(執行要項 / 工作要項 / 構面 / 實施策略 …), the item (a second heading column, or (一)(二) headings), the
measure (執行重點 / 工作重點 / 具體作法 …), the units (執行單位 / 承辦單位 …) and the columns some agencies
add (完成期限, 預期效益). A table without a header gets its roles from its contents. A merged cell is one
heading for all the rows it covers; a measure cell may hold several numbered measures, and its unit cell
one paragraph of units per measure, aligned by position.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kg.document import Cell, Table
from kg.normalise import join_text, normalise
from kg.plan.layouts import Section
from kg.plan.model import Heading, Measure
from kg.plan.numbering import DIM, ITEM, NUM_DOT, SUBPOINT, cn_number, split_inline, width
from kg.plan.units import UNIT_SUFFIX, unit_tokens

# Header words by role, tried in this order: a header cell names at most one role.
HEADER_ROLES: tuple[tuple[str, re.Pattern], ...] = (
    ("number", re.compile(r"^(?:項次|編號|序號|序|項目編號|NO\.?|No\.?)$")),
    ("unit", re.compile(r"單位|權責|負責|主辦|承辦|協辦|執行機關|辦理機關")),
    ("deadline", re.compile(r"期限|期程|時程|完成日期|完成時間|辦理時間|預定|進度")),
    ("benefit", re.compile(r"效益|預期成果|績效|指標|成效")),
    ("remark", re.compile(r"備註|附記")),
    ("measure", re.compile(r"重點|方法|作法|做法|措施|內容|方式|步驟|工作項目說明")),
    ("heading", re.compile(r"要項|構面|要領|策略|項目|面向|目標|主軸|類別")),
)
# A header cell is short; longer text in the first rows is content, not a header.
HEADER_MAX_CHARS = 24
# How many leading rows may make up the header (a two-row header with a spanning cell above).
HEADER_MAX_ROWS = 3
# Fraction of a column's cells that must look like unit names for a headerless column to be the unit column.
UNIT_COLUMN_SHARE = 0.6
# A short first line (CJK cells) with no sentence punctuation, followed by a body, is a measure's title.
TITLE_MAX_WIDTH = 20
# Where most entries print "1. 短標題 內文", a first word this wide or less is the title.
INLINE_TITLE_MAX_WIDTH = 16
INLINE_TITLE_MIN_WIDTH = 3
INLINE_TITLE_SHARE = 0.4
PAREN_NUM = re.compile(r"^\(\s*(\d{1,2})\s*\)\s*(.*)$", re.S)
CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"
CIRCLED_NUM = re.compile(rf"^([{CIRCLED}])\s*(.*)$", re.S)
ASCII_WORD = re.compile(r"\(?[A-Za-z0-9.+/&-]+\)?")
# After an ASCII word in a title, a CJK word this wide still belongs to the title (24 小時服務).
TITLE_TAIL_MAX_WIDTH = 4
# A body shorter than this after a would-be title means there was no title, just a short measure.
MIN_BODY_WIDTH = 4
# A title before a full-width colon (服務人員專業能力：…) is at most this many characters.
COLON_TITLE_MAX_CHARS = 10
NUM_SPACE = re.compile(r"^(\d{1,2})\s+(?=[\u4e00-\u9fff「])(.*)$", re.S)


def _flat(text: str) -> str:
    return re.sub(r"\s+", "", normalise(text))


def header_role(text: str) -> str | None:
    flat = _flat(text)
    if not flat or len(flat) > HEADER_MAX_CHARS:
        return None
    for role, pattern in HEADER_ROLES:
        if pattern.search(flat):
            return role
    return None


@dataclass
class Roles:
    """Which column is which: heading columns left to right (dimension, item), the measure column, the others."""

    headings: list[int]
    measure: int
    unit: int | None = None
    number: int | None = None
    deadline: int | None = None
    benefit: int | None = None
    ignored: set[int] = field(default_factory=set)
    width: int = 0

    def kind_of(self, col: int) -> str:
        return "dim" if self.headings and col == self.headings[0] else "item"


def roles_from_header(table: Table) -> tuple[Roles, int] | None:
    """The roles named by the table's header rows, and how many rows the header takes."""
    found: dict[int, str] = {}
    rows = 0
    for r, row in enumerate(table.rows[:HEADER_MAX_ROWS]):
        named = {c: header_role(cell.text) for c, cell in enumerate(row)}
        if sum(1 for v in named.values() if v) < 2 and not (
            found and all(_flat(x.text) == "" or named[c] for c, x in enumerate(row))
        ):
            break
        if any(len(_flat(cell.text)) > HEADER_MAX_CHARS for cell in row):
            break
        for c, role in named.items():
            if role and (c not in found or found[c] == "heading"):
                found[c] = role
        rows = r + 1
    if not rows or "measure" not in found.values() and "heading" not in found.values():
        return None
    return _roles(found, table.width), rows


def _roles(found: dict[int, str], n_cols: int) -> Roles:
    cols = sorted(found)
    measure = next((c for c in cols if found[c] == "measure"), None)
    if measure is None:
        # Only heading words (e.g. 實施項目 | 具體…?): the last heading column holds the measures.
        heads = [c for c in cols if found[c] == "heading"]
        measure = heads[-1]
    headings = [c for c in cols if found[c] == "heading" and c < measure][:2]
    roles = Roles(headings, measure, width=n_cols)
    for c in cols:
        role = found[c]
        if role in ("unit", "number", "deadline", "benefit") and getattr(roles, role) is None:
            setattr(roles, role, c)
        elif c not in headings and c != measure:
            roles.ignored.add(c)
    return roles


def roles_from_content(table: Table) -> Roles | None:
    """Roles of a headerless table: units where cells read as unit names, measures where numbered entries are."""
    n = table.width
    if n < 2:
        return None
    unit_votes, num_votes, head_votes, filled = [0] * n, [0] * n, [0] * n, [0] * n
    for row in table.rows:
        for c, cell in enumerate(row[:n]):
            if cell.spanned or not cell.paragraphs:
                continue
            filled[c] += 1
            first = normalise(cell.paragraphs[0])
            if unit_tokens(" ".join(cell.paragraphs)) is not None:
                unit_votes[c] += 1
            if NUM_DOT.match(first) or PAREN_NUM.match(first):
                num_votes[c] += 1
            if DIM.match(first) or ITEM.match(first):
                head_votes[c] += 1
    unit = max(range(n), key=lambda c: unit_votes[c] / (filled[c] or 1))
    if not filled[unit] or unit_votes[unit] / filled[unit] < UNIT_COLUMN_SHARE:
        unit = None
    candidates = [c for c in range(n) if c != unit and filled[c]]
    if not candidates:
        return None
    measure = max(candidates, key=lambda c: (num_votes[c], c))
    if num_votes[measure] == 0:
        measure = max(c for c in candidates)
    headings = [c for c in candidates if c < measure][-2:]
    return Roles(headings, measure, unit=unit, width=n)


def marker(text: str) -> tuple[str, int | None, str]:
    """The numbering a paragraph starts with: dim 一、, item (一), num 1., paren (1), circled ①, or none."""
    m = DIM.match(text)
    if m and cn_number(m.group(1)):
        return "dim", cn_number(m.group(1)), m.group(2)
    m = ITEM.match(text)
    if m and cn_number(m.group(1)):
        return "item", cn_number(m.group(1)), m.group(2)
    m = NUM_DOT.match(text) or NUM_SPACE.match(text)
    if m and 0 < int(m.group(1)) <= 99:
        return "num", int(m.group(1)), m.group(2)
    m = PAREN_NUM.match(text)
    if m:
        return "paren", int(m.group(1)), m.group(2)
    m = CIRCLED_NUM.match(text)
    if m:
        return "circled", CIRCLED.index(m.group(1)) + 1, m.group(2)
    return "none", None, text


@dataclass
class Entry:
    """One measure as found in a cell: its number, title and body paragraphs."""

    number: int | None
    title: str | None
    body: list[str]
    raw: list[str]


@dataclass
class HeadingMark:
    """A (一)/一、 heading printed inside a measure cell: it governs the entries after it."""

    kind: str
    number: int | None
    text: str


def split_entries(paragraphs: list[str], headings_in_cell: bool) -> list[Entry | HeadingMark]:
    """A measure cell's paragraphs as entries, in order; (一)/一、 paragraphs as headings when the table has no
    column for them.

    The top numbering of the cell is 1. where present, else (1), else ①: lower levels stay inside their entry.
    """
    marks = [marker(normalise(p, keep_spaces=True)) for p in paragraphs]
    styles = {k for k, _, _ in marks}
    top = next((s for s in ("num", "paren", "circled") if s in styles), None)
    if top == "paren" and marks and marks[0][0] == "none" and normalise(paragraphs[0]).endswith(("：", ":")):
        top = None  # an introduction and its sub-points: one measure
    out: list[Entry | HeadingMark] = []
    for raw, (kind, number, body) in zip(paragraphs, marks, strict=True):
        text = normalise(raw, keep_spaces=True)
        if not text:
            continue
        if headings_in_cell and kind in ("dim", "item") and top != kind:
            out.append(HeadingMark(kind, number, normalise(body, keep_spaces=True)))
            continue
        if kind == top and top is not None:
            body = normalise(body, keep_spaces=True)
            pieces = split_inline(body, number) if top == "num" and number is not None else [body]
            for k, piece in enumerate(pieces):
                out.append(Entry(number + k if number is not None else None, None, [piece] if piece else [], [text]))
            continue
        current = out[-1] if out and isinstance(out[-1], Entry) else None
        if current is None:
            out.append(Entry(None, None, [text], [text]))
        else:
            current.body.append(text)
            current.raw.append(text)
    return out


def _inline_head(body: str) -> str | None:
    """The title of '短標題 內文' when its first word is short enough to be one.

    ASCII words after it belong to it (常見問題集 (FAQ), 市府網站 Web2.0 專區, 線上檢舉 24 小時服務).
    """
    tokens = body.split(" ")
    if len(tokens) < 2:
        return None
    head = tokens[0]
    if (
        not (INLINE_TITLE_MIN_WIDTH <= width(head) <= INLINE_TITLE_MAX_WIDTH)
        or re.search(r"[。；：:]", head)
        or SUBPOINT.match(head)
    ):
        return None
    n = 1
    while n < len(tokens) - 1:
        prev_ascii = ASCII_WORD.fullmatch(tokens[n - 1]) is not None
        if ASCII_WORD.fullmatch(tokens[n]) or (prev_ascii and width(tokens[n]) <= TITLE_TAIL_MAX_WIDTH):
            n += 1
            continue
        break
    rest = " ".join(tokens[n:])
    return " ".join(tokens[:n]) if width(rest) >= MIN_BODY_WIDTH else None


def titles_inline(tables: list[Table]) -> bool:
    """Whether this plan prints '1. 短標題 內文' (most numbered entries), so a short first word is a title."""
    hits = total = 0
    for table in tables:
        for row in table.rows:
            for cell in row:
                if cell.spanned:
                    continue
                for p in cell.paragraphs:
                    kind, _, body = marker(normalise(p, keep_spaces=True))
                    if kind == "num" and body:
                        total += 1
                        hits += _inline_head(body) is not None
    return total > 0 and hits / total >= INLINE_TITLE_SHARE


def _title_split(entries: list[Entry], inline: bool) -> None:
    """Separate each entry's short title from its body, where the plan prints one."""
    for e in entries:
        if not e.body:
            continue
        first = e.body[0]
        if len(e.body) >= 2 and width(first) <= TITLE_MAX_WIDTH and not re.search(r"[。，、；：:,;]", first):
            e.title, e.body = first.strip(), e.body[1:]
            continue
        strong = re.match(r"^(\S.{0,24}?)\s{2,}(\S.*)$", first, re.S)
        if strong and "。" not in strong.group(1):
            e.title, e.body[0] = strong.group(1).strip(), strong.group(2)
            continue
        colon = re.match(rf"^([^。，、；：:「」『』《》]{{2,{COLON_TITLE_MAX_CHARS}}})[：:]\s*(\S.*)$", first, re.S)
        if colon and not inline and not SUBPOINT.match(first):
            e.title, e.body[0] = colon.group(1).strip(), colon.group(2)
            continue
        head = _inline_head(first) if inline else None
        if head is not None:
            e.title, e.body[0] = head, first[len(head) :].strip()


def _groups(cell: Cell | None) -> list[list[str]]:
    """A unit cell as one list of unit names per paragraph."""
    if cell is None:
        return []
    out = []
    for p in cell.paragraphs:
        text = normalise(p)
        if not text:
            continue
        tokens = unit_tokens(text)
        out.append(tokens if tokens is not None else [t for t in re.split(r"[、，,；;/\s]+", text) if t])
    return out


def _repeats(text: str) -> list[str] | None:
    """A unit name printed several times with the line breaks lost (消費者保護室消費者保護室) as its copies."""
    for size in range(2, len(text) // 2 + 1):
        if len(text) % size == 0 and text == text[:size] * (len(text) // size) and UNIT_SUFFIX.search(text[:size]):
            return [text[:size]] * (len(text) // size)
    return None


def _align(groups: list[list[str]], n: int) -> list[list[str]] | None:
    """Units for n entries: one paragraph each when the counts agree, else every entry gets them all.

    When fewer paragraphs than entries are printed because some unit lines ran together, a paragraph that is
    one name repeated is that many lines.
    """
    if not groups:
        return [[] for _ in range(n)]
    if len(groups) < n:
        split: list[list[str]] = []
        for g in groups:
            copies = _repeats(g[0]) if len(g) == 1 else None
            split += [[c] for c in copies] if copies else [g]
        if len(split) == n:
            groups = split
    if len(groups) == n:
        return groups
    tokens = [t for g in groups for t in g]
    if n == 1 or len(groups) == 1:
        return [tokens for _ in range(n)]
    if len(tokens) == n:
        return [[t] for t in tokens]
    return None


class GridReader:
    """Reads the grid tables of a measures section in order, headings carried from one table to the next."""

    def __init__(self, section: Section) -> None:
        self.section = section
        self.measures: list[Measure] = []
        self.dim: Heading | None = None
        self.item: Heading | None = None
        self.origins: dict[object, object] = {}  # column (or ("extra", column)) -> the merged cell last read there
        self.roles: Roles | None = None
        self.tables = 0
        self.printed: dict[int, str] = {}  # column -> text of the heading cell last read there
        self.printed_as: dict[int, Heading | None] = {}

    def read(self) -> list[Measure]:
        tables = [b for b in self.section.blocks if isinstance(b, Table) and b.grid]
        self.titles_inline = titles_inline(tables)
        for table in tables:
            self._table(table)
        return self.measures

    def _table(self, table: Table) -> None:
        header = roles_from_header(table)
        if header is not None:
            roles, skip = header
        elif self.roles is not None and self.roles.width == table.width:
            roles, skip = self.roles, 0  # a table continued on the next page, or split by the author
        else:
            roles, skip = roles_from_content(table), 0
            if roles is None:
                self.section.warn(table.source, "a table in the measures section could not be read as measures")
                return
        self.roles = roles
        self.tables += 1
        rows = table.rows[skip:]
        pending: list[tuple[Measure, list[Entry]]] = []
        for row in rows:
            if not row:
                continue
            if len({c.origin for c in row}) == 1:  # a row spanning the whole table: a heading row
                self._headings(row[0], "dim", force=True)
                continue
            for col in roles.headings:
                if col < len(row):
                    self._heading_cell(row[col], roles.kind_of(col), table)
            if roles.measure >= len(row):
                continue
            cell = row[roles.measure]
            key = (id(table), cell.origin)
            if self.origins.get(roles.measure) == key:
                # One measure cell over several rows: the units of the later rows are its units too.
                self._units_for(pending, row, roles, extra=True)
                continue
            self.origins[roles.measure] = key
            parts = split_entries(list(cell.paragraphs), headings_in_cell=len(roles.headings) < 2)
            if not parts:
                continue
            made = self._measures(parts, cell)
            pending = [(m, [e]) for m, e in made]
            self._units_for(pending, row, roles)
            for col in range(min(len(row), roles.width)):
                if col in roles.ignored or col in roles.headings or col in (roles.measure, roles.unit):
                    continue
                if col in (roles.number, roles.deadline, roles.benefit):
                    continue
                if row[col].paragraphs and not row[col].spanned:
                    self.section.warn(row[col].source, f"a cell that could not be placed: '{row[col].text[:20]}'")

    def _heading_cell(self, cell: Cell, kind: str, table: Table) -> None:
        col = cell.source.col if cell.source.col is not None else -1
        key = (id(table), cell.origin)
        if not cell.paragraphs or self.origins.get(col) == key:
            return
        self.origins[col] = key
        text = _flat(cell.text)
        current = self.dim if kind == "dim" else self.item
        if current is not None and self.printed.get(col) == text and self.printed_as.get(col) is current:
            return  # the same heading printed again in every row instead of a merged cell
        self._headings(cell, kind)
        self.printed[col] = text
        self.printed_as[col] = self.dim if kind == "dim" else self.item

    def _headings(self, cell: Cell, kind: str, force: bool = False) -> None:
        """The headings a heading cell holds: 一、 dimensions and (一) items, unnumbered text as the column's kind."""
        last: Heading | None = None
        for p in cell.paragraphs:
            text = normalise(p, keep_spaces=True)
            if not text:
                continue
            kind_found, number, body = marker(text)
            if kind_found in ("dim", "item"):
                last = self._new_heading(kind_found, number, body, cell)
            elif last is not None:
                last.text = join_text(last.text, text)
            else:
                last = self._new_heading(kind, None, text, cell)

    def _new_heading(self, kind: str, number: int | None, text: str, cell: Cell) -> Heading:
        line = cell.source.line or 0
        h = Heading(kind, number, text, line, source=cell.source)
        if kind == "dim":
            self.dim, self.item = h, None
        else:
            self.item = h
            if self.dim is not None:
                self.dim.children += 1
        return h

    def _measures(self, parts: list[Entry | HeadingMark], cell: Cell) -> list[tuple[Measure, Entry]]:
        _title_split([e for e in parts if isinstance(e, Entry)], self.titles_inline)
        made: list[tuple[Measure, Entry]] = []
        line = cell.source.line or 0
        for e in parts:
            if isinstance(e, HeadingMark):
                self._new_heading(e.kind, e.number, e.text, cell)
                continue
            text = ""
            for b in e.body:
                text = join_text(text, normalise(b))
            if not text and not e.title:
                continue
            m = Measure(
                self.dim, self.item, e.number, e.title, text, line, line, source=cell.source, quote="\n".join(e.raw)
            )
            if self.item:
                self.item.children += 1
            self.measures.append(m)
            made.append((m, e))
        return made

    def _units_for(
        self, pending: list[tuple[Measure, list[Entry]]], row: tuple[Cell, ...], roles: Roles, extra: bool = False
    ) -> None:
        if not pending:
            return
        n = len(pending)
        for col, attr in ((roles.unit, "units"), (roles.deadline, "deadline"), (roles.benefit, "benefit")):
            if col is None or col >= len(row):
                continue
            cell = row[col]
            if extra and cell.origin == self.origins.get(("extra", col)):
                continue
            self.origins[("extra", col)] = cell.origin
            if attr == "units":
                aligned = _align(_groups(cell), n)
                if aligned is None:
                    self.section.warn(
                        cell.source, f"{len(cell.paragraphs)} unit lines for {n} measures: all given to each"
                    )
                    aligned = [[t for g in _groups(cell) for t in g] for _ in range(n)]
                for (m, _), units in zip(pending, aligned, strict=True):
                    for u in units:
                        if u not in m.units_raw:
                            m.units_raw.append(u)
            else:
                texts = [normalise(p) for p in cell.paragraphs if normalise(p)]
                values = texts if len(texts) == n else [" ".join(texts)] * n if texts else [None] * n
                for (m, _), v in zip(pending, values, strict=True):
                    if v and not getattr(m, attr):
                        setattr(m, attr, v)
        if roles.number is not None and roles.number < len(row) and n == 1:
            digits = re.findall(r"\d{1,2}", row[roles.number].text)
            m = pending[0][0]
            if digits and m.number is None:
                m.number = int(digits[0])


class GridLayout:
    """Sections whose measures are in grid tables (cells known): read by column roles."""

    name = "grid"

    def applies(self, section: Section) -> bool:
        return any(isinstance(b, Table) and b.grid and b.width >= 2 and len(b.rows) >= 2 for b in section.blocks)

    def read(self, section: Section) -> list[Measure]:
        return GridReader(section).read()
