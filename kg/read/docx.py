"""Word .docx plans: the body's paragraphs and tables in order, merged cells resolved, list numbers rendered."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field

import docx
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from lxml import etree

from kg.document import Block, Cell, Document, Paragraph, Source, Table
from kg.errors import PlanReadError

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
MC_NS = "http://schemas.openxmlformats.org/markup-compatibility/2006"

# A plan's document.xml is a few MB at most; anything this large is a zip bomb or not a plan.
MAX_PART_BYTES = 50 * 1024 * 1024
# python-docx loads every part (images too) into memory, so the whole archive is bounded as well.
MAX_TOTAL_BYTES = 200 * 1024 * 1024
# A gridSpan of a billion must not make a billion cells; no plan table is this wide.
MAX_COLS = 64
# Elements in document.xml, styles.xml and numbering.xml together: a long plan has tens of thousands, while a
# part of 40 MB of empty paragraphs (packed to 100 KB) has millions and would take minutes to read.
MAX_ELEMENTS = 500_000
# Grid positions over all tables (a cell spanning 64 columns takes 64): a plan has a few thousand, while rows of
# one 64-column cell each would make millions of cells from a small part.
MAX_CELLS = 200_000


def _w(tag: str) -> str:
    return f"{{{W_NS}}}{tag}"


P, TBL, TR, TC, T, R = _w("p"), _w("tbl"), _w("tr"), _w("tc"), _w("t"), _w("r")
SDT, SDT_CONTENT, CUSTOM_XML = _w("sdt"), _w("sdtContent"), _w("customXml")
TXBX_CONTENT = _w("txbxContent")
DEL, INS, MOVE_FROM, MOVE_TO = _w("del"), _w("ins"), _w("moveFrom"), _w("moveTo")
VAL = _w("val")
ALTERNATE, CHOICE, FALLBACK = f"{{{MC_NS}}}AlternateContent", f"{{{MC_NS}}}Choice", f"{{{MC_NS}}}Fallback"

# Inside a paragraph: properties, deleted text, field instructions and the VML copy of a drawing are not text.
SKIP_INLINE = {
    _w(t)
    for t in (
        "pPr",
        "rPr",
        "del",
        "moveFrom",
        "instrText",
        "delText",
        "delInstrText",
        "fldData",
        "sdtPr",
        "sdtEndPr",
        "rt",  # ruby annotation above the base text: printing it would double the words
    )
} | {FALLBACK}
BREAKS = {_w("br"), _w("cr")}
TABS = {_w("tab"), _w("ptab")}

HEADING_NAME = re.compile(r"^(?:heading|標題)\s*([1-9])$", re.I)


def read_docx(data: bytes, name: str) -> Document:
    """A .docx plan: paragraphs and tables in body order (content controls and text boxes included).

    Paragraphs get `Source(name, line=n)` where n is the paragraph's 1-based index among the body's
    paragraphs (empty ones counted, table cells not), so a citation is stable whatever is skipped; empty
    paragraphs are not returned. Tables count from 0 in body order and their cells get
    `Source(name, table=t, row=r, col=c)`; a nested table is flattened into its outer cell. Tracked
    insertions are kept and deletions dropped. Any unreadable input raises `PlanReadError`.
    """
    body, styles, numbering = _open(data, name)
    reader = _Reader(name, _Styles(styles), _Numbering(numbering))
    try:
        reader.blocks_of(body)
    except PlanReadError:
        raise
    except Exception as exc:  # XML python-docx accepted but this reader cannot follow: still the file's fault
        raise PlanReadError(name, f"the Word document's XML is malformed ({type(exc).__name__}: {exc})") from None
    notes = []
    if reader.tracked:
        notes.append("tracked changes: insertions kept, deletions dropped")
    if reader.clipped:
        notes.append(f"a table wider than {MAX_COLS} columns was cut to {MAX_COLS}")
    return Document(name, "docx", reader.blocks, notes=notes)


def _has_dtd(raw: bytes) -> bool:
    """True if an XML part declares a DTD: OOXML never does, so it is an entity bomb or not Word's."""
    for enc in ("ascii", "utf-16-le", "utf-16-be"):
        if "<!DOCTYPE".encode(enc) in raw or "<!ENTITY".encode(enc) in raw:
            return True
    return False


