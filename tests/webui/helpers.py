"""Small look-ups the web UI tests share: ids by the names a planner would know."""

from __future__ import annotations

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
