"""Make the test corpus: the five bundled sample plans as an agency would publish them, in real formats.

    .venv/bin/python -m tests.corpus.make_corpus [--keep-going]

For each sample `kg/samples/<stem>.txt` with its answers `tests/corpus/answers/<stem>.json` this writes, into
`tests/corpus/files/`:

- `<stem>.docx`  made here with python-docx: title lines, the front matter (the sample's own lines before the
  measures section), the measures table with real merged cells, the back matter;
- `<stem>.odt`, `<stem>.doc`, `<stem>.pdf`  that .docx converted by LibreOffice headless;
- `<stem>.html`  an agency-web-site page (two of the five encoded in Big5);
- `004_eaa8df098b30e4bb.scan.pdf`  004's PDF rasterised and wrapped as an image-only PDF (no text layer).

The measures table is written from the answers (dimension, item, number, title, text, units), so the answers
are right for every file by construction. Each sample gets its own table layout, see LAYOUTS.
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import io
import json
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "kg" / "samples"
HERE = Path(__file__).resolve().parent
ANSWERS = HERE / "answers"
VARIANTS = ANSWERS / "variants"  # answers for one corpus file where its text differs from the sample's
OUT = HERE / "files"

SCAN_STEM = "004_eaa8df098b30e4bb"
SCAN_DPI = 150  # grey JPEG at 150 dpi: Tesseract reads it about as well as 200 dpi, at two thirds of the bytes
SCAN_QUALITY = 45  # below ~40 JPEG artefacts cost OCR a few measure openings

# Characters cp950 (Big5) cannot encode, and what a Big5 page prints instead.
CP950_SUBSTITUTES = {
    "叁": "參",  # U+53C1, the banker's "three" of 叁、實施對象
    "逹": "達",  # U+9039, a variant of 達
    "峯": "峰",
    "╴": "─",
    "–": "－",
    "—": "─",
    "•": "‧",
    "›": ">",
}

# Misprints the text dumps carry that an agency's own Word file would not.
TEXT_FIXES = {"帄": "平"}


# --------------------------------------------------------------------------------------------------------------
# Layouts


@dataclass(frozen=True)
class Layout:
    """How one sample's plan is laid out: the table's columns, one row per measure or per item, the styles."""

    # header words: (dimension+item header, or (dimension header, item header) when split), measure, units
    lead: tuple[str, ...]
    measure: str
    units: str | None  # None: the plan has no units column
    rows: str = "measure"  # "measure": one row per measure; "item": one row per item, measures as paragraphs
    units_style: str = "、"  # "、": one paragraph, units joined with 、; "para": one paragraph per unit
    extra: tuple[str, ...] = ()  # extra columns after the measure column, in order: 預期效益, 完成期限
    landscape: bool = False
    bold_titles: bool = False  # measure titles in bold (costs a bold CJK font subset in the PDF)
    title_style: tuple[str | None, str | None] = (None, None)  # styles of the agency line, the year/title line
    title_one_paragraph: bool = False  # agency and year/title in one paragraph with a line break
    section_style: str | None = "Heading 2"  # style of 壹、… headings; None: bold Normal paragraph
    east_asia_font: str = "標楷體"
    widths_cm: tuple[float, ...] = ()
    appendix: bool = False  # add the sample's appendix 1 (作業時程) as a second table after the back matter
    # html
    html_encoding: str = "utf-8"  # "big5" writes cp950
    html_meta: str = "charset"  # "charset": <meta charset>, "http-equiv": <meta http-equiv="Content-Type">
    html_style: str = "div"  # "div": a div CMS; "layout-table": an older CMS laid out with nested tables
    html_header_th: bool = True  # header cells as <th> in <thead>, else <td><strong>
    html_units_br: bool = False  # units joined with <br> instead of 、
    html_title_tag: str = "h2"
    html_section_tag: str = "h4"  # "p": sections as <p><strong>
    notes: tuple[str, ...] = field(default_factory=tuple)


LAYOUTS: dict[str, Layout] = {
    # one row per measure; 執行要項 spans the dimension and item columns; units joined with 、; an appendix table
    "000_82525842ac4b5106": Layout(
        lead=("執行要項",),
        measure="執行重點",
        units="執行單位",
        units_style="、",
        title_style=("Title", "Title"),
        section_style="Heading 2",
        widths_cm=(2.6, 4.2, 7.2, 3.0),
        bold_titles=True,
        appendix=True,
        html_encoding="big5",
        html_meta="charset",
        html_style="layout-table",
        html_header_th=False,
        html_title_tag="h3",
    ),
    # other header words; extra columns 預期效益 (merged over an item's rows) and 完成期限 between measure and units
    "001_c81fb21e4d88b1cc": Layout(
        lead=("工作要項",),
        measure="工作重點",
        units="業務單位",
        extra=("預期效益", "完成期限"),
        landscape=True,
        title_style=(None, None),
        section_style=None,
        east_asia_font="新細明體",
        widths_cm=(3.0, 4.6, 9.0, 3.4, 2.2, 3.4),
        html_style="div",
        html_header_th=True,
    ),
    # the sample has no units column: 實施要項 | 執行重點 only
    "002_2938ad104dd3dd2b": Layout(
        lead=("實施要項",),
        measure="執行重點",
        units=None,
        title_style=("Heading 1", "Heading 1"),
        section_style="Heading 2",
        widths_cm=(3.0, 5.0, 9.0),
        html_encoding="big5",
        html_meta="http-equiv",
        html_style="div",
        html_header_th=False,
        html_title_tag="h3",
        html_section_tag="p",
    ),
    # one row per ITEM: the measure cell holds the numbered measures as paragraphs, the units cell one paragraph
    # of units per measure, aligned by position
    "003_e29583780d682208": Layout(
        lead=("實施要項",),
        measure="執行重點",
        units="承辦單位",
        rows="item",
        title_style=("Title", None),
        title_one_paragraph=True,
        section_style=None,
        widths_cm=(2.6, 4.0, 7.2, 3.2),  # wide enough for 消費者保護室 on one line
        html_style="div",
        html_header_th=True,
        html_section_tag="p",
    ),
    # the lead column split in two headed columns; one paragraph per unit
    "004_eaa8df098b30e4bb": Layout(
        lead=("執行要項", "執行策略"),
        measure="執行重點",
        units="執行單位",
        units_style="para",
        bold_titles=True,
        title_style=("Title", "Subtitle"),
        section_style="Heading 2",
        widths_cm=(2.6, 4.2, 7.6, 2.6),
        html_style="div",
        html_header_th=True,
        html_units_br=True,
    ),
}

# 預期效益 per dimension (merged over an item's rows) and 完成期限 per row, for the layout with extra columns
BENEFITS = (
    "建立一致服務流程，提升民眾滿意度",
    "回應民眾需求，強化民眾參與",
    "縮短申辦時間，提升服務便利性",
    "照顧多元對象，縮短服務落差",
    "資訊公開透明，提升施政信任",
    "前瞻規劃服務，精進行政效能",
    "落實年度計畫，持續改善服務",
)
DEADLINES = ("全年度", "111年6月", "111年12月", "每季檢討", "持續辦理")


# --------------------------------------------------------------------------------------------------------------
# Reading a sample and its answers

SECTION = re.compile(r"^\s*(?:[-*#]+\s*)?(壹|貳|參|叁|肆|伍|陸|柒|捌|玖|拾)\s*[、.．]")
ENUM = re.compile(
    r"^\s*(?:[一二三四五六七八九十]+\s*[、.．]|[(（][一二三四五六七八九十\d]+[)）]|\d{1,2}\s*[.、．]|附件)"
)
TAG = re.compile(r"<[^>]+>")


def clean_line(line: str) -> str:
    """A text-dump line as a Word author typed it: no HTML tags, markdown bullets or bold marks, no misprints."""
    s = html.unescape(TAG.sub(" ", line)).replace("**", "")
    s = re.sub(r"^\s*[-*]\s+", "", s)
    s = "".join(TEXT_FIXES.get(ch, ch) for ch in s)
    s = re.sub(r"[ \t\u3000\xa0]+", " ", s).strip()
    # spaces a PDF dump put between CJK characters
    s = re.sub(r"(?<=[\u3400-\u9fff，。、；：「」（）()])\s+(?=[\u3400-\u9fff，。、；：「」（）()])", "", s)
    return s


def _join(left: str, right: str) -> str:
    if re.search(r"[A-Za-z0-9]$", left) and re.match(r"[A-Za-z0-9]", right):
        return left + " " + right
    return left + right


def paragraphs(lines: list[str]) -> list[str]:
    """Lines of a text dump as paragraphs: a line broken inside a sentence is joined to the one before."""
    out: list[str] = []
    for line in lines:
        s = clean_line(line)
        if not s:
            continue
        if out:
            prev = out[-1]
            prev_heading = bool(SECTION.match(prev)) or (bool(ENUM.match(prev)) and len(prev) <= 16)
            if (
                not prev_heading
                and not prev.endswith(("。", "：", ":", "；", "！", "？", "函", "函頒"))
                and not (SECTION.match(s) or ENUM.match(s))
            ):
                out[-1] = _join(prev, s)
                continue
        out.append(s)
    return out


@dataclass
class Sample:
    stem: str
    answers: dict
    doc_line: str | None  # 105年1月29日高市工務秘字第…號函頒
    front: list[str]  # paragraphs from 壹、 up to the measures section
    heading: str  # 肆、計畫內容
    back: list[str]  # paragraphs from 伍、 on

    @property
    def agency(self) -> str:
        return self.answers["agency"]

    @property
    def title(self) -> str:
        return self.answers["title"]

    @property
    def title_rest(self) -> str:
        """The year/title line: the title without the agency's name."""
        t = self.title
        return t[len(self.agency) :] if t.startswith(self.agency) else t

    @property
    def measures(self) -> list[dict]:
        return self.answers["measures"]


