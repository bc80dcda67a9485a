"""The search commands of `kg`: search, similar, practices, serve."""

from __future__ import annotations

import argparse
import json
import sys

from kg.errors import PlanError

MODES = ("hybrid", "lexical", "dense")


def _print_hits(query: str, hits: list[dict], as_json: bool) -> None:
    if as_json:
        print(json.dumps({"query": query, "results": hits}, ensure_ascii=False))
        return
    print(f"# {query}")
    for i, h in enumerate(hits, 1):
        units = "、".join(u["name"] for u in h["units"]) or "-"
        title = f"【{h['title']}】" if h["title"] else ""
        print(f"{i:2d}. {h['score']:.3f}  {h['agency']} {h['year']}  {title}{h['text'][:60]}")
        print(f"      {h['id']}  單位: {units}  {h['source']['file']}:{h['source']['line_start']}")


def cmd_search(args: argparse.Namespace) -> int:
    from kg.search import open_search

    if args.top_k < 1 or args.top_k > 1000:
        raise PlanError("--top-k", "must be between 1 and 1000")
    s = open_search(args.data_dir)
    filters = {
        "agency": args.agency,
        "year": args.year,
        "unit": args.unit,
        "system": args.system,
        "framework_item": args.framework_item,
        "practice_type": args.practice_type,
    }
    queries = [q.strip() for q in sys.stdin] if args.query == "-" else [args.query]
    for q in queries:
        if not q and args.query == "-":
            continue
        hits = s.search(q, k=args.top_k, mode=args.mode, **filters)
        _print_hits(q, hits, args.json or args.query == "-")
    return 0


def cmd_similar(args: argparse.Namespace) -> int:
    from kg.search import open_search

    s = open_search(args.data_dir)
    for mid in args.measure_ids:
        hits = s.similar(mid, k=args.top_k)
        _print_hits(mid, hits, args.json)
    return 0


def cmd_practices(args: argparse.Namespace) -> int:
    from kg.search import open_search

    cov = open_search(args.data_dir).coverage()
    if args.json:
        print(json.dumps(cov, ensure_ascii=False, indent=1))
        return 0
    agencies = cov["agencies"]
    print("practice type\tsize\t" + "\t".join(agencies))
    for t in cov["types"]:
        print(f"{t['label']}\t{t['size']}\t" + "\t".join(str(t["agencies"][a] or "·") for a in agencies))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from webui import serve

    serve(args.data_dir, host=args.host, port=args.port, open_browser=args.open)
    return 0


def add_search_commands(sub, add_data_dir) -> None:
    p = sub.add_parser(
        "search",
        help="search measures across agencies (hybrid semantic + lexical)",
        description="Search all measures. QUERY '-' reads one query per line from stdin and prints "
        "one JSON line per query. Filters combine with any query; repeat a filter for alternatives.",
    )
    p.add_argument("query", metavar="QUERY")
    p.add_argument("--mode", choices=MODES, default="hybrid")
    p.add_argument("--top-k", type=int, default=10, metavar="N")
    p.add_argument("--agency", action="append", help="agency full name (repeatable)")
    p.add_argument("--year", action="append", type=int, help="Gregorian year, e.g. 2018 (repeatable)")
    p.add_argument("--unit", action="append", help="unit name, e.g. 查報組 (repeatable)")
    p.add_argument("--system", action="append", help="system name, e.g. 1999專線 (repeatable)")
    p.add_argument("--framework-item", action="append", help="framework notation, e.g. 2018-3 (repeatable)")
    p.add_argument("--practice-type", action="append", help="practice type id (see 'kg practices --json')")
    p.add_argument("--json", action="store_true", help="print JSON instead of a list")
    add_data_dir(p)
    p.set_defaults(func=cmd_search)

    p = sub.add_parser(
        "similar",
        help="similar practices of other agencies for a measure",
        description="For each measure id (as in 'kg export --format jsonl'), the nearest measures of "
        "OTHER agencies, with scores.",
    )
    p.add_argument("measure_ids", nargs="+", metavar="MEASURE_ID")
    p.add_argument("--top-k", type=int, default=5, metavar="N")
    p.add_argument("--json", action="store_true")
    add_data_dir(p)
    p.set_defaults(func=cmd_similar)

    p = sub.add_parser(
        "practices",
        help="practice types, their sizes and which agencies do them",
        description="Practice types clustered from all measures (correct them in DATA_DIR/practices.toml "
        "and rebuild), with the agency × practice-type coverage matrix.",
    )
    p.add_argument("--json", action="store_true")
    add_data_dir(p)
    p.set_defaults(func=cmd_practices)

    p = sub.add_parser(
        "serve",
        help="open the web UI for planners",
        description="Serve the web UI (search, browse, graph view, SPARQL endpoint) with waitress.",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--open", action="store_true", help="open it in the default browser")
    add_data_dir(p)
    p.set_defaults(func=cmd_serve)
