"""Small look-ups the web UI tests share: ids by the names a planner would know."""

from __future__ import annotations

import re

from flask import Flask

from webui.state import EXTENSION, KGState


def state(app: Flask) -> KGState:
    return app.extensions[EXTENSION]


def unit_id(app: Flask, name: str, agency_part: str = "") -> str:
    return next(u["id"] for u in state(app).units.values() if u["name"] == name and agency_part in u["agency"])


def agency_id(app: Flask, name: str) -> str:
    return state(app).agency_by_name[name]


def plan_id(app: Flask, title_part: str) -> str:
    return next(p["id"] for p in state(app).plans.values() if title_part in p["title"])


def measure_with_quote(app: Flask, needle: str) -> str:
    return next(m["id"] for m in state(app).measures.values() if needle in m["quote"])


def measure_with_text(app: Flask, start: str) -> str:
    return next(m["id"] for m in state(app).measures.values() if m["text"].startswith(start))


def measures_containing(app: Flask, phrase: str) -> set[str]:
    """The measures whose title or text contains the phrase, worked out from the records rather than asked of the
    search: a Latin word or a number as a whole word, spaces and line breaks in the plan ignored."""
    out = set()
    for m in state(app).measures.values():
        text = (m["title"] or "") + " " + m["text"]
        if re.fullmatch(r"[A-Za-z0-9]+", phrase):
            found = re.search(rf"(?<![a-z0-9]){phrase.lower()}(?![a-z0-9])", text.lower())
        else:
            found = phrase in "".join(text.split())
        if found:
            out.add(m["id"])
    return out


# The screen position of the first measure node on the graph canvas, for a real mouse click on it.
MEASURE_NODE_ON_SCREEN = """() => {
    const n = window.kgGraph.nodes('[type = "measure"]')[0];
    const p = n.renderedPosition(); const box = document.getElementById('cy').getBoundingClientRect();
    return {x: box.left + p.x, y: box.top + p.y};
}"""