def _open(data: bytes, name: str) -> tuple[etree._Element, etree._Element | None, etree._Element | None]:
    """(body, styles root, numbering root) of a checked .docx, or PlanReadError saying why not."""
    if not data:
        raise PlanReadError(name, "the file is empty")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            infos = z.infolist()
            names = {i.filename for i in infos}
            if "word/document.xml" not in names:
                raise PlanReadError(name, "a ZIP archive without word/document.xml: not a Word .docx document")
            for info in infos:
                if info.filename.endswith((".xml", ".rels")) and info.file_size > MAX_PART_BYTES:
                    raise PlanReadError(
                        name,
                        f"{info.filename} unpacks to {info.file_size / 1e6:.0f} MB (over {MAX_PART_BYTES // 2**20} MB):"
                        " refused as a zip bomb",
                    )
            xml = sum(i.file_size for i in infos if i.filename.endswith((".xml", ".rels")))
            if xml > MAX_PART_BYTES:  # python-docx parses every XML part it knows, each up to the cap
                raise PlanReadError(
                    name, f"the XML parts unpack to {xml / 1e6:.0f} MB (over {MAX_PART_BYTES // 2**20} MB): refused"
                )
            total = sum(i.file_size for i in infos)
            if total > MAX_TOTAL_BYTES:
                raise PlanReadError(
                    name, f"the archive unpacks to {total / 1e6:.0f} MB (over {MAX_TOTAL_BYTES // 2**20} MB): refused"
                )
            for part in ("word/document.xml", "word/styles.xml", "word/numbering.xml"):
                if part in names and _has_dtd(z.read(part)):
                    raise PlanReadError(name, f"{part} declares XML entities (an XML bomb?): refused")
    except PlanReadError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, NotImplementedError) as exc:
        raise PlanReadError(name, f"not a readable .docx: the ZIP archive is corrupt or truncated ({exc})") from None
    except Exception as exc:  # zlib.error and CRC errors from a damaged member; zipfile raises several kinds
        raise PlanReadError(name, f"not a readable .docx: a part of the archive is damaged ({exc})") from None
    try:
        document = docx.Document(io.BytesIO(data))
    except etree.XMLSyntaxError as exc:
        raise PlanReadError(name, f"the Word document's XML is broken ({exc})") from None
    except ValueError as exc:
        if "content type" in str(exc):  # python-docx names the stream, not the file: say it ourselves
            raise PlanReadError(
                name, "a Word template or macro-enabled document (.dotx/.docm): save the plan as .docx"
            ) from None
        raise PlanReadError(name, f"not a readable .docx ({exc})") from None
    except Exception as exc:  # python-docx raises KeyError, PackageNotFoundError, zipfile errors …
        raise PlanReadError(name, f"not a readable .docx ({type(exc).__name__}: {exc})") from None
    root = document.element
    body = root.find(_w("body"))
    if root.tag != _w("document") or body is None:
        raise PlanReadError(name, "word/document.xml has no Word body (a Strict Open XML or foreign file?)")
    part = document.part
    styles = _related_root(part, RT.STYLES)
    numbering = _related_root(part, RT.NUMBERING)
    roots = [r for r in (root, styles, numbering) if r is not None]
    if any(r.getroottree().docinfo.internalDTD is not None for r in roots):  # one the byte search missed (UTF-32)
        raise PlanReadError(name, "the document's XML declares a DTD (entities: an XML bomb?): refused")
    # Counted by libxml2 (an XPath count), so the count itself makes no Python objects.
    elements = sum(int(r.xpath("count(//*)")) for r in roots)
    if elements > MAX_ELEMENTS:
        raise PlanReadError(name, f"the document has {elements:,} XML elements (over {MAX_ELEMENTS:,}): not a plan")
    return body, styles, numbering


def _related_root(part, reltype: str) -> etree._Element | None:
    # Looked up by relationship, not via python-docx's properties, which create a missing part.
    try:
        return part.part_related_by(reltype).element
    except (KeyError, AttributeError):
        return None


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def _val(el: etree._Element | None, tag: str) -> str | None:
    if el is None:
        return None
    child = el.find(_w(tag))
    return None if child is None else child.get(VAL)


@dataclass
class _Style:
    name: str
    based_on: str | None
    outline: int | None  # 0-based outline level, 9 = body text
    num_id: str | None
    ilvl: int | None


