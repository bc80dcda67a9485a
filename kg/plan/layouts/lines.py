"""Line tables: the measures table of a text dump, where cell borders are lost, read as a small state machine.

Each printed line is a row and each tab-separated piece a cell; a cell's text may go on over the following
lines, units may be printed as a list beside the numbered entries, headings on the line of another row.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass

from kg.document import Paragraph
from kg.normalise import join_text, normalise, strip_markup
from kg.plan.model import Heading, Measure
from kg.plan.numbering import (
    DIM,
    INLINE_NUM,
    ITEM,
    JUNK,
    NUM_BARE,
    NUM_DOT,
    SUBPOINT,
    TERMINAL,
    cn_number,
    inline_number,
    width,
)
from kg.plan.units import AGENCY_TAIL, NOT_UNIT_WORDS, UNIT_SUFFIX, unit_tokens

HEADER = re.compile(
    r"(?:(?:執行|工作|實施|業務|辦理|主辦|承辦|協辦)(?:要項|重點|單位|方法|項目|內容|成果|\(參考\)方法|\(單位\))"
    r"|\(內容/同本實施計畫具體措施\)|\(步驟、方法\)|[|\-:]|--)+"
)


# Named thresholds of the line table (widths in CJK cells, ASCII counting half).
TITLE_MAX_WIDTH = 20  # a heading line of its own wider than this is body text, not a measure's title
WRAPPED_SHARE = 0.85  # a line this close to the column's printed width is a wrapped body line
TITLE_LOOKAHEAD = 3  # fragments after a would-be title searched for its body
INLINE_TITLE_MIN_WIDTH = 3
INLINE_TITLE_MAX_WIDTH = 16
TITLE_TAIL_MAX_WIDTH = 4  # after an ASCII word, a CJK word this wide still belongs to the title (24 小時服務)
MIN_BODY_WIDTH = 4
INLINE_TITLE_SHARE = 0.4  # share of numbered entries printing '1. 短標題 內文' for the plan to be read so
UNIT_CELL_MAX_WIDTH = 8  # a unit name (or half of one broken over lines) in the last column is this short
UNIT_LOOKAHEAD = 7  # fragments searched for the second half of a unit name broken over lines
ROW_LOOKBACK = 6  # fragments looked back to tell whether a cell is the first of its printed row
MAX_MEASURE_NUMBER = 60  # a number above this at the start of a line is not a measure's number
MIN_WRAP_SAMPLES = 10  # lines needed to estimate the printed width of a hard-wrapped column
UNWRAPPED = 200.0  # the printed width assumed when the text is not hard-wrapped


@dataclass
class Fragment:
    """A piece of table text: one cell, one <p> block or one list entry, with where it was printed."""

    text: str
    line: int
    col: int | None
    multi: bool
    group: tuple[int, int]
    last_cell: bool
    in_list: bool = False
    list_start: bool = False


def _is_header(raw: str) -> bool:
    flat = re.sub(r"\s+", "", strip_markup(raw))
    return bool(flat) and HEADER.fullmatch(flat) is not None


def _split_cell(cell: str) -> list[tuple[str, bool]]:
    """Split a cell at <p> blocks and list tags; entries of a list keep a flag for numbering by position."""
    pieces = []
    in_list = False
    for part in re.split(r"(<ol[^>]*>|</ol>|<ul[^>]*>|</ul>|</?p[^>]*>|<li[^>]*>|</li>|<br\s*/?>)", cell, flags=re.I):
        low = part.lower()
        if low.startswith(("<ol", "<ul")):
            in_list = True
        elif low.startswith(("</ol", "</ul")):
            in_list = False
        elif not part.startswith("<") and normalise(part):
            pieces.append((part, in_list))
    return pieces


def _fragments(entries: list[tuple[str, int]]) -> list[Fragment]:
    out: list[Fragment] = []
    for raw, line in entries:
        i = line - 1
        if not strip_markup(raw).strip() or _is_header(raw) or re.fullmatch(r"[\s\-|=]*", raw):
            continue
        cells = raw.split("\t")
        filled = [(ci, c) for ci, c in enumerate(cells) if normalise(c)]
        multi = len(filled) >= 2
        for k, (ci, cell) in enumerate(filled):
            for part, in_list in _split_cell(cell):
                text = normalise(part, keep_spaces=True)
                if JUNK.fullmatch(text) and not ITEM.fullmatch(text):
                    continue
                pieces = _split_list(text) if in_list else [text]
                for j, piece in enumerate(pieces):
                    out.append(
                        Fragment(
                            piece,
                            i + 1,
                            ci if len(cells) > 1 else None,
                            multi,
                            (i, ci),
                            k == len(filled) - 1,
                            in_list,
                            in_list and j == 0,
                        )
                    )
    return out


def _split_list(text: str) -> list[str]:
    """Entries of an HTML list: by their numbers if printed, else one sentence each."""
    if NUM_DOT.match(text):
        return [text]
    return [s for s in re.split(r"(?<=[。！？])\s+", text) if s.strip()]


class _TableReader:
    """The measures table as a small state machine over fragments, tolerant of this template's layouts."""

    def __init__(self, frags: list[Fragment], name: str, titles_inline: bool, wrap: float) -> None:
        self.frags = frags
        self.name = name
        self.titles_inline = titles_inline
        self.wrap = wrap
        self.measures: list[Measure] = []
        self.dim: Heading | None = None
        self.item: Heading | None = None
        self.pending: list[Heading] = []  # headings printed before the measures they govern
        self.last: Heading | Measure | None = None
        self.spill: list[Heading | Measure] = []
        self.awaiting: list[Measure] = []  # measures whose unit cell has not been seen yet
        self.unit_block: list[Fragment] = []
        self.roles = self._column_roles()

    # -- helpers
    def _column_roles(self) -> dict[int, str]:
        votes: dict[int, dict[str, int]] = {}
        for f in self.frags:
            if f.col is None or not f.multi:
                continue
            kind = self._marker(f.text, expect=None)[0]
            if kind == "cont" and unit_tokens(f.text):
                kind = "unit"
            if kind in ("dim", "item", "measure", "unit"):
                votes.setdefault(f.col, {}).setdefault(kind, 0)
                votes[f.col][kind] += 1
        return {c: max(v, key=v.get) for c, v in votes.items()}

    def _expected(self) -> int:
        if not self.measures or self.measures[-1].item is not self.item:
            return 1
        return (self.measures[-1].number or 0) + 1

    def _marker(self, text: str, expect: int | None) -> tuple[str, int | None, str]:
        m = DIM.match(text)
        if m and cn_number(m.group(1)):
            return "dim", cn_number(m.group(1)), m.group(2)
        m = ITEM.match(text)
        if m and cn_number(m.group(1)):
            return "item", cn_number(m.group(1)), m.group(2)
        m = NUM_DOT.match(text)
        if m and 0 < int(m.group(1)) <= MAX_MEASURE_NUMBER:
            return "measure", int(m.group(1)), m.group(2)
        m = NUM_BARE.match(text)
        if m and 0 < int(m.group(1)) <= MAX_MEASURE_NUMBER:
            body = m.group(2) or m.group(3) or ""
            if not body or expect is None or int(m.group(1)) == expect:
                return "measure", int(m.group(1)), body
        return "cont", None, text

    def _title_like(self, text: str, idx: int) -> bool:
        """A short heading line of its own, followed by a body: the title of an unnumbered or numbered entry.

        In plans whose cells are hard-wrapped, a line as wide as the column is a wrapped body line, not a title.
        """
        printed = width(self.frags[idx].text) if idx < len(self.frags) else width(text)
        if (
            not text
            or re.search(r"[。，、；：:,;]", text)
            or width(text) > TITLE_MAX_WIDTH
            or printed > WRAPPED_SHARE * self.wrap
        ):
            return False
        for nxt in self.frags[idx + 1 : idx + 1 + TITLE_LOOKAHEAD]:
            if unit_tokens(nxt.text) is not None:
                continue
            return self._marker(nxt.text, None)[0] == "cont"
        return False

    def _split_title(self, body: str, idx: int) -> tuple[str | None, str]:
        """Separate a measure's short title from its body where the plan prints one."""
        if not body:
            return None, ""
        strong = re.match(r"^(\S.{0,24}?)\s{2,}(\S.*)$", body, re.S)
        if strong and not re.search(r"[。]", strong.group(1)):
            return strong.group(1).strip(), strong.group(2)
        tokens = body.split(" ")
        if len(tokens) >= 2 and self.titles_inline:
            head = tokens[0]
            if (
                INLINE_TITLE_MIN_WIDTH <= width(head) <= INLINE_TITLE_MAX_WIDTH
                and not re.search(r"[。；：:]", head)
                and not SUBPOINT.match(head)
            ):
                n = 1
                while n < len(tokens) - 1:
                    tok = tokens[n]
                    prev_ascii = re.fullmatch(r"[A-Za-z0-9.+/&-]+", tokens[n - 1]) is not None
                    if re.fullmatch(r"\(?[A-Za-z0-9.+/&-]+\)?", tok) or (
                        prev_ascii and width(tok) <= TITLE_TAIL_MAX_WIDTH
                    ):
                        n += 1
                        continue
                    break
                rest = " ".join(tokens[n:])
                if width(rest) >= MIN_BODY_WIDTH:
                    return " ".join(tokens[:n]), rest
        if self._title_like(body, idx):
            return body, ""
        return None, body

    # -- state changes
    def _take_pending(self, number: int | None) -> None:
        """A measure starts: the headings printed ahead of it now govern it."""
        dims = [h for h in self.pending if h.kind == "dim"]
        items = [h for h in self.pending if h.kind == "item"]
        if items:
            item = items[0]
            # A dimension printed ahead governs the first item that restarts the numbering under it.
            restarts = (
                item.number in (None, 1)
                or self.item is None
                or (self.item.number is not None and item.number <= self.item.number)
            )
            if dims and (self.dim is None or restarts):
                self.dim = dims[0]
                self.pending.remove(dims[0])
            self.pending.remove(item)
            self.item = item
            if self.dim:
                self.dim.children += 1
        elif dims:
            self.dim = dims[0]
            self.pending.remove(dims[0])
            self.item = None

    def _new_measure(self, number: int | None, body: str, frag: Fragment, idx: int) -> Measure:
        starting = number in (None, 1) or number != self._expected()
        if self.pending and starting:
            self._take_pending(number)
        elif self.pending and not any(h.kind == "item" for h in self.pending) and number is None:
            self._take_pending(number)
        title, text = self._split_title(body, idx)
        m = Measure(self.dim, self.item, number, title, normalise(text), frag.line, frag.line, started_line=frag.line)
        m.lines_seen.add(frag.line)
        if self.item:
            self.item.children += 1
        self.measures.append(m)
        self.awaiting.append(m)
        self.last = m
        return m

    def _new_heading(self, kind: str, number: int | None, text: str, frag: Fragment) -> Heading:
        h = Heading(kind, number, text, frag.line)
        self.pending.append(h)
        self.last = h
        return h

    def _continue(self, target: Heading | Measure, text: str, frag: Fragment) -> None:
        if isinstance(target, Measure):
            if not target.text and target.title is None:
                title, body = self._split_title(text, self.frags.index(frag))
                target.title = title
                target.add_text(normalise(body), frag.line)
            else:
                target.add_text(normalise(text), frag.line)
        else:
            target.text = join_text(target.text, text)

    @staticmethod
    def _is_open(target: Heading | Measure) -> bool:
        if isinstance(target, Measure):
            return target.open
        return not target.text or target.text.rstrip()[-1:] not in TERMINAL + "。"

    # -- units
    def _flush_units(self) -> None:
        if not self.unit_block:
            return
        block, self.unit_block = self.unit_block, []
        groups: list[list[str]] = []
        for f in block:
            tokens = unit_tokens(f.text) or [f.text]
            groups.append(tokens)
        lines = {f.line for f in block}
        same_line = [m for m in self.awaiting if m.started_line in lines]
        if same_line:
            targets = same_line
        elif self.awaiting:
            targets = self.awaiting
        else:
            targets = [m for m in self.measures[-1:] if lines & m.lines_seen or True]
            for m in targets:
                self._append_units(m, [t for g in groups for t in g])
            return
        tokens = [t for g in groups for t in g]
        if len(groups) == len(targets):
            pairs = list(zip(targets, groups, strict=False))
        elif len(tokens) == len(targets):
            pairs = [(m, [t]) for m, t in zip(targets, tokens, strict=False)]
        elif len(targets) == 1:
            pairs = [(targets[0], tokens)]
        elif len(groups) == 1:
            pairs = [(m, tokens) for m in targets]  # one merged cell for several rows
        else:
            pairs = list(zip(targets, groups, strict=False))
        for m, g in pairs:
            self._append_units(m, g)
        self.awaiting = []

    @staticmethod
    def _append_units(m: Measure, tokens: list[str]) -> None:
        for t in tokens:
            if (
                m.units_raw
                and not UNIT_SUFFIX.search(AGENCY_TAIL.sub("", m.units_raw[-1]))
                and m.units_raw[-1] not in NOT_UNIT_WORDS
            ):
                m.units_raw[-1] += t  # a unit name broken across lines: 違建大隊查 / 報組
            else:
                m.units_raw.append(t)

    # -- main loop
    def read(self) -> list[Measure]:
        for idx, frag in enumerate(self.frags):
            text = frag.text
            kind, number, body = self._marker(text, self._expected())
            is_unit = kind == "cont" and (
                unit_tokens(text) is not None
                or self._partial_unit(frag, idx)
                or (
                    frag.multi
                    and frag.last_cell
                    and self.roles.get(frag.col) == "unit"
                    and width(text) <= UNIT_CELL_MAX_WIDTH
                    and not re.search(r"[，。、；：]", text)
                )
            )
            if is_unit:
                self.unit_block.append(frag)
                self._after_row(frag, idx)
                continue
            self._flush_units()
            if kind == "dim":
                self._new_heading("dim", number, body, frag)
                self._after_row(frag, idx)
                continue
            if kind == "item":
                self._new_heading("item", number, body, frag)
                self._after_row(frag, idx)
                continue
            if kind == "measure":
                if frag.in_list and not NUM_DOT.match(text):
                    number = self._expected()
                self._new_measure(number, body, frag, idx)
                self._inline_entries(idx)
                self._after_row(frag, idx)
                continue
            if frag.in_list and frag.text and self._list_entry(frag):
                self._new_measure(1 if frag.list_start else self._expected(), text, frag, idx)
                self._after_row(frag, idx)
                continue
            self._continuation(frag, idx)
            self._after_row(frag, idx)
        self._flush_units()
        return self.measures

    def _partial_unit(self, frag: Fragment, idx: int) -> bool:
        """The first half of a unit name broken across lines (違建大隊查 / 報組)."""
        if not (frag.multi and frag.last_cell and width(frag.text) <= UNIT_CELL_MAX_WIDTH) or re.search(
            r"[，。、；：\s]", frag.text
        ):
            return False
        for nxt in self.frags[idx + 1 : idx + 1 + UNIT_LOOKAHEAD]:
            if nxt.last_cell and nxt.line > frag.line and width(nxt.text) <= UNIT_CELL_MAX_WIDTH:
                return unit_tokens(frag.text + nxt.text) is not None
        return False

    def _list_entry(self, frag: Fragment) -> bool:
        """An unnumbered entry of an HTML list starts a measure unless it continues an open one."""
        return not (self.spill and self.spill[0] is self.last and self._is_open(self.last))

    def _inline_entries(self, idx: int) -> None:
        """Split '1. … 2. … 3. …' printed in one cell into measures."""
        m = self.measures[-1]
        while True:
            expect = (m.number or 0) + 1
            hit = None
            for cand in INLINE_NUM.finditer(m.text):
                if inline_number(cand) == expect:
                    hit = cand
                    break
            if hit is None:
                return
            head, tail = m.text[: hit.start()].rstrip(), m.text[hit.end() :]
            m.text = head
            frag = self.frags[idx]
            nxt = Measure(self.dim, self.item, expect, None, tail, frag.line, frag.line, started_line=frag.line)
            nxt.lines_seen.add(frag.line)
            if self.item:
                self.item.children += 1
            self.measures.append(nxt)
            self.awaiting.append(nxt)
            self.last = nxt
            m = nxt

    def _continuation(self, frag: Fragment, idx: int) -> None:
        text = frag.text
        role = self.roles.get(frag.col) if frag.multi else None
        # 1. The rest of a cell of the previous table row, printed on following lines in column order.
        if self.spill:
            target = self.spill[0]
            level = "measure" if isinstance(target, Measure) else target.kind
            if role is None or role == level:
                self.spill.pop(0)
                self._continue(target, text, frag)
                return
            if role in ("dim", "item", "measure"):
                for t in list(self.spill):
                    lv = "measure" if isinstance(t, Measure) else t.kind
                    if lv == role:
                        self.spill.remove(t)
                        self._continue(t, text, frag)
                        return
        # 2. A first table row printed without numbering: its cells are dimension, item and measure.
        if self.dim is None and not self.pending and frag.multi:
            first_in_row = all(f.line != frag.line for f in self.frags[max(0, idx - ROW_LOOKBACK) : idx])
            if first_in_row:
                h = Heading("dim", None, text, frag.line)
                self.dim, self.item, self.last = h, None, h
                return
            if self.item is None:
                h = Heading("item", None, text, frag.line)
                self.item, self.last = h, h
                self.dim.children += 1
                return
        # 3. A cell of a table row in a known column.
        if role == "dim" and (self.dim is None and not self.pending):
            h = Heading("dim", None, text, frag.line)
            self.dim, self.item, self.last = h, None, h
            return
        if (
            role == "item"
            and (self.item is None or self.item.children)
            and not any(h.kind == "item" for h in self.pending)
            and self.dim
            and self.dim.children == 0
        ):
            h = Heading("item", None, text, frag.line)
            self.item, self.last = h, h
            self.dim.children += 1
            return
        last = self.last
        if SUBPOINT.match(text) and self.measures and role in (None, "measure") and not self.pending:
            self._continue(self.measures[-1], text, frag)
            return
        if last is None:
            if role == "dim" or not self.measures:
                h = Heading("dim", None, text, frag.line)
                self.dim, self.item, self.last = h, None, h
                return
        if isinstance(last, Heading):
            if self._is_open(last) and role in (None, last.kind):
                last.text = join_text(last.text, text)
                return
            if role in ("dim", "item") and last.kind == role:
                last.text = join_text(last.text, text)
                return
            self._new_measure(None, text, frag, idx)
            return
        # last is a measure
        if last.open and role in (None, "measure"):
            self._continue(last, text, frag)
            return
        if role is None and self.item is not None and self.item.children and self._is_open(self.item):
            # The item's heading went on after a page break, below its first measure.
            self.item.text = join_text(self.item.text, text)
            return
        if (
            role == "measure"
            or self._title_like(text, idx)
            or (self.pending and any(h.kind == "item" for h in self.pending))
        ):
            self._new_measure(None, text, frag, idx)
            return
        self._continue(last, text, frag)

    def _after_row(self, frag: Fragment, idx: int) -> None:
        """At the end of a multi-cell row, remember its cells left open: their text goes on below."""
        nxt = self.frags[idx + 1] if idx + 1 < len(self.frags) else None
        if not frag.multi or (nxt is not None and nxt.line == frag.line):
            return
        row = [f for f in self.frags if f.line == frag.line]
        targets: list[Heading | Measure] = []
        heads = [h for h in self.pending if h.line == frag.line]
        if self.dim and self.dim.line == frag.line:
            heads.insert(0, self.dim)
        if self.item and self.item.line == frag.line and self.item not in heads:
            heads.append(self.item)
        for h in heads:
            if self._is_open(h):
                targets.append(h)
        if self.measures and frag.line in self.measures[-1].lines_seen and self.measures[-1].open:
            targets.append(self.measures[-1])
        del row
        self.spill = targets


