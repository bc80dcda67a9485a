"""What looked odd in a parsed plan, for a planner to check: gaps in numbering, measures without units …"""

from __future__ import annotations

import re

from kg.plan.model import Finding, Heading, Measure, Plan
from kg.plan.units import unit_tokens

# A heading longer than this (in characters) that ends a sentence reads like a measure, not a heading.
HEADING_SENTENCE_CHARS = 80


def where(plan: Plan, m: Measure | Heading) -> str:
    src = m.source
    if src is not None and (src.page or src.table is not None):
        return str(src)
    line = m.line_start if isinstance(m, Measure) else m.line
    return f"{plan.file}:{line}"


def check(plan: Plan) -> list[Finding]:
    out: list[Finding] = []
    has_units = any(m.units_raw for m in plan.measures)
    prev: Measure | None = None
    for m in plan.measures:
        same_item = prev is not None and prev.item is m.item and prev.dimension is m.dimension
        if m.number is not None and same_item and prev.number is not None and m.number != prev.number + 1:
            out.append(Finding(where(plan, m), f"numbering jumps from {prev.number} to {m.number}"))
        elif m.number is not None and m.number > 1 and not same_item:
            out.append(Finding(where(plan, m), f"the first measure under its heading is numbered {m.number}"))
        if has_units and not m.units_raw:
            out.append(Finding(where(plan, m), f"no unit for the measure '{m.text[:20]}…'"))
        elif m.units_raw and unit_tokens(" ".join(m.units_raw)) is None:
            out.append(
                Finding(where(plan, m), f"the unit cell '{' '.join(m.units_raw)[:30]}' does not look like units")
            )
        prev = m
    seen: set[int] = set()
    for m in plan.measures:
        for h in (m.dimension, m.item):
            if h is None or id(h) in seen:
                continue
            seen.add(id(h))
            text = h.text.strip()
            if len(text) > HEADING_SENTENCE_CHARS or re.search(r"。.", text):
                out.append(Finding(where(plan, h), f"the heading '{text[:24]}…' reads like a sentence"))
    return out
