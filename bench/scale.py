"""The scale benchmark: build, search, SPARQL, server, pages and one-plan updates at 1k / 10k / 100k measures.

    python -m bench.scale --sizes 1k,10k [--encoder use-numpy] [--work DIR] [--parts build,search,…] [--reuse]

For each size it generates the corpus (bench.scale_corpus) into WORK/corpus-SIZE, builds WORK/data-SIZE with
`kg build` (or, with --reuse, uses the data dir there when its READY file says it is complete) and prints one table:
each figure beside its target and a baseline measured in the same run (brute-force numpy over the index's vectors,
bm25s over the measures' texts, rdflib's in-memory graph, the full build). It uses only public interfaces (the `kg`
CLI, the web server over HTTP, kg.search.Search), so it keeps measuring while the internals change. A part that
fails prints its error; the other parts still run.

Parts: build (wall, peak RSS, disk), search (`kg search` of one query, start included; per-query p50/p95 per mode),
sparql (the README's two queries through `kg sparql`; rdflib baseline), serve (start time, RSS, the SPARQL endpoint),
pages (every page kind, the biggest unit, system and agency on purpose), update (add, replace, remove one plan).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench import scale_corpus

REPO = Path(__file__).resolve().parents[1]
KG = str(Path(sys.executable).with_name("kg"))
PARTS = ("build", "search", "sparql", "serve", "pages", "update")
QUERY_FILES = (REPO / "bench" / "data" / "queries.json", REPO / "tests" / "data" / "dev-queries.json")
MODES = ("hybrid", "lexical", "dense", "literal")
ONE_QUERY = "電話禮貌測試"
SEARCH_RUNS = 5  # `kg search` runs, start included: the median is reported
ENDPOINT_RUNS = 10
PAGE_RUNS = 5  # after the first (cold) request of a page
SPARQL_CLI_RUNS = 3
SPARQL_CLI_TIMEOUT = 300  # s: at 100k measures `kg sparql` took minutes on the in-memory copy
SERVER_START_TIMEOUT = 600  # s
HTTP_TIMEOUT = 120  # s

# The README's two example queries ("Questions as SPARQL"), verbatim.
README_QUERIES = {
    "units using 1999": """SELECT DISTINCT ?agency ?unit WHERE {
  ?s skos:prefLabel "1999專線"@zh-Hant .
  ?m sp:usesSystem ?s ; sp:ownedBy ?u ; dcterms:isPartOf/sp:agency/skos:prefLabel ?agency .
  ?u skos:prefLabel ?unit .
  FILTER(langMatches(lang(?agency), "zh-Hant"))
} ORDER BY ?agency ?unit""",
    "measures under 便捷服務": """SELECT ?agency ?year ?text WHERE {
  ?c skos:altLabel "便捷服務"@zh-Hant .
  ?m sp:frameworkItem/skos:broader* ?c ; sp:text ?text ; dcterms:isPartOf ?p .
  ?p sp:agency/skos:prefLabel ?agency ; sp:year ?year .
  FILTER(langMatches(lang(?agency), "zh-Hant"))
} ORDER BY ?agency ?text""",
}

# The targets at 100k measures on 2 cores.
TARGET = {
    "build_wall": 600.0,
    "build_rss": 2 * 2**30,
    "disk": 1.5 * 2**30,
    "search_cli": 2.0,
    "hybrid_p50": 0.020,
    "sparql": 0.100,
    "serve_start": 5.0,
    "serve_rss": 1.5 * 2**30,
    "page": 0.200,
    "update": 10.0,
}


# --------------------------------------------------------------------------- measuring


@dataclass
class Run:
    """One child process: wall time, peak RSS (its own, from wait4), exit status and output."""

    wall: float
    rss: int
    cpu: float  # user + system seconds of the child: what the machine's other load does not change much
    code: int
    out: str
    err: str


# A child's ru_maxrss starts at its parent's peak (Linux carries the forking process's high-water mark over exec), so
# a command is started by this small launcher, not by the benchmark, which holds indexes and graphs of its own. It
# times the command itself and writes its rusage (JSON) to the file named first.
LAUNCHER = """
import json, os, sys, time
t0 = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execv(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, ru = os.wait4(pid, 0)
wall = time.perf_counter() - t0
code = os.waitstatus_to_exitcode(status)
with open(sys.argv[1], "w") as fh:
    json.dump({"wall": wall, "rss": ru.ru_maxrss * 1024, "cpu": ru.ru_utime + ru.ru_stime, "code": code}, fh)
"""


def run(args: list[str], env: dict[str, str], timeout: float | None = None, stdin: str | None = None) -> Run:
    """Run a command (args[0] a path) to its end: its wall time, CPU time and peak RSS (its own, from wait4)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.TemporaryDirectory() as tmp:
        usage = Path(tmp) / "usage.json"
        p = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, str(usage), *args],
            stdout=out,
            stderr=err,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            env=env,
            start_new_session=True,  # the command is in the launcher's process group: a timeout stops both
        )
        if stdin:
            p.stdin.write(stdin.encode())
            p.stdin.close()
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            raise TimeoutError(
                f"{' '.join(Path(a).name for a in args[:2])} did not finish within {timeout:.0f} s"
            ) from None
        out.seek(0)
        err.seek(0)
        if not usage.is_file():
            raise RuntimeError(f"cannot start {args[0]}: {err.read().decode()[-300:]}")
        r = json.loads(usage.read_text())
        return Run(r["wall"], r["rss"], r["cpu"], r["code"], out.read().decode(), err.read().decode())


