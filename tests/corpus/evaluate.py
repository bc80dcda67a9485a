"""Run the real pipeline over the corpus files and score it against the answers.

    .venv/bin/python -m tests.corpus.evaluate [FILES…] [--verbose] [--kind docx,pdf…] [--json OUT]

For each file: `kg.read.read_document` → `kg.plan.parse_plan` → `kg.records.plan_record`, then

- recall / precision: a found measure matches an answer measure when the normalised start of its text (the body,
  without the title) matches the answer's, as `kg.quality.matches` does;
- units: of the matched measures, the share whose set of unit names equals the answer's;
- titles, dimensions, items: of the matched measures, the share whose title / dimension / item equals the answer's;
- agency, year, title of the plan.

Prints one line per file and a summary per format, with the median time to read and parse. Exits 1 when a file
is under recall 0.95 or units 0.90 (scans: recall 0.90, units not required) or fails to read or parse.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import statistics
import sys
import time
import traceback
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tests.corpus import answers as corpus

THRESHOLDS = {  # kind: (recall, units or None when not required)
    "scan": (0.90, None),
}
DEFAULT_THRESHOLD = (0.95, 0.90)
KIND_ORDER = ("docx", "odt", "doc", "pdf", "html", "scan")


# --------------------------------------------------------------------------------------------------------------
# matching: the same rules as kg.quality (_flat, matches), kept here so the corpus runs whatever kg.quality imports


def _normaliser():
    try:
        from kg.normalise import normalise

        return normalise
    except ImportError:
        try:
            from kg.read import normalise  # type: ignore[attr-defined]

            return normalise
        except ImportError:
            return lambda text: unicodedata.normalize("NFKC", text)


_normalise = _normaliser()
_ENUM = re.compile(
    r"^\s*(?:[一二三四五六七八九十]+\s*[、.．]|[(（]\s*[一二三四五六七八九十]+\s*[)）]|\d{1,2}\s*[.、．])\s*"
)


def flat(text: str | None) -> str:
    """kg.quality._flat: normalised, no spaces or punctuation, 臺 as 台, lower case."""
    return re.sub(r"[\s\W_]", "", _normalise(text or "")).replace("臺", "台").lower()


def matches(found_text: str | None, answer_text: str) -> bool:
    """kg.quality.matches: the found text starts with the answer's opening (its first 8–20 flat characters)."""
    want = flat(re.sub(r"^\s*\d{1,2}\s*[.、．]\s*", "", answer_text))
    return bool(want) and flat(found_text).startswith(want[: max(8, min(len(want), 20))])


def near(found_text: str | None, answer_text: str, ratio: float = 0.85) -> bool:
    """A tolerant `matches`, for OCR: the openings agree but for a character or two (not used for the bar)."""
    want = flat(re.sub(r"^\s*\d{1,2}\s*[.、．]\s*", "", answer_text))
    n = max(8, min(len(want), 20))
    got = flat(found_text)[:n]
    return bool(want) and difflib.SequenceMatcher(None, want[:n], got, autojunk=False).ratio() >= ratio


def label(text: str | None) -> str:
    """A dimension or item label to compare: flat, without its leading 一、/(一)/1. numbering."""
    return flat(_ENUM.sub("", text or ""))


def start(text: str | None, n: int = 20) -> str:
    return re.sub(r"\s+", " ", text or "").strip()[:n]


# --------------------------------------------------------------------------------------------------------------


@dataclass
class Result:
    file: str
    kind: str
    gold: int = 0
    found: int = 0
    matched: int = 0
    recall: float = 0.0
    near_recall: float = 0.0  # recall with openings allowed to differ by a character or two (OCR errors)
    precision: float = 0.0
    units: float = 0.0
    titles: float = 0.0
    dimensions: float = 0.0
    items: float = 0.0
    agency_ok: bool = False
    year_ok: bool = False
    title_ok: bool = False
    seconds: float | None = None
    error: str | None = None
    trace: str | None = None
    missed: list[str] = field(default_factory=list)
    spurious: list[str] = field(default_factory=list)
    unit_errors: list[tuple[str, list[str], list[str]]] = field(default_factory=list)
    title_errors: list[tuple[str, str | None, str | None]] = field(default_factory=list)
    dimension_errors: list[tuple[str, str | None, str | None]] = field(default_factory=list)
    item_errors: list[tuple[str, str | None, str | None]] = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    @property
    def thresholds(self) -> tuple[float, float | None]:
        return THRESHOLDS.get(self.kind, DEFAULT_THRESHOLD)

    @property
    def passed(self) -> bool:
        if self.error:
            return False
        min_recall, min_units = self.thresholds
        return self.recall >= min_recall and (min_units is None or self.units >= min_units)


def _pipeline():
    """The pipeline's entry points; ImportError says which part is missing."""
    from kg.link import Aliases
    from kg.plan import parse_plan
    from kg.read import read_document
    from kg.records import plan_record

    return read_document, parse_plan, plan_record, Aliases


