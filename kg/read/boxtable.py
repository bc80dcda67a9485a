"""Box-drawn text tables (┌─┬─┐ │實施項目│具體作法│ └─┴─┘) recovered as grid tables."""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import cache

from kg.document import Block, Cell, Paragraph, Source, Table
from kg.errors import PlanReadError

# A region of fewer rows than this (a framed note, a lone boxed heading) is left as paragraphs.
MIN_TABLE_ROWS = 2
# At most this many consecutive lines without any border inside an open table are taken as ragged table lines.
MAX_BRIDGED_LINES = 2
# A piece between two separators is a horizontal rule when its rule characters fill at least this share of it.
MIN_RULE_FILL = 0.5
# Separator positions closer than this many display columns are one column boundary drawn unevenly.
MIN_BOUNDARY_GAP = 2
# A separator within this many display columns of a rule line's junction is aligned with it.
SNAP_TOLERANCE = 2
# A separator position seen on at least this many lines is a column boundary even if no rule line shows it.
MIN_CONTENT_SUPPORT = 2
# Text outside the outer border on at least this many lines makes an extra column (a table without that border).
MIN_EDGE_LINES = 2
TAB_SIZE = 8
# Characters on the lines of all box-drawn tables of a file: a plan's tables have thousands, while reading a
# drawing of megabytes (a grid of a million cells) would take minutes and gigabytes.
MAX_TABLE_CHARS = 500_000

# Width conventions tried, as (width of East Asian Wide/Fullwidth, width of Ambiguous incl. box drawing):
# a modern terminal, a CJK (Big5-era) layout where ─ is as wide as 字, and one column per character.
CONVENTIONS: tuple[tuple[int, int], ...] = ((2, 1), (2, 2), (1, 1))

BOX_FIRST, BOX_LAST = "\u2500", "\u257f"
ASCII_HORIZONTAL = "-="
RULE_EXTRAS = ":"  # allowed in an ASCII rule piece (Markdown |:---:|) without counting as rule
UP, DOWN, LEFT, RIGHT = 1, 2, 4, 8
VERTICAL, HORIZONTAL = UP | DOWN, LEFT | RIGHT

# A cell line opening with one of these starts a new paragraph of the cell: 1. 1、 (1) (一) 一、 ①
LIST_MARKER = re.compile(
    r"(?:[0-9０-９]{1,3}[.．、](?![0-9０-９])"
    r"|[(（][0-9０-９一二三四五六七八九十]{1,3}[)）]"
    r"|[一二三四五六七八九十壹貳參肆伍陸柒捌玖拾]{1,3}、"
    r"|[①-⑳⑴-⒇])"
)


@cache
def _directions(ch: str) -> int:
    """The directions a drawing character reaches out to (UP|DOWN|LEFT|RIGHT); 0 for any other character."""
    if ch == "|":
        return VERTICAL
    if ch in ASCII_HORIZONTAL:
        return HORIZONTAL
    if not BOX_FIRST <= ch <= BOX_LAST:
        return 0
    name = unicodedata.name(ch, "")
    if "DIAGONAL" in name:
        return 0
    words = set(name.split())
    found = 0
    named = {"VERTICAL": VERTICAL, "HORIZONTAL": HORIZONTAL, "UP": UP, "DOWN": DOWN, "LEFT": LEFT, "RIGHT": RIGHT}
    for word, bits in named.items():
        if word in words:
            found |= bits
    return found


def _is_horizontal(ch: str) -> bool:
    dirs = _directions(ch)
    return bool(dirs & HORIZONTAL) and not dirs & VERTICAL


@cache
def _width(ch: str, convention: tuple[int, int]) -> int:
    wide, ambiguous = convention
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    eaw = unicodedata.east_asian_width(ch)
    if eaw in ("W", "F"):
        return wide
    if eaw == "A" or BOX_FIRST <= ch <= BOX_LAST:
        return ambiguous
    return 1


