"""The `kg` command line: build the knowledge graph from plan files, query it, export it, search it, serve it."""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
from pathlib import Path

from kg.cli_search import add_search_commands
from kg.errors import PlanError, QueryError
from kg.triplestore import ENV as TRIPLESTORE_ENV

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


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cmd_build(args: argparse.Namespace) -> int:
    from kg.datadir import check_target
    from kg.store import build, bundled_plans, collect_files

    check_target(args.data_dir, args.files)  # before the folders are searched: a folder not to write is refused
    files = collect_files(args.files) if args.files else bundled_plans()
    if not files:
        raise UsageError("no plan files (.pdf .docx .doc .odt .html .txt) found in the folders given")
    from kg.cli_search import index_step
    from kg.datadir import DataDir

    # Checks KG_ENCODER before any file is read. Adding to a data dir encodes only the new texts, after reading
    # every kept record: the model loads meanwhile in a child process.
    after = index_step(args.no_index, background=DataDir(args.data_dir).exists())
    try:
        report = build(
            files,
            args.data_dir,
            progress=lambda x: _progress(x, "plans"),
            after_graph=after,
            strict=args.strict,
            inputs=args.files,
            wait=args.wait,
            on_wait=_say,
            store=args.store,
        )
    finally:
        after.close()
    for done in report.ingested:
        how = done.format + (", text from OCR (tesseract chi_tra): check it" if done.ocr else "")
        print(f"{done.file}: {done.measures} measures ({how}; {done.layout} layout)")
        for finding in done.findings:
            print(f"warning: {finding}", file=sys.stderr)
    for err in report.errors:
        print(f"error: {err}", file=sys.stderr)
    if report.built and after.summary():
        print(after.summary())  # what was encoded and reused, or that --no-index left no index (and what to run)
    if report.built:
        print(
            f"built {args.data_dir}: {len(report.built)} file(s) ingested; the graph holds {report.plans} plan(s), "
            f"{report.measures} measures, {report.triples} triples"
        )
    else:
        print(f"nothing built: {args.data_dir} is unchanged", file=sys.stderr)
    return 1 if report.errors else 0


def cmd_remove(args: argparse.Namespace) -> int:
    from kg.store import DataDir, find_plans, plan_label, remove

    if not args.plans and args.agency is None:
        raise UsageError("name the plans to remove: plan ids, titles or file names, or --agency NAME [--year N]")
    if args.year is not None and args.agency is None:
        raise UsageError("--year goes with --agency")
    data = DataDir(args.data_dir)
    if not data.exists():
        raise PlanError(str(data.path), "no knowledge graph here yet: run 'kg build' first")
    find_plans(data.catalogue(), args.plans, args.agency, args.year)  # unknown plans: refused before the encoder loads
    from kg.cli_search import index_step

    after = index_step(args.no_index)  # --no-index: the index is kept without encoding (removing encodes nothing)
    report = remove(
        args.data_dir,
        args.plans,
        args.agency,
        args.year,
        after_graph=after,
        wait=args.wait,
        on_wait=_say,
        store=args.store,
    )
    for rec in report.removed:
        print(f"removed {plan_label(rec)}: {len(rec['measures'])} measures")
    if report.measures and after.summary():
        print(after.summary())
    print(
        f"{args.data_dir} now holds {report.plans} plan(s), {report.measures} measures, {report.triples} triples"
        + ("" if report.index is not None or args.no_index else " (no search index: no measures left)")
    )
    return 0


def _dataset(args):
    from kg.store import DataDir

    return DataDir(args.data_dir).dataset()


