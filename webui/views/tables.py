"""The list pages' tables as downloads a planner opens in a spreadsheet (CSV and .xlsx, Chinese headers), and
/api/counts: every total the pages show, from webui.counts."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from flask import Blueprint, Response, jsonify, url_for
from flask.typing import ResponseReturnValue

from kg.records import write_csv
from webui import counts as kgcounts
from webui.state import KGState, get_state
from webui.xlsx import MIMETYPE as XLSX_MIMETYPE
from webui.xlsx import xlsx_bytes

bp = Blueprint("tables", __name__)

FORMATS = ("csv", "xlsx")


@dataclass(frozen=True)
class Table:
    """What one download holds: a sheet title, the Chinese header and the rows (text or numbers)."""

    title: str
    header: Sequence[str]
    rows: list[list[object]]


def table_response(table: Table, stem: str, fmt: str) -> Response:
    """The table as an attachment `stem`.csv (BOM, formulas escaped: kg.records.write_csv) or `stem`.xlsx (text
    cells only, never formulas)."""
    if fmt == "xlsx":
        body: bytes | str = xlsx_bytes(table.header, table.rows, title=table.title)
        mimetype = XLSX_MIMETYPE
    else:
        buf = io.StringIO()
        write_csv(buf, table.header, table.rows)
        body, mimetype = buf.getvalue(), "text/csv"
    return Response(
        body,
        mimetype=mimetype,
        headers={"Content-Disposition": f"attachment; filename={stem}.{fmt}", "X-Rows": str(len(table.rows))},
    )


def units_table(state: KGState) -> Table:
    rows: list[list[object]] = [
        [u["name"], u["agency"], u["measures"], url_for("browse.unit", uid=u["id"], _external=True)]
        for u in state.units.rows()
    ]
    return Table("單位", ["單位", "機關", "措施數", "網址"], rows)


def systems_table(state: KGState) -> Table:
    rows: list[list[object]] = [
        [
            s["name"],
            s["type_label"],
            s["measures"],
            s["agencies"],
            url_for("browse.system", sid=s["id"], _external=True),
        ]
        for s in state.systems.rows()
    ]
    return Table("系統與服務管道", ["名稱", "類型", "措施數", "機關數", "網址"], rows)


def agencies_table(state: KGState) -> Table:
    from webui.views.browse import agency_rows

    c = kgcounts.counts(state)
    mine = set(c.agency_ids)
    rows: list[list[object]] = []
    for a in agency_rows(state):
        if a["id"] not in mine:
            continue
        rows.append(
            [
                a["name"],
                a["parent"] or "",
                len(a["plans"]),
                "、".join(p["title"] for p in a["plans"]),
                a["measures"],
                a["units"],
                url_for("browse.agency", aid=a["id"], _external=True),
            ]
        )
    return Table("機關與計畫", ["機關", "上級機關", "計畫數", "計畫", "措施數", "單位數", "網址"], rows)


def practices_table(state: KGState) -> Table:
    rows: list[list[object]] = [
        [
            r["label"],
            "、".join(r["alt_labels"]),
            r["measures"],
            r["agencies"],
            url_for("browse.practice", tid=r["id"], _external=True),
        ]
        for r in kgcounts.practice_rows(state)
    ]
    return Table("實務類型", ["實務類型", "別名", "措施數", "機關數", "網址"], rows)


def coverage_table(state: KGState) -> Table:
    m = kgcounts.coverage_matrix(state)
    rows: list[list[object]] = [
        [t["label"], *(c["count"] for c in t["cells"]), t["agencies_doing"], t["size"]] for t in m["types"]
    ]
    header = ["實務類型", *(a["name"] for a in m["agencies"]), "機關數", "措施數"]
    return Table("涵蓋熱度圖", header, rows)


TABLES: dict[str, Callable[[KGState], Table]] = {
    "units": units_table,
    "systems": systems_table,
    "agencies": agencies_table,
    "practices": practices_table,
    "coverage": coverage_table,
}


def _download(name: str, fmt: str) -> Response:
    return table_response(TABLES[name](get_state()), name, fmt)


for _name in TABLES:
    for _fmt in FORMATS:
        bp.add_url_rule(f"/{_name}.{_fmt}", f"{_name}_{_fmt}", _download, defaults={"name": _name, "fmt": _fmt})


@bp.get("/api/counts", endpoint="counts_api")
def counts_api() -> ResponseReturnValue:
    """Every total, defined once (webui.counts.totals): what the home page and the graph legend show."""
    return jsonify(kgcounts.totals(get_state()))
