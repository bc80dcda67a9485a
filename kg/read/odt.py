"""OpenDocument .odt plans: headings, paragraphs, lists and tables of content.xml in order, merges resolved."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field

from lxml import etree

from kg.document import Block, Cell, Document, Paragraph, Source, Table
from kg.errors import PlanReadError
from kg.read.docx import format_number

NS = {
    "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
    "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
    "style": "urn:oasis:names:tc:opendocument:xmlns:style:1.0",
    "draw": "urn:oasis:names:tc:opendocument:xmlns:drawing:1.0",
    "xml": "http://www.w3.org/XML/1998/namespace",
}

# content.xml of a plan is a few MB; a larger one is a zip bomb, not a plan.
MAX_PART_BYTES = 50 * 1024 * 1024
# number-columns-repeated / number-rows-repeated can claim a million cells: the grid is cut to this.
MAX_COLS = 64
MAX_ROWS = 5000
# text:s c="1000000" must not make a megabyte of spaces.
MAX_SPACES = 100
# Elements in content.xml and styles.xml together: a long plan has tens of thousands, while a content.xml of
# 40 MB of empty paragraphs (packed to 100 KB) has millions and would take minutes to read.
MAX_ELEMENTS = 500_000
# Grid positions over all tables: each table is cut to MAX_ROWS by MAX_COLS, but a hundred tables of repeated
# rows and columns would still make tens of millions of cells from a few kilobytes. One table cut to size fits.
MAX_CELLS = MAX_ROWS * MAX_COLS

ODF_TEXT_TYPES = (
    b"application/vnd.oasis.opendocument.text",
    b"application/vnd.oasis.opendocument.text-template",
    b"application/vnd.oasis.opendocument.text-master",
)


def _q(prefix: str, tag: str) -> str:
    return f"{{{NS[prefix]}}}{tag}"


def _t(tag: str) -> str:
    return _q("text", tag)


H, P, LIST, LIST_ITEM, LIST_HEADER = _t("h"), _t("p"), _t("list"), _t("list-item"), _t("list-header")
SECTION, NUMBER = _t("section"), _t("number")
TABLE = _q("table", "table")
ROW, CELL, COVERED = _q("table", "table-row"), _q("table", "table-cell"), _q("table", "covered-table-cell")
ROW_GROUPS = {_q("table", t) for t in ("table-header-rows", "table-rows", "table-row-group")}
# Indexes (the table of contents) keep their entries in an index body: read like a section.
INDEX_BODIES = {_t("index-body"), _t("index-title")} | {
    _t(t)
    for t in (
        "table-of-content",
        "illustration-index",
        "table-index",
        "object-index",
        "user-index",
        "alphabetical-index",
        "bibliography",
    )
}
STYLE_NAME = _t("style-name")

# Inline elements whose content is not the paragraph's text: notes, comments, ruby glosses, cached numbers.
SKIP_INLINE = {
    _t("note"),
    _t("ruby-text"),
    NUMBER,
    _q("office", "annotation"),
    _q("office", "annotation-end"),
    _t("tracked-changes"),
}
SPACE_RUN = re.compile(r"[ \t\r\n]+")
HEADING_STYLE = re.compile(r"^(?:Heading|標題)[ _]?(?:_20_)?([1-9]|10)$")


def read_odt(data: bytes, name: str) -> Document:
    """An .odt plan: text:h, text:p, list items and tables of the body in order.

    Headings carry their outline level; list items get their number rendered from the list style
    (num-prefix, num-format, num-suffix) when it has one. Paragraphs get `Source(name, line=n)` with n the
    paragraph's 1-based index among the body's paragraphs (empty ones counted, table cells not); tables
    count from 0 and their cells get `Source(name, table=t, row=r, col=c)`, spans and covered cells
    resolved into a grid of at most 5000 rows by 64 columns. Tracked deletions are dropped. Any
    unreadable input raises `PlanReadError`.
    """
    content, styles = _open(data, name)
    body = content.find(f"{_q('office', 'body')}/{_q('office', 'text')}")
    if body is None:
        raise PlanReadError(name, "content.xml has no text body: not an ODF text document")
    reader = _Reader(name, _Styles(content, styles))
    try:
        reader.blocks_of(body)
    except PlanReadError:
        raise
    except Exception as exc:  # XML that parsed but that this reader cannot follow: still the file's fault
        raise PlanReadError(name, f"the ODF document's XML is malformed ({type(exc).__name__}: {exc})") from None
    notes = []
    if body.find(f"{_t('tracked-changes')}/{_t('changed-region')}") is not None:
        notes.append("tracked changes: insertions kept, deletions dropped")
    if reader.clipped:
        notes.append(f"a table was cut to {MAX_ROWS} rows by {MAX_COLS} columns")
    return Document(name, "odt", reader.blocks, notes=notes)


def _has_dtd(raw: bytes) -> bool:
    """ODF never declares a DTD, so one in content.xml is an entity bomb or a foreign file."""
    return any(
        marker.encode(enc) in raw for marker in ("<!DOCTYPE", "<!ENTITY") for enc in ("ascii", "utf-16-le", "utf-16-be")
    )


def _parse(raw: bytes, part: str, name: str) -> etree._Element:
    if _has_dtd(raw):
        raise PlanReadError(name, f"{part} declares XML entities (an XML bomb?): refused")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(raw, parser)
    except etree.XMLSyntaxError as exc:
        raise PlanReadError(name, f"the ODF document's {part} is broken XML ({exc})") from None
    if root.getroottree().docinfo.internalDTD is not None:  # one the byte search missed (UTF-32, say)
        raise PlanReadError(name, f"{part} declares a DTD (entities: an XML bomb?): refused")
    return root


def _open(data: bytes, name: str) -> tuple[etree._Element, etree._Element | None]:
    """(content root, styles root) of a checked .odt, or PlanReadError saying why not."""
    if not data:
        raise PlanReadError(name, "the file is empty")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            infos = {i.filename: i for i in z.infolist()}
            if "mimetype" in infos:
                with z.open("mimetype") as fh:  # a few bytes only: the member may be a bomb
                    mime = fh.read(100).strip()
                if mime not in ODF_TEXT_TYPES:
                    kind = mime.decode("ascii", "replace").rsplit(".", 1)[-1] or "unknown"
                    raise PlanReadError(name, f"an ODF file of kind '{kind}', not a text document (.odt)")
            if "content.xml" not in infos:
                raise PlanReadError(name, "a ZIP archive without content.xml: not an ODF .odt document")
            if "META-INF/manifest.xml" in infos and infos["META-INF/manifest.xml"].file_size < MAX_PART_BYTES:
                if b"encryption-data" in z.read("META-INF/manifest.xml"):
                    raise PlanReadError(name, "the .odt is password-protected: save it without a password")
            raws: dict[str, bytes] = {}
            for part in ("content.xml", "styles.xml"):
                if part not in infos:
                    continue
                if infos[part].file_size > MAX_PART_BYTES:
                    raise PlanReadError(
                        name,
                        f"{part} unpacks to {infos[part].file_size / 1e6:.0f} MB (over {MAX_PART_BYTES // 2**20} MB):"
                        " refused as a zip bomb",
                    )
                raws[part] = z.read(part)
    except PlanReadError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, NotImplementedError) as exc:
        raise PlanReadError(name, f"not a readable .odt: the ZIP archive is corrupt or truncated ({exc})") from None
    except Exception as exc:  # zlib.error and CRC errors from a damaged member
        raise PlanReadError(name, f"not a readable .odt: a part of the archive is damaged ({exc})") from None
    content = _parse(raws["content.xml"], "content.xml", name)
    if content.tag != _q("office", "document-content"):
        raise PlanReadError(name, "content.xml is not ODF document content")
    styles = _parse(raws["styles.xml"], "styles.xml", name) if "styles.xml" in raws else None
    # Counted by libxml2 (an XPath count), so the count itself makes no Python objects.
    elements = sum(int(r.xpath("count(//*)")) for r in (content, styles) if r is not None)
    if elements > MAX_ELEMENTS:
        raise PlanReadError(name, f"the document has {elements:,} XML elements (over {MAX_ELEMENTS:,}): not a plan")
    return content, styles


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


@dataclass
class _Level:
    fmt: str  # Word's numFmt name, or "" for no number
    prefix: str = ""
    suffix: str = ""
    display: int = 1
    start: int = 1


def _word_format(odf: str) -> str:
    """ODF's style:num-format (1, a, I, or LibreOffice's 一, 二, 三, ...) as the Word name format_number knows."""
    odf = odf.strip()
    if not odf:
        return ""
    first = odf[0]
    simple = {"1": "decimal", "a": "lowerLetter", "A": "upperLetter", "i": "lowerRoman", "I": "upperRoman"}
    if odf in simple:
        return simple[odf]
    by_first = {
        "一": "taiwaneseCountingThousand",
        "壹": "chineseLegalSimplified" if "贰" in odf else "ideographLegalTraditional",
        "甲": "ideographTraditional",
        "子": "ideographZodiac",
        "〇": "ideographDigital",
        "①": "decimalEnclosedCircle",
        "⑴": "decimalEnclosedParen",
        "⒈": "decimalEnclosedFullstop",
        "１": "decimalFullWidth",
        "a": "lowerLetter",
        "A": "upperLetter",
    }
    return by_first.get(first, "decimal")


def _levels(list_style: etree._Element) -> dict[int, _Level]:
    out: dict[int, _Level] = {}
    for lvl in list_style:
        level = _int(lvl.get(_t("level")), 0)
        if level < 1:
            continue
        if lvl.tag in (_t("list-level-style-number"), _t("outline-level-style")):
            out[level] = _Level(
                fmt=_word_format(lvl.get(_q("style", "num-format"), "")),
                prefix=lvl.get(_q("style", "num-prefix"), ""),
                suffix=lvl.get(_q("style", "num-suffix"), ""),
                display=max(1, _int(lvl.get(_t("display-levels")), 1)),
                start=_int(lvl.get(_t("start-value")), 1),
            )
        else:  # bullets and images say nothing as text
            out[level] = _Level(fmt="")
    return out


@dataclass
class _ParaStyle:
    name: str
    display: str
    parent: str | None


class _Styles:
    """List styles, the outline (heading numbering) style and paragraph styles of styles.xml and content.xml."""

    def __init__(self, content: etree._Element, styles: etree._Element | None) -> None:
        self.lists: dict[str, dict[int, _Level]] = {}
        self.outline: dict[int, _Level] = {}
        self.paragraphs: dict[str, _ParaStyle] = {}
        # styles.xml's own automatic styles serve headers and footers and may reuse content.xml's names.
        containers = [styles.find(_q("office", "styles")) if styles is not None else None]
        containers.append(content.find(_q("office", "automatic-styles")))
        for container in containers:
            if container is not None:
                for st in container:
                    if st.tag == _t("list-style") and st.get(_q("style", "name")):
                        self.lists[st.get(_q("style", "name"))] = _levels(st)
                    elif st.tag == _t("outline-style"):
                        self.outline = _levels(st)
                    elif st.tag == _q("style", "style") and st.get(_q("style", "family")) == "paragraph":
                        sname = st.get(_q("style", "name"))
                        if sname:
                            self.paragraphs[sname] = _ParaStyle(
                                sname,
                                st.get(_q("style", "display-name"), sname),
                                st.get(_q("style", "parent-style-name")),
                            )

    def heading(self, sname: str | None) -> int:
        """The heading level a text:p takes from its style: Title is 1, Heading N is N."""
        seen: set[str] = set()
        while sname and sname in self.paragraphs and sname not in seen and len(seen) < 20:
            seen.add(sname)
            st = self.paragraphs[sname]
            for label in (st.name, st.display):
                if label in ("Title", "標題"):
                    return 1
                m = HEADING_STYLE.match(label)
                if m:
                    return int(m.group(1))
            sname = st.parent
        return 0


@dataclass
class _Counters:
    style: str | None
    counts: dict[int, int] = field(default_factory=dict)


def _render(levels: dict[int, _Level], counts: dict[int, int], level: int) -> str:
    lvl = levels.get(level)
    if lvl is None or not lvl.fmt:
        return ""
    numbers = []
    for k in range(max(1, level - lvl.display + 1), level + 1):
        fmt = levels[k].fmt if k in levels and levels[k].fmt else "decimal"
        value = counts.get(k, levels[k].start if k in levels else 1)
        numbers.append(format_number(value, fmt))
    return f"{lvl.prefix}{'.'.join(numbers)}{lvl.suffix}"


def _step(counters: _Counters, levels: dict[int, _Level], level: int, start: int | None) -> None:
    if start is not None:
        counters.counts[level] = start
    elif level in counters.counts:
        counters.counts[level] += 1
    else:
        counters.counts[level] = levels[level].start if level in levels else 1
    for deeper in [k for k in counters.counts if k > level]:
        del counters.counts[deeper]  # a higher level restarts the levels below it


def _join_label(label: str, text: str) -> str:
    # Spacing as the .docx reader does it: none after full-width marks such as 、 or ）, else one space.
    if not label or not text:
        return text
    return label + text if ord(label[-1]) > 0x2E7F else f"{label} {text}"


@dataclass
class _Origin:
    paragraphs: tuple[str, ...]
    row: int
    col: int
    row_span: int
    col_span: int
    last_row: int = 0
    last_col: int = 0


@dataclass
class _Reader:
    name: str
    styles: _Styles
    blocks: list[Block] = field(default_factory=list)
    paragraphs: int = 0
    tables: int = 0
    clipped: bool = False
    positions: int = 0  # grid positions of the tables read so far
    list_ids: dict[str, _Counters] = field(default_factory=dict)
    last_list: _Counters | None = None
    outline: _Counters = field(default_factory=lambda: _Counters("outline"))

    # -- block level ----------------------------------------------------------------------------------

    def blocks_of(self, container: etree._Element) -> None:
        """Append the paragraphs and tables of the body, a section or a text box, in order."""
        for child in container:
            tag = child.tag
            if tag in (P, H):
                self.body_paragraph(child, None)
            elif tag == LIST:
                for para, label in self.list_items(child):
                    self.body_paragraph(para, label)
            elif tag == TABLE:
                rows = self.table(child, self.tables)
                if rows:
                    self.blocks.append(Table(rows, Source(self.name, table=self.tables)))
                    self.tables += 1
            elif tag == SECTION or tag in INDEX_BODIES:
                self.blocks_of(child)

    def body_paragraph(self, el: etree._Element, label: str | None) -> None:
        self.paragraphs += 1
        line = self.paragraphs
        boxes: list[etree._Element] = []
        text, heading = self.paragraph(el, label, boxes)
        if text:
            self.blocks.append(Paragraph(text, Source(self.name, line=line), heading))
        for box in boxes:
            self.blocks_of(box)

    # -- paragraphs -----------------------------------------------------------------------------------

    def paragraph(self, el: etree._Element, label: str | None, boxes: list[etree._Element]) -> tuple[str, int]:
        """(text with its number, heading level) of a text:p or text:h."""
        parts: list[str] = []
        self.inline(el, parts, boxes)
        text = "".join(parts).strip()
        if el.tag == H:
            heading = max(1, min(10, _int(el.get(_t("outline-level")), 1)))
            if label is None and heading in self.styles.outline:
                # A heading outside a list is numbered by the outline style (chapter numbering), if at all.
                _step(self.outline, self.styles.outline, heading, None)
                label = _render(self.styles.outline, self.outline.counts, heading)
        else:
            heading = self.styles.heading(el.get(STYLE_NAME))
        cached = el.find(NUMBER)
        if cached is not None and (cached.text or "").strip():
            label = cached.text.strip()  # the number as the writing application printed it
        return _join_label(label or "", text), heading

    def inline(self, el: etree._Element, out: list[str], boxes: list[etree._Element]) -> None:
        # ODF collapses runs of white space in the text itself; text:s, text:tab and text:line-break are
        # the characters the author typed.
        if el.text:
            out.append(SPACE_RUN.sub(" ", el.text))
        for child in el:
            tag = child.tag
            if not isinstance(tag, str) or tag in SKIP_INLINE:
                pass
            elif tag == _t("s"):
                out.append(" " * max(1, min(MAX_SPACES, _int(child.get(_t("c")), 1))))
            elif tag == _t("tab"):
                out.append("\t")
            elif tag == _t("line-break"):
                out.append("\n")
            elif tag.startswith(f"{{{NS['draw']}}}"):
                self.drawing(child, boxes)
            else:
                self.inline(child, out, boxes)
            if child.tail:
                out.append(SPACE_RUN.sub(" ", child.tail))

    def drawing(self, el: etree._Element, boxes: list[etree._Element]) -> None:
        """Text boxes and shapes with text: their paragraphs follow the paragraph they are anchored in."""
        if any(child.tag in (P, H, LIST, TABLE) for child in el):
            boxes.append(el)
            return
        for child in el:
            if isinstance(child.tag, str) and child.tag.startswith(f"{{{NS['draw']}}}"):
                self.drawing(child, boxes)

    # -- lists ----------------------------------------------------------------------------------------

    def counters_for(self, lst: etree._Element, style: str | None) -> _Counters:
        """The counters of a top-level list: new, or those of the list it continues."""
        cont = lst.get(_t("continue-list"))
        counters: _Counters | None = None
        if cont and cont in self.list_ids:
            counters = self.list_ids[cont]
        elif lst.get(_t("continue-numbering")) == "true" and self.last_list and self.last_list.style == style:
            counters = self.last_list
        if counters is None:
            counters = _Counters(style)
        list_id = lst.get(_q("xml", "id"))
        if list_id:
            self.list_ids[list_id] = counters
        self.last_list = counters
        return counters

    def list_items(
        self, lst: etree._Element, level: int = 1, style: str | None = None, counters: _Counters | None = None
    ) -> Iterator[tuple[etree._Element, str | None]]:
        """(paragraph, its number) of a text:list and its sublists, in order; tables in items are flattened."""
        style = lst.get(STYLE_NAME) or style
        if counters is None:
            counters = self.counters_for(lst, style)
        levels = self.styles.lists.get(style or "", {})
        for item in lst:
            if item.tag not in (LIST_ITEM, LIST_HEADER):
                continue
            numbered = item.tag == LIST_ITEM
            first = True
            for child in item:
                if child.tag in (P, H):
                    label = None
                    if first and numbered:
                        start = item.get(_t("start-value"))
                        _step(counters, levels, level, _int(start, 1) if start is not None else None)
                        label = _render(levels, counters.counts, level)
                    yield child, label
                    first = False
                elif child.tag == LIST:
                    yield from self.list_items(child, level + 1, style, counters)
                    first = False
                elif child.tag in (TABLE, SECTION):
                    # Rare inside a list: the paragraphs are kept, unnumbered, in order.
                    for para in child.iter(P, H):
                        yield para, None

    # -- tables ---------------------------------------------------------------------------------------

    def table(self, tbl: etree._Element, index: int) -> tuple[tuple[Cell, ...], ...]:
        """The grid of a table:table: one Cell per position, spanned and covered positions copying their origin."""
        at: dict[tuple[int, int], _Origin] = {}
        down: dict[int, _Origin] = {}  # column → the row-spanning cell covering it in rows to come
        r = width = 0
        for row in self.rows(tbl):
            if r >= MAX_ROWS:
                self.clipped = True
                break
            repeat = max(1, _int(row.get(_q("table", "number-rows-repeated")), 1))
            if repeat > MAX_ROWS - r:
                self.clipped = True
                repeat = MAX_ROWS - r
            specs = list(self.cell_specs(row))
            for _ in range(repeat):
                width = max(width, self.lay_row(r, specs, at, down))
                r += 1
                if self.positions + r * width > MAX_CELLS:  # checked as the grid grows, before it is made
                    raise PlanReadError(self.name, f"tables of more than {MAX_CELLS:,} cells: not a plan")
        if not at:
            return ()
        n_cols = max(c for _, c in at) + 1
        self.positions += r * n_cols
        grid = []
        for rr in range(r):
            cells = []
            for c in range(n_cols):
                src = Source(self.name, table=index, row=rr, col=c)
                o = at.get((rr, c))
                if o is None:
                    cells.append(Cell((), src, (rr, c)))
                else:
                    spans = (o.last_row - o.row + 1, o.last_col - o.col + 1)
                    cells.append(Cell(o.paragraphs, src, (o.row, o.col), *spans))
            grid.append(tuple(cells))
        return tuple(grid)

    def lay_row(
        self,
        r: int,
        specs: list[tuple[bool, tuple[str, ...], int, int, int]],
        at: dict[tuple[int, int], _Origin],
        down: dict[int, _Origin],
    ) -> int:
        """Lay one row's cells out; the number of positions it takes."""
        c = 0
        for covered, paragraphs, row_span, col_span, repeat in specs:
            for _ in range(repeat):
                if c >= MAX_COLS:
                    self.clipped = True
                    return c
                if covered:
                    left = at.get((r, c - 1))
                    above = down.get(c)
                    if left is not None and left.row == r and c < left.col + left.col_span:
                        origin = left
                    elif above is not None and above.row < r < above.row + above.row_span and above.col <= c:
                        origin = above
                    else:  # covered by nothing: a malformed file, so the position is an empty cell of its own
                        origin = _Origin((), r, c, 1, 1)
                else:
                    origin = _Origin(paragraphs, r, c, row_span, min(col_span, MAX_COLS - c))
                    if row_span > 1:
                        for dc in range(origin.col_span):
                            down[c + dc] = origin
                origin.last_row = max(origin.last_row, r)
                origin.last_col = max(origin.last_col, c)
                at[(r, c)] = origin
                c += 1
        return c

    def rows(self, tbl: etree._Element) -> Iterator[etree._Element]:
        for child in tbl:
            if child.tag == ROW:
                yield child
            elif child.tag in ROW_GROUPS:
                yield from self.rows(child)

    def cell_specs(self, row: etree._Element) -> Iterator[tuple[bool, tuple[str, ...], int, int, int]]:
        """(covered, paragraphs, row span, column span, repeat) of each cell element of a row."""
        for cell in row:
            if cell.tag not in (CELL, COVERED):
                continue
            repeat = max(1, min(MAX_COLS, _int(cell.get(_q("table", "number-columns-repeated")), 1)))
            if cell.tag == COVERED:
                yield True, (), 1, 1, repeat
                continue
            row_span = max(1, min(MAX_ROWS, _int(cell.get(_q("table", "number-rows-spanned")), 1)))
            col_span = max(1, min(MAX_COLS, _int(cell.get(_q("table", "number-columns-spanned")), 1)))
            yield False, tuple(self.cell_paragraphs(cell)), row_span, col_span, repeat

    def cell_paragraphs(self, container: etree._Element) -> list[str]:
        """The non-empty paragraphs of a cell in order; a nested table gives its cells' paragraphs."""
        out: list[str] = []

        def add(el: etree._Element, label: str | None) -> None:
            boxes: list[etree._Element] = []
            text, _ = self.paragraph(el, label, boxes)
            if text:
                out.append(text)
            for box in boxes:
                out.extend(self.cell_paragraphs(box))

        for child in container:
            tag = child.tag
            if tag in (P, H):
                add(child, None)
            elif tag == LIST:
                for para, label in self.list_items(child):
                    add(para, label)
            elif tag == TABLE:
                seen: set[tuple[int, int]] = set()
                for row in self.table(child, -1):
                    for cell in row:
                        if cell.origin not in seen:
                            seen.add(cell.origin)
                            out.extend(cell.paragraphs)
            elif tag == SECTION or tag in INDEX_BODIES:
                out.extend(self.cell_paragraphs(child))
        return out