class _Styles:
    """Paragraph styles: the heading level and list numbering a paragraph inherits from its style."""

    def __init__(self, root: etree._Element | None) -> None:
        self.styles: dict[str, _Style] = {}
        self.default: str | None = None
        if root is None:
            return
        for st in root.iterchildren(_w("style")):
            if st.get(_w("type")) not in ("paragraph", None):
                continue
            sid = st.get(_w("styleId"))
            if sid is None:
                continue
            ppr = st.find(_w("pPr"))
            numpr = ppr.find(_w("numPr")) if ppr is not None else None
            outline = _val(ppr, "outlineLvl")
            self.styles[sid] = _Style(
                name=_val(st, "name") or sid,
                based_on=_val(st, "basedOn"),
                outline=_int(outline, 9) if outline is not None else None,
                num_id=_val(numpr, "numId"),
                ilvl=_int(_val(numpr, "ilvl"), 0) if _val(numpr, "ilvl") is not None else None,
            )
            if st.get(_w("default")) in ("1", "true", "on"):
                self.default = sid

    def chain(self, sid: str | None) -> Iterator[tuple[str, _Style]]:
        """The style and the styles it is based on, nearest first (cycles and long chains cut off)."""
        sid = sid if sid in self.styles else self.default
        seen: set[str] = set()
        while sid is not None and sid in self.styles and sid not in seen and len(seen) < 20:
            seen.add(sid)
            yield sid, self.styles[sid]
            sid = self.styles[sid].based_on

    def heading(self, sid: str | None, direct_outline: int | None) -> int:
        for _, st in self.chain(sid):
            name = st.name.strip()
            if name.lower() == "title" or name == "標題":
                return 1
            m = HEADING_NAME.match(name)
            if m:
                return int(m.group(1))
        outline = direct_outline
        if outline is None:
            outline = next((st.outline for _, st in self.chain(sid) if st.outline is not None), None)
        return outline + 1 if outline is not None and 0 <= outline < 9 else 0

    def numbering(self, sid: str | None) -> tuple[str | None, int | None, str | None]:
        """(numId, ilvl, the style that carried them) a paragraph of this style is numbered with."""
        for st_id, st in self.chain(sid):
            if st.num_id is not None:
                return st.num_id, st.ilvl, st_id
        return None, None, None


@dataclass
class _Level:
    fmt: str = "decimal"
    text: str = "%1."
    start: int = 1
    suffix: str = "tab"
    legal: bool = False
    restart: int | None = None
    style: str | None = None


def _level(lvl: etree._Element, base: _Level | None = None) -> _Level:
    out = _Level() if base is None else _Level(**base.__dict__)
    if (v := _val(lvl, "numFmt")) is not None:
        out.fmt = v
    text_el = lvl.find(_w("lvlText"))
    if text_el is not None:
        out.text = text_el.get(VAL) or ""
    if (v := _val(lvl, "start")) is not None:
        out.start = _int(v, 1)
    if (v := _val(lvl, "suff")) is not None:
        out.suffix = v
    legal = lvl.find(_w("isLgl"))
    if legal is not None:
        out.legal = legal.get(VAL) not in ("0", "false", "off")
    if (v := _val(lvl, "lvlRestart")) is not None:
        restart = _int(v, -1)
        out.restart = None if restart < 0 else restart
    if (v := _val(lvl, "pStyle")) is not None:
        out.style = v
    return out


