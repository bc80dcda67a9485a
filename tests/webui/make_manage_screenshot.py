"""Save the screenshot of the upload preview shown in the README (docs/screenshots/upload-preview.png).

    .venv/bin/python -m tests.webui.make_manage_screenshot

A sample plan (工務局 105) is built into a temporary data dir, a server with an editor token runs over it, and a
Word plan of another agency (tests/corpus/files/001_…docx, three measures without units) is uploaded in Chromium.
"""

from __future__ import annotations

import argparse
import secrets
import tempfile
from pathlib import Path

from tests.webui.live import chromium, live_server

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "screenshots"
PLAN = ROOT / "tests" / "corpus" / "files" / "001_c81fb21e4d88b1cc.docx"


def shoot(out: Path) -> Path:
    from kg.search import build_index_into
    from kg.store import build, bundled_plans
    from webui import create_app

    out.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(16)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "kg-data"
        build([p for p in bundled_plans() if p.name.startswith("000")], data, after_graph=build_index_into)
        app = create_app({"DATA_DIR": str(data), "EDITOR_TOKEN": token})
        with live_server(app) as base, chromium() as browser:
            page = browser.new_page(viewport={"width": 1440, "height": 1000}, locale="zh-TW")
            page.goto(base + "/manage")
            page.fill("input[name=token]", token)
            page.get_by_role("button", name="確認權杖").click()
            page.set_input_files("input[type=file]", [str(PLAN)])
            page.get_by_role("button", name="上傳並預覽").click()
            page.locator(".preview-plan").first.wait_for()
            page.screenshot(path=str(out / "upload-preview.png"))
    return out / "upload-preview.png"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"folder to write into (default {OUT})")
    print(shoot(parser.parse_args().out))


if __name__ == "__main__":
    main()
