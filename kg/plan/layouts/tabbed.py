"""Tabbed text tables: a text dump whose rows are whole lines of tab-separated cells under a header, read as a grid.

Plans copied out of a web page or a spreadsheet print one table row per line: `一、構面\t(1)作法\t主辦單位\t期限`.
When (nearly) every line of the section is such a row, with as many cells as the header names, the table is
a grid: an empty cell under a heading means the merged cell above goes on. Text dumps whose cells spill over
several lines (units listed apart from their measures, headings on the line of another row) fail this test
and are left to the line-table state machine.
"""

from __future__ import annotations

import re
from collections import Counter

from kg.document import Cell, Paragraph, Source, Table
from kg.normalise import normalise
from kg.plan.layouts import Section
from kg.plan.layouts.grid import GridReader, header_role, marker
from kg.plan.model import Measure
from kg.plan.numbering import TERMINAL

# Share of the lines after the header that must be rows of the header's width for the section to be a grid.
ROW_SHARE = 0.8


MARKUP = re.compile(r"</?(?:p|ol|ul|li|td|tr|br|div|span)\b", re.I)


def _cells(line: str) -> list[str]:
    return [normalise(c, keep_spaces=True) for c in line.split("\t")]


def _header(rows: list[tuple[list[str], Source]]) -> tuple[int, list[str]] | None:
    """Index just past the header and the header's column names (a header split over lines joined)."""
    for i, (cells, _) in enumerate(rows[:4]):
        named = [header_role(c) for c in cells]
        if sum(1 for n in named if n) < 2:
            continue
        names = list(cells)
        k = i + 1
        # 承辦 / 單位: a header line continued on the next, with only short words under some columns.
        while k < len(rows):
            more = rows[k][0]
            if len(more) > len(names) + 1 or not any(more):
                break
            if any(len(re.sub(r"\s", "", c)) > 6 for c in more):
                break
            if any(
                c and header_role(c) is None and header_role(names[j] + c if j < len(names) else c) is None
                for j, c in enumerate(more)
            ):
                break
            names = [
                (names[j] if j < len(names) else "") + (more[j] if j < len(more) else "")
                for j in range(max(len(names), len(more)))
            ]
            k += 1
        return k, names
    return None


def _clean_rows(rows: list[tuple[list[str], Source]], names: list[str]) -> bool:
    """Whether every row stands alone: no unit printed on a line of its own, no markup, no measure cell that
    goes on from the row above (the marks of a dump whose cells spill over lines)."""
    roles = [header_role(n) for n in names]
    units = {j for j, r in enumerate(roles) if r == "unit"}
    measure = next((j for j, r in enumerate(roles) if r == "measure"), None)
    prev = ""
    for cells, _ in rows:
        if all(not c for j, c in enumerate(cells) if j not in units):
            return False
        if measure is not None and measure < len(cells):
            text = cells[measure]
            if text and prev and prev[-1] not in TERMINAL and marker(text)[0] == "none":
                return False
            prev = text or prev
    return True


def tabbed_table(section: Section) -> Table | None:
    """The section as one grid table when its lines are whole tab-separated rows under a header, else None."""
    if not section.text_lines or any(not isinstance(b, Paragraph) for b in section.blocks):
        return None
    if any(MARKUP.search(b.text) for b in section.blocks):
        return None  # HTML fragments in a dump: cells broken up by markup, the line table's business
    rows = [(_cells(b.text), b.source) for b in section.blocks if b.text.strip()]
    found = _header(rows)
    if found is None:
        return None
    start, names = found
    body = rows[start:]
    if not body:
        return None
    widths = Counter(len(r[0]) for r in body if len(r[0]) >= 2)
    common = widths.most_common(1)[0][0] if widths else len(names)
    if common == len(names) + 1 and header_role(names[0]) == "heading":
        # 執行要項 printed once over two columns: the dimension's and the item's.
        names = [names[0], *names]
    n = len(names)
    tabbed = [r for r in body if len(r[0]) >= 2]
    fitting = [r for r in tabbed if len(r[0]) <= n + 1 and len([c for c in r[0][n:] if c]) == 0]
    if len(fitting) < ROW_SHARE * len(body):
        return None
    if not _clean_rows(fitting, names):
        return None
    t = 0
    grid: list[tuple[Cell, ...]] = []
    header_cells = tuple(
        Cell((name,), Source(section.name, line=rows[0][1].line, table=t, row=0, col=j), (0, j))
        for j, name in enumerate(names)
    )
    grid.append(header_cells)
    for cells, src in body:
        if len(cells) < 2 and grid[1:]:
            # A line without tabs goes on in the widest cell of the row above.
            prev = list(grid[-1])
            j = max(range(len(prev)), key=lambda c: len("".join(prev[c].paragraphs)))
            prev[j] = Cell((*prev[j].paragraphs, cells[0]), prev[j].source, prev[j].origin)
            grid[-1] = tuple(prev)
            continue
        r = len(grid)
        grid.append(
            tuple(
                Cell(
                    (cells[j],) if j < len(cells) and cells[j] else (),
                    Source(section.name, line=src.line, table=t, row=r, col=j),
                    (r, j),
                )
                for j in range(n)
            )
        )
    return Table(tuple(grid), Source(section.name, line=rows[0][1].line, table=t), grid=True)


class TabbedLayout:
    """Text sections whose lines are whole rows of a tab-separated table under a header."""

    name = "tabbed"

    def applies(self, section: Section) -> bool:
        return tabbed_table(section) is not None

    def read(self, section: Section) -> list[Measure]:
        table = tabbed_table(section)
        grid_section = Section(section.name, [table] if table else [], section.text_lines, section.findings)
        return GridReader(grid_section).read()