def _separators(text: str) -> list[int]:
    """Character indices of the column separators of a line: │ ┃ ║ ├ ┼ ┬ … and ASCII | and + (next to - or =)."""
    out = []
    for i, ch in enumerate(text):
        if ch == "+":
            before = i > 0 and text[i - 1] in ASCII_HORIZONTAL
            after = i + 1 < len(text) and text[i + 1] in ASCII_HORIZONTAL
            if before or after:
                out.append(i)
        elif _directions(ch) & VERTICAL:
            out.append(i)
    return out


def _border_kind(text: str) -> str | None:
    """'top' for a ┌─┬─┐ line, 'bottom' for └─┴─┘, None for any other line (ASCII borders cannot tell)."""
    chars = [ch for ch in text if not ch.isspace()]
    if not chars or not all(BOX_FIRST <= ch <= BOX_LAST for ch in chars):
        return None
    joints = [_directions(ch) for ch in chars if _directions(ch) & VERTICAL]
    if not joints or not any(_is_horizontal(ch) for ch in chars):
        return None
    if not any(d & DOWN for d in joints):
        return "bottom"
    if not any(d & UP for d in joints):
        return "top"
    return None


def _regions(lines: tuple[str, ...]) -> list[tuple[int, int]]:
    """Runs of lines [start, end) drawn as a table: lines with separators, plus a few ragged lines inside one."""
    regions: list[tuple[int, int]] = []
    start: int | None = None
    last = 0
    closed = False
    i = 0
    while i < len(lines):
        text = lines[i]
        if _separators(text):
            kind = _border_kind(text)
            if start is not None and (closed or kind == "top"):
                regions.append((start, last + 1))
                start = None
            if start is None:
                start = i
            last, closed = i, kind == "bottom"
            i += 1
            continue
        if start is not None and not closed and text.strip():
            j = i
            while j < len(lines) and j - i < MAX_BRIDGED_LINES and lines[j].strip() and not _separators(lines[j]):
                j += 1
            if j < len(lines) and _separators(lines[j]) and _border_kind(lines[j]) != "top":
                i = j
                continue
        if start is not None:
            regions.append((start, last + 1))
            start = None
        i += 1
    if start is not None:
        regions.append((start, last + 1))
    return regions


@dataclass
class _Layout:
    """One line of a candidate table laid out under one width convention."""

    index: int  # 0-based line number in the file
    text: str
    x: list[int]  # display column where each character starts, then where the line ends
    seps: list[int]  # character indices of the separators
    rules: list[bool] = field(default_factory=list)  # per piece (one more than separators): a horizontal rule?

    def piece(self, j: int) -> tuple[int, int]:
        """Character range of piece j: before the first separator, between two, or after the last."""
        start = self.seps[j - 1] + 1 if j > 0 else 0
        end = self.seps[j] if j < len(self.seps) else len(self.text)
        return start, end

    @property
    def sep_x(self) -> list[int]:
        return [self.x[i] for i in self.seps]

    @property
    def is_rule(self) -> bool:
        return any(self.rules)