def cmd_sparql(args: argparse.Namespace) -> int:
    from kg.datadir import DataDir
    from kg.files import read_regular

    location = args.store or os.environ.get(TRIPLESTORE_ENV) or "embedded"
    pool = None
    if location == "embedded":
        from kg.sparql_worker import MEMORY_MB, START_TIMEOUT, WorkerPool

        # The query runs in a worker process with the endpoint's time and memory limits, on the store read-only.
        # It starts now and loads Oxigraph while this process loads the query checks and the result formats.
        pool = WorkerPool(1, MEMORY_MB << 20, queue=1, queue_wait=START_TIMEOUT, cache_bytes=0)
        pool.start()
    try:
        from kg.sparql import MAX_QUERY_BYTES, run_query

        if args.query == "-":
            data = sys.stdin.buffer.read(MAX_QUERY_BYTES + 1)
            if len(data) > MAX_QUERY_BYTES:
                raise UsageError(f"the query on standard input is over {MAX_QUERY_BYTES // 1024} KB; shorten it")
            query = data.decode("utf-8", errors="replace")
        elif Path(args.query).suffix in (".rq", ".sparql") and (
            Path(args.query).exists() or Path(args.query).is_symlink()
        ):
            query = read_regular(args.query, MAX_QUERY_BYTES, "query file").decode("utf-8", errors="replace")
        else:
            query = args.query
        if pool is None:  # a SPARQL server: the checked query forwarded, with the same limits
            from kg.triplestore import RemoteStore

            body, _ = run_query(RemoteStore(location), query, args.format)
        else:
            d = DataDir(args.data_dir)
            if d.generation() is None and not d.store_dir.exists():
                raise UsageError(f"{args.data_dir}: no knowledge graph here yet: run 'kg build' first")
            body, _ = run_query(d.store_dir, query, args.format, pool=pool)
    finally:
        if pool is not None:
            pool.close(busy=True)
    sys.stdout.write(body if body.endswith("\n") else body + "\n")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    import errno

    from kg.export import export

    if not args.output:
        export(args.data_dir, args.format, sys.stdout)
        return 0
    # -o may name a new or existing file, or a pipe or device (/dev/stdout, >(gzip > x.gz)); not a folder.
    # It is checked before the export runs and written only once the export succeeded, so a failed export
    # leaves an earlier file as it was.
    folder = Path(args.output).parent
    if not folder.is_dir():
        raise FileNotFoundError(errno.ENOENT, f"cannot write it: no folder {folder}", args.output)
    if Path(args.output).is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder, not a file to write", args.output)
    buf = io.StringIO()
    export(args.data_dir, args.format, buf)
    try:
        with open(args.output, "w", encoding="utf-8", newline="") as out:
            out.write(buf.getvalue())
    except OSError as exc:  # named by the path the user gave
        raise OSError(exc.errno, f"cannot write it: {exc.strerror}", args.output) from None
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


def _add_wait(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--wait",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="how long to wait for another build or removal of the same data dir to end (default 600; 0: do not wait)",
    )


def _add_store(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--store",
        metavar="URL",
        help="the SPARQL 1.1 query URL of a server holding the graph (e.g. http://host:7878/query), or 'embedded' "
        f"(default: ${TRIPLESTORE_ENV}, else the data dir's own store)",
    )


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
    _add_wait(p)
    _add_data_dir(p)
    _add_store(p)
    p.set_defaults(func=cmd_build)

    p = sub.add_parser(
        "remove",
        help="remove plans from the graph and search index",
        description="Remove plans by id (as in the web UI's /plan/ID; an unknown one lists the plans there are), "
        "title (the 'plan' field of 'kg export --format jsonl') or file name, or the plan of an agency and year. "
        "Like a build, the data dir is replaced only when the removal succeeds; a plan that is not there is refused "
        "and nothing changes.",
    )
    p.add_argument("plans", nargs="*", metavar="PLAN", help="plan ids, titles or file names")
    p.add_argument("--agency", metavar="NAME", help="the agency whose plan to remove (full name or an alias)")
    p.add_argument("--year", type=int, metavar="N", help="with --agency: the plan's year (2024 or ROC 113)")
    p.add_argument(
        "--no-index", action="store_true", help="do not load the encoder (the index is kept: removing encodes nothing)"
    )
    _add_wait(p)
    _add_data_dir(p)
    _add_store(p)
    p.set_defaults(func=cmd_remove)

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
    _add_store(p)
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
    except KeyboardInterrupt:  # Ctrl+C: stop quietly, with the shell's status for it
        return 130
    except BrokenPipeError:  # e.g. `kg export | head`: the reader has gone, so has the rest of the output
        import os

        try:  # nothing more to flush at exit either (else Python prints a warning about stdout)
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 0
    except OSError as exc:  # a file or folder the user named: missing, unreadable, not writable, disk full …
        where = " -> ".join(str(f) for f in (exc.filename, exc.filename2) if f is not None)
        why = exc.strerror or str(exc)
        print(f"error: {where}: {why}" if where else f"error: kg {args.command}: {why}", file=sys.stderr)
        return 1
    except UnicodeDecodeError as exc:  # a text file the user gave that is not UTF-8
        print(
            f"error: kg {args.command}: the input is not UTF-8 text ({exc.reason} at byte {exc.start})", file=sys.stderr
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
