"""How fluid the graph view is at 500 nodes: the real server and Debian's Chromium, timed in the browser.

The scene is grown to --nodes nodes by expanding the best-linked nodes not yet expanded; then --clicks more expand
clicks are made with the mouse, each timed in the page with performance.now() from just before the click until
graph.js reports the layout done and drawn (the frame after it). Prints the median and 90th percentile, and the time
to lay out the whole scene afresh (重新排列) and to restore it from its shared URL.

    .venv/bin/python -m bench.bench_graph                      # builds the sample plans into a temporary dir
    .venv/bin/python -m bench.bench_graph --data-dir kg-data --clicks 20
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu"]
SETTLED = "document.getElementById('cy').dataset.busy === ''"
ELAPSED = "Number(document.getElementById('cy').dataset.settledAt) - window.__t0"
COUNT = "window.kgGraph.nodes().length"
# The unexpanded node with most links (ties: the first drawn), brought to the middle of the canvas.
NEXT = """() => {
  const cy = window.kgGraph;
  const cand = cy.nodes(':visible').filter(n => !n.hasClass('expanded'));
  if (!cand.length) return null;
  let best = cand[0];
  cand.forEach(n => { if (n.data('degree') > best.data('degree')) best = n; });
  cy.center(best);
  const p = best.renderedPosition(); const box = document.getElementById('cy').getBoundingClientRect();
  return {id: best.id(), x: box.left + p.x, y: box.top + p.y};
}"""


def _wait(page, expression: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise TimeoutError(expression)
        page.wait_for_timeout(10)


def _timed_click(page) -> tuple[float, int] | None:
    """One expand click with the mouse: milliseconds until the layout is done and drawn, and the nodes it added."""
    page.wait_for_timeout(400)  # two taps close in time on one node would open its page (a double tap)
    target = page.evaluate(NEXT)
    if target is None:
        return None
    before = page.evaluate("window.kgGraph.nodes().length")
    page.evaluate(
        "() => { const b = document.getElementById('cy'); b.dataset.busy = 'click'; window.__t0 = performance.now(); }"
    )
    page.mouse.click(target["x"], target["y"])
    try:
        _wait(page, "document.getElementById('cy').dataset.busy !== 'click'", timeout=3)
    except TimeoutError:  # the click landed on a label or a neighbour drawn over the node: tap it instead
        # A block body returns nothing: returning the element would make Playwright serialise the whole graph
        # (seconds, gigabytes, and a crashed page past ~300 nodes).
        # The 3 s spent waiting for a click that never landed are not the page's: time the tap from when it is made.
        page.evaluate(
            "id => { window.__t0 = performance.now(); window.kgGraph.getElementById(id).emit('tap'); }", target["id"]
        )
    _wait(page, SETTLED)
    ms = page.evaluate(ELAPSED)
    return ms, page.evaluate("window.kgGraph.nodes().length") - before


def _serve(data_dir: Path) -> tuple[subprocess.Popen, str]:
    """The app served by waitress in a process of its own (as `kg serve` runs it), so that the benchmark's own
    Python never competes with the server for the interpreter lock; returns the process and the graph page's URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = (
        "import sys; from waitress import serve; from webui import create_app; "
        "serve(create_app({'DATA_DIR': sys.argv[1]}), host='127.0.0.1', port=int(sys.argv[2]), threads=4)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(data_dir), str(port)], cwd=Path(__file__).parent.parent)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, f"http://127.0.0.1:{port}/graph"
        except OSError:
            if proc.poll() is not None:
                raise SystemExit("the server did not start") from None
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit("the server did not start within 60 s")


def _p90(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=10, method="inclusive")[-1] if len(xs) > 1 else xs[0]


def _summary(name: str, xs: list[float]) -> str:
    return f"{name}: n={len(xs)} median {statistics.median(xs):.0f} ms, p90 {_p90(xs):.0f} ms, max {max(xs):.0f} ms"