class _Numbering:
    """Word's list numbering: definitions from numbering.xml and the running counters of each list."""

    def __init__(self, root: etree._Element | None) -> None:
        self.abstract: dict[str, dict[int, _Level]] = {}
        # numId → (abstractNumId, levels after overrides, level → startOverride)
        self.nums: dict[str, tuple[str, dict[int, _Level], dict[int, int]]] = {}
        self.counters: dict[tuple[str, str], list[int | None]] = {}
        if root is None:
            return
        links: dict[str, str] = {}  # abstractNumId → style it takes its levels from (numStyleLink)
        by_style: dict[str, str] = {}  # style → abstractNumId that defines it (styleLink)
        for ab in root.iterchildren(_w("abstractNum")):
            aid = ab.get(_w("abstractNumId"))
            if aid is None:
                continue
            self.abstract[aid] = {_int(lvl.get(_w("ilvl")), 0): _level(lvl) for lvl in ab.iterchildren(_w("lvl"))}
            if (v := _val(ab, "numStyleLink")) is not None:
                links[aid] = v
            if (v := _val(ab, "styleLink")) is not None:
                by_style[v] = aid
        for aid, style in links.items():
            if not self.abstract[aid] and by_style.get(style) in self.abstract:
                self.abstract[aid] = self.abstract[by_style[style]]
        for num in root.iterchildren(_w("num")):
            nid, aid = num.get(_w("numId")), _val(num, "abstractNumId")
            if nid is None or aid is None:
                continue
            levels = dict(self.abstract.get(aid, {}))
            starts: dict[int, int] = {}
            for ov in num.iterchildren(_w("lvlOverride")):
                ilvl = _int(ov.get(_w("ilvl")), 0)
                lvl = ov.find(_w("lvl"))
                if lvl is not None:
                    levels[ilvl] = _level(lvl, levels.get(ilvl))
                if (v := _val(ov, "startOverride")) is not None:
                    starts[ilvl] = _int(v, 1)
            self.nums[nid] = (aid, levels, starts)

    def label(self, num_id: str, ilvl: int | None, style: str | None) -> tuple[str, str] | None:
        """Advance the list's counter and return (label, suffix) for a paragraph, or None if unnumbered."""
        if num_id not in self.nums:
            return None  # numId 0 (numbering switched off) or a dangling reference
        aid, levels, starts = self.nums[num_id]
        if ilvl is None:  # numbered through its style: the level is the one tied to that style
            ilvl = next((i for i, lv in levels.items() if style is not None and lv.style == style), 0)
        ilvl = max(0, min(8, ilvl))
        if ilvl not in levels:
            return None
        # Word continues one list across the numIds that share an abstract definition, unless a numId
        # restarts it with a startOverride: then that numId counts on its own.
        key = ("num", num_id) if starts else ("abstract", aid)
        counts = self.counters.setdefault(key, [None] * 9)

        def start(i: int) -> int:
            return starts.get(i, levels[i].start if i in levels else 1)

        counts[ilvl] = start(ilvl) if counts[ilvl] is None else counts[ilvl] + 1  # type: ignore[operator]
        for deeper in range(ilvl + 1, 9):
            restart = levels[deeper].restart if deeper in levels else None
            restart = deeper if restart is None else restart
            if restart != 0 and ilvl < restart:
                counts[deeper] = None
        lvl = levels[ilvl]
        if lvl.fmt == "bullet":
            return None  # a bullet glyph (often a Symbol-font private character) says nothing

        def render(m: re.Match[str]) -> str:
            i = int(m.group(1)) - 1
            value = counts[i] if counts[i] is not None else start(i)
            fmt = levels[i].fmt if i in levels else "decimal"
            if lvl.legal and i < ilvl:
                fmt = "decimal"
            return format_number(value, fmt)  # type: ignore[arg-type]

        text = re.sub(r"%([1-9])", render, lvl.text).strip()
        return (text, lvl.suffix) if text else None


STEMS = "甲乙丙丁戊己庚辛壬癸"
BRANCHES = "子丑寅卯辰巳午未申酉戌亥"
CJK_DIGITS = "零一二三四五六七八九"
LEGAL_TRAD = ("零壹貳參肆伍陸柒捌玖", "拾佰仟", "萬")
LEGAL_SIMP = ("零壹贰叁肆伍陆柒捌玖", "拾佰仟", "万")
COUNTING = ("零一二三四五六七八九", "十百千", "萬")
COUNTING_SIMP = ("零一二三四五六七八九", "十百千", "万")


def _cjk_below_10000(n: int, digits: str, units: str) -> str:
    out, zero = "", False
    for power, unit in ((1000, units[2]), (100, units[1]), (10, units[0]), (1, "")):
        d = n // power % 10
        if d == 0:
            zero = bool(out)
            continue
        if zero:
            out += digits[0]
            zero = False
        out += digits[d] + unit
    return out