def load_sample(stem: str) -> Sample:
    answers = json.loads((ANSWERS / f"{stem}.json").read_text("utf-8"))
    lines = (SAMPLES / f"{stem}.txt").read_text("utf-8").splitlines()
    i_measures = next(i for i, s in enumerate(lines) if (m := SECTION.match(s)) and m.group(1) == "肆")
    i_back = next(
        (i for i in range(i_measures + 1, len(lines)) if (m := SECTION.match(lines[i])) and m.group(1) == "伍"), None
    )
    front_lines = lines[:i_measures]
    # the title lines (rebuilt from the answers) are the lines before the dispatch line or 壹、
    i_start = next(i for i, s in enumerate(front_lines) if "函" in s or SECTION.match(s))
    doc_line = None
    if "函" in front_lines[i_start] and not SECTION.match(front_lines[i_start]):
        doc_line = clean_line(front_lines[i_start])
        i_start += 1
    back: list[str] = []
    if i_back is not None:
        tail = lines[i_back:]
        # the text dump's appendices are tab-separated table lines: the back matter ends before them
        end = next((i for i, s in enumerate(tail) if "\t" in s), len(tail))
        back = paragraphs(tail[:end])
    return Sample(stem, answers, doc_line, paragraphs(front_lines[i_start:]), clean_line(lines[i_measures]), back)


