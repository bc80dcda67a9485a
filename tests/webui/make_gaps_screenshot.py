"""Save the screenshot of the gap analysis shown in the docs (docs/screenshots/gaps.png).

    .venv/bin/python -m tests.webui.make_gaps_screenshot [--data-dir DIR] [--agency NAME]

Without --data-dir the sample plans are built into a temporary data dir first.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from tests.webui.live import chromium, live_server

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
AGENCY = "高雄市仁武區公所"


def shoot(data_dir: Path, out: Path, agency: str = AGENCY) -> Path:
    from webui import create_app

    out.mkdir(parents=True, exist_ok=True)
    app = create_app({"DATA_DIR": str(data_dir)})
    with live_server(app) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 1440, "height": 1100}, locale="zh-TW")
        page.goto(base + "/gaps")
        page.select_option("#gap-agency", label=agency)
        page.get_by_role("button", name="分析").click()
        page.locator("#practice-gaps article.gap").first.wait_for()
        page.screenshot(path=str(out / "gaps.png"))
    return out / "gaps.png"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, help="a data dir built by 'kg build' (default: build the samples)")
    parser.add_argument("--agency", default=AGENCY, help=f"the agency whose gaps are shown (default: {AGENCY})")
    parser.add_argument("--out", type=Path, default=OUT, help="the folder the picture goes in")
    args = parser.parse_args()
    if args.data_dir:
        print(shoot(args.data_dir, args.out, args.agency))
        return
    from kg.search import build_index_into
    from kg.store import build, bundled_plans

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "kg-data"
        build(bundled_plans(), data_dir, after_graph=build_index_into)
        print(shoot(data_dir, args.out, args.agency))


if __name__ == "__main__":
    main()
