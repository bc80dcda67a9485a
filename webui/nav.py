"""The site's main menu and the small helpers every template calls (the menu, measure headings, ROC years).

A menu entry names a Flask endpoint; an entry whose endpoint is not registered (an area not installed) is left out
rather than breaking every page.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from flask import Flask, current_app, url_for
from werkzeug.routing import BuildError

from kg.years import roc_label
from webui.headings import measure_heading
from webui.paging import all_lists_url, aside_rows


class NavEntry(NamedTuple):
    endpoint: str
    label: str
    section: tuple[str, ...] = ()  # endpoints of the pages under this entry (a plan under 機關與計畫 …)


NAV: tuple[NavEntry, ...] = (
    NavEntry("search.search", "搜尋"),
    NavEntry("browse.agencies", "機關與計畫", ("browse.agency", "browse.plan", "browse.programme", "browse.law")),
    NavEntry("browse.units", "單位", ("browse.unit",)),
    NavEntry("browse.systems", "系統", ("browse.system",)),
    NavEntry("browse.practices", "實務類型", ("browse.practice",)),
    NavEntry("browse.coverage", "涵蓋熱度圖"),
    NavEntry("gaps.gaps", "差距分析"),
    NavEntry("browse.framework", "框架項目", ("browse.framework_item",)),
    NavEntry("graph.view", "關係圖"),
    NavEntry("manage.index", "管理計畫"),
    NavEntry("sparql.endpoint", "SPARQL"),
    NavEntry("downloads.downloads", "下載"),
)


def nav_url(endpoint: str, **values: Any) -> str | None:
    """The URL of an endpoint, or None when no view of that name is registered (or it needs other arguments)."""
    if endpoint not in current_app.view_functions:
        return None
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return None


def nav_items(current: str | None) -> list[dict]:
    """The menu for the page of endpoint `current`: each entry's label, URL and `current` ("page" on its own page,
    "true" on a page under it, else None, as aria-current takes it); entries not installed are left out."""
    items = []
    for entry in NAV:
        url = nav_url(entry.endpoint)
        if url is None:
            continue
        if current == entry.endpoint:
            state = "page"
        elif current in entry.section or (current or "").removesuffix("_api") == entry.endpoint:
            state = "true"
        else:
            state = None
        items.append({"label": entry.label, "url": url, "current": state})
    return items


def install_template_helpers(app: Flask) -> None:
    """Make the helpers callable from every template, the imported macros included (they see only globals)."""
    app.jinja_env.globals.update(
        nav_url=nav_url,
        nav_items=nav_items,
        measure_heading=measure_heading,
        roc_label=roc_label,
        aside_rows=aside_rows,
        all_lists_url=all_lists_url,
    )