def _layout(index: int, text: str, seps: list[int], convention: tuple[int, int]) -> _Layout:
    x = [0]
    for ch in text:
        col = x[-1]
        x.append((col // TAB_SIZE + 1) * TAB_SIZE if ch == "\t" else col + _width(ch, convention))
    line = _Layout(index, text, x, seps)
    for j in range(len(seps) + 1):
        start, end = line.piece(j)
        line.rules.append(_is_rule_piece(text, x, start, end))
    return line


def _is_rule_piece(text: str, x: list[int], start: int, end: int) -> bool:
    width = x[end] - x[start]
    drawn = 0
    for i in range(start, end):
        ch = text[i]
        if ch.isspace():
            continue
        if _is_horizontal(ch):
            drawn += x[i + 1] - x[i]
        elif ch not in RULE_EXTRAS:
            return False
    return drawn > 0 and drawn >= MIN_RULE_FILL * width


def _score(layouts: list[_Layout]) -> int:
    """How many separators stand where another rule line has a junction: high when the widths are right."""
    at_rules = Counter(x for line in layouts if line.is_rule for x in set(line.sep_x))
    score = 0
    for line in layouts:
        for x in set(line.sep_x):
            if at_rules[x] - (1 if line.is_rule else 0) > 0:
                score += 1
    return score


def _words(line: _Layout, start: int, end: int) -> list[tuple[float, str]]:
    """The runs of non-space characters in a character range, each with its display midpoint."""
    out = []
    for m in re.finditer(r"\S+", line.text[start:end]):
        a, b = start + m.start(), start + m.end()
        out.append(((line.x[a] + line.x[b]) / 2, m.group()))
    return out


@dataclass(frozen=True)
class _Fragment:
    """Text of one line in the columns first..last of that line's row."""

    line: int  # position in the region's layouts
    first: int
    last: int
    text: str
    words: tuple[tuple[float, str], ...]


@dataclass
class _LineCells:
    rule_cols: set[int] = field(default_factory=set)
    seps_at: set[int] = field(default_factory=set)  # edges where the line has a separator
    crossed: set[int] = field(default_factory=set)  # edges a piece between two separators runs across


class _Union:
    def __init__(self) -> None:
        self.parent: dict[tuple[int, int], tuple[int, int]] = {}

    def find(self, a: tuple[int, int]) -> tuple[int, int]:
        self.parent.setdefault(a, a)
        while self.parent[a] != a:
            self.parent[a] = self.parent[self.parent[a]]
            a = self.parent[a]
        return a

    def union(self, a: tuple[int, int], b: tuple[int, int]) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        self.parent[max(ra, rb)] = min(ra, rb)
        return True


def _join(before: str, after: str) -> str:
    """Join a wrapped line to its paragraph: CJK directly, ASCII words with a space."""
    if before[-1].isascii() and after[0].isascii():
        return f"{before} {after}"
    return before + after


def _paragraphs(texts: list[str]) -> tuple[str, ...]:
    paragraphs: list[str] = []
    for raw in texts:
        text = raw.strip()
        if not text:
            continue
        if paragraphs and not LIST_MARKER.match(text):
            paragraphs[-1] = _join(paragraphs[-1], text)
        else:
            paragraphs.append(text)
    return tuple(paragraphs)


def _boundaries(layouts: list[_Layout]) -> list[int]:
    """Display columns of the column boundaries: the rule lines' junctions, and separators many lines share."""
    at_rules = Counter(x for line in layouts if line.is_rule for x in set(line.sep_x))
    support = Counter(x for line in layouts for x in set(line.sep_x))
    found = set(at_rules)
    for x, n in support.items():
        if n >= MIN_CONTENT_SUPPORT and all(abs(x - p) > SNAP_TOLERANCE for p in at_rules):
            found.add(x)
    bounds: list[int] = []
    for x in sorted(found):
        if bounds and x - bounds[-1] < MIN_BOUNDARY_GAP:
            if (at_rules[x], support[x]) > (at_rules[bounds[-1]], support[bounds[-1]]):
                bounds[-1] = x
            continue
        bounds.append(x)
    return bounds


def _trim(layouts: list[_Layout]) -> list[_Layout]:
    """Drop lines at the top and bottom whose separators line up with nothing (a stray │ next to a table)."""
    at_rules = {x for line in layouts if line.is_rule for x in line.sep_x}
    support = Counter(x for line in layouts for x in set(line.sep_x))

    def aligned(line: _Layout) -> bool:
        if line.is_rule:
            return True
        if not line.seps:
            return False
        return all(
            support[x] >= MIN_CONTENT_SUPPORT or any(abs(x - p) <= SNAP_TOLERANCE for p in at_rules) for x in line.sep_x
        )

    first, last = 0, len(layouts)
    while first < last and not aligned(layouts[first]):
        first += 1
    while last > first and not aligned(layouts[last - 1]):
        last -= 1
    return layouts[first:last]


def _parse(lines: tuple[str, ...], start: int, end: int, name: str, number: int) -> tuple[int, int, Table] | None:
    """The table drawn on lines [start, end), with the lines it really covers; None if it is no table."""
    seps = [_separators(lines[i]) for i in range(start, end)]
    candidates = [
        [_layout(start + k, lines[start + k], seps[k], conv) for k in range(end - start)] for conv in CONVENTIONS
    ]
    layouts = _trim(max(candidates, key=_score))
    if not any(line.is_rule for line in layouts):
        return None
    bounds = _boundaries(layouts)
    if not bounds:
        return None

    def snap(x: int) -> int:
        k = bisect_left(bounds, x)
        if k == len(bounds) or (k > 0 and x - bounds[k - 1] <= bounds[k] - x):
            return k - 1
        return k

    lead_rule = trail_rule = False
    lead_text = trail_text = 0
    for line in layouts:
        if not line.seps:
            continue
        a, b = line.piece(0)
        if snap(line.sep_x[0]) == 0 and line.text[a:b].strip():
            lead_rule = lead_rule or line.rules[0]
            lead_text += 1
        a, b = line.piece(len(line.seps))
        if snap(line.sep_x[-1]) == len(bounds) - 1 and line.text[a:b].strip():
            trail_rule = trail_rule or line.rules[-1]
            trail_text += 1
    lead = lead_rule or lead_text >= MIN_EDGE_LINES
    trail = trail_rule or trail_text >= MIN_EDGE_LINES
    edges = [float("-inf")] * lead + [float(b) for b in bounds] + [float("inf")] * trail
    n_cols = len(edges) - 1
    if n_cols < 1:
        return None
    offset = 1 if lead else 0

    def col_of(x: float) -> int:
        return min(max(bisect_right(edges, x) - 1, 0), n_cols - 1)

    infos: list[_LineCells] = []
    fragments: list[_Fragment] = []
    for k, line in enumerate(layouts):
        info = _LineCells()
        infos.append(info)
        if not line.seps:  # a ragged line without any border: its words go where they stand
            for mid, word in _words(line, 0, len(line.text)):
                col = col_of(mid)
                fragments.append(_Fragment(k, col, col, word, ((mid, word),)))
            continue
        e = [snap(x) + offset for x in line.sep_x]
        info.seps_at.update(e)
        n = len(line.seps)
        for j in range(n + 1):
            cs, ce = line.piece(j)
            mid = (line.x[cs] + line.x[ce]) / 2
            bounded = 0 < j < n
            if j == 0:
                a = e[0] - 1
                b = a + 1
            elif j == n:
                a = e[-1]
                b = a + 1
            else:
                a, b = e[j - 1], e[j]
            if b <= a:  # two separators snapped to one boundary: the piece goes where it stands
                a = col_of(mid)
                b, bounded = a + 1, False
            in_range = 0 <= a and b <= n_cols
            if line.rules[j]:
                if in_range:
                    info.rule_cols.update(range(a, b))
                continue
            if bounded and b - a > 1:
                info.crossed.update(range(a + 1, b))
            text = line.text[cs:ce]
            if text.strip():
                if not in_range:
                    a = col_of(mid)
                    b = a + 1
                fragments.append(_Fragment(k, a, b - 1, text, tuple(_words(line, cs, ce))))

    groups: list[list[int]] = []
    row_of: list[int] = []
    between: list[set[int]] = []  # between[r]: columns ruled off between row r and row r + 1
    pending: set[int] = set()
    in_group = False
    for k, info in enumerate(infos):
        if info.rule_cols:
            row_of.append(max(len(groups) - 1, 0))
            pending |= info.rule_cols
            in_group = False
            continue
        if not in_group:
            if groups:
                between.append(pending)
            pending = set()
            groups.append([])
            in_group = True
        groups[-1].append(k)
        row_of.append(len(groups) - 1)
    n_rows = len(groups)
    if n_rows < MIN_TABLE_ROWS:
        return None

    merged = _Union()
    for r in range(n_rows - 1):
        for c in range(n_cols):
            if c not in between[r]:
                merged.union((r, c), (r + 1, c))
    for r, group in enumerate(groups):
        for edge in range(1, n_cols):
            crossed = any(edge in infos[k].crossed for k in group)
            present = any(edge in infos[k].seps_at for k in group)
            if crossed and not present:
                merged.union((r, edge - 1), (r, edge))
    _rectangles(merged, n_rows, n_cols)

    texts: dict[tuple[int, int], list[tuple[int, int, str]]] = defaultdict(list)
    for frag in fragments:
        row = row_of[frag.line]
        roots = {merged.find((row, c)) for c in range(frag.first, frag.last + 1)}
        if len(roots) == 1:
            texts[roots.pop()].append((frag.line, frag.first, frag.text))
            continue
        by_col: dict[int, list[str]] = defaultdict(list)  # a piece over cells that are not merged: split it
        for mid, word in frag.words:
            by_col[min(max(col_of(mid), frag.first), frag.last)].append(word)
        for col, words in by_col.items():
            texts[merged.find((row, col))].append((frag.line, col, " ".join(words)))

    slots: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
    for r in range(n_rows):
        for c in range(n_cols):
            slots[merged.find((r, c))].append((r, c))
    first_line = [layouts[group[0]].index + 1 for group in groups]
    cells: dict[tuple[int, int], Cell] = {}
    for root, members in slots.items():
        r0, c0 = min(members)
        row_span = max(r for r, _ in members) - r0 + 1
        col_span = max(c for _, c in members) - c0 + 1
        paragraphs = _paragraphs([t for _, _, t in sorted(texts.get(root, []), key=lambda t: (t[0], t[1]))])
        for r, c in members:
            source = Source(name, line=first_line[r0], table=number, row=r, col=c)
            cells[(r, c)] = Cell(paragraphs, source, (r0, c0), row_span, col_span)
    rows = tuple(tuple(cells[(r, c)] for c in range(n_cols)) for r in range(n_rows))
    first, last = layouts[0].index, layouts[-1].index
    return first, last + 1, Table(rows, Source(name, line=first + 1), grid=True)


def _rectangles(merged: _Union, n_rows: int, n_cols: int) -> None:
    """Grow every merged cell to the rectangle around it (a malformed drawing may leave an L shape)."""
    changed = True
    while changed:
        changed = False
        extent: dict[tuple[int, int], list[int]] = {}
        for r in range(n_rows):
            for c in range(n_cols):
                root = merged.find((r, c))
                box = extent.setdefault(root, [r, c, r, c])
                box[0], box[1] = min(box[0], r), min(box[1], c)
                box[2], box[3] = max(box[2], r), max(box[3], c)
        for root, (r0, c0, r1, c1) in extent.items():
            for r in range(r0, r1 + 1):
                for c in range(c0, c1 + 1):
                    changed = merged.union(root, (r, c)) or changed


def box_tables(lines: tuple[str, ...], name: str) -> list[Block]:
    """The lines as paragraphs citing their line numbers, each box-drawn table replaced by one grid table."""
    blocks: list[Block] = []
    done = 0

    def paragraphs(until: int) -> None:
        for i in range(done, until):
            if lines[i].strip():
                blocks.append(Paragraph(lines[i], Source(name, line=i + 1)))

    tables = 0
    drawn = 0
    for start, end in _regions(lines):
        drawn += sum(len(lines[i]) for i in range(start, end))
        if drawn > MAX_TABLE_CHARS:
            raise PlanReadError(
                name, f"box-drawn tables of more than {MAX_TABLE_CHARS:,} characters: not a plan", start + 1
            )
        found = _parse(lines, start, end, name, tables)
        if found is None:
            continue
        first, last, table = found
        paragraphs(first)
        blocks.append(table)
        tables += 1
        done = last
    paragraphs(len(lines))
    return blocks
