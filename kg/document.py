"""The document model between the readers and the plan parser: a plan's blocks in order, each with its source.

Every reader (text, HTML, Word, ODF, PDF, OCR) turns its format into a `Document`; the plan parser reads only
this. A document is a sequence of blocks:

- `Paragraph`: one paragraph or heading of running text (one printed line for plain text);
- `Table`: rows of `Cell`s. In a *grid* table the cells are the table's real cells with merged cells resolved:
  a cell merged over six rows appears in all six rows, each copy pointing at the same `origin`, so a parser
  can tell "the same merged cell" from "another cell with the same words". A *line* table (plain-text dumps,
  where cell borders are lost) has one row per printed line and one cell per tab-separated piece; its cells
  never span.

`Source` says where a block came from: the file, and the page (PDF), line (text) or table/row/column
(structured files). It is what the measure page and the build warnings cite.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Source:
    """Where a block or cell was read: file name, then whichever of page, line, table, row, column apply."""

    file: str
    page: int | None = None
    line: int | None = None
    table: int | None = None
    row: int | None = None
    col: int | None = None

    def __str__(self) -> str:
        parts = [self.file]
        if self.page is not None:
            parts.append(f"p.{self.page}")
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.table is not None:
            parts.append(f"table {self.table}")
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.col is not None:
            parts.append(f"col {self.col}")
        return ", ".join(parts)


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of running text; `heading` > 0 when the format marks it as a heading of that level."""

    text: str
    source: Source
    heading: int = 0


@dataclass(frozen=True)
class Cell:
    """One cell: its paragraphs in order, where it was read, and the (row, col) of the merged cell it belongs to."""

    paragraphs: tuple[str, ...]
    source: Source
    origin: tuple[int, int]
    row_span: int = 1
    col_span: int = 1

    @property
    def text(self) -> str:
        return "\n".join(self.paragraphs)

    @property
    def spanned(self) -> bool:
        """True for the copies of a merged cell in the rows or columns it covers beyond its first."""
        return (self.source.row, self.source.col) != self.origin


@dataclass(frozen=True)
class Table:
    """A table: rows of cells. `grid` is False for a line table of a text dump (see the module docstring)."""

    rows: tuple[tuple[Cell, ...], ...]
    source: Source
    grid: bool = True

    @property
    def width(self) -> int:
        return max((len(r) for r in self.rows), default=0)


Block = Paragraph | Table


@dataclass
class Document:
    """A plan file as read: its blocks in order, and how it was read.

    `lines` keeps the original text lines for plain-text input (1-based in `Source.line`), so a measure can
    quote its passage exactly as printed; readers of other formats leave it empty.
    """

    file: str
    format: str
    blocks: list[Block]
    encoding: str | None = None
    ocr: bool = False
    pages: int | None = None
    lines: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.file

    def text_lines(self) -> list[tuple[str, Source]]:
        """Every paragraph, and every table row with its cells joined by tabs, as (text, source) in order.

        The front matter (title, 依據, 目標 …) is read off this view whatever the format.
        """
        out: list[tuple[str, Source]] = []
        for block in self.blocks:
            if isinstance(block, Paragraph):
                out.append((block.text, block.source))
                continue
            for row in block.rows:
                seen: set[tuple[int, int]] = set()
                texts = []
                for cell in row:
                    if cell.origin in seen:
                        continue
                    seen.add(cell.origin)
                    texts.append(cell.text.replace("\n", " "))
                if row:
                    out.append(("\t".join(texts), row[0].source))
        return out


def resolve_spans(
    raw: list[list[tuple[tuple[str, ...], int, int]]], file: str, table: int, page: int | None = None
) -> tuple[tuple[Cell, ...], ...]:
    """Lay out cells given per row as (paragraphs, row_span, col_span) on a grid, copying merged cells.

    This is the HTML/ODF way of writing a table: a cell with a row span is written once and the rows it
    covers skip it. The result has one `Cell` per grid position, copies pointing at their origin.
    """
    grid: dict[tuple[int, int], Cell] = {}
    for r, row in enumerate(raw):
        c = 0
        for paragraphs, row_span, col_span in row:
            while (r, c) in grid:
                c += 1
            row_span, col_span = max(1, row_span), max(1, col_span)
            for dr in range(row_span):
                for dc in range(col_span):
                    src = Source(file, page=page, table=table, row=r + dr, col=c + dc)
                    grid[(r + dr, c + dc)] = Cell(paragraphs, src, (r, c), row_span, col_span)
            c += col_span
    n_rows = max((r for r, _ in grid), default=-1) + 1
    n_cols = max((c for _, c in grid), default=-1) + 1
    rows = []
    for r in range(n_rows):
        cells = []
        for c in range(n_cols):  # a ragged row is padded with empty cells, so columns stay aligned
            empty = Cell((), Source(file, page=page, table=table, row=r, col=c), (r, c))
            cells.append(grid.get((r, c), empty))
        rows.append(tuple(cells))
    return tuple(rows)