def pair_up(gold: list[dict], found: list[dict], match=matches) -> list[tuple[dict, dict]]:
    """Match answer measures to found ones in order: each found measure at most once, the next in order first."""
    used: set[int] = set()
    pairs = []
    last = 0
    for g in gold:
        cands = [i for i, m in enumerate(found) if i not in used and match(m.get("text"), g["text"])]
        if not cands:
            continue
        i = next((c for c in cands if c >= last), cands[0])
        used.add(i)
        last = i + 1
        pairs.append((g, found[i]))
    return pairs


def score(res: Result, ans: dict, rec: dict, plan) -> None:
    gold = ans["measures"]
    found = rec.get("measures") or []
    pairs = pair_up(gold, found)
    res.gold, res.found, res.matched = len(gold), len(found), len(pairs)
    res.recall = len(pairs) / len(gold) if gold else 1.0
    res.near_recall = len(pair_up(gold, found, near)) / len(gold) if gold else 1.0
    res.precision = len(pairs) / len(found) if found else 0.0
    matched_ids = {id(m) for _, m in pairs}
    matched_gold = {id(g) for g, _ in pairs}
    res.missed = [start(g["text"]) for g in gold if id(g) not in matched_gold]
    res.spurious = [start(m.get("text")) for m in found if id(m) not in matched_ids]

    def names(units) -> set[str]:
        return {flat(u["name"] if isinstance(u, dict) else u) for u in units or []}

    n_units = n_titles = n_dims = n_items = 0
    for g, m in pairs:
        key = start(g["text"], 15)
        if names(g["units"]) == names(m.get("units")):
            n_units += 1
        else:
            res.unit_errors.append((key, list(g["units"]), [u["name"] for u in m.get("units") or []]))
        if flat(g.get("title")) == flat(m.get("title")):
            n_titles += 1
        else:
            res.title_errors.append((key, g.get("title"), m.get("title")))
        if label(g.get("dimension")) == label(m.get("dimension")):
            n_dims += 1
        else:
            res.dimension_errors.append((key, g.get("dimension"), m.get("dimension")))
        if label(g.get("item")) == label(m.get("item")):
            n_items += 1
        else:
            res.item_errors.append((key, g.get("item"), m.get("item")))
    k = len(pairs)
    res.units = n_units / k if k else 0.0
    res.titles = n_titles / k if k else 0.0
    res.dimensions = n_dims / k if k else 0.0
    res.items = n_items / k if k else 0.0

    agency_rec = (rec.get("agency") or {}).get("name") if isinstance(rec.get("agency"), dict) else rec.get("agency")
    agency_raw = getattr(plan, "agency", None)
    res.agency_ok = flat(ans["agency"]) in {flat(agency_rec), flat(agency_raw)}
    res.year_ok = rec.get("year_roc") == ans.get("year_roc")
    res.title_ok = flat(rec.get("title")) == flat(ans.get("title"))
    res.meta = {
        "agency": agency_raw or agency_rec,
        "year_roc": rec.get("year_roc"),
        "title": rec.get("title"),
    }


def evaluate_file(path: Path, pipeline=None, aliases=None) -> Result:
    res = Result(file=path.name, kind=corpus.kind_of(path))
    try:
        ans = corpus.load(path)
        read_document, parse_plan, plan_record, Aliases = pipeline or _pipeline()
        aliases = aliases or Aliases.load()
        t0 = time.perf_counter()
        doc = read_document(path)
        plan = parse_plan(doc)
        res.seconds = time.perf_counter() - t0
        rec = plan_record(plan, aliases)
        score(res, ans, rec, plan)
    except Exception as exc:  # one file's failure is reported, the others still run
        res.error = f"{type(exc).__name__}: {exc}"
        res.trace = traceback.format_exc()
    return res


# --------------------------------------------------------------------------------------------------------------
# reporting


def _ok(flag: bool) -> str:
    return "✓" if flag else "✗"


def file_line(r: Result) -> str:
    if r.error:
        return f"{r.file:40} {r.kind:5} FAIL  {r.error}"
    t = f"{r.seconds:6.2f}s" if r.seconds is not None else "     -"
    return (
        f"{r.file:40} {r.kind:5} {'ok  ' if r.passed else 'FAIL'}  "
        f"recall {r.recall:.3f} ({r.matched}/{r.gold}"
        + (f", near {r.near_recall:.3f}" if r.near_recall > r.recall else "")
        + f")  precision {r.precision:.3f} ({r.found} found)  "
        f"units {r.units:.3f}  titles {r.titles:.3f}  dims {r.dimensions:.3f}  items {r.items:.3f}  "
        f"agency {_ok(r.agency_ok)} year {_ok(r.year_ok)} title {_ok(r.title_ok)}  {t}"
    )