def _wrap_width(entries: list[tuple[str, int]]) -> float:
    widths = [width(normalise(x)) for x, _ in entries if "\t" not in x.strip("\t") and normalise(x)]
    if len(widths) < MIN_WRAP_SAMPLES:
        return UNWRAPPED
    return statistics.quantiles(widths, n=10)[-1]


def _titles_inline(frags: list[Fragment]) -> bool:
    """Whether this plan prints '1. 短標題 內文' in one cell (most entries), so a first short word is a title."""
    hits = total = 0
    for f in frags:
        m = NUM_DOT.match(f.text)
        if not m or not m.group(2):
            continue
        total += 1
        head = m.group(2).split(" ")[0]
        if " " in m.group(2) and width(head) <= INLINE_TITLE_MAX_WIDTH and not re.search(r"[。；]", head):
            hits += 1
    return total > 0 and hits / total >= INLINE_TITLE_SHARE


def read_lines(entries: list[tuple[str, int]], name: str) -> list[Measure]:
    """The measures of a line table given as (printed line, line number) pairs."""
    frags = _fragments(entries)
    return _TableReader(frags, name, _titles_inline(frags), _wrap_width(entries)).read()


class LinesLayout:
    """Any section read as printed lines: tab-separated cells, one row per line (the text dumps' layout)."""

    name = "lines"

    def applies(self, section) -> bool:
        return True

    def read(self, section) -> list[Measure]:
        entries: list[tuple[str, int]] = []
        for k, block in enumerate(section.blocks, start=1):
            if isinstance(block, Paragraph):
                line = block.source.line if section.text_lines and block.source.line else k
                entries.append((block.text, line))
            else:
                for r, row in enumerate(block.rows):
                    texts, seen = [], set()
                    for cell in row:
                        if cell.origin not in seen:
                            seen.add(cell.origin)
                            texts.append(" ".join(cell.paragraphs))
                    entries.append(("\t".join(texts), (block.source.line or k) + r))
        entries, extras = _header_and_extra_columns(entries)
        measures = read_lines(entries, section.name)
        for m in measures:
            for attr, value in extras.get(m.started_line, {}).items():
                setattr(m, attr, value)
        return measures