# 附件1 of sample 000, as its text dump prints it
APPENDIX_000 = (
    "附件1、市府提升服務品質實施計畫作業期程",
    ("序號", "作業項目", "時程"),
    [
        ("1", "市府「提升政府服務品質實施計畫」訂定", "1月"),
        ("2", "市府各機關訂定年度「執行計畫」及審核所屬機關「工作計畫」", "2月至4月"),
        ("3", "市府辦理年度提升為民服務研習", "5月至6月"),
        ("4", "本府電話服務品質及禮貌測試(第1次)", "上半年"),
        ("5", "年度評獎作業啟動", "8月"),
        ("6", "機關提報參獎申請書", "9月"),
        ("7", "市府辦理不定期查訪暨輔導(視業務運作)", "9月至11月"),
        ("8", "市府電話服務品質及禮貌測試(第2次)", "下半年"),
        ("9", "市府推薦「政府服務品質獎」初審作業", "10月"),
        ("10", "初審入選機關實地查訪", "10月至11月"),
        ("11", "各機關提報年度執行成果", "12月下旬至次年1月"),
        ("12", "市府受推薦「政府服務品質獎」機關輔導", "12月下旬至次年1月"),
        ("13", "函送行政院參獎", "次年1月至2月上旬"),
    ],
    "※以上作業時程得視實際狀況予以調整",
)


# --------------------------------------------------------------------------------------------------------------
# The table as data, shared by the .docx and the .html


def units_of(m: dict) -> list[str]:
    """The units as the plan prints them: units_raw split on spaces (a name never holds a space)."""
    raw = m.get("units_raw")
    if raw:
        return raw.split()
    return list(m.get("units") or [])


def measure_parts(m: dict) -> tuple[str, str, str]:
    """(number prefix, title, body) of a measure's cell text: "1. 標題 內文"."""
    num = f"{m['number']}. " if m.get("number") is not None else ""
    return num, m.get("title") or "", m["text"]


def measure_line(m: dict) -> str:
    num, title, body = measure_parts(m)
    return num + (title + " " if title else "") + body


def groups(measures: list[dict]) -> list[tuple[str, list[tuple[str, list[dict]]]]]:
    """Measures grouped by dimension, then item, in order: [(dimension, [(item, [measure…])…])…]."""
    out: list[tuple[str, list[tuple[str, list[dict]]]]] = []
    for m in measures:
        dim, item = m.get("dimension") or "", m.get("item") or ""
        if not out or out[-1][0] != dim:
            out.append((dim, []))
        items = out[-1][1]
        if not items or items[-1][0] != item:
            items.append((item, []))
        items[-1][1].append(m)
    return out


@dataclass
class Row:
    """One table row below the header: spans are written on the first row of a merged cell (0 elsewhere)."""

    dim: str
    dim_span: int
    item: str
    item_span: int
    measures: list[dict]  # one (per-measure rows) or all of the item's (per-item rows)
    benefit: str = ""
    benefit_span: int = 0
    deadline: str = ""


def benefit(dim: str) -> str:
    """A plausible 預期效益 for a dimension: by its numeral (一、…六、), the last one for an unnumbered one."""
    n = "一二三四五六".find(dim[:1])
    return BENEFITS[n] if n >= 0 else BENEFITS[-1]


