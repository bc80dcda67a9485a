"""Link a plan's printed dimensions and items to the city template's SKOS concepts (2016 and 2018 versions)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from rdflib import Literal
from rdflib.namespace import SKOS

from kg.normalise import normalise
from ontology import framework_graph

MIN_SIMILARITY = 0.45


@dataclass(frozen=True)
class Concept:
    iri: str
    notation: str
    label: str
    version: str
    parent: str | None
    labels: tuple[str, ...]


@lru_cache(maxsize=8192)  # the template's labels are compared with every heading, and plans repeat headings
def _bigrams(text: str) -> frozenset[str]:
    text = re.sub(r"[^\u4e00-\u9fffA-Za-z0-9]", "", normalise(text))
    return frozenset({text[i : i + 2] for i in range(len(text) - 1)} or {text})


def similarity(a: str, b: str) -> float:
    """Dice overlap of character bigrams: robust to the small rewordings agencies make to the template."""
    x, y = _bigrams(a), _bigrams(b)
    return 2 * len(x & y) / (len(x) + len(y)) if x and y else 0.0


def strip_number(label: str) -> str:
    return re.sub(r"^(?:[一二三四五六七八九十]+\s*[、.．]|\(\s*[一二三四五六七八九十]+\s*\))\s*", "", normalise(label))


@lru_cache(maxsize=1)
def concepts() -> tuple[Concept, ...]:
    g = framework_graph()
    out = []
    for c in set(g.subjects(SKOS.notation, None)):
        notation = str(g.value(c, SKOS.notation))
        labels = [
            str(x)
            for p in (SKOS.prefLabel, SKOS.hiddenLabel)
            for x in g.objects(c, p)
            if isinstance(x, Literal) and x.language == "zh-Hant"
        ]
        pref = next((str(x) for x in g.objects(c, SKOS.prefLabel) if getattr(x, "language", None) == "zh-Hant"), "")
        broader = g.value(c, SKOS.broader)
        out.append(
            Concept(str(c), notation, pref, notation.split("-")[0], str(broader) if broader else None, tuple(labels))
        )
    return tuple(sorted(out, key=lambda c: c.notation))


def version_for(year: int | None) -> str:
    """The template a plan of this (Gregorian) year follows: 精進方案 until 2017, 躍升方案 from 2018.

    A plan without a year is taken to follow the current template.
    """
    return "2016" if year is not None and year <= 2017 else "2018"


def _best(label: str, candidates: list[Concept]) -> Concept | None:
    scored = [(max(similarity(label, x) for x in c.labels), c) for c in candidates]
    scored = [s for s in scored if s[0] >= MIN_SIMILARITY]
    return max(scored, key=lambda s: s[0])[1] if scored else None


def link_dimension(label: str, year: int | None) -> Concept | None:
    text = strip_number(label)
    preferred = version_for(year)
    tops = [c for c in concepts() if c.parent is None]
    return _best(text, [c for c in tops if c.version == preferred]) or _best(text, tops)


def link_item(label: str, dimension: Concept | None, year: int | None) -> Concept | None:
    text = strip_number(label)
    items = [c for c in concepts() if c.parent is not None]
    if dimension is not None:
        hit = _best(text, [c for c in items if c.parent == dimension.iri])
        if hit:
            return hit
    return _best(text, [c for c in items if c.version == version_for(year)])
