"""The search commands of `kg`: search, similar, practices, serve."""

from __future__ import annotations

import argparse
import json
import sys

MODES = ("hybrid", "lexical", "dense")


def top_k(text: str) -> int:
    """--top-k: a whole number of results from 1 to MAX_TOP_K (argparse names the option and exits 2 otherwise)."""
    from kg.search import MAX_TOP_K

    value = text.strip()
    if not value.isdigit() or not 1 <= int(value) <= MAX_TOP_K:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of results from 1 to {MAX_TOP_K}")
    return int(value)


def search_config(load: bool = False):
    """The search configuration of this run (KG_ENCODER, INDEX_ENCODER_THREADS), read and checked once, here;
    load=True also loads the encoder, so that a missing extra is told before any work. A bad setting is a usage
    error: one line, exit status 2."""
    from kg.cli import UsageError
    from kg.search import SearchConfig, SearchConfigError

    try:
        config = SearchConfig.from_env()
        if load:
            config.load_encoder()
    except SearchConfigError as exc:
        raise UsageError(str(exc)) from None
    return config


def index_step(no_index: bool):
    """What `kg build` and `kg remove` run after the graph: the index built into the new generation (only new or
    changed measures encoded), or with --no-index kept without encoding when no measure needs it."""
    from kg.search import IndexStep

    return IndexStep(search_config(load=not no_index), encode=not no_index).prepare()


def _open(args: argparse.Namespace):
    from kg.search import Search

    return Search(args.data_dir, search_config(load=True))


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
    s = _open(args)
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
    s = _open(args)
    for mid in args.measure_ids:
        hits = s.similar(mid, k=args.top_k)
        _print_hits(mid, hits, args.json)
    return 0


def cmd_practices(args: argparse.Namespace) -> int:
    cov = _open(args).coverage()
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

    search_config(load=True)  # a bad KG_ENCODER or a missing extra: one line before the server starts
    try:
        serve(args.data_dir, host=args.host, port=args.port, open_browser=args.open)
    except OSError as exc:  # cannot listen there: port in use or not allowed, unknown host (serve says which)
        print(f"error: kg serve: {exc.strerror or exc}", file=sys.stderr)
        return 1
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
    p.add_argument("--top-k", type=top_k, default=10, metavar="N", help="how many results (1-1000, default 10)")
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
    p.add_argument("--top-k", type=top_k, default=5, metavar="N", help="how many per measure (1-1000, default 5)")
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

    def port(value: str) -> int:  # argparse names the option and exits 2
        if not value.strip().isdigit() or not 1 <= int(value) <= 65535:
            raise argparse.ArgumentTypeError(f"{value!r} is not a port number from 1 to 65535")
        return int(value)

    def host(value: str) -> str:
        if not value.strip() or any(c.isspace() for c in value):
            raise argparse.ArgumentTypeError(f"{value!r} is not a host name or address (e.g. 127.0.0.1, 0.0.0.0)")
        return value

    p.add_argument(
        "--host", type=host, default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0 for all)"
    )
    p.add_argument("--port", type=port, default=8000, help="port to listen on, 1-65535 (default 8000)")
    p.add_argument("--open", action="store_true", help="open it in the default browser")
    add_data_dir(p)
    p.set_defaults(func=cmd_serve)
