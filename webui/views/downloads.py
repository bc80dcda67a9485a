"""Downloads: the whole graph (Turtle, JSON-LD), the measures (CSV, JSON lines), the ontology and the practice types.

Files are named by a fixed table; a request never names a path.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass

from flask import Blueprint, Response, abort, url_for
from flask.typing import ResponseReturnValue

from kg.records import CSV_FIELDS, CSV_HEADERS_ZH
from ontology import FRAMEWORK, ONTOLOGY, resource_text
from webui.state import KGState, get_state
from webui.views.common import respond

bp = Blueprint("downloads", __name__)


@dataclass(frozen=True)
class Download:
    title: str
    media_type: str
    produce: Callable[[KGState], bytes]


def _measures_csv(state: KGState) -> bytes:
    """The measures as `kg export --format csv` writes them, under Chinese headers for the planners who open it."""
    from kg.export import export_csv

    def produce() -> bytes:
        buf = io.StringIO()
        export_csv(str(state.data_dir), buf, header=[CSV_HEADERS_ZH[f] for f in CSV_FIELDS], lineterminator="\r\n")
        return buf.getvalue().encode("utf-8")

    return state.download("measures.csv", produce)


DOWNLOADS: dict[str, Download] = {
    "graph.ttl": Download("知識圖譜（Turtle）", "text/turtle; charset=utf-8", lambda s: s.export_bytes("ttl")),
    "graph.jsonld": Download("知識圖譜（JSON-LD）", "application/ld+json", lambda s: s.export_bytes("jsonld")),
    "measures.csv": Download("全部措施（CSV）", "text/csv; charset=utf-8", _measures_csv),
    "measures.jsonl": Download(
        "全部措施（JSON Lines）", "application/jsonl; charset=utf-8", lambda s: s.export_bytes("jsonl")
    ),
    "ontology.ttl": Download(
        "本體（OWL，Turtle）",
        "text/turtle; charset=utf-8",
        lambda s: s.download("ontology", lambda: resource_text(ONTOLOGY).encode("utf-8")),
    ),
    "framework.ttl": Download(
        "執行要項框架（SKOS，Turtle）",
        "text/turtle; charset=utf-8",
        lambda s: s.download("framework", lambda: resource_text(FRAMEWORK).encode("utf-8")),
    ),
    "practices.json": Download(
        "實務類型（JSON）",
        "application/json",
        lambda s: s.download(
            "practices",
            lambda: json.dumps(s.search.practices, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8"),
        ),
    ),
}


@bp.get("/downloads", endpoint="downloads")
@bp.get("/api/downloads", endpoint="downloads_api")
def listing() -> ResponseReturnValue:
    files = [
        {
            "name": name,
            "title": d.title,
            "media_type": d.media_type.split(";")[0],
            "url": url_for("downloads.file", name=name),
        }
        for name, d in DOWNLOADS.items()
    ]
    return respond("downloads.html", {"files": files})


@bp.get("/download/<name>")
def file(name: str) -> ResponseReturnValue:
    d = DOWNLOADS.get(name)
    if d is None:
        abort(404, description=f"沒有名為「{name}」的下載檔")
    state = get_state()
    try:
        body = d.produce(state)
    except OSError:
        # kg.export opens the on-disk store, which one process at a time may hold (e.g. a running 'kg sparql').
        abort(503, description="圖譜資料庫正被其他程式使用，請稍後再試")
    return Response(body, content_type=d.media_type, headers={"Content-Disposition": f"attachment; filename={name}"})
