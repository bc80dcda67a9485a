"""Save the screenshot of the graph view's path finding shown in the docs (docs/screenshots/graph-paths.png): the
paths between the unit 查報組 and the 1999專線 system, highlighted.

    .venv/bin/python -m tests.webui.make_graph_screenshot [--data-dir DIR]

Without --data-dir the sample plans are built into a temporary data dir first.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from tests.webui.live import chromium, live_server

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "graph-paths.png"
SETTLED = "document.getElementById('cy').dataset.busy === '' && window.kgGraph.nodes().length > 0"


def _wait(page, expression: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise TimeoutError(expression)
        page.wait_for_timeout(50)


def _start_from(page, query: str) -> None:
    page.fill("#graph-q", query)
    page.click("#graph-find button[type=submit]")
    page.locator(".found-node").first.click()
    page.wait_for_timeout(200)
    _wait(page, SETTLED)


def shoot(data_dir: Path, out: Path = OUT) -> Path:
    from webui import create_app

    out.parent.mkdir(parents=True, exist_ok=True)
    app = create_app({"DATA_DIR": str(data_dir)})
    with live_server(app) as url, chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 900}, locale="zh-TW")
        page.goto(url + "/graph")
        _start_from(page, "查報組")
        page.locator("#graph-actions button", has_text="設為路徑起點").click()
        _start_from(page, "1999專線")
        page.locator("#graph-actions button", has_text="設為路徑終點").click()
        page.select_option("#graph-hops", "4")
        page.click("#graph-path-run")
        _wait(page, "window.kgGraph.edges('.path').length > 0")
        page.wait_for_timeout(300)
        # The canvas stays in view (sticky) while the panel scrolls to the list of paths found.
        page.evaluate("document.getElementById('graph-path').scrollIntoView({block: 'start'})")
        page.wait_for_timeout(200)
        page.screenshot(path=str(out))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, help="a data dir built by 'kg build' (default: the sample plans)")
    args = parser.parse_args()
    if args.data_dir:
        print(shoot(args.data_dir))
        return
    from kg.search import build_index_into
    from kg.store import build, bundled_plans

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "kg-data"
        build(bundled_plans(), data_dir, after_graph=build_index_into)
        print(shoot(data_dir))


if __name__ == "__main__":
    main()