def _header_and_extra_columns(entries: list[tuple[str, int]]) -> tuple[list[tuple[str, int]], dict[int, dict]]:
    """Drop a header the roles name (承辦 / 單位 split over lines too), and take the cells of its 完成期限 / 預期效益
    columns out of the rows that print every column, as values of the measure started on that line."""
    from kg.document import Source
    from kg.plan.layouts.grid import header_role
    from kg.plan.layouts.tabbed import _cells, _header

    rows = [(_cells(text), Source("", line=line)) for text, line in entries if text.strip()]
    found = _header(rows)
    if found is None:
        return entries, {}
    past, names = found
    header_lines = {src.line for _, src in rows[:past]}
    roles = [header_role(n) for n in names]
    extra = {j: {"deadline": "deadline", "benefit": "benefit"}.get(r or "") for j, r in enumerate(roles)}
    extra = {j: attr for j, attr in extra.items() if attr or roles[j] in ("remark", "number")}
    out: list[tuple[str, int]] = []
    values: dict[int, dict] = {}
    for text, line in entries:
        if line in header_lines:
            continue
        cells = text.split("\t")
        if extra and len(cells) == len(names):
            kept = [c for j, c in enumerate(cells) if j not in extra]
            values[line] = {attr: normalise(cells[j]) for j, attr in extra.items() if attr and normalise(cells[j])}
            text = "\t".join(kept)
        out.append((text, line))
    return out, values