def table_rows(sample: Sample, layout: Layout) -> list[Row]:
    rows: list[Row] = []
    n = 0
    for dim, items in groups(sample.measures):
        first_of_dim = len(rows)
        for item, ms in items:
            first_of_item = len(rows)
            chunks = [ms] if layout.rows == "item" else [[m] for m in ms]
            for chunk in chunks:
                rows.append(Row(dim, 0, item, 0, chunk, deadline=DEADLINES[n % len(DEADLINES)]))
                n += 1
            rows[first_of_item].item_span = len(rows) - first_of_item
            rows[first_of_item].benefit = benefit(dim) if "預期效益" in layout.extra else ""
            rows[first_of_item].benefit_span = len(rows) - first_of_item
        rows[first_of_dim].dim_span = len(rows) - first_of_dim
    return rows


def columns(layout: Layout) -> list[str]:
    """The logical columns, in order: dim, item, measure, extra…, units."""
    cols = ["dim", "item", "measure"]
    cols += ["benefit" if e == "預期效益" else "deadline" for e in layout.extra]
    if layout.units:
        cols.append("units")
    return cols


def header_cells(layout: Layout) -> list[tuple[str, int]]:
    """The header row as (text, column span)."""
    cells: list[tuple[str, int]] = [(layout.lead[0], 2)] if len(layout.lead) == 1 else [(w, 1) for w in layout.lead]
    cells.append((layout.measure, 1))
    cells += [(e, 1) for e in layout.extra]
    if layout.units:
        cells.append((layout.units, 1))
    return cells


# --------------------------------------------------------------------------------------------------------------
# .docx