def cjk_number(n: int, system: tuple[str, str, str] = COUNTING, legal: bool = False) -> str:
    """n in Chinese numerals: 1 → 一, 10 → 十, 21 → 二十一, 105 → 一百零五 (legal: 壹拾 for 10)."""
    digits, units, wan = system
    if n <= 0 or n >= 10**8:
        return str(n)
    high, low = divmod(n, 10000)
    out = _cjk_below_10000(high, digits, units) + wan if high else ""
    if low:
        if high and low < 1000:
            out += digits[0]
        out += _cjk_below_10000(low, digits, units)
    if not legal and out.startswith(digits[1] + units[0]):
        out = out[1:]  # 十一, not 一十一, as Word and every plan print it
    return out


def _roman(n: int) -> str:
    if not 0 < n < 4000:
        return str(n)
    out = ""
    for value, sym in (
        (1000, "M"),
        (900, "CM"),
        (500, "D"),
        (400, "CD"),
        (100, "C"),
        (90, "XC"),
        (50, "L"),
        (40, "XL"),
        (10, "X"),
        (9, "IX"),
        (5, "V"),
        (4, "IV"),
        (1, "I"),
    ):
        while n >= value:
            out += sym
            n -= value
    return out


def format_number(n: int, fmt: str) -> str:
    """A list counter in one of Word's numFmt styles; formats not listed here print as decimals."""
    if fmt in ("taiwaneseCounting", "taiwaneseCountingThousand", "chineseCounting", "japaneseCounting"):
        return cjk_number(n)
    if fmt in ("chineseCountingThousand", "japaneseCountingThousand"):
        return cjk_number(n, COUNTING_SIMP)
    if fmt == "ideographLegalTraditional":
        return cjk_number(n, LEGAL_TRAD, legal=True)
    if fmt in ("chineseLegalSimplified", "japaneseLegal"):
        return cjk_number(n, LEGAL_SIMP, legal=True)
    if fmt in ("ideographDigital", "taiwaneseDigital", "japaneseDigitalTenThousand"):
        return "".join("〇一二三四五六七八九"[int(d)] for d in str(n)) if n >= 0 else str(n)
    if fmt == "ideographTraditional" and n > 0:
        return STEMS[(n - 1) % 10]
    if fmt == "ideographZodiac" and n > 0:
        return BRANCHES[(n - 1) % 12]
    if fmt == "ideographZodiacTraditional" and n > 0:
        return STEMS[(n - 1) % 10] + BRANCHES[(n - 1) % 12]
    if fmt in ("ideographEnclosedCircle",) and 1 <= n <= 10:
        return chr(0x3280 + n - 1)
    if fmt == "decimalZero":
        return f"{n:02d}"
    if fmt in ("decimalFullWidth", "decimalFullWidth2"):
        return "".join(chr(0xFF10 + int(d)) for d in str(n)) if n >= 0 else str(n)
    if fmt in ("decimalEnclosedCircle", "decimalEnclosedCircleChinese") and 1 <= n <= 20:
        return chr(0x2460 + n - 1)
    if fmt == "decimalEnclosedParen" and 1 <= n <= 20:
        return chr(0x2474 + n - 1)
    if fmt == "decimalEnclosedFullstop" and 1 <= n <= 20:
        return chr(0x2488 + n - 1)
    if fmt in ("upperRoman", "lowerRoman"):
        roman = _roman(n)
        return roman if fmt == "upperRoman" else roman.lower()
    if fmt in ("upperLetter", "lowerLetter") and n > 0:
        letters = chr(ord("A") + (n - 1) % 26) * ((n - 1) // 26 + 1)
        return letters if fmt == "upperLetter" else letters.lower()
    if fmt == "none":
        return ""
    return str(n)


def _join_label(label: str, suffix: str, text: str) -> str:
    # Word puts a tab after the number; as text a space reads the same, but after a full-width mark such
    # as 、 or ） a plan never has one, and the parser's 一、 / (一) patterns read either way.
    if suffix == "nothing" or ord(label[-1]) > 0x2E7F:
        return label + text
    return f"{label} {text}"


@dataclass
class _Origin:
    paragraphs: list[str]
    row: int
    col: int
    row_span: int = 1
    col_span: int = 1


@dataclass
class _Reader:
    name: str
    styles: _Styles
    numbering: _Numbering
    blocks: list[Block] = field(default_factory=list)
    paragraphs: int = 0
    tables: int = 0
    tracked: bool = False
    clipped: bool = False
    positions: int = 0  # grid positions of the tables read so far

    # -- block level ----------------------------------------------------------------------------------

    def blocks_of(self, container: etree._Element) -> None:
        """Append the paragraphs and tables of a body, content control or text box, in order."""
        for child in container:
            tag = child.tag
            if tag == P:
                self.paragraphs += 1
                line = self.paragraphs
                extra: list[etree._Element] = []
                text, heading = self.paragraph(child, extra)
                if text:
                    self.blocks.append(Paragraph(text, Source(self.name, line=line), heading))
                for box in extra:
                    self.blocks_of(box)
            elif tag == TBL:
                rows = self.table(child, self.tables)
                if rows:
                    self.blocks.append(Table(rows, Source(self.name, table=self.tables)))
                    self.tables += 1
            elif tag in (SDT, SDT_CONTENT, CUSTOM_XML, INS, MOVE_TO, ALTERNATE, CHOICE):
                self.tracked |= tag in (INS, MOVE_TO)
                if not _placeholder(child):
                    self.blocks_of(child)
            elif tag in (DEL, MOVE_FROM):
                self.tracked = True

    # -- paragraphs -----------------------------------------------------------------------------------

    def paragraph(self, p: etree._Element, boxes: list[etree._Element]) -> tuple[str, int]:
        """(text with its list number, heading level) of a w:p; text boxes in it are added to `boxes`."""
        parts: list[str] = []
        self.inline(p, parts, boxes)
        text = "".join(parts).strip()
        ppr = p.find(_w("pPr"))
        sid = _val(ppr, "pStyle")
        numpr = ppr.find(_w("numPr")) if ppr is not None else None
        num_id, ilvl, num_style = None, None, None
        if numpr is not None and _val(numpr, "numId") is not None:
            num_id = _val(numpr, "numId")
            ilvl = _int(_val(numpr, "ilvl"), 0)
        else:
            num_id, ilvl, num_style = self.styles.numbering(sid)
            if numpr is not None and _val(numpr, "ilvl") is not None:
                ilvl = _int(_val(numpr, "ilvl"), 0)
        if num_id is not None:
            # The counter advances even for an empty numbered paragraph, as Word's printed numbers do.
            label = self.numbering.label(num_id, ilvl, num_style)
            if label and text:
                text = _join_label(label[0], label[1], text)
        outline = _val(ppr, "outlineLvl")
        heading = self.styles.heading(sid, _int(outline, 9) if outline is not None else None)
        return text, heading

    def inline(self, el: etree._Element, out: list[str], boxes: list[etree._Element]) -> None:
        for child in el:
            tag = child.tag
            if not isinstance(tag, str) or tag in SKIP_INLINE:
                if tag in (DEL, MOVE_FROM):
                    self.tracked = True
                continue
            if tag == T:
                out.append(child.text or "")
            elif tag in TABS:
                out.append("\t")
            elif tag in BREAKS:
                out.append("\n")
            elif tag == _w("noBreakHyphen"):
                out.append("-")
            elif tag == _w("sym"):
                code = _hex(child.get(_w("char")))
                if code is not None and code <= 0x10FFFF and not 0xE000 <= code <= 0xF8FF:  # font glyphs: no meaning
                    out.append(chr(code))
            elif tag == TXBX_CONTENT:
                boxes.append(child)  # a text box's paragraphs follow the one it is anchored in
            elif _placeholder(child):
                continue
            else:
                if tag in (INS, MOVE_TO):
                    self.tracked = True
                self.inline(child, out, boxes)

    # -- tables ---------------------------------------------------------------------------------------

    def table(self, tbl: etree._Element, index: int) -> tuple[tuple[Cell, ...], ...]:
        """The grid of a w:tbl: one Cell per position, merged cells copied with their origin."""
        origins: dict[tuple[int, int], _Origin] = {}
        at: dict[tuple[int, int], _Origin] = {}
        rows = list(self.rows(tbl))
        width = 0
        for r, tr in enumerate(rows):
            if self.positions + r * width > MAX_CELLS:  # checked as the grid grows, before it is made
                raise PlanReadError(self.name, f"tables of more than {MAX_CELLS:,} cells: not a plan")
            c = max(0, _int(_val(tr.find(_w("trPr")), "gridBefore"), 0))
            for tc in self.cells(tr):
                tcpr = tc.find(_w("tcPr"))
                span = max(1, _int(_val(tcpr, "gridSpan"), 1))
                if c + span > MAX_COLS:
                    self.clipped = True
                    span = MAX_COLS - c
                    if span <= 0:
                        break
                vmerge_el = tcpr.find(_w("vMerge")) if tcpr is not None else None
                continues = vmerge_el is not None and vmerge_el.get(VAL, "continue") == "continue"
                hmerge_el = tcpr.find(_w("hMerge")) if tcpr is not None else None
                paragraphs = self.cell_paragraphs(tc)
                above = at.get((r - 1, c))
                left = at.get((r, c - 1))
                if continues and above is not None and above.col == c and above.col_span == span:
                    origin = above
                    origin.row_span = r - origin.row + 1
                    origin.paragraphs.extend(paragraphs)  # Word hides such text; keeping it loses nothing
                elif (
                    hmerge_el is not None
                    and hmerge_el.get(VAL, "continue") == "continue"
                    and left is not None
                    and left.row == r
                    and left.row_span == 1
                ):
                    origin = left  # the legacy horizontal merge of old Word files
                    origin.col_span += span
                    origin.paragraphs.extend(paragraphs)
                else:
                    origin = _Origin(paragraphs, r, c, col_span=span)
                    origins[(r, c)] = origin
                for dc in range(span):
                    at[(r, c + dc)] = origin
                c += span
            width = max(width, c)
        if not at:
            return ()
        n_rows = len(rows)
        n_cols = max(c for _, c in at) + 1
        self.positions += n_rows * n_cols
        if self.positions > MAX_CELLS:
            raise PlanReadError(self.name, f"tables of more than {MAX_CELLS:,} cells: not a plan")
        grid = []
        for r in range(n_rows):
            cells = []
            for c in range(n_cols):
                src = Source(self.name, table=index, row=r, col=c)
                o = at.get((r, c))
                if o is None:  # a short row is padded so the columns stay aligned
                    cells.append(Cell((), src, (r, c)))
                else:
                    cells.append(Cell(tuple(o.paragraphs), src, (o.row, o.col), o.row_span, o.col_span))
            grid.append(tuple(cells))
        return tuple(grid)

    def rows(self, tbl: etree._Element) -> Iterator[etree._Element]:
        for child in tbl:
            if child.tag == TR:
                trpr = child.find(_w("trPr"))
                if trpr is not None and trpr.find(DEL) is not None:
                    self.tracked = True  # a row deleted with changes tracked
                    continue
                yield child
            elif child.tag in (SDT, SDT_CONTENT, CUSTOM_XML):
                yield from self.rows(child)

    def cells(self, tr: etree._Element) -> Iterator[etree._Element]:
        for child in tr:
            if child.tag == TC:
                yield child
            elif child.tag in (SDT, SDT_CONTENT, CUSTOM_XML):
                yield from self.cells(child)

    def cell_paragraphs(self, container: etree._Element) -> list[str]:
        """The non-empty paragraphs of a cell in order; a nested table gives its cells' paragraphs."""
        out: list[str] = []
        for child in container:
            tag = child.tag
            if tag == P:
                inner: list[etree._Element] = []
                text, _ = self.paragraph(child, inner)
                if text:
                    out.append(text)
                for box in inner:
                    out.extend(self.cell_paragraphs(box))
            elif tag == TBL:
                seen: set[tuple[int, int]] = set()
                for row in self.table(child, -1):
                    for cell in row:
                        if cell.origin not in seen:
                            seen.add(cell.origin)
                            out.extend(cell.paragraphs)
            elif tag in (SDT, SDT_CONTENT, CUSTOM_XML, ALTERNATE, CHOICE) and not _placeholder(child):
                out.extend(self.cell_paragraphs(child))
        return out


def _placeholder(el: etree._Element) -> bool:
    """True for a content control still showing its prompt ("click here to enter text"), not the author's text."""
    if el.tag != SDT:
        return False
    pr = el.find(_w("sdtPr"))
    flag = pr.find(_w("showingPlcHdr")) if pr is not None else None
    return flag is not None and flag.get(VAL) not in ("0", "false", "off")


def _hex(value: str | None) -> int | None:
    try:
        return int(value, 16) if value else None
    except ValueError:
        return None
