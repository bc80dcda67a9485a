"""Server-side sorting, filtering and paging of a page's table or list: ?q= (rows containing the text), ?sort= (a
column) with ?desc=1, ?page= (from 1). A page holds PAGE_SIZE rows (MEASURES_PAGE measures on the page of one
unit, system, agency or practice type), or what the app's config of those names says; the downloads give every
row. A page's side lists (the units or agencies a system's measures are counted by) show ASIDE_ROWS rows, most
measures first, and all of them with ?lists=all; its JSON twin has them all."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from flask import current_app, request, url_for

from webui.params import ParamError, get_int

PAGE_SIZE = 100  # rows of a list page
MEASURES_PAGE = 50  # measures shown at once on a unit, system, agency or practice page
MAX_PAGE = 1_000_000
ASIDE_ROWS = 50  # rows of a side list before its "show all" link (the app's ASIDE_ROWS setting overrides it)


def list_size() -> int:
    """Rows of a list page (the app's PAGE_SIZE setting, else PAGE_SIZE)."""
    return int(current_app.config.get("PAGE_SIZE") or PAGE_SIZE)


def measures_size() -> int:
    """Measures shown at once on one thing's page (the app's MEASURES_PAGE setting, else MEASURES_PAGE)."""
    return int(current_app.config.get("MEASURES_PAGE") or MEASURES_PAGE)


def page_number() -> int:
    return get_int(request.args, "page", 1, 1, MAX_PAGE)


def page_of(rows: Sequence[Any], size: int, page: int | None = None) -> dict:
    """Rows of one page and where it stands: {rows, page, pages, total, size}; a page past the last is refused."""
    page = page_number() if page is None else page
    total = len(rows)
    pages = max(1, -(-total // size))
    if page > pages:
        raise ParamError(f"參數 page 超出範圍：共 {pages} 頁（收到「{page}」）")
    return {
        "rows": list(rows[(page - 1) * size : page * size]),
        "page": page,
        "pages": pages,
        "total": total,
        "size": size,
    }


def table_page(
    rows: list[dict],
    columns: dict[str, Callable[[dict], Any]],
    default: str,
    text: Callable[[dict], str],
    size: int | None = None,
) -> dict:
    """One page of rows, filtered by ?q (against text(row)) and sorted by ?sort (a key of columns) and ?desc."""
    q = request.args.get("q", "").strip()
    sort = request.args.get("sort", "") or default
    if sort not in columns:
        raise ParamError(f"參數 sort：未知的欄位「{sort}」（可用：{'、'.join(columns)}）")
    desc = request.args.get("desc", "") in ("1", "true")
    chosen = [r for r in rows if q.casefold() in text(r).casefold()] if q else rows
    if sort != default or desc:
        chosen = sorted(chosen, key=columns[sort], reverse=desc)
    return dict(page_of(chosen, size or list_size()), q=q, sort=sort, desc=desc, all=len(rows))


def aside_rows(items: Sequence[Any]) -> list:
    """The rows of a side list the page shows: the first ASIDE_ROWS, or every one when the request asks ?lists=all."""
    if request.args.get("lists") == "all":
        return list(items)
    return list(items[: int(current_app.config.get("ASIDE_ROWS") or ASIDE_ROWS)])


def all_lists_url() -> str:
    """This page's URL, its query kept, showing its side lists whole."""
    args = {k: v for k, v in request.args.lists() if k != "lists"}
    return url_for(request.endpoint or "", **(request.view_args or {}), **args, lists="all")