def make_docx(sample: Sample, layout: Layout, path: Path) -> None:
    from docx import Document
    from docx.enum.section import WD_ORIENT
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Cm, Pt

    doc = Document()
    # no thumbnail of python-docx's empty template
    pkg_rels = doc.part.package.rels
    for rid, rel in list(pkg_rels.items()):
        if rel.reltype.endswith("/thumbnail"):
            del pkg_rels[rid]

    def set_fonts(rpr_owner, east_asia: str, ascii_font: str = "Times New Roman") -> None:
        rpr = rpr_owner.get_or_add_rPr()
        fonts = rpr.find(qn("w:rFonts"))
        if fonts is None:
            fonts = OxmlElement("w:rFonts")
            rpr.insert(0, fonts)
        for k in list(fonts.attrib):
            del fonts.attrib[k]
        fonts.set(qn("w:ascii"), ascii_font)
        fonts.set(qn("w:hAnsi"), ascii_font)
        fonts.set(qn("w:eastAsia"), east_asia)
        fonts.set(qn("w:cs"), ascii_font)

    # document defaults: Traditional Chinese, the agency's usual font
    rpr_default = doc.styles.element.find(qn("w:docDefaults")).find(qn("w:rPrDefault")).find(qn("w:rPr"))
    lang = rpr_default.find(qn("w:lang"))
    lang.set(qn("w:eastAsia"), "zh-TW")
    for name in ("Normal", "Title", "Subtitle", "Heading 1", "Heading 2", "Heading 3"):
        st = doc.styles[name]
        set_fonts(st.element, layout.east_asia_font)
        st.font.color.rgb = None
        st.font.italic = False  # the template's Subtitle is italic: slanted CJK no agency prints
    normal = doc.styles["Normal"]
    normal.font.size = Pt(12)
    normal.paragraph_format.space_after = Pt(2)
    for name, size in (("Title", 18), ("Subtitle", 16), ("Heading 1", 16), ("Heading 2", 14)):
        doc.styles[name].font.size = Pt(size)
        doc.styles[name].font.bold = True

    sec = doc.sections[0]
    sec.page_width, sec.page_height = Cm(21.0), Cm(29.7)
    if layout.landscape:
        sec.orientation = WD_ORIENT.LANDSCAPE
        sec.page_width, sec.page_height = sec.page_height, sec.page_width
    for side in ("left_margin", "right_margin"):
        setattr(sec, side, Cm(2.0))
    sec.top_margin = sec.bottom_margin = Cm(2.0)

    def para(text: str, style: str | None = None, bold: bool = False, center: bool = False, indent: float = 0):
        p = doc.add_paragraph(style=style)
        if text:
            r = p.add_run(text)
            r.bold = bold or None
        if center:
            p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        if indent:
            p.paragraph_format.left_indent = Cm(indent)
        return p

    # title lines
    if layout.title_one_paragraph:
        p = doc.add_paragraph(style=layout.title_style[0])
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        r = p.add_run(sample.agency)
        r.bold = True
        r.add_break()
        p.add_run(sample.title_rest).bold = True
    else:
        para(sample.agency, layout.title_style[0], bold=True, center=True)
        para(sample.title_rest, layout.title_style[1], bold=True, center=True)
    if sample.doc_line:
        p = para(sample.doc_line)
        p.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        p.runs[0].font.size = Pt(10)

    def matter(lines: list[str]) -> None:
        for s in lines:
            if SECTION.match(s):
                para(s, layout.section_style, bold=layout.section_style is None)
            else:
                para(s, indent=0.8)

    matter(sample.front)
    para(sample.heading, layout.section_style, bold=layout.section_style is None)

    # the measures table
    cols = columns(layout)
    rows = table_rows(sample, layout)
    table = doc.add_table(rows=1 + len(rows), cols=len(cols))
    table.style = doc.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    widths = [Cm(w) for w in layout.widths_cm] if layout.widths_cm else [None] * len(cols)
    for i, w in enumerate(widths):
        if w is not None:
            table.columns[i].width = w
            for cell in table.columns[i].cells:
                cell.width = w

    def shade(cell, fill: str = "D9D9D9") -> None:
        shd = OxmlElement("w:shd")
        shd.set(qn("w:val"), "clear")
        shd.set(qn("w:color"), "auto")
        shd.set(qn("w:fill"), fill)
        cell._tc.get_or_add_tcPr().append(shd)

    def write(cell, text: str, bold: bool = False, center: bool = False, size: float | None = None) -> None:
        p = cell.paragraphs[0]
        r = p.add_run(text)
        r.bold = bold or None
        if size:
            r.font.size = Pt(size)
        if center:
            p.alignment = WD_ALIGN_PARAGRAPH.CENTER

    def write_measure(p, m: dict) -> None:
        num, title, body = measure_parts(m)
        if num:
            p.add_run(num)
        if title:
            p.add_run(title).bold = layout.bold_titles or None
            p.add_run(" ")
        p.add_run(body)

    # header: mark it to repeat on every page
    hdr = table.rows[0]
    trpr = hdr._tr.get_or_add_trPr()
    th = OxmlElement("w:tblHeader")
    th.set(qn("w:val"), "true")
    trpr.append(th)
    c = 0
    for text, span in header_cells(layout):
        cell = hdr.cells[c]
        if span > 1:
            cell = cell.merge(hdr.cells[c + span - 1])
        write(cell, text, bold=True, center=True)
        shade(cell)
        c += span

    for r, row in enumerate(rows, start=1):
        cells = table.rows[r].cells
        for ci, col in enumerate(cols):
            cell = cells[ci]
            if col == "dim" and row.dim_span:
                write(cell, row.dim)
            elif col == "item" and row.item_span:
                write(cell, row.item)
            elif col == "benefit" and row.benefit_span:
                write(cell, row.benefit, size=10)
            elif col == "deadline":
                write(cell, row.deadline, center=True, size=10)
            elif col == "measure":
                for k, m in enumerate(row.measures):
                    p = cell.paragraphs[0] if k == 0 else cell.add_paragraph()
                    write_measure(p, m)
            elif col == "units":
                if layout.rows == "item":  # one paragraph per measure, aligned with the measures
                    for k, m in enumerate(row.measures):
                        p = cell.paragraphs[0] if k == 0 else cell.add_paragraph()
                        if units_of(m):
                            p.add_run("、".join(units_of(m)))
                elif layout.units_style == "para":
                    for k, u in enumerate(units_of(row.measures[0])):
                        p = cell.paragraphs[0] if k == 0 else cell.add_paragraph()
                        p.add_run(u)
                else:
                    if units_of(row.measures[0]):
                        write(cell, "、".join(units_of(row.measures[0])))
    # merge the dimension, item (and 預期效益) cells down over their rows
    for r, row in enumerate(rows, start=1):
        for col, span in (("dim", row.dim_span), ("item", row.item_span), ("benefit", row.benefit_span)):
            if col in cols and span > 1:
                ci = cols.index(col)
                table.cell(r, ci).merge(table.cell(r + span - 1, ci))

    matter(sample.back)

    if layout.appendix:
        caption, head, body, note = APPENDIX_000
        doc.add_page_break()
        para(caption, bold=True, center=True)
        t2 = doc.add_table(rows=1 + len(body), cols=3)
        t2.style = doc.styles["Table Grid"]
        t2.alignment = WD_TABLE_ALIGNMENT.CENTER
        for i, text in enumerate(head):
            write(t2.rows[0].cells[i], text, bold=True, center=True)
            shade(t2.rows[0].cells[i])
        for r, values in enumerate(body, start=1):
            for i, text in enumerate(values):
                write(t2.rows[r].cells[i], text, center=i != 1)
        para(note)

    props = doc.core_properties
    year = 1911 + int(sample.answers["year_roc"])
    when = dt.datetime(year, 1, 15, 9, 0, 0)
    props.title = sample.title
    props.author = sample.agency
    props.last_modified_by = sample.agency
    props.comments = ""
    props.subject = "提升服務品質執行計畫"
    props.revision = 1
    props.created = when
    props.modified = when
    props.last_printed = when
    buf = io.BytesIO()
    doc.save(buf)
    write_zip_deterministic(buf.getvalue(), path)


