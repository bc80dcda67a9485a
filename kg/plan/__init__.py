"""Read a plan off a `Document`: its front matter, then its measures table through the layout that fits.

The parser never sees a file format: readers (kg.read) give it blocks, it gives back a `Plan` with its
measures and the findings worth a planner's look (numbering gaps, measures without units …).
"""

from __future__ import annotations

import re

from kg.document import Document, Paragraph, Source, Table
from kg.errors import PlanParseError
from kg.normalise import normalise
from kg.plan import front
from kg.plan.checks import check
from kg.plan.layouts import Section, detect
from kg.plan.model import Finding, Heading, Measure, Plan

__all__ = ["Finding", "Heading", "Measure", "Plan", "parse_plan"]


def _view(doc: Document) -> tuple[list[str], list[Source], list[int]]:
    """The document as lines of text (a table row is one line, cells joined by tabs), their sources and blocks."""
    texts: list[str] = []
    sources: list[Source] = []
    owners: list[int] = []
    for b, block in enumerate(doc.blocks):
        if isinstance(block, Paragraph):
            texts.append(block.text)
            sources.append(block.source)
            owners.append(b)
            continue
        for row in block.rows:
            seen: set[tuple[int, int]] = set()
            cells = []
            for cell in row:
                if cell.origin not in seen:
                    seen.add(cell.origin)
                    cells.append(" ".join(cell.paragraphs))
            texts.append("\t".join(cells))
            sources.append(row[0].source if row else block.source)
            owners.append(b)
    return texts, sources, owners


def parse_plan(doc: Document) -> Plan:
    """Parse a read document; raise PlanParseError naming the file and place when it is not a plan of this family."""
    texts, sources, owners = _view(doc)

    def line_of(i: int) -> int:
        return sources[i].line or i + 1 if i < len(sources) else len(sources)

    found = front.sections(texts)
    if not found:
        raise PlanParseError(doc.name, "no numbered sections (壹、貳、參…): not a service-improvement plan", 1)
    head = front.title(texts, found[0].index, doc.name)
    basis: list[str] = []
    goals: list[str] = []
    targets: list[str] = []
    table = None
    for k, s in enumerate(found):
        if "依據" in s.name and not basis:
            basis = front.basis(front.section_text(texts, found, k))
        elif "目標" in s.name and not goals:
            goals = front.goals(front.section_text(texts, found, k))
        elif "對象" in s.name and not targets:
            targets = front.targets(front.section_text(texts, found, k))
        elif table is None and front.TABLE_SECTION.search(s.name):
            table = k
    if table is None:
        raise PlanParseError(
            doc.name, "no measures table section (肆、計畫內容 / 實施要項與方法)", line_of(found[-1].index)
        )
    start = found[table].index + 1
    end = found[table + 1].index if table + 1 < len(found) else len(texts)
    section = Section(doc.name, _blocks(doc, owners, start, end), text_lines=doc.format == "text")
    layout = detect(section)
    measures = [m for m in layout.read(section) if m.text or m.title]
    if not measures:
        raise PlanParseError(doc.name, "the measures table has no measures", line_of(start))
    for m in measures:
        _inline_units(m)
        if not m.text and m.title:
            m.text = normalise(m.title)
        m.text = normalise(m.text)
        if m.title:
            m.title = normalise(m.title, keep_spaces=True)
        if m.quote is None and doc.lines:
            m.quote = "\n".join(doc.lines[m.line_start - 1 : m.line_end]).strip()
    plan = Plan(
        file=doc.name,
        format=doc.format,
        encoding=doc.encoding,
        title=head.title,
        agency=head.agency,
        year_roc=head.year_roc,
        doc_no=head.doc_no,
        issued_date=head.issued_date,
        basis=basis,
        goals=goals,
        target_units=targets,
        measures=measures,
        lines=doc.lines,
        layout=layout.name,
        ocr=doc.ocr,
        pages=doc.pages,
        findings=list(section.findings),
    )
    plan.findings += check(plan)
    return plan


# A unit named at the end of a measure's text: 「…。(承辦單位：資訊組、承保組)」.
INLINE_UNITS = re.compile(
    r"[(（]\s*(?:主辦|承辦|執行|負責|辦理|權責)?(?:單位|機關)\s*[:：]\s*([^()（）]{2,60})[)）]\s*$"
)


def _inline_units(m: Measure) -> None:
    """Units printed inside the measure's text, where the plan has no unit column."""
    if m.units_raw:
        return
    found = INLINE_UNITS.search(normalise(m.text))
    if found:
        m.units_raw = [u for u in re.split(r"[、，,\s]+", found.group(1)) if u]
        m.text = normalise(m.text)[: found.start()].rstrip()


def _blocks(doc: Document, owners: list[int], start: int, end: int) -> list[Paragraph | Table]:
    """The blocks of lines start..end: whole tables, and paragraphs."""
    out: list[Paragraph | Table] = []
    seen: set[int] = set()
    for i in range(start, min(end, len(owners))):
        b = owners[i]
        if b in seen:
            continue
        seen.add(b)
        out.append(doc.blocks[b])
    return [b for b in out if not (isinstance(b, Paragraph) and not re.sub(r"\s", "", b.text))]
