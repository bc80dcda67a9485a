"""Save the screenshots of the search page and the graph view shown in the docs (docs/screenshots/).

    /work/venv/bin/python -m tests.webui.make_screenshots [--data-dir DIR]

Without --data-dir the sample plans are built into a temporary data dir first.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from tests.webui.live import chromium, live_server

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _expand(page, iri: str) -> None:
    before = page.evaluate("window.kgGraph.nodes().length")
    pos = page.evaluate(
        """(iri) => {
        const n = window.kgGraph.getElementById(iri);
        const p = n.renderedPosition(); const box = document.getElementById('cy').getBoundingClientRect();
        return {x: box.left + p.x, y: box.top + p.y};
    }""",
        iri,
    )
    page.mouse.click(pos["x"], pos["y"])
    deadline = time.monotonic() + 10
    while page.evaluate("window.kgGraph.nodes().length") == before and time.monotonic() < deadline:
        page.wait_for_timeout(50)


def shoot(data_dir: Path, out: Path) -> list[Path]:
    from webui import create_app

    out.mkdir(parents=True, exist_ok=True)
    app = create_app({"DATA_DIR": str(data_dir)})
    with live_server(app) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 1440, "height": 960}, locale="zh-TW")
        page.goto(base + "/search?q=電話禮貌測試")
        page.locator(".result details.similar").first.evaluate("d => d.open = true")
        page.screenshot(path=str(out / "search.png"))

        page.goto(base + "/graph")
        page.fill("#graph-q", "1999專線")
        page.click("#graph-find button[type=submit]")
        page.locator(".found-node").first.click()
        page.wait_for_timeout(300)
        for iri in page.evaluate("window.kgGraph.nodes('[type = \"measure\"]').map(n => n.id())"):
            _expand(page, iri)
        page.wait_for_timeout(1500)  # let the force layout settle before the picture
        page.screenshot(path=str(out / "graph.png"))
    return [out / "search.png", out / "graph.png"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    if args.data_dir:
        paths = shoot(args.data_dir, args.out)
    else:
        from kg.search import build_index_into
        from kg.store import build, bundled_plans

        with tempfile.TemporaryDirectory() as tmp:
            build(bundled_plans(), Path(tmp) / "kg-data", after_graph=build_index_into)
            paths = shoot(Path(tmp) / "kg-data", args.out)
    for p in paths:
        print(p)


if __name__ == "__main__":
    main()