def write_zip_deterministic(data: bytes, path: Path) -> None:
    """Re-write a ZIP with fixed timestamps and permissions, so the same content gives the same bytes."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            zi = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            z.writestr(zi, src.read(info.filename))
    path.write_bytes(out.getvalue())


# --------------------------------------------------------------------------------------------------------------
# LibreOffice


def soffice(fmt: str, files: list[Path], outdir: Path) -> None:
    """Convert files with LibreOffice headless (one profile of our own, so a running office is not disturbed)."""
    exe = shutil.which("soffice") or shutil.which("libreoffice")
    if not exe:
        raise SystemExit("LibreOffice (soffice) is not installed: cannot make the .odt/.doc/.pdf files")
    target = {"doc": "doc:MS Word 97", "odt": "odt", "pdf": "pdf:writer_pdf_Export"}[fmt]
    cmd = [
        exe,
        "--headless",
        "--norestore",
        "-env:UserInstallation=file:///tmp/lo-corpus",
        "--convert-to",
        target,
        "--outdir",
        str(outdir),
        *map(str, files),
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    missing = [f for f in files if not (outdir / f"{f.stem}.{fmt}").exists()]
    if res.returncode or missing:
        raise SystemExit(f"soffice --convert-to {fmt} failed ({res.returncode}): {res.stderr or res.stdout}")


# --------------------------------------------------------------------------------------------------------------
# .html


def esc(s: str) -> str:
    return html.escape(s, quote=False)


def html_table(sample: Sample, layout: Layout) -> str:
    cols = columns(layout)
    rows = table_rows(sample, layout)
    out = [
        '<table class="table_list" summary="' + esc(sample.title) + '執行要項表" border="1" cellspacing="0" '
        'cellpadding="4" width="100%">'
    ]
    if layout.html_header_th:
        cells = "".join(
            f'<th scope="col"{f" colspan={span}" if span > 1 else ""}>{esc(t)}</th>' for t, span in header_cells(layout)
        )
        out.append(f"<thead><tr>{cells}</tr></thead>")
        out.append("<tbody>")
    else:
        out.append("<tbody>")
        cells = "".join(
            f'<td align="center"{f" colspan={span}" if span > 1 else ""}><strong>{esc(t)}</strong></td>'
            for t, span in header_cells(layout)
        )
        out.append(f'<tr class="title">{cells}</tr>')

    def span(n: int) -> str:
        return f' rowspan="{n}"' if n > 1 else ""

    for row in rows:
        tds = []
        for col in cols:
            if col == "dim" and row.dim_span:
                tds.append(f'<td{span(row.dim_span)} valign="top">{esc(row.dim)}</td>')
            elif col == "item" and row.item_span:
                tds.append(f'<td{span(row.item_span)} valign="top">{esc(row.item)}</td>')
            elif col == "benefit" and row.benefit_span:
                tds.append(f"<td{span(row.benefit_span)}>{esc(row.benefit)}</td>")
            elif col == "deadline":
                tds.append(f'<td align="center">{esc(row.deadline)}</td>')
            elif col == "measure":
                if layout.rows == "item" and len(row.measures) > 1:
                    lis = "".join(f"<li>{esc(measure_line(m))}</li>" for m in row.measures)
                    tds.append(f'<td><ol style="list-style-type: none">{lis}</ol></td>')
                elif layout.rows == "item":
                    tds.append(f"<td><p>{esc(measure_line(row.measures[0]))}</p></td>")
                else:
                    num, title, body = measure_parts(row.measures[0])
                    tagged = f"<strong>{esc(title)}</strong>" if layout.bold_titles else esc(title)
                    inner = esc(num) + (tagged + " " if title else "") + esc(body)
                    tds.append(f"<td>{inner}</td>")
            elif col == "units":
                if layout.rows == "item":
                    ps = "".join(f"<p>{esc('、'.join(units_of(m))) or '&nbsp;'}</p>" for m in row.measures)
                    tds.append(f"<td>{ps}</td>")
                else:
                    us = units_of(row.measures[0])
                    joined = "<br />".join(map(esc, us)) if layout.html_units_br else esc("、".join(us))
                    tds.append(f'<td align="center">{joined or "&nbsp;"}</td>')
        out.append("<tr>" + "".join(tds) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def html_matter(lines: list[str], layout: Layout) -> str:
    out = []
    for s in lines:
        if SECTION.match(s):
            if layout.html_section_tag == "p":
                out.append(f"<p><strong>{esc(s)}</strong></p>")
            else:
                out.append(f"<{layout.html_section_tag}>{esc(s)}</{layout.html_section_tag}>")
        else:
            out.append(f'<p style="margin-left:2em">{esc(s)}</p>')
    return "\n".join(out)


MENU = ("最新消息", "機關介紹", "業務資訊", "為民服務", "政府資訊公開", "便民服務", "English")
SIDE = ("申辦業務", "書表下載", "提升服務品質計畫", "常見問答", "首長信箱", "陳情案件處理")


def html_page(sample: Sample, layout: Layout) -> str:
    year = 1911 + int(sample.answers["year_roc"])
    updated = f"{year}-03-{10 + int(sample.stem[:3]) * 3:02d}"
    visits = 1000 + int(sample.stem[4:10], 16) % 90000
    charset = "big5" if layout.html_encoding == "big5" else "utf-8"
    meta = (
        f'<meta charset="{charset}">'
        if layout.html_meta == "charset"
        else f'<meta http-equiv="Content-Type" content="text/html; charset={charset}">'
    )
    t = layout.html_title_tag
    if t == "h2":  # the whole title in one heading
        title_html = f'<h2 class="title">{esc(sample.title)}</h2>\n'
    else:  # agency and year/title in two headings
        title_html = (
            f'<h3 class="title">{esc(sample.agency)}</h3>\n<h4 class="subtitle">{esc(sample.title_rest)}</h4>\n'
        )
    doc_line = f'<p class="docno" style="text-align:right">{esc(sample.doc_line)}</p>\n' if sample.doc_line else ""
    content = (
        f"{title_html}{doc_line}{html_matter(sample.front, layout)}\n{html_matter([sample.heading], layout)}\n"
        f"{html_table(sample, layout)}\n{html_matter(sample.back, layout)}\n"
    )
    tools = (
        '<div class="function">'
        '<a href="javascript:window.print();" title="友善列印">友善列印</a> | '
        '<a href="javascript:history.back();" title="回上一頁">回上一頁</a> | '
        '<a href="https://www.facebook.com/sharer/sharer.php?u=" title="分享到Facebook(另開新視窗)" '
        'target="_blank">分享</a></div>'
    )
    breadcrumb = (
        '<div class="path">目前位置：<a href="/index.php" title="首頁">首頁</a> &gt; '
        '<a href="/list.php?c=4" title="為民服務">為民服務</a> &gt; '
        '<a href="/list.php?c=43" title="提升服務品質計畫">提升服務品質計畫</a></div>'
    )
    menu = "".join(f'<li><a href="/list.php?m={i}" title="{m}">{m}</a></li>' for i, m in enumerate(MENU, 1))
    side = "".join(
        f'<li{" class=on" if s == "提升服務品質計畫" else ""}><a href="/list.php?c=4{i}" title="{s}">{s}</a></li>'
        for i, s in enumerate(SIDE, 1)
    )
    footer = (
        f'<div class="footer"><a href="#Z" id="Z" accesskey="Z" title="下方功能區塊">:::</a>'
        f"<p>{esc(sample.agency)}　地址：802高雄市苓雅區四維三路2號　"
        f"電話：(07)336-8333　傳真：(07)331-{1000 + visits % 9000}</p>"
        f"<p>服務時間：週一至週五 08:00-12:00、13:30-17:30</p>"
        f'<p>瀏覽人次：<span class="counter">{visits}</span>　更新日期：{updated}</p>'
        f"<p>Copyright &copy; {year} {esc(sample.agency)} All Rights Reserved.　"
        f'<a href="https://accessibility.moda.gov.tw/" title="無障礙網站">'
        f'<img src="/images/accessibility.png" alt="通過AA檢測等級無障礙網頁檢測" width="88" height="31"></a></p></div>'
    )
    header = (
        '<a href="#C" class="skip" title="跳到主要內容區塊">跳到主要內容區塊</a>\n'
        f'<div class="header"><a href="#U" id="U" accesskey="U" title="上方功能區塊">:::</a>'
        f'<h1 class="logo"><a href="/index.php" title="回首頁">{esc(sample.agency)}</a></h1>'
        '<div class="toplink"><a href="/index.php">回首頁</a> | <a href="/sitemap.php">網站導覽</a> | '
        '<a href="/en/">English</a> | <form action="/search.php" style="display:inline">'
        '<label for="q">站內搜尋</label><input id="q" name="q" type="text"><input type="submit" value="搜尋">'
        "</form></div>"
        f'<ul class="menu">{menu}</ul></div>'
    )
    left = (
        '<div class="left"><a href="#L" id="L" accesskey="L" title="左方選單區塊">:::</a>'
        f'<h2 class="side_title">為民服務</h2><ul class="side_menu">{side}</ul></div>'
    )
    main = (
        '<div class="center"><a href="#C" id="C" accesskey="C" title="中央內容區塊">:::</a>'
        f"{breadcrumb}{tools}"
        f'<div class="cp">\n{content}</div>'
        '<div class="file"><p>附件下載：<a href="/upload/plan.pdf" title="執行計畫.pdf(另開新視窗)">執行計畫.pdf</a>'
        ' <a href="/upload/plan.odt" title="執行計畫.odt">執行計畫.odt</a></p></div></div>'
    )
    head = (
        f"<head>\n{meta}\n<title>{esc(sample.title)}-{esc(sample.agency)}</title>\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<link rel="stylesheet" href="/css/style.css">\n'
        "<script>var _gaq = _gaq || []; function fontSize(n){document.body.style.fontSize=n;}</script>\n</head>\n"
    )
    if layout.html_style == "layout-table":
        body = (
            f"<body>\n{header}\n"
            '<table width="100%" border="0" cellspacing="0" cellpadding="0" class="layout"><tr>\n'
            f'<td width="200" valign="top">{left}</td>\n'
            f'<td valign="top">{main}</td>\n'
            "</tr></table>\n"
            f"{footer}\n</body>\n"
        )
        doctype = '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
        html_open = '<html xmlns="http://www.w3.org/1999/xhtml" lang="zh-Hant-TW">\n'
    else:
        body = (
            f'<body>\n<div id="wrapper">\n{header}\n<div class="container">{left}\n{main}</div>\n{footer}\n'
            "</div>\n</body>\n"
        )
        doctype = "<!DOCTYPE html>\n"
        html_open = '<html lang="zh-Hant-TW">\n'
    return doctype + html_open + head + body + "</html>\n"


def encode_html(page: str, layout: Layout) -> tuple[bytes, dict[str, str]]:
    """The page's bytes; for Big5, characters cp950 lacks replaced by their closest equivalent."""
    if layout.html_encoding != "big5":
        return page.encode("utf-8"), {}
    used: dict[str, str] = {}
    out = []
    for ch in page:
        try:
            ch.encode("cp950")
            out.append(ch)
        except UnicodeEncodeError:
            sub = CP950_SUBSTITUTES.get(ch)
            if sub is None:  # no near equivalent: a numeric character reference, as CMSes write them
                sub = f"&#{ord(ch)};"
            used[ch] = sub
            out.append(sub)
    return "".join(out).encode("cp950"), used


