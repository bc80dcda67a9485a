"""Turn a parsed plan into plain records: the plan, its headings and one record per measure (the jsonl contract).

The records are JSON (kept compressed in a generation's records/, see kg.recordfiles) and typed here, so the graph,
the index and the web UI read the same keys: a misspelt key is a type error where it is written.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from typing import NotRequired, TextIO, TypedDict

from kg import framework
from kg.link import Aliases, Entity, short_id
from kg.plan import Heading, Measure, Plan


class Ref(TypedDict):
    id: str
    name: str


class SourceRef(TypedDict):
    """Where a measure was printed: lines of a text file (else null); page, table, row where the format has them."""

    file: str
    line_start: int | None
    line_end: int | None
    page: NotRequired[int | None]
    table: NotRequired[int | None]
    row: NotRequired[int | None]
    where: NotRequired[str]


class DimensionRecord(TypedDict):
    id: str
    ordinal: int
    label: str
    framework_item: str | None


class ItemRecord(TypedDict):
    id: str
    ordinal: int
    label: str
    dimension: str | None
    framework_item: str | None


class MeasureRecord(TypedDict):
    id: str
    plan: str
    plan_id: str
    agency: str
    year: int | None
    framework_item: str | None
    dimension: str | None
    item: str | None
    title: str | None
    text: str
    units: list[Ref]
    systems: list[Ref]
    source: SourceRef
    ordinal: int
    number: int | None
    dimension_id: str | None
    item_id: str | None
    units_raw: str | None
    unit_entities: list[dict]
    system_entities: list[dict]
    law_entities: list[dict]
    quote: str
    deadline: str | None
    benefit: str | None


class FindingRecord(TypedDict):
    where: str
    what: str


class PlanRecord(TypedDict):
    id: str
    file: str
    encoding: str | None
    format: str
    layout: str
    ocr: bool
    pages: int | None
    findings: list[FindingRecord]
    title: str
    agency: dict
    parent_agency: dict | None
    year_roc: int | None
    year: int | None
    doc_no: str | None
    issued_date: str | None
    basis: list[dict]
    goals: list[str]
    target_units: list[str]
    framework_version: str
    dimensions: list[DimensionRecord]
    items: list[ItemRecord]
    measures: list[MeasureRecord]
    original: NotRequired[str]


def _ref(e: Entity) -> Ref:
    return {"id": e.id, "name": e.name}


def _source(plan: Plan, m: Measure) -> SourceRef:
    """Where the measure was printed: lines of a text file; page, table and row of other formats."""
    src = m.source
    text = plan.format == "text" and (src is None or src.table is None)
    out: SourceRef = {
        "file": plan.file,
        "line_start": m.line_start if text else None,
        "line_end": m.line_end if text else None,
    }
    if src is not None:
        out.update(page=src.page, table=src.table, row=src.row, where=str(src))
    return out


def plan_key(plan: Plan) -> str:
    """One plan per agency and year: re-ingesting that plan (even from a revised file) replaces it."""
    if plan.year_roc is None:  # a plan without a year is told apart by its title
        return short_id("plan", plan.agency, plan.title)
    return short_id("plan", plan.agency, str(plan.year_roc))


def plan_record(plan: Plan, aliases: Aliases) -> PlanRecord:
    """Everything the graph and the index need about one plan, as JSON-ready data."""
    key = plan_key(plan)
    agency = aliases.agency(plan.agency)
    headings: dict[int, DimensionRecord | ItemRecord] = {}
    dims: list[DimensionRecord] = []
    items: list[ItemRecord] = []

    def heading(h: Heading | None, parent: DimensionRecord | None) -> DimensionRecord | ItemRecord | None:
        if h is None:
            return None
        if id(h) in headings:
            return headings[id(h)]
        if h.kind == "dim":
            concept = framework.link_dimension(h.label, plan.year)
            rec: DimensionRecord | ItemRecord = {
                "id": f"{key}-d{len(dims) + 1}",
                "ordinal": len(dims) + 1,
                "label": h.label,
                "framework_item": concept.notation if concept else None,
            }
            dims.append(rec)
        else:
            dim_concept = next(
                (c for c in framework.concepts() if parent and c.notation == parent["framework_item"]), None
            )
            concept = framework.link_item(h.label, dim_concept, plan.year)
            siblings = [i for i in items if i["dimension"] == (parent or {}).get("id")]
            rec = {
                "id": f"{(parent or {'id': key + '-d0'})['id']}-i{len(siblings) + 1}",
                "ordinal": len(siblings) + 1,
                "label": h.label,
                "dimension": (parent or {}).get("id"),
                "framework_item": concept.notation if concept else None,
            }
            items.append(rec)
        headings[id(h)] = rec
        return rec

    measures: list[MeasureRecord] = []
    # A system named in one measure is known in the plan's others (民眾手機高雄好停APP is 高雄好停APP).
    found_systems = aliases.systems_in_all(" ".join(x for x in (m.title, m.text) if x) for m in plan.measures)
    for n, m in enumerate(plan.measures, start=1):
        dim = heading(m.dimension, None)
        item = heading(m.item, dim)
        units, seen = [], set()
        for raw in m.units_raw:
            u = aliases.unit(raw, agency.name)
            if u and u.id not in seen:
                seen.add(u.id)
                units.append(u)
        systems = found_systems[n - 1]
        laws = aliases.laws_in(m.text)
        fw = (item or {}).get("framework_item") or (dim or {}).get("framework_item")
        mid = "m-" + short_id(key, str(n), m.title or "", m.text)
        measures.append(
            {
                "id": mid,
                "plan": plan.title,
                "plan_id": key,
                "agency": agency.name,
                "year": plan.year,
                "framework_item": fw,
                "dimension": dim["label"] if dim else None,
                "item": item["label"] if item else None,
                "title": m.title,
                "text": m.text,
                "units": [_ref(u) for u in units],
                "systems": [_ref(s) for s in systems],
                "source": _source(plan, m),
                # beyond the export contract: what the graph needs
                "ordinal": n,
                "number": m.number,
                "dimension_id": dim["id"] if dim else None,
                "item_id": item["id"] if item else None,
                "units_raw": " ".join(m.units_raw) or None,
                "unit_entities": [u.__dict__ for u in units],
                "system_entities": [s.__dict__ for s in systems],
                "law_entities": [x.__dict__ for x in laws],
                "quote": m.quote or "",
                "deadline": m.deadline,
                "benefit": m.benefit,
            }
        )
    return {
        "id": key,
        "file": plan.file,
        "encoding": plan.encoding,
        "format": plan.format,
        "layout": plan.layout,
        "ocr": plan.ocr,
        "pages": plan.pages,
        "findings": [{"where": f.where, "what": f.what} for f in plan.findings],
        "title": plan.title,
        "agency": agency.__dict__,
        "parent_agency": aliases.agency(agency.parent).__dict__ if agency.parent else None,
        "year_roc": plan.year_roc,
        "year": plan.year,
        "doc_no": plan.doc_no,
        "issued_date": plan.issued_date,
        "basis": [aliases.programme(b).__dict__ for b in plan.basis],
        "goals": plan.goals,
        "target_units": plan.target_units,
        "framework_version": framework.version_for(plan.year),
        "dimensions": dims,
        "items": items,
        "measures": measures,
    }


EXPORT_FIELDS = (
    "id",
    "plan",
    "agency",
    "year",
    "framework_item",
    "dimension",
    "item",
    "title",
    "text",
    "units",
    "systems",
    "source",
)


def export_record(measure: MeasureRecord) -> dict:
    """The jsonl contract other tools rely on: exactly these fields, in this order."""
    out = {k: measure[k] for k in EXPORT_FIELDS}
    src = measure["source"]
    out["source"] = {"file": src["file"], "line_start": src["line_start"], "line_end": src["line_end"]}
    return out


CSV_FIELDS = (*EXPORT_FIELDS[:-1], "file", "line_start", "line_end")


def csv_row(measure: MeasureRecord) -> list:
    """One measure as a flat CSV row in CSV_FIELDS order: names joined with 、, the source spread out."""
    m = export_record(measure)
    row = [m[k] if m[k] is not None else "" for k in EXPORT_FIELDS[:-3]]
    row += ["、".join(u["name"] for u in m["units"]), "、".join(s["name"] for s in m["systems"])]
    return row + [m["source"]["file"], m["source"]["line_start"], m["source"]["line_end"]]


# The headers of the CSV files planners download and open in a spreadsheet, column for column as CSV_FIELDS.
CSV_HEADERS_ZH = {
    "id": "編號",
    "plan": "計畫",
    "agency": "機關",
    "year": "年度",
    "framework_item": "框架項目",
    "dimension": "執行要項",
    "item": "子項",
    "title": "標題",
    "text": "內容",
    "units": "執行單位",
    "systems": "系統",
    "file": "來源檔案",
    "line_start": "起始行",
    "line_end": "結束行",
}

# A cell starting with one of these is run as a formula by Excel, LibreOffice Calc or Google Sheets (OWASP,
# "CSV Injection"): =HYPERLINK(…) in a plan's text would become a live link or worse.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """A CSV cell a spreadsheet will not run as a formula: text starting with FORMULA_STARTS gets a leading '.

    Plan text is untrusted. Only text is escaped: a real number (a year, a line, a score, even a negative one)
    is written as the number it is; text that merely looks like one ("-5") is escaped like any other text.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def write_csv(out: TextIO, header: Sequence[str], rows: Iterable[Sequence], lineterminator: str = "\r\n") -> None:
    """Every CSV the project writes: a UTF-8 BOM (Excel then reads the Chinese right), then escaped cells."""
    out.write("\ufeff")
    w = csv.writer(out, lineterminator=lineterminator)
    w.writerow([csv_cell(h) for h in header])
    w.writerows([csv_cell(x) for x in row] for row in rows)