def checked(r: Run, what: str) -> Run:
    if r.code != 0:
        raise RuntimeError(f"{what} exited with {r.code}: {r.err.strip().splitlines()[-1:] or r.out[-300:]}")
    return r


def disk_usage(path: Path) -> int:
    """Bytes allocated under path, like du: a file hard-linked several times is counted once."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            try:
                st = os.lstat(os.path.join(root, name))
            except FileNotFoundError:
                continue
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            total += st.st_blocks * 512
    return total


def current_generation(data_dir: Path) -> Path | None:
    """The folder of the data dir's current build (CURRENT names it), or None."""
    try:
        gen = (data_dir / "CURRENT").read_text("utf-8").strip()
    except OSError:
        return None
    path = data_dir / "generations" / gen
    return path if path.is_dir() else None


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, timeout: float = HTTP_TIMEOUT, headers: dict | None = None) -> tuple[int, bytes, float]:
    """Status, body and wall time of one GET."""
    req = urllib.request.Request(url, headers=headers or {})
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read()
            return resp.status, body, time.perf_counter() - t0
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), time.perf_counter() - t0


def vm_rss(pid: int) -> int:
    """Resident memory of a process and all its descendants (bytes, /proc/PID/status VmRSS)."""
    total = 0
    for p in [pid, *descendants(pid)]:
        try:
            text = Path(f"/proc/{p}/status").read_text()
        except OSError:
            continue
        m = re.search(r"^VmRSS:\s+(\d+) kB", text, re.M)
        total += int(m.group(1)) * 1024 if m else 0
    return total


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


# --------------------------------------------------------------------------- the report


def secs(x: float | None) -> str:
    if x is None:
        return "—"
    if x < 1:
        return f"{x * 1000:.1f} ms"
    if x < 120:
        return f"{x:.2f} s"
    return f"{x / 60:.1f} min"


def size(x: float | None) -> str:
    if x is None:
        return "—"
    for unit, n in (("GB", 2**30), ("MB", 2**20), ("kB", 2**10)):
        if x >= n:
            return f"{x / n:.1f} {unit}"
    return f"{x:.0f} B"