def substituted_answers(sample: Sample, used: dict[str, str]) -> dict | None:
    """The answers as the Big5 page reads, when a substitution touched them; else None."""
    if not used:
        return None
    text = json.dumps(sample.answers, ensure_ascii=False)
    changed = text
    for ch, sub in used.items():
        if not sub.startswith("&#"):
            changed = changed.replace(ch, sub)
    if changed == text:
        return None
    ans = json.loads(changed)
    ans["file"] = f"{sample.stem}.html"
    ans["note"] = "Big5 page: " + ", ".join(f"{c} (U+{ord(c):04X}) → {s}" for c, s in used.items())
    return ans


# --------------------------------------------------------------------------------------------------------------
# the scan


def make_scan(pdf: Path, out: Path, dpi: int = SCAN_DPI) -> None:
    """004's PDF as a scanner would give it back: grey page images with a little speckle, no text layer."""
    import numpy as np
    from PIL import Image

    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["pdftoppm", "-r", str(dpi), "-gray", str(pdf), f"{tmp}/p"], check=True)
        pages = []
        rng = np.random.default_rng(4)
        for png in sorted(Path(tmp).glob("p-*.pgm"), key=lambda p: int(p.stem.split("-")[1])):
            im = np.asarray(Image.open(png).convert("L"), dtype=np.int16)
            # paper a shade off white, a little grain, some dust specks
            im = im - 8 + rng.normal(0, 1.5, im.shape)
            specks = rng.random(im.shape) < 0.00003
            im[specks] = rng.integers(40, 160, int(specks.sum()))
            pages.append(Image.fromarray(np.clip(im, 0, 255).astype(np.uint8), "L"))
    when = dt.datetime(2018, 3, 1, 10, 0, 0).timetuple()  # Pillow writes a struct_time as a PDF date
    first, rest = pages[0], pages[1:]
    first.save(
        out,
        "PDF",
        save_all=True,
        append_images=rest,
        resolution=float(dpi),
        quality=SCAN_QUALITY,
        optimize=True,
        title="",
        producer="Scanner",
        creator="Scanner",
        creationDate=when,
        modDate=when,
    )


