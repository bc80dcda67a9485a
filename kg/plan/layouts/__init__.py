"""Layout detection: which reading of the measures table fits this plan, one small strategy per layout.

A strategy says whether it applies to the measures section and reads its measures. Detection tries them in
order of how much structure they need: a grid table with resolved cells (Word, ODF, PDF, HTML, box-drawn
text) before the line-table state machine of text dumps. Each is tested on its own fixtures, so a new layout
is a new strategy, not another branch in an old one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from kg.document import Paragraph, Source, Table
from kg.plan.model import Finding, Measure


@dataclass
class Section:
    """The measures section of a plan as blocks: paragraphs and tables in order, with the file's name."""

    name: str
    blocks: list[Paragraph | Table]
    text_lines: bool  # whether Source.line of the paragraphs are the file's printed lines
    findings: list[Finding] = field(default_factory=list)

    def warn(self, where: Source | str, what: str) -> None:
        self.findings.append(Finding(str(where), what))


class Layout(Protocol):
    name: str

    def applies(self, section: Section) -> bool: ...

    def read(self, section: Section) -> list[Measure]: ...


def layouts() -> list[Layout]:
    from kg.plan.layouts.grid import GridLayout
    from kg.plan.layouts.lines import LinesLayout
    from kg.plan.layouts.tabbed import TabbedLayout

    return [GridLayout(), TabbedLayout(), LinesLayout()]


def detect(section: Section) -> Layout:
    """The first strategy that applies; the line table applies to anything."""
    for layout in layouts():
        if layout.applies(section):
            return layout
    raise AssertionError("the line layout applies to every section")