@dataclass
class Table:
    title: str
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)

    def add(self, what: str, value: str, target: str = "", baseline: str = "") -> None:
        self.rows.append((what, value, target, baseline))

    def section(self, name: str) -> None:
        self.rows.append((f"[{name}]", "", "", ""))

    def print(self) -> None:
        head = ("figure", "value", "target (100k)", "baseline")
        widths = [max(_width(r[i]) for r in [*self.rows, head]) for i in range(4)]
        print(f"\n== {self.title}")
        for r in [head, *self.rows]:
            print("  ".join(_pad(c, w) for c, w in zip(r, widths, strict=True)).rstrip())
        sys.stdout.flush()


def _width(text: str) -> int:
    return sum(2 if ord(c) > 0x2E80 else 1 for c in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


# --------------------------------------------------------------------------- the benchmark of one size


@dataclass
class Bench:
    size: int
    label: str
    work: Path
    encoder: str
    seed: int
    reuse: bool
    table: Table
    env: dict[str, str]
    build_wall: float | None = None
    server: subprocess.Popen | None = None
    base: str = ""

    @property
    def corpus(self) -> Path:
        return self.work / f"corpus-{self.label}"

    @property
    def data(self) -> Path:
        return self.work / f"data-{self.label}"

    def kg(self, *args: str, timeout: float | None = None, stdin: str | None = None) -> Run:
        return run([KG, *args], self.env, timeout, stdin)

    # ---------------------------------------------------------------- corpus and build

    def ensure_corpus(self) -> dict:
        ready = self.corpus / "READY"
        if ready.is_file():
            counts = json.loads(ready.read_text("utf-8"))
            if counts.get("seed") == self.seed and counts.get("measures", 0) >= self.size:
                return counts
        print(f"generating {self.corpus} …", file=sys.stderr)
        return scale_corpus.generate(self.size, self.corpus, self.seed)

    def part_build(self) -> None:
        t = self.table
        ready = self.data / "READY"
        if self.reuse and ready.is_file():
            saved = json.loads(ready.read_text("utf-8"))
            wall = saved.get("wall_s") or _clock(saved.get("wall", ""))
            rss = saved.get("peak_rss_kb", 0) * 1024 or saved.get("peak_rss")
            self.build_wall = wall
            t.add("full build (recorded in READY)", secs(wall), secs(TARGET["build_wall"]))
            t.add("full build peak RSS (recorded)", size(rss), size(TARGET["build_rss"]))
        else:
            if self.data.exists():
                if not (self.data / ".spkg-data-dir").exists():
                    raise RuntimeError(f"{self.data} exists and is not a kg data dir: not replaced")
                shutil.rmtree(self.data)
            print(f"building {self.data} …", file=sys.stderr)
            r = checked(self.kg("build", "--data-dir", str(self.data), str(self.corpus)), "kg build")
            self.build_wall = r.wall
            record = {"corpus": str(self.corpus), "encoder": self.encoder, "wall_s": r.wall, "cpu_s": r.cpu}
            record["peak_rss"] = r.rss
            record["bytes"] = disk_usage(self.data)
            ready.write_text(json.dumps(record) + "\n", encoding="utf-8")
            t.add("full build wall (CPU)", f"{secs(r.wall)} ({secs(r.cpu)})", secs(TARGET["build_wall"]))
            t.add("full build peak RSS", size(r.rss), size(TARGET["build_rss"]))
        t.add("data dir on disk", size(disk_usage(self.data)), size(TARGET["disk"]))
        gen = current_generation(self.data)
        if gen:
            for part in sorted(p.name for p in gen.iterdir() if p.is_dir()):
                t.add(f"  {part}/", size(disk_usage(gen / part)))
        r = self.kg("stats", "--data-dir", str(self.data), "--json")
        if r.code == 0:
            stats = json.loads(r.out)
            t.add(
                "plans / measures / triples", f"{stats.get('plans')} / {stats.get('measures')} / {stats.get('triples')}"
            )
            store = gen and disk_usage(gen / "store")
            if store and stats.get("triples"):
                t.add("  store bytes per triple", f"{store / stats['triples']:.0f} B")

    # ---------------------------------------------------------------- search

    def part_search(self) -> None:
        t = self.table
        walls, cpus, rss = [], [], 0
        for _ in range(SEARCH_RUNS):
            r = checked(self.kg("search", "--data-dir", str(self.data), ONE_QUERY, "--json"), "kg search")
            walls.append(r.wall)
            cpus.append(r.cpu)
            rss = max(rss, r.rss)
        t.add(
            f"kg search one query, start included (median of {SEARCH_RUNS})",
            f"{secs(statistics.median(walls))} (CPU {secs(statistics.median(cpus))}), {size(rss)}",
            secs(TARGET["search_cli"]),
        )
        self._query_latency()

    def _query_latency(self) -> None:
        import numpy as np

        from kg.search import Search, SearchConfig

        t = self.table
        queries = load_queries()
        config = SearchConfig(encoder=self.encoder)
        t0 = time.perf_counter()
        s = Search(self.data, config)
        t.add("kg.search.Search open (in process)", secs(time.perf_counter() - t0))
        s.query("warm-up 便民服務", mode="hybrid", limit=10)
        encoder = config.load_encoder()
        vectors = _vectors(self.data)
        texts = [m["text"] for m in _measures(self)]
        bm25 = _bm25(texts)
        t.add(f"[per query, {len(queries)} distinct queries, after one warm-up]", "")
        base_dense, base_scan = [], []
        for q in queries:
            t0 = time.perf_counter()
            v = np.asarray(encoder.encode([q], kind="query"), dtype=np.float32)[0]
            t1 = time.perf_counter()
            scores = vectors @ v
            top = np.argpartition(-scores, 10)[:10] if len(scores) > 10 else np.arange(len(scores))
            top[np.argsort(-scores[top])]
            base_dense.append(time.perf_counter() - t0)
            base_scan.append(time.perf_counter() - t1)
        base_bm25 = []
        if bm25 is not None:
            retriever, tokenize = bm25
            for q in queries:
                t0 = time.perf_counter()
                retriever.retrieve([tokenize(q)], k=10, show_progress=False, n_threads=1)
                base_bm25.append(time.perf_counter() - t0)
        for mode in MODES:
            lat = []
            for q in queries:
                t0 = time.perf_counter()
                s.query(q, mode=mode, limit=10)
                lat.append(time.perf_counter() - t0)
            target = secs(TARGET["hybrid_p50"]) + " (p50)" if mode == "hybrid" else ""
            if mode in ("hybrid", "dense"):
                base = (
                    f"numpy brute force {secs(percentile(base_dense, 0.5))} / {secs(percentile(base_dense, 0.95))}"
                    f" (scan alone {secs(percentile(base_scan, 0.5))})"
                )
            else:
                base = (
                    f"bm25s {secs(percentile(base_bm25, 0.5))} / {secs(percentile(base_bm25, 0.95))}"
                    if base_bm25
                    else ""
                )
            t.add(f"  {mode} p50 / p95", f"{secs(percentile(lat, 0.5))} / {secs(percentile(lat, 0.95))}", target, base)

    # ---------------------------------------------------------------- SPARQL

    def part_sparql(self) -> None:
        t = self.table
        graph = None
        try:
            graph = self._rdflib_graph()
        except Exception as exc:  # the baseline failing leaves the figures
            t.add("rdflib baseline", f"error: {exc}")
        for name, q in README_QUERIES.items():
            walls, cpus, rows = [], [], None
            for _ in range(SPARQL_CLI_RUNS):
                r = checked(
                    self.kg("sparql", "--data-dir", str(self.data), q, "--format", "json", timeout=SPARQL_CLI_TIMEOUT),
                    "kg sparql",
                )
                walls.append(r.wall)
                cpus.append(r.cpu)
                rows = len(json.loads(r.out)["results"]["bindings"])
            base = ""
            if graph is not None:
                g, ns = graph
                times = []
                for _ in range(ENDPOINT_RUNS):
                    t0 = time.perf_counter()
                    n = len(list(g.query(q, initNs=ns)))
                    times.append(time.perf_counter() - t0)
                base = f"rdflib in memory {secs(statistics.median(times))} ({n} rows)"
            t.add(
                f"kg sparql '{name}' ({rows} rows, median of {SPARQL_CLI_RUNS})",
                f"{secs(statistics.median(walls))} (CPU {secs(statistics.median(cpus))})",
                secs(TARGET["sparql"]),
                base,
            )

    def _rdflib_graph(self):
        from rdflib import Graph

        from kg.triplestore import PREFIXES

        # N-Triples: the canonical Turtle export sorts the whole graph first, which takes minutes at 100k
        r = checked(self.kg("export", "--data-dir", str(self.data), "--format", "nt"), "kg export")
        t0 = time.perf_counter()
        g = Graph()
        g.parse(data=r.out, format="nt")
        for prefix, ns in PREFIXES.items():
            g.bind(prefix, ns)
        self.table.add(
            "rdflib baseline: kg export nt / parse",
            f"{secs(r.wall)} / {secs(time.perf_counter() - t0)}",
            "",
            f"{len(g)} triples",
        )
        return g, {p: n for p, n in g.namespaces()}

    # ---------------------------------------------------------------- server

    def start_server(self) -> None:
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        t0 = time.perf_counter()
        self.server = subprocess.Popen(
            [KG, "serve", "--data-dir", str(self.data), "--port", str(port)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        while True:
            if self.server.poll() is not None:
                raise RuntimeError(f"kg serve exited with {self.server.returncode}: {self.server.stderr.read()[-300:]}")
            try:
                status, _, _ = get(self.base + "/", timeout=5)
                if status == 200:
                    break
            except OSError:
                pass
            if time.perf_counter() - t0 > SERVER_START_TIMEOUT:
                raise TimeoutError(f"kg serve did not answer / within {SERVER_START_TIMEOUT} s")
            time.sleep(0.05)
        start = time.perf_counter() - t0
        self.table.add("kg serve start until / answers 200", secs(start), secs(TARGET["serve_start"]))
        self.table.add(
            "kg serve RSS after start (with its workers)", size(vm_rss(self.server.pid)), size(TARGET["serve_rss"])
        )

    def stop_server(self) -> None:
        if self.server is not None:
            self.server.terminate()
            try:
                self.server.wait(20)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait()
            self.server = None

    def part_serve(self) -> None:
        for name, q in README_QUERIES.items():
            url = self.base + "/sparql?" + urllib.parse.urlencode({"query": q})
            times, status = [], None
            for _ in range(ENDPOINT_RUNS):
                status, body, wall = get(url, headers={"Accept": "application/sparql-results+json"})
                times.append(wall)
            note = f"HTTP {status}" if status != 200 else f"{len(json.loads(body)['results']['bindings'])} rows"
            # The server keeps a build's answers: the first run evaluates the query, the others are answered from it.
            self.table.add(
                f"/sparql '{name}' ({note}, first run)",
                secs(times[0]),
                secs(TARGET["sparql"]),
                f"asked again (answer kept): {secs(statistics.median(times[1:]))}, median of {ENDPOINT_RUNS - 1}",
            )

    # ---------------------------------------------------------------- pages

    def part_pages(self) -> None:
        t = self.table
        for path, note in self._page_list():
            try:
                status, body, first = get(self.base + path)
                walls = []
                for _ in range(PAGE_RUNS):
                    _, body, wall = get(self.base + path)
                    walls.append(wall)
                shown = urllib.parse.unquote(path)
                if len(shown) > 48:
                    shown = shown[:45] + "…"
                value = f"{secs(statistics.median(walls))}, {size(len(body))}"
                t.add(
                    f"  {shown} {note}".rstrip() + ("" if status == 200 else f" HTTP {status}"),
                    value,
                    secs(TARGET["page"]),
                    f"first {secs(first)}",
                )
            except Exception as exc:
                t.add(f"  {path}", f"error: {exc}")
        searches = []
        for q in load_queries()[: PAGE_RUNS + 1]:
            status, body, wall = get(self.base + "/search?" + urllib.parse.urlencode({"q": q}))
            searches.append(wall)
        t.add(
            f"  /search?q=… (a query not asked before, median of {len(searches)})",
            secs(statistics.median(searches)),
            secs(TARGET["page"]),
            f"max {secs(max(searches))}",
        )
        t.add(
            "kg serve RSS after the pages (with its workers)", size(vm_rss(self.server.pid)), size(TARGET["serve_rss"])
        )

    def _api(self, path: str):
        status, body, _ = get(self.base + path)
        if status != 200:
            raise RuntimeError(f"{path}: HTTP {status}")
        return json.loads(body)

    def _page_list(self) -> list[tuple[str, str]]:
        """Every page kind with real ids found from the running server: the biggest unit, system and agency."""
        pages = [("/", ""), ("/agencies", ""), ("/units", ""), ("/systems", ""), ("/coverage", ""), ("/gaps", "")]
        pages += [("/practices", ""), ("/framework", ""), ("/graph", "")]
        agencies = _entries(self._api("/api/agencies"), "agencies")
        units = _entries(self._api("/api/units"), "units")
        systems = _entries(self._api("/api/systems"), "systems")
        big_agency = max(agencies, key=_count, default=None)
        if big_agency:
            pages.append((f"/agency/{big_agency['id']}", f"(biggest agency, {_count(big_agency)})"))
            pages.append((f"/gaps?agency={urllib.parse.quote(big_agency['id'])}", "(biggest agency)"))
            others = sorted(agencies, key=_count, reverse=True)[:3]
            query = "&".join(f"agency={urllib.parse.quote(a['id'])}" for a in others)
            pages.append((f"/compare?{query}", f"({len(others)} biggest agencies)"))
        big_unit = max(units, key=_count, default=None)
        if big_unit:
            pages.append((f"/unit/{big_unit['id']}", f"(biggest unit, {_count(big_unit)})"))
        big_system = max(systems, key=_count, default=None)
        if big_system:
            pages.append((f"/system/{big_system['id']}", f"(biggest system, {_count(big_system)})"))
        hotline = next((s for s in systems if s.get("name") == "1999專線"), None)
        if hotline and hotline is not big_system:
            pages.append((f"/system/{hotline['id']}", "(1999專線)"))
        if big_agency:
            plans = self._api(f"/api/agency/{big_agency['id']}").get("plans") or []
            plan = max(plans, key=_count, default=None)
            if plan:
                pages.append((f"/plan/{plan['id']}", f"(the biggest agency's biggest plan, {_count(plan)})"))
                tree = json.dumps(self._api(f"/api/plan/{plan['id']}"), ensure_ascii=False)
                measure = next(iter(re.findall(r'"id":\s*"(m-[^"]+)"', tree)), None)
                if measure:
                    pages.append((f"/measure/{measure}", ""))
        if hotline:
            iri = hotline.get("iri") or f"https://w3id.org/spkg/id/system/{hotline['id']}"
            pages.append((f"/api/graph/node?id={urllib.parse.quote(iri)}", "(1999專線's neighbourhood)"))
        return pages

    # ---------------------------------------------------------------- update

    def part_update(self) -> None:
        t = self.table
        copy = self.work / f"update-{self.label}"
        plans = self.work / f"update-{self.label}-plans"
        for p in (copy, plans):
            if p.exists():
                shutil.rmtree(p)
        t0 = time.perf_counter()
        shutil.copytree(self.data, copy, symlinks=True)
        (copy / "READY").unlink(missing_ok=True)
        os.sync()  # the copy written out now: its write-back would otherwise land in the first update's time
        t.add("copy of the data dir to update (written to disk)", secs(time.perf_counter() - t0))
        plans.mkdir()
        try:
            taken = _corpus_pairs(self.corpus)
            other = self.seed + 1
            k, (agency, year) = next(
                (k, p) for k, p in enumerate(scale_corpus.pairs(other)) if (p[0].name, p[1]) not in taken
            )
            text, _ = scale_corpus.make_plan(other, k, agency, year)
            new = plans / "new.txt"
            new.write_text(text, encoding="utf-8")
            if self.build_wall is None and (self.data / "READY").is_file():
                saved = json.loads((self.data / "READY").read_text("utf-8"))
                self.build_wall = saved.get("wall_s") or _clock(saved.get("wall", ""))
            base = f"full build {secs(self.build_wall)}" if self.build_wall else ""
            r = checked(self.kg("build", "--data-dir", str(copy), str(new)), "kg build (one new plan)")
            t.add("kg build one new plan", _proc(r), secs(TARGET["update"]), base)
            first = next(iter(sorted(taken.items(), key=lambda x: x[1])))[0]
            old_agency = next(a for a in scale_corpus.agencies() if a.name == first[0])
            text, _ = scale_corpus.make_plan(other, 10**6, old_agency, first[1])
            changed = plans / "changed.txt"
            changed.write_text(text, encoding="utf-8")
            r = checked(self.kg("build", "--data-dir", str(copy), str(changed)), "kg build (a changed plan)")
            t.add("kg build replacing one plan", _proc(r), secs(TARGET["update"]), base)
            r = checked(
                self.kg("remove", "--data-dir", str(copy), "--agency", agency.name, "--year", str(year)), "kg remove"
            )
            t.add("kg remove one plan", _proc(r), secs(TARGET["update"]), base)
        finally:
            shutil.rmtree(copy, ignore_errors=True)
            shutil.rmtree(plans, ignore_errors=True)


def _proc(r: Run) -> str:
    return f"{secs(r.wall)} (CPU {secs(r.cpu)}), {size(r.rss)}"


def _clock(text: str) -> float | None:
    """'1:02:03' / '17:12.34' (GNU time's wall clock) in seconds."""
    if not text:
        return None
    total = 0.0
    for part in text.split(":"):
        total = total * 60 + float(part)
    return total


def _count(entry: dict) -> int:
    for key in ("measures", "count", "measure_count", "n"):
        v = entry.get(key)
        if isinstance(v, int):
            return v
        if isinstance(v, list):
            return len(v)
    return 0


def _entries(data, key: str) -> list[dict]:
    """The list of entries a list page's JSON holds (under its own name, or the first list of dicts)."""
    if isinstance(data, list):
        return data
    if isinstance(data.get(key), list):
        return data[key]
    return next((v for v in data.values() if isinstance(v, list) and v and isinstance(v[0], dict)), [])


def _corpus_pairs(corpus: Path) -> dict[tuple[str, int], int]:
    """(agency, year) → line of plans.tsv, for every plan of the corpus."""
    lines = (corpus / "plans.tsv").read_text("utf-8").splitlines()[1:]
    return {(x.split("\t")[1], int(x.split("\t")[2])): i for i, x in enumerate(lines)}


def _vectors(data: Path):
    import numpy as np

    gen = current_generation(data)
    found = sorted((gen or data).rglob("vectors.npy"))
    if not found:
        raise RuntimeError(f"no vectors.npy in {gen or data}")
    return np.load(found[0], mmap_mode="r").astype(np.float32)


def _measures(b: Bench) -> list[dict]:
    r = checked(b.kg("export", "--data-dir", str(b.data), "--format", "jsonl"), "kg export jsonl")
    return [json.loads(line) for line in r.out.splitlines() if line.strip()]


def _bigrams(text: str) -> list[str]:
    """Chinese text as character bigrams (and ASCII words): what BM25 over Chinese needs without a segmenter."""
    out = []
    for run_ in re.findall(r"[\u4e00-\u9fff]+|[A-Za-z0-9]+", text):
        if run_.isascii():
            out.append(run_.lower())
        else:
            out += [run_[i : i + 2] for i in range(len(run_) - 1)] or [run_]
    return out


def _bm25(texts: list[str]):
    """A bm25s retriever over the texts and the tokenizer of its queries; None when bm25s is not installed."""
    try:
        import bm25s
    except ImportError:
        print("bm25s is not installed (pip install -e '.[test]'): no lexical baseline", file=sys.stderr)
        return None
    vocab: dict[str, int] = {}
    corpus = [[vocab.setdefault(tok, len(vocab)) for tok in _bigrams(t)] for t in texts]
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenization.Tokenized(ids=corpus, vocab=vocab), show_progress=False)

    def tokenize(q: str) -> list[int]:
        return [vocab[t] for t in _bigrams(q) if t in vocab] or [0]

    return retriever, tokenize


def load_queries() -> list[str]:
    """The distinct query texts of the judged sets (our own and the dev set), in their order."""
    out: dict[str, None] = {}
    for path in QUERY_FILES:
        for q in json.loads(path.read_text("utf-8"))["queries"]:
            out.setdefault(q["query"], None)
    return list(out)


# --------------------------------------------------------------------------- main


def bench_size(label: str, args: argparse.Namespace) -> None:
    n = scale_corpus.parse_size(label)
    env = dict(os.environ, KG_ENCODER=args.encoder, PYTHONUNBUFFERED="1")
    table = Table(f"{label} measures (encoder {args.encoder}, {os.cpu_count()} cores)")
    b = Bench(n, label, args.work, args.encoder, args.seed, args.reuse, table, env)
    parts = args.parts

    def part(name: str, fn: Callable[[], None]) -> None:
        table.section(name)
        t0 = time.perf_counter()
        try:
            fn()
        except Exception as exc:
            table.add(f"{name}: error", f"{type(exc).__name__}: {exc}"[:200])
            traceback.print_exc(file=sys.stderr)
        print(f"[{label}] {name} done in {secs(time.perf_counter() - t0)}", file=sys.stderr)

    load = os.getloadavg()[0]
    counts = b.ensure_corpus()
    table.add("corpus", f"{counts['plans']} plans, {counts['measures']} measures, {counts['agencies']} agencies")
    if "build" in parts or not (b.data / "READY").is_file():
        part("build", b.part_build)
    if "search" in parts:
        part("search", b.part_search)
    if "sparql" in parts:
        part("sparql", b.part_sparql)
    if "serve" in parts or "pages" in parts:
        part("serve", b.start_server)
        try:
            if b.server is not None:
                if "serve" in parts:
                    part("sparql endpoint", b.part_serve)
                if "pages" in parts:
                    part("pages", b.part_pages)
        finally:
            b.stop_server()
    if "update" in parts:
        part("update", b.part_update)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    table.add("this benchmark's own peak RSS (baselines in it)", size(rss))
    table.add("load average (1 min) at start / end", f"{load:.1f} / {os.getloadavg()[0]:.1f}")
    table.print()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="1k,10k", help="comma-separated corpus sizes in measures (default 1k,10k)")
    p.add_argument("--encoder", default=os.environ.get("KG_ENCODER") or "use-numpy", help="KG_ENCODER for every part")
    p.add_argument("--work", type=Path, default=Path("scale-work"), help="where corpora and data dirs go")
    p.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, of {', '.join(PARTS)} (default all)")
    p.add_argument("--reuse", action="store_true", help="use WORK/data-SIZE as it is when its READY file is there")
    p.add_argument("--seed", type=int, default=0, help="corpus seed (default 0)")
    args = p.parse_args(argv)
    args.parts = [x.strip() for x in args.parts.split(",") if x.strip()]
    unknown = [x for x in args.parts if x not in PARTS]
    if unknown:
        p.error(f"--parts: unknown part {unknown[0]!r} (parts: {', '.join(PARTS)})")
    labels = [x.strip() for x in args.sizes.split(",") if x.strip()]
    for label in labels:
        try:
            scale_corpus.parse_size(label)
        except ValueError as exc:
            p.error(f"--sizes: {exc}")
    args.work.mkdir(parents=True, exist_ok=True)
    for label in labels:
        bench_size(label, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