# --------------------------------------------------------------------------------------------------------------


def stems() -> list[str]:
    return sorted(p.stem for p in SAMPLES.glob("*.txt"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=OUT, help="folder to write the files to")
    ap.add_argument("--no-office", action="store_true", help="skip the LibreOffice conversions and the scan")
    args = ap.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    VARIANTS.mkdir(parents=True, exist_ok=True)

    docx_files = []
    for stem in stems():
        layout = LAYOUTS[stem]
        sample = load_sample(stem)
        path = out / f"{stem}.docx"
        make_docx(sample, layout, path)
        docx_files.append(path)
        page, used = encode_html(html_page(sample, layout), layout)
        (out / f"{stem}.html").write_bytes(page)
        variant = VARIANTS / f"{stem}.html.json"
        ans = substituted_answers(sample, used)
        if ans is not None:
            variant.write_text(json.dumps(ans, ensure_ascii=False, indent=1) + "\n", "utf-8")
        elif variant.exists():
            variant.unlink()
        note = ", ".join(f"{c} (U+{ord(c):04X}) → {s}" for c, s in used.items())
        print(f"{stem}: {len(sample.measures)} measures; html {layout.html_encoding}" + (f" [{note}]" if note else ""))

    if not args.no_office:
        for fmt in ("odt", "doc", "pdf"):
            soffice(fmt, docx_files, out)
        make_scan(out / f"{SCAN_STEM}.pdf", out / f"{SCAN_STEM}.scan.pdf")

    total = 0
    for p in sorted(out.iterdir()):
        if p.is_file():
            total += p.stat().st_size
            print(f"  {p.name:38} {p.stat().st_size / 1024:8.1f} KB")
    print(f"  {'total':38} {total / 1024:8.1f} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