def run(data_dir: Path, nodes: int, clicks: int) -> None:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if not chromium:
        raise SystemExit("chromium not found: install Debian's Chromium (apt-get install -y chromium)")
    server, url = _serve(data_dir)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            page.on("crash", lambda _: print("the page crashed", flush=True))
            page.on("console", lambda m: m.type == "error" and print("console:", m.text, flush=True))
            page.goto(url)
            page.fill("#graph-q", "高雄市政府")
            page.click("#graph-find button[type=submit]")
            page.locator(".found-node").first.click()
            _wait(page, "window.kgGraph.nodes().length > 0 && " + SETTLED)
            growing: list[tuple[int, float]] = []
            while page.evaluate("window.kgGraph.nodes().length") < nodes:
                shown = page.evaluate("window.kgGraph.nodes().length")
                try:
                    got = _timed_click(page)
                except PlaywrightError as exc:  # the renderer died (it has, past ~350 nodes): say what was measured
                    print(f"the page failed at {shown} nodes ({str(exc).splitlines()[0]})")
                    print(_summary("  expand clicks while growing, every size", [ms for _, ms in growing]))
                    big = [ms for n, ms in growing if n >= 300]
                    if big:
                        print(_summary("  expand clicks while growing, scene >= 300 nodes", big))
                    return
                if got is None:
                    raise SystemExit(f"only {shown} nodes reachable: fewer than --nodes {nodes}")
                growing.append((shown, got[0]))
                heap = page.evaluate("performance.memory ? performance.memory.usedJSHeapSize / 1048576 : 0")
                print(f"  {shown:4d} nodes: +{got[1]} in {got[0]:.0f} ms (JS heap {heap:.0f} MiB)", flush=True)
            total = page.evaluate("window.kgGraph.nodes().length")
            print(
                f"scene grown to {total} nodes, {page.evaluate('window.kgGraph.edges().length')} links "
                f"in {len(growing)} expand clicks"
            )
            big = [ms for shown, ms in growing if shown >= 300]
            if big:
                print(_summary("  expand clicks while growing, scene >= 300 nodes", big))
            timed, added = [], []
            for _ in range(clicks):
                got = _timed_click(page)
                if got is None:
                    break
                timed.append(got[0])
                added.append(got[1])
            if timed:
                print(_summary(f"expand click at {total}+ nodes (layout of the new nodes only)", timed))
                print(f"  nodes added per click: {added}")
            page.evaluate(
                "() => { document.getElementById('cy').dataset.busy = 'x'; window.__t0 = performance.now(); }"
            )
            page.click("#graph-relayout")
            _wait(page, SETTLED)
            relaid = page.evaluate(ELAPSED)
            print(f"whole scene laid out afresh (重新排列), {page.evaluate(COUNT)} nodes: {relaid:.0f} ms")
            page.wait_for_timeout(400)  # the scene is written to the URL a moment after a change
            shared = page.evaluate("location.href")
            other = browser.new_page(viewport={"width": 1366, "height": 900})
            started = time.perf_counter()
            other.goto(shared)
            _wait(other, "window.kgGraph && window.kgGraph.nodes().length > 0 && " + SETTLED)
            restored = (time.perf_counter() - started) * 1000
            print(f"shared URL ({len(shared)} chars) restored with {other.evaluate(COUNT)} nodes in {restored:.0f} ms")
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=10)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, help="a data dir built by 'kg build' (default: the sample plans)")
    parser.add_argument("--nodes", type=int, default=500, help="grow the scene to this many nodes first (500)")
    parser.add_argument("--clicks", type=int, default=10, help="expand clicks timed once the scene is grown (10)")
    args = parser.parse_args(argv)
    if args.data_dir:
        run(args.data_dir, args.nodes, args.clicks)
        return
    from kg.search import build_index_into
    from kg.store import build, bundled_plans

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "kg-data"
        print("building the sample plans …")
        build(bundled_plans(), data_dir, after_graph=build_index_into)
        run(data_dir, args.nodes, args.clicks)


if __name__ == "__main__":
    main()