def details(r: Result, limit: int) -> list[str]:
    out = []
    if r.error and r.trace:
        out += ["    " + line for line in r.trace.rstrip().splitlines()]

    def section(name: str, rows: list, fmt) -> None:
        if not rows:
            return
        out.append(f"    {name} ({len(rows)}):")
        for row in rows[:limit]:
            out.append("      " + fmt(row))
        if len(rows) > limit:
            out.append(f"      … {len(rows) - limit} more")

    section("missed", r.missed, lambda s: s)
    section("spurious", r.spurious, lambda s: s)
    section(
        "unit errors", r.unit_errors, lambda e: f"{e[0]}  want {'、'.join(e[1]) or '-'}  got {'、'.join(e[2]) or '-'}"
    )
    section("title errors", r.title_errors, lambda e: f"{e[0]}  want {e[1]!r}  got {e[2]!r}")
    section(
        "dimension errors", r.dimension_errors, lambda e: f"{e[0]}  want {start(e[1], 30)!r}  got {start(e[2], 30)!r}"
    )
    section("item errors", r.item_errors, lambda e: f"{e[0]}  want {start(e[1], 30)!r}  got {start(e[2], 30)!r}")
    if r.meta and not (r.agency_ok and r.year_ok and r.title_ok):
        out.append(f"    plan read as: {r.meta}")
    return out


def summary(results: list[Result]) -> list[str]:
    kinds = sorted({r.kind for r in results}, key=lambda k: KIND_ORDER.index(k) if k in KIND_ORDER else 99)
    head = (
        f"{'format':7}{'files':>6}{'pass':>6}"
        + "".join(f"{h:>8}" for h in ("recall", "prec.", "units", "titles", "dims", "items"))
        + f"{'meta':>6}{'median s':>10}"
    )
    out = [head, "-" * len(head)]

    def row(name: str, rs: list[Result]) -> str:
        good = [r for r in rs if not r.error]

        def mean(attr: str) -> str:
            return f"{statistics.fmean(getattr(r, attr) for r in good):8.3f}" if good else f"{'-':>8}"

        secs = [r.seconds for r in good if r.seconds is not None]
        med = f"{statistics.median(secs):10.2f}" if secs else f"{'-':>10}"
        meta = sum(1 for r in good if r.agency_ok and r.year_ok and r.title_ok)
        return (
            f"{name:7}{len(rs):6}{sum(r.passed for r in rs):6}{mean('recall')}{mean('precision')}{mean('units')}"
            f"{mean('titles')}{mean('dimensions')}{mean('items')}{meta:6}{med}"
        )

    for k in kinds:
        out.append(row(k, [r for r in results if r.kind == k]))
    out.append("-" * len(head))
    out.append(row("all", results))
    return out


def resolve(names: list[str]) -> list[Path]:
    if not names:
        return corpus.corpus_files()
    paths = []
    for n in names:
        p = Path(n)
        if not p.exists() and (corpus.FILES / n).exists():
            p = corpus.FILES / n
        paths.append(p)
    return paths


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="*", help="corpus files (default: every file in tests/corpus/files)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print missed measures, unit errors and the like")
    ap.add_argument("--limit", type=int, default=40, help="with --verbose: at most this many lines per list")
    ap.add_argument("--kind", help="only these kinds, comma-separated: docx,odt,doc,pdf,html,scan")
    ap.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    args = ap.parse_args(argv)

    paths = resolve(args.files)
    if args.kind:
        wanted = set(args.kind.split(","))
        paths = [p for p in paths if corpus.kind_of(p) in wanted]
    if not paths:
        print("no corpus files: run `.venv/bin/python -m tests.corpus.make_corpus` first", file=sys.stderr)
        return 2

    pipeline = aliases = None
    try:
        pipeline = _pipeline()
        aliases = pipeline[3].load()
    except Exception as exc:  # every file then fails with this reason
        why = f"{type(exc).__name__}: {exc}"
        trace = traceback.format_exc()
        print(f"the pipeline does not load: {why}", file=sys.stderr)
        results = [Result(file=p.name, kind=corpus.kind_of(p), error=why, trace=trace) for p in paths]
    else:
        results = []
        for p in paths:
            r = evaluate_file(p, pipeline, aliases)
            results.append(r)
            print(file_line(r), flush=True)
            if args.verbose and (
                r.error
                or r.missed
                or r.spurious
                or r.unit_errors
                or r.title_errors
                or r.dimension_errors
                or r.item_errors
                or not (r.agency_ok and r.year_ok and r.title_ok)
            ):
                print("\n".join(details(r, args.limit)))
    if pipeline is None:
        for r in results:
            print(file_line(r))
        if args.verbose and results:
            print("\n".join(details(results[0], args.limit)))

    print()
    print("\n".join(summary(results)))
    failed = [r for r in results if not r.passed]
    if failed:
        print(
            f"\n{len(failed)} of {len(results)} files below the bar "
            f"(recall {DEFAULT_THRESHOLD[0]}, units {DEFAULT_THRESHOLD[1]}; scans recall {THRESHOLDS['scan'][0]}):"
        )
        for r in failed:
            print(f"  {r.file}: {r.error or f'recall {r.recall:.3f}, units {r.units:.3f}'}")
    if args.json:
        args.json.write_text(
            json.dumps([asdict(r) | {"passed": r.passed} for r in results], ensure_ascii=False, indent=1), "utf-8"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
