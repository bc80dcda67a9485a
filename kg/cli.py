"""The `kg` command line: build the knowledge graph from plan files, query it, export it, search it, serve it."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path

from kg.cli_search import add_search_commands
from kg.errors import PlanError, QueryError

DEFAULT_DATA_DIR = "kg-data"
EXPORT_FORMATS = ("ttl", "jsonld", "nt", "csv", "jsonl")


class UsageError(Exception):
    """A bad command-line value: printed as one line, exit status 2."""


def _progress(items, desc: str):
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency; stay usable without it
        return items
    return tqdm(items, desc=desc, unit="file", file=sys.stderr, disable=not sys.stderr.isatty())


def cmd_build(args: argparse.Namespace) -> int:
    from kg.store import build, bundled_plans, collect_files

    files = collect_files(args.files) if args.files else bundled_plans()
    if not files:
        raise UsageError("no plan files (.pdf .docx .doc .odt .html .txt) found in the folders given")
    after = None
    if not args.no_index:
        from kg.search import build_index_into as after
    report = build(
        files, args.data_dir, progress=lambda x: _progress(x, "plans"), after_graph=after, strict=args.strict
    )
    for done in report.ingested:
        how = done.format + (", text from OCR (tesseract chi_tra): check it" if done.ocr else "")
        print(f"{done.file}: {done.measures} measures ({how}; {done.layout} layout)")
        for finding in done.findings:
            print(f"warning: {finding}", file=sys.stderr)
    for err in report.errors:
        print(f"error: {err}", file=sys.stderr)
    if report.built and not args.no_index:
        stats = json.loads((Path(args.data_dir) / "index" / "last-build.json").read_text("utf-8"))
        print(f"search index: {stats['encoded']} of {stats['measures']} measures encoded, the rest reused")
    if report.built:
        print(
            f"built {args.data_dir}: {len(report.built)} file(s) ingested; the graph holds {report.plans} plan(s), "
            f"{report.measures} measures, {report.triples} triples"
        )
    else:
        print(f"nothing built: {args.data_dir} is unchanged", file=sys.stderr)
    return 1 if report.errors else 0


def _dataset(args):
    from kg.store import DataDir

    return DataDir(args.data_dir).dataset()


def cmd_sparql(args: argparse.Namespace) -> int:
    from kg.sparql import run_query

    query = sys.stdin.read() if args.query == "-" else args.query
    if Path(args.query).suffix in (".rq", ".sparql") and Path(args.query).exists():
        query = Path(args.query).read_text("utf-8")
    ds = _dataset(args)
    try:
        body, _ = run_query(ds, query, args.format)
    finally:
        ds.close()
    sys.stdout.write(body if body.endswith("\n") else body + "\n")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from kg.export import export

    out = open(args.output, "w", encoding="utf-8", newline="") if args.output else sys.stdout
    try:
        export(args.data_dir, args.format, out)
    finally:
        if args.output:
            out.close()
    return 0


def _table(rows: list[dict], fields: list[str], as_json: bool) -> None:
    if as_json:
        for r in rows:
            print(json.dumps(r, ensure_ascii=False))
        return
    buf = io.StringIO()
    w = csv.writer(buf, delimiter="\t", lineterminator="\n")
    w.writerow(fields)
    for r in rows:
        w.writerow([r[f] if not isinstance(r[f], list) else "、".join(map(str, r[f])) for f in fields])
    sys.stdout.write(buf.getvalue())


def cmd_units(args: argparse.Namespace) -> int:
    from kg.reports import units

    _table(units(args.data_dir), ["unit", "agency", "measures", "systems"], args.json)
    return 0


def cmd_systems(args: argparse.Namespace) -> int:
    from kg.reports import systems

    _table(systems(args.data_dir), ["system", "type", "measures", "agencies", "units"], args.json)
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from kg.reports import stats

    s = stats(args.data_dir)
    if args.json:
        print(json.dumps(s, ensure_ascii=False, indent=1))
    else:
        for k, v in s.items():
            print(f"{k}\t{v}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from kg.validate import validate

    conforms, text = validate(args.data_dir)
    print("the graph conforms to the SHACL shapes" if conforms else text)
    return 0 if conforms else 1


def _add_data_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir",
        default=DEFAULT_DATA_DIR,
        metavar="DIR",
        help=f"where the graph, the search index and the plan records live (default: ./{DEFAULT_DATA_DIR})",
    )


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="kg",
        description="Turn service-improvement plans (提升服務品質執行計畫) into a knowledge graph to query and search. "
        "Start with 'kg build' (no files: the bundled sample plans), then 'kg search 電話禮貌測試' or 'kg serve'.",
    )
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "build",
        help="read plan files into the graph and search index",
        description="Read plans (PDF, scanned PDF with OCR, .docx, .doc, .odt, saved web pages, plain text in "
        "UTF-8/Big5/UTF-16) and build the graph and the search index. The format is told by the file's content. "
        "A plan of the same agency and year replaces the one already there; the data dir is replaced "
        "only when the build succeeds. What looked odd in a plan (numbering gaps, measures without units …) is "
        "printed as a warning with its place.",
    )
    p.add_argument(
        "files", nargs="*", metavar="FILE|DIR", help="plan files or folders of them (default: the bundled samples)"
    )
    p.add_argument("--no-index", action="store_true", help="build the graph only, without the search index")
    p.add_argument("--strict", action="store_true", help="refuse a plan that has warnings, as an error")
    _add_data_dir(p)
    p.set_defaults(func=cmd_build)

    p = sub.add_parser(
        "export",
        help="write the graph or the measures in a file format",
        description="ttl/jsonld/nt: the whole graph (sorted, byte-stable); csv/jsonl: one row per measure.",
    )
    p.add_argument("--format", choices=EXPORT_FORMATS, default="ttl")
    p.add_argument("-o", "--output", metavar="FILE", help="write here instead of standard output")
    _add_data_dir(p)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser(
        "sparql",
        help="run a SPARQL query (read-only)",
        description="Run a SPARQL SELECT/ASK/CONSTRUCT/DESCRIBE query over all plans. Prefixes sp:, "
        "org:, skos:, dcterms:, prov:, oa: are predeclared. QUERY may be a .rq file or '-' for stdin.",
    )
    p.add_argument("query", metavar="QUERY")
    p.add_argument("--format", choices=("table", "csv", "json", "ttl"), default="table")
    _add_data_dir(p)
    p.set_defaults(func=cmd_sparql)

    for name, func, text in (
        ("units", cmd_units, "list units and how many measures each owns"),
        ("systems", cmd_systems, "list named systems and who uses them"),
    ):
        p = sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        p.add_argument("--json", action="store_true", help="one JSON object per line")
        _add_data_dir(p)
        p.set_defaults(func=func)

    p = sub.add_parser("stats", help="counts of plans, measures, units, systems, triples")
    p.add_argument("--json", action="store_true")
    _add_data_dir(p)
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser(
        "validate",
        help="check the graph against the SHACL shapes",
        description="Validate the built graph with pyshacl against ontology/shapes.ttl; exit 1 if not conform.",
    )
    _add_data_dir(p)
    p.set_defaults(func=cmd_validate)

    add_search_commands(sub, _add_data_dir)
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = parser()
    args = ap.parse_args(argv)
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"kg {args.command}: {exc}", file=sys.stderr)
        return 2
    except (PlanError, QueryError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # e.g. `kg export | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
