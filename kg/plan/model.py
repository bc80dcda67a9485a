"""What the plan parser reads off a document: the plan, its headings, its measures and what looked odd."""

from __future__ import annotations

from dataclasses import dataclass, field

from kg.document import Source
from kg.normalise import join_text, normalise
from kg.plan.numbering import TERMINAL, cn_numeral


@dataclass
class Heading:
    """A 執行要項 (dimension) or (一)(二) item heading as printed in one plan."""

    kind: str  # "dim" or "item"
    number: int | None
    text: str
    line: int
    children: int = 0
    source: Source | None = None

    @property
    def label(self) -> str:
        """The heading as printed, with its number: 一、… for a dimension, (一)… for an item."""
        text = normalise(self.text)
        if self.number is None:
            return text
        numeral = cn_numeral(self.number)
        return f"{numeral}、{text}" if self.kind == "dim" else f"({numeral}){text}"

    @property
    def open(self) -> bool:
        return not self.text or self.text.rstrip()[-1:] not in TERMINAL


@dataclass
class Measure:
    """One 執行重點 entry: where it sits, its title and text, its unit cell and where it was printed.

    `line_start`/`line_end` are printed lines for plain text; for other formats they count the document's
    blocks, and `source` says the page, table, row and cell.
    """

    dimension: Heading | None
    item: Heading | None
    number: int | None
    title: str | None
    text: str
    line_start: int
    line_end: int
    units_raw: list[str] = field(default_factory=list)
    lines_seen: set[int] = field(default_factory=set)
    started_line: int = 0
    source: Source | None = None
    deadline: str | None = None
    benefit: str | None = None
    quote: str | None = None

    @property
    def open(self) -> bool:
        return not self.text or self.text.rstrip()[-1:] not in TERMINAL

    def add_text(self, text: str, line: int) -> None:
        self.text = join_text(self.text, text)
        self.touch(line)

    def touch(self, line: int) -> None:
        self.line_start = min(self.line_start, line)
        self.line_end = max(self.line_end, line)
        self.lines_seen.add(line)


@dataclass(frozen=True)
class Finding:
    """Something in a plan that looked odd: where (a printable location) and what, in plain words."""

    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


@dataclass
class Plan:
    """Everything read off one plan file."""

    file: str
    format: str
    encoding: str | None
    title: str
    agency: str
    year_roc: int | None
    doc_no: str | None
    issued_date: str | None
    basis: list[str]
    goals: list[str]
    target_units: list[str]
    measures: list[Measure]
    lines: tuple[str, ...]
    layout: str = ""
    ocr: bool = False
    pages: int | None = None
    findings: list[Finding] = field(default_factory=list)

    @property
    def year(self) -> int | None:
        return self.year_roc + 1911 if self.year_roc is not None else None
