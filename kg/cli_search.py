"""The search commands of `kg`: search, similar, practices, serve."""

from __future__ import annotations

import argparse
import json
import sys

from kg.years import YEAR_UNKNOWN, parse_year

MODES = ("hybrid", "lexical", "dense", "literal")  # index.search.MODES (not imported: that loads numpy and faiss)


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


def index_step(no_index: bool, background: bool = False):
    """What `kg build` and `kg remove` run after the graph: the index built into the new generation (only new or
    changed measures encoded), or with --no-index kept without encoding when no measure needs it. background: the
    model loads in a child process while the build reads (kg.search.IndexStep.prepare); the caller closes it."""
    from kg.search import IndexStep

    return IndexStep(search_config(load=not no_index), encode=not no_index).prepare(background)


def _open(args: argparse.Namespace):
    from kg.search import Search

    return Search(args.data_dir, search_config(load=True))


def year(text: str) -> int | str:
    """--year: a Gregorian or ROC year (2016, 105, 105年, 民國105年 all mean 2016), or 'none' for plans stating no
    year (argparse names the option and exits 2 otherwise)."""
    if text.strip() == YEAR_UNKNOWN:
        return YEAR_UNKNOWN
    try:
        return parse_year(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a year: give a Gregorian year (2016), an ROC year (105, 105年, 民國105年) or "
            f"{YEAR_UNKNOWN!r} for plans that state none"
        ) from None


def offset(text: str) -> int:
    """--offset: how many of the best matches to skip, a whole number from 0."""
    value = text.strip()
    if not value.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of matches to skip (0 or more)")
    return int(value)


def _score(score: float, calibrated: bool) -> str:
    """A calibrated score is the chance the measure is relevant, the same from query to query: said as a percentage
    (never 100%); another one only orders the results, so it is printed as it is."""
    if not calibrated:
        return f"{score:.3f}"
    return f"{min(max(round(score * 100), 0), 99):2d}%"


def _print_hit_lines(hits: list[dict], first: int = 1, calibrated: bool = False) -> None:
    for i, h in enumerate(hits, first):
        units = "、".join(u["name"] for u in h["units"]) or "-"
        title = f"【{h['title']}】" if h["title"] else ""
        print(f"{i:2d}. {_score(h['score'], calibrated)}  {h['agency']} {h['year']}  {title}{h['text'][:60]}")
        print(f"      {h['id']}  單位: {units}  {h['source']['file']}:{h['source']['line_start']}")


def _print_found(found: dict) -> None:
    """A query's matches as a planner reads them: how many match, which of them follow, what else was searched."""
    total, results, start = found["total"], found["results"], found["offset"] + 1
    head = f"{total} 筆符合「{found['query']}」"
    if not total:
        print(f"{head}：沒有符合的措施")
    elif results:
        print(f"{head}，顯示第 {start}–{start + len(results) - 1} 筆")
    else:
        print(f"{head}，第 {start} 筆之後沒有了（--offset {found['offset']}）")
    if found["required"]:
        print("必須出現：" + "、".join(found["required"]))
    if found["excluded"]:
        print("已排除含有：" + "、".join(found["excluded"]))
    if found["expansions"]:
        print("也搜尋了：" + "、".join(found["expansions"]) + "（--no-expand 只搜尋輸入的字）")
    _print_hit_lines(results, start, found["calibrated"])


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
    from_stdin = args.query == "-"
    queries = [q.strip() for q in sys.stdin] if from_stdin else [args.query]
    for q in queries:
        if not q and from_stdin:
            continue
        found = s.query(
            q,
            limit=args.top_k,
            offset=args.offset,
            mode=args.mode,
            expand=not args.no_expand,
            facets=args.json or from_stdin,
            **filters,
        )
        if args.json or from_stdin:
            print(json.dumps(found, ensure_ascii=False))
        else:
            _print_found(found)
    return 0


def cmd_similar(args: argparse.Namespace) -> int:
    s = _open(args)
    for mid in args.measure_ids:
        hits = s.similar(mid, k=args.top_k)
        if args.json:
            print(json.dumps({"query": mid, "results": hits}, ensure_ascii=False))
        else:
            print(f"# {mid}")
            _print_hit_lines(hits)
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
        serve(args.data_dir, host=args.host, port=args.port, open_browser=args.open, editor_token=args.editor_token)
    except OSError as exc:  # cannot listen there: port in use or not allowed, unknown host (serve says which)
        print(f"error: kg serve: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


def add_search_commands(sub, add_data_dir) -> None:
    p = sub.add_parser(
        "search",
        help="search measures across agencies (hybrid semantic + lexical)",
        description="Search all measures. The text output starts with how many measures match (all of them, not "
        'just those shown) and the synonyms also searched. QUERY takes "phrases" (or 「」) that must occur '
        "literally, -words that must not occur, and AND. QUERY '-' reads one query per line from stdin and prints "
        "one JSON line per query. Filters combine with any query; repeat a filter for alternatives.",
    )
    p.add_argument("query", metavar="QUERY")
    p.add_argument(
        "--mode",
        choices=MODES,
        default="hybrid",
        help="hybrid (default): words and meaning; lexical: words and their synonyms; dense: meaning only; "
        "literal: every word typed must occur, no synonyms",
    )
    p.add_argument("--top-k", type=top_k, default=10, metavar="N", help="how many results (1-1000, default 10)")
    p.add_argument("--offset", type=offset, default=0, metavar="N", help="skip the N best matches (next pages)")
    p.add_argument("--no-expand", action="store_true", help="search only the words typed, not their synonyms")
    p.add_argument("--agency", action="append", help="agency full name (repeatable)")
    p.add_argument(
        "--year",
        action="append",
        type=year,
        help="plan year: Gregorian 2016 or ROC 105 / 105年 / 民國105年, or 'none' for plans stating none (repeatable)",
    )
    p.add_argument("--unit", action="append", help="unit name, e.g. 查報組 (repeatable)")
    p.add_argument("--system", action="append", help="system name, e.g. 1999專線 (repeatable)")
    p.add_argument("--framework-item", action="append", help="framework notation, e.g. 2018-3 (repeatable)")
    p.add_argument("--practice-type", action="append", help="practice type id (see 'kg practices --json')")
    p.add_argument(
        "--json",
        action="store_true",
        help="print the whole answer as one JSON line: total, offset, limit, results, facets, expansions, "
        "required, excluded",
    )
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
        # one line, as every usage line of kg: the default one would wrap here
        usage="%(prog)s [-h] [--host HOST] [--port PORT] [--open] [--editor-token TOKEN] [--data-dir DIR]",
        description="Serve the web UI (search, browse, graph view, SPARQL endpoint) with waitress. It is read-only "
        "unless an editor token is set (--editor-token or KG_EDITOR_TOKEN): then planners who enter it at /manage "
        "can add, replace and remove plans, built as 'kg build' and 'kg remove' do.",
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
    p.add_argument(
        "--editor-token",
        metavar="TOKEN",
        help="let planners who enter this token on the 管理計畫 page (/manage) upload, replace and remove plans "
        "(default: the environment variable KG_EDITOR_TOKEN, which other users of the computer cannot see as they "
        "can see a command line; without either the web UI is read-only)",
    )
    add_data_dir(p)
    p.set_defaults(func=cmd_serve)
