"""Building the data dir: plan records, the RDF store (Oxigraph through rdflib) and the search index, published whole
as a new generation (see kg/datadir.py: a crash, a full disk or a second build never loses data)."""

from __future__ import annotations

import hashlib
import io
import json
import multiprocessing
import os
import re
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from importlib import resources
from itertools import repeat
from pathlib import Path

import pyoxigraph as ox
from rdflib import Dataset, Graph, URIRef

from kg import recordfiles
from kg.aggregates import write_counts
from kg.datadir import (
    CATALOGUE,
    CATALOGUE_FIELDS,
    DEFAULT_WAIT,
    PLANNER_FILES,
    DataDir,
    Writer,
    check_target,
    os_error,
    writing,
)
from kg.errors import PlanError, PlanParseError
from kg.files import copy_regular
from kg.gcpolicy import give_back_freed_memory, rare_collections
from kg.graph import Triples, entity_ntriples, graph_iri, plan_ntriples
from kg.link import Aliases
from kg.plan import parse_plan
from kg.read import MAX_BYTES, parse_bytes, read_bytes
from kg.records import plan_record
from kg.triplestore import ENV as TRIPLESTORE_ENV
from kg.triplestore import PREFIXES, RemoteStore
from kg.vocab import ID
from ontology import framework_graph, ontology_graph

ONTOLOGY_GRAPH = ID["graph/ontology"]
FRAMEWORK_GRAPH = ID["graph/framework"]
PRACTICE_GRAPH = ID["graph/practices"]
ENTITY_GRAPH = ID["graph/entities"]  # the agencies, units, systems, laws and programmes the plans name


def bundled_plans() -> list[Path]:
    """The sample plans shipped with the package."""
    folder = resources.files("kg").joinpath("samples")
    return sorted(Path(str(p)) for p in folder.iterdir() if p.name.endswith(".txt"))


# The files a folder given to `kg build` is searched for; a file named on its own is read whatever its name.
PLAN_SUFFIXES = (".txt", ".text", ".pdf", ".docx", ".doc", ".odt", ".html", ".htm", ".xhtml")


def collect_files(paths: Iterable[str | Path]) -> list[Path]:
    """Files named, and the plan files inside folders named (by suffix, hidden files skipped), in a stable order."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(
                x
                for x in p.rglob("*")
                if x.suffix.lower() in PLAN_SUFFIXES
                and x.is_file()
                and not any(part.startswith(".") for part in x.relative_to(p).parts)
            )
        else:
            out.append(p)
    return out


def original_name(path: Path, data: bytes) -> str:
    """The name an original file is kept under in originals/: content-addressed, with its own name after."""
    return _kept_name(path, hashlib.sha1(data).hexdigest())


def _kept_name(path: Path, sha1: str) -> str:
    return f"{sha1[:12]}-{path.name}"


@dataclass
class Ingested:
    """One file ingested: its name, what it was read as, and what looked odd in it."""

    file: str
    format: str
    layout: str
    measures: int
    ocr: bool
    findings: list[str]


@dataclass
class BuildReport:
    built: list[str] = field(default_factory=list)  # file names ingested
    ingested: list[Ingested] = field(default_factory=list)
    errors: list[PlanError] = field(default_factory=list)
    plans: int = 0
    measures: int = 0
    triples: int = 0  # the triples of all named graphs (one an agency's plans share counts once per plan)
    generation: str | None = None  # the generation published
    index: dict | None = None  # the index build's counts (measures, encoded), when one was built


def open_dataset(path: Path, create: bool = False) -> Dataset:
    ds = Dataset(store="Oxigraph", default_union=True)
    ds.open(str(path), create=create)
    for prefix, ns in PREFIXES.items():
        ds.bind(prefix, ns)
    return ds


def _agencies(records: list[dict], aliases: Aliases) -> dict[str, dict]:
    """Every agency the records name (plan agencies, their parents, owners of units), by name."""
    names: set[str] = set()
    for r in records:
        names.add(r["agency"]["name"])
        for m in r["measures"]:
            names |= {u["parent"] for u in m["unit_entities"]}
    out: dict[str, dict] = {}
    todo = list(names)
    while todo:
        name = todo.pop()
        if not name or name in out:
            continue
        a = aliases.agency(name).__dict__
        out[name] = a
        todo.append(a["parent"])
    return out


def _read_plan(path: Path, aliases: Aliases, strict: bool) -> tuple[dict, Path, Ingested] | PlanError:
    """One file read, parsed and made a record (with its original's name: its content's hash), or the PlanError
    that stopped it. The file's bytes are not kept: the build copies the file when it publishes (_copy_original)."""
    try:
        data = read_bytes(path)
        plan = parse_plan(parse_bytes(data, path.name))
        if strict and plan.findings:
            first = plan.findings[0]
            more = f" (and {len(plan.findings) - 1} more)" if len(plan.findings) > 1 else ""
            raise PlanParseError(path.name, f"--strict: {first.where}: {first.what}{more}")
        rec = plan_record(plan, aliases)
    except PlanError as exc:
        return exc
    rec["original"] = original_name(path, data)
    findings = [str(f) for f in plan.findings]
    return rec, path, Ingested(path.name, plan.format, plan.layout, len(plan.measures), plan.ocr, findings)


# From this many files on, they are read in a pool of processes, one per CPU: below it, starting the pool (each
# worker imports the readers and the parser) costs more than the files take.
PARALLEL_FILES = 32

_worker_aliases: Aliases | None = None  # a pool worker's alias tables, sent once when it starts


def _start_worker(aliases: Aliases) -> None:
    global _worker_aliases
    _worker_aliases = aliases


def _read_plan_in_worker(path: Path, strict: bool) -> tuple[dict, Path, Ingested] | tuple[type, str, str, int | None]:
    """_read_plan in a pool worker; a PlanError comes back as its class and arguments (it does not pickle)."""
    assert _worker_aliases is not None
    result = _read_plan(path, _worker_aliases, strict)
    if isinstance(result, PlanError):
        return type(result), result.file, result.why, result.line
    return result


def _read_plans(
    files: Sequence[Path],
    aliases: Aliases,
    strict: bool,
    progress: Callable[[Iterable], Iterable],
    parallel_from: int = PARALLEL_FILES,
) -> Iterator[tuple[dict, Path, Ingested] | PlanError]:
    """_read_plan of each file, in the files' order: in a process pool from parallel_from files on (the files are
    independent, and parsing is pure Python), else here."""
    workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if len(files) < parallel_from or workers < 2:
        for path in progress(files):
            yield _read_plan(path, aliases, strict)
        return
    context = multiprocessing.get_context("spawn")  # not fork: the encoder's BLAS threads may already be running
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker, initargs=(aliases,)) as pool:
        results = pool.map(_read_plan_in_worker, files, repeat(strict), chunksize=4)
        for _, result in zip(progress(files), results, strict=True):
            if isinstance(result[0], type):  # a PlanError's class and arguments
                kind, file, why, line = result
                yield kind(file, why, line)
            else:
                yield result


def build(
    files: list[Path],
    data_dir: str | Path,
    progress: Callable[[Iterable], Iterable] = lambda x: x,
    after_graph: Callable[[Path, list[dict], Path | None], Graph | bytes | None] | None = None,
    strict: bool = False,
    *,
    inputs: Sequence[str | Path] = (),
    wait: float = DEFAULT_WAIT,
    on_wait: Callable[[str], None] | None = None,
    store: str | None = None,
) -> BuildReport:
    """Ingest files into the data dir: existing plans stay, a plan of the same agency and year is replaced.

    The files are read first; then, holding the data dir's lock (waiting up to `wait` seconds for another build),
    the plans of the current generation and the new ones are written into a new generation, published only when the
    whole build succeeded. A file that cannot be read is reported (with its name and line) and the other files are
    still built. A folder that is not a data dir (and holds files), or that is one of the folders of plans `inputs`,
    is refused before anything is read.

    store: the query URL of a SPARQL 1.1 server the graph is written into as well (kg.triplestore), each plan's
    named graph by the Graph Store Protocol; the records, the index and the originals stay in the data dir.
    """
    target = DataDir(data_dir)
    check_target(target.path, inputs)
    remote = _remote(store)
    try:
        aliases = Aliases.load(target.path / "aliases.toml")
    except OSError as exc:
        raise os_error(exc, target.path) from None
    with rare_collections():  # kg.gcpolicy: the build holds every record until it ends
        report = BuildReport()
        parsed, originals = _read_into(report, files, aliases, strict, progress)
        if not report.built:
            return report
        with writing(target.path, inputs, wait=wait, on_wait=on_wait) as writer:
            # Read under the lock: a build that waited for another one adds to what that one published.
            before = {r["id"]: r for r in writer.previous.records()}
            records = dict(before, **parsed)
            parsed.clear()  # the records are held by `records` alone: _publish lets them go while the store loads
            _publish(writer, records, before, originals, aliases, after_graph, report, remote)
        return report


def _read_into(
    report: BuildReport, files: list[Path], aliases: Aliases, strict: bool, progress: Callable[[Iterable], Iterable]
) -> tuple[dict[str, dict], dict[str, Path]]:
    """The records read from the files (by plan id) and the files (by the name their originals are kept under);
    what was read and what could not be, in the report."""
    parsed: dict[str, dict] = {}
    originals: dict[str, Path] = {}
    for result in _read_plans(files, aliases, strict, progress):
        if isinstance(result, PlanError):
            report.errors.append(result)
            continue
        rec, path, ingested = result
        originals[rec["original"]] = path
        parsed[rec["id"]] = rec
        report.built.append(ingested.file)
        report.ingested.append(ingested)
    return parsed, originals


@dataclass
class RemoveReport:
    removed: list[dict] = field(default_factory=list)  # the records removed
    plans: int = 0
    measures: int = 0
    triples: int = 0
    generation: str | None = None
    index: dict | None = None


def plan_label(rec: dict) -> str:
    year = rec.get("year")
    return f"{rec['id']} ({rec['agency']['name']} {year if year is not None else 'no year'}, {rec['file']})"


def find_plans(
    records: list[dict], plan_ids: Sequence[str] = (), agency: str | None = None, year: int | None = None
) -> list[dict]:
    """The plans named by id (or title, or file name), or by agency (and year: Western or ROC); PlanError naming
    what matches nothing (or more than one plan), with the plans there are."""
    known = "; ".join(plan_label(r) for r in sorted(records, key=lambda r: r["id"])[:8]) or "none"
    out: list[dict] = []
    for pid in plan_ids:  # an id, else a title (the jsonl export's 'plan') or the file name it was read from
        found = [r for r in records if r["id"] == pid] or [r for r in records if pid in (r.get("title"), r.get("file"))]
        if not found:
            raise PlanError(pid, f"no plan with this id, title or file name in the data dir (its plans: {known})")
        if len(found) > 1:
            raise PlanError(pid, "names several plans: give the id of one: " + "; ".join(map(plan_label, found)))
        out += found
    if agency is not None:
        full = Aliases.load().agency(agency).name
        found = [
            r
            for r in records
            if agency in (r["agency"]["name"], r["agency"]["id"]) or r["agency"]["name"] == full
            if year is None or year in (r.get("year"), r.get("year_roc"))
        ]
        what = agency + (f" {year}" if year is not None else "")
        if not found:
            which = "agency and year" if year is not None else "agency"
            raise PlanError(what, f"no plan of this {which} in the data dir (its plans: {known})")
        if year is None and len(found) > 1:
            raise PlanError(
                what, "this agency has several plans: give --year, or plan ids: " + "; ".join(map(plan_label, found))
            )
        out += found
    if not out:
        raise PlanError("kg remove", "name the plans to remove: plan ids, or --agency NAME [--year N]")
    return list({r["id"]: r for r in out}.values())


def remove(
    data_dir: str | Path,
    plan_ids: Sequence[str] = (),
    agency: str | None = None,
    year: int | None = None,
    after_graph: Callable[[Path, list[dict], Path | None], Graph | bytes | None] | None = None,
    *,
    wait: float = DEFAULT_WAIT,
    on_wait: Callable[[str], None] | None = None,
    store: str | None = None,
) -> RemoveReport:
    """Remove plans from the graph and the index: a new generation without them, published like a build's.

    A plan that is not there is refused (PlanError) and nothing changes.
    """
    target = DataDir(data_dir)
    if not target.exists():
        raise PlanError(str(target.path), "no knowledge graph here yet: run 'kg build' first")
    find_plans(target.catalogue(), plan_ids, agency, year)  # refuse before taking the lock
    remote = _remote(store)
    try:
        aliases = Aliases.load(target.path / "aliases.toml")
    except OSError as exc:
        raise os_error(exc, target.path, "the removal") from None
    report = RemoveReport()
    with rare_collections(), writing(target.path, wait=wait, on_wait=on_wait, what="the removal") as writer:
        if writer.previous_dir is None:
            raise PlanError(str(target.path), "no knowledge graph here yet: run 'kg build' first")
        before = {r["id"]: r for r in writer.previous.records()}
        gone = find_plans(list(before.values()), plan_ids, agency, year)  # again: another build may have run
        records = {k: r for k, r in before.items() if k not in {g["id"] for g in gone}}
        report.removed = gone
        built = BuildReport()
        _publish(writer, records, before, {}, aliases, after_graph, built, remote)
    report.plans, report.measures, report.triples = built.plans, built.measures, built.triples
    report.generation, report.index = built.generation, built.index
    return report


def _copy_original(source: Path, dest: Path) -> None:
    """A file a plan was read from, copied into the new generation; PlanError if it is no longer what was read
    (the name it is kept under was made from what was read: original_name), and nothing is published."""
    with dest.open("xb") as out:  # an OSError writing it: kg.datadir.writing says so
        digest = copy_regular(source, out, MAX_BYTES, "plan file")
    if dest.name != _kept_name(source, digest):
        raise PlanError(source.name, "changed after it was read, while the build ran: nothing published; build again")


def _keep_original(source: Path, dest: Path) -> None:
    """A file of the previous generation in the new one: hard-linked (generations are never written), or copied."""
    try:
        os.link(source, dest)
    except OSError:
        shutil.copy2(source, dest)


# What a generation's store was built from; a build whose inputs differ in any of these rebuilds the whole store.
STORE_INFO = "store.json"
GRAPH_FORMAT = 2  # raised whenever kg.graph writes a plan's triples differently


def _graph_nt(g: Graph | bytes | str) -> bytes:
    """A graph as N-Triples bytes: an rdflib Graph is serialised, N-Triples text is taken as it is."""
    if isinstance(g, bytes):
        return g
    if isinstance(g, str):
        return g.encode("utf-8")
    return g.serialize(format="nt", encoding="utf-8")


def _fingerprint(aliases_file: Path, fixed: dict[URIRef, bytes]) -> str:
    """What every plan's graph depends on besides its record: the graph format, the alias file, the fixed graphs."""
    h = hashlib.sha256(f"graph-format {GRAPH_FORMAT}\n".encode())
    h.update(resources.files("kg").joinpath("data/aliases.toml").read_bytes())
    h.update(aliases_file.read_bytes() if aliases_file.is_file() else b"")
    for name, data in sorted(fixed.items()):  # blank node labels differ from run to run: compared without them
        h.update(f"\n{name}\n".encode())
        h.update(b"\n".join(sorted(re.sub(rb"_:\S+", b"_:", line) for line in data.splitlines())))
    return h.hexdigest()


def _fixed_graphs() -> dict[URIRef, bytes]:
    """The ontology and the framework, as N-Triples."""
    return {ONTOLOGY_GRAPH: _graph_nt(ontology_graph()), FRAMEWORK_GRAPH: _graph_nt(framework_graph())}


class _Chunks(io.RawIOBase):
    """A stream over generated text, so that the store's bulk loader reads millions of quads without one big string."""

    def __init__(self, parts: Iterable[str]) -> None:
        self._parts = iter(parts)
        self._buf = b""

    def readable(self) -> bool:
        return True

    def readinto(self, out) -> int:
        while not self._buf:
            part = next(self._parts, None)
            if part is None:
                return 0
            self._buf = part.encode("utf-8")
        n = min(len(out), len(self._buf))
        out[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


def _plans_nquads(records: Iterable[dict], agencies: dict[str, dict], entities: Triples) -> Iterable[str]:
    for rec in records:
        yield plan_ntriples(rec, agencies, str(graph_iri(rec["id"])), entities)


def _load_nt(store: ox.Store, data: bytes, graph: URIRef) -> None:
    store.bulk_load(data, ox.RdfFormat.N_TRIPLES, to_graph=ox.NamedNode(str(graph)))


def _write_store_full(
    path: Path, plans: Iterable[dict], agencies: dict[str, dict], fixed: dict[URIRef, bytes]
) -> tuple[int, bytes]:
    """A new store of the plans' records (in id order) with every graph but the practice types' (the index step
    makes them: _add_graph), bulk-loaded (sorted files written directly: no transaction log, no rewrite); its quads
    counted, and the entity graph's N-Triples."""
    store = ox.Store(str(path))
    for name, data in fixed.items():
        _load_nt(store, data, name)
    entities = Triples()
    store.bulk_load(io.BufferedReader(_Chunks(_plans_nquads(plans, agencies, entities)), 1 << 20), ox.RdfFormat.N_QUADS)
    described = entities.text().encode("utf-8")
    _load_nt(store, described, ENTITY_GRAPH)
    store.flush()
    return len(store), described


def _add_graph(path: Path, data: bytes, graph: URIRef) -> int:
    """Bulk-load a graph the store does not hold yet (N-Triples) into a store written by _write_store_full; its
    quads counted."""
    store = ox.Store(str(path))
    _load_nt(store, data, graph)
    store.flush()
    return sum(1 for _ in store.quads_for_pattern(None, None, None, ox.NamedNode(str(graph))))


def _checkpoint(source: Path, dest: Path) -> None:
    """A copy of a closed store sharing its immutable data files with it: RocksDB's checkpoint hard-links the sorted
    tables (never modified in place, only deleted); every other file (manifest, options, log) is made a copy of its
    own, so that writing the new store never writes a file of the previous generation."""
    old = ox.Store.read_only(str(source))
    old.backup(str(dest))
    del old
    for entry in os.scandir(dest):
        if not entry.name.endswith(".sst") and entry.stat().st_nlink > 1:
            tmp = dest / f".{entry.name}.copy"
            shutil.copy2(entry.path, tmp)
            os.replace(tmp, entry.path)


def _write_store_patch(
    path: Path,
    previous: Path,
    gone: Iterable[str],
    fresh: Iterable[dict],
    agencies: dict[str, dict],
    shared: dict[URIRef, bytes],
    triples: int | None,
) -> int:
    """The previous generation's store with the graphs of removed or changed plans dropped and the new ones added,
    over a checkpoint of it, and the graphs all plans share (`shared`: the practice types, what the plans name,
    as N-Triples) patched by their difference to the previous ones; the ontology and framework graphs stay.

    Every step costs what changed, not the corpus: the quads are counted from the previous count (`triples`, None
    to count them all) and the sizes of the graphs dropped and added. The store is that of a staged generation:
    readers see it only once it is whole (kg.datadir), so a few transactions suffice."""
    _checkpoint(previous / "store", path)
    store = ox.Store(str(path))
    drops = [ox.NamedNode(str(graph_iri(k))) for k in gone]
    count = triples
    if count is not None:
        count -= sum(sum(1 for _ in store.quads_for_pattern(None, None, None, g)) for g in drops)
    if drops:
        store.update(" ;\n".join(f"DROP SILENT GRAPH {g}" for g in drops))  # one update: one transaction
    described = Triples()  # what the fresh plans name is in the shared entity graph, not in their own graphs
    quads = "".join(plan_ntriples(rec, agencies, str(graph_iri(rec["id"])), described) for rec in fresh)
    store.load(quads.encode("utf-8"), ox.RdfFormat.N_QUADS)  # one transaction
    for name, text in shared.items():
        removed, added = _difference(_shared_text(previous, store, name), text, name)
        for quad in removed:
            store.remove(quad)
        store.extend(added)
        if count is not None:
            count += len(added) - len(removed)
    store.flush()
    return count + quads.count("\n") if count is not None else len(store)


# The graphs every plan adds to, as N-Triples beside each generation's store: what the next build's patch compares.
SHARED_GRAPHS_DIR = "graphs"
SHARED_GRAPH_FILES = {PRACTICE_GRAPH: "practices.nt", ENTITY_GRAPH: "entities.nt"}


def _save_shared(work: Path, shared: dict[URIRef, bytes]) -> None:
    folder = work / SHARED_GRAPHS_DIR
    folder.mkdir()
    for name, text in shared.items():
        (folder / SHARED_GRAPH_FILES[name]).write_bytes(text)


def _shared_text(previous: Path, store: ox.Store, name: URIRef) -> bytes:
    """A shared graph of the previous generation as N-Triples: its saved file, else (a generation written before
    they were saved) the graph read from the store."""
    saved = previous / SHARED_GRAPHS_DIR / SHARED_GRAPH_FILES[name]
    if saved.is_file():
        return saved.read_bytes()
    return store.dump(format=ox.RdfFormat.N_TRIPLES, from_graph=ox.NamedNode(str(name)))


def _difference(old: bytes, new: bytes, graph: URIRef) -> tuple[list[ox.Quad], list[ox.Quad]]:
    """The quads of the graph to remove and to add for its N-Triples `old` to become `new`. Only the lines that
    differ are parsed, and compared as terms: a store writes literals and language tags in its own form, so one
    triple may be a line of each text."""
    before, after = set(old.splitlines()), set(new.splitlines())
    gone = {q.triple for q in ox.parse(b"\n".join(before - after), ox.RdfFormat.N_TRIPLES)}
    came = {q.triple for q in ox.parse(b"\n".join(after - before), ox.RdfFormat.N_TRIPLES)}
    name = ox.NamedNode(str(graph))
    return (
        [ox.Quad(t.subject, t.predicate, t.object, name) for t in gone - came],
        [ox.Quad(t.subject, t.predicate, t.object, name) for t in came - gone],
    )


def _previous_store(previous: DataDir, fingerprint: str) -> tuple[Path, dict] | None:
    """The previous generation's store and its info, when this build can patch it (same fingerprint, embedded)."""
    base = previous.current()
    if base is None or not (base / STORE_INFO).is_file() or not (base / "store").is_dir():
        return None
    try:
        info = json.loads((base / STORE_INFO).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if info.get("fingerprint") != fingerprint or info.get("store") != "embedded":
        return None
    return base / "store", info


def _publish(
    writer: Writer,
    records: dict[str, dict],
    before: dict[str, dict],
    originals: dict[str, Path],
    aliases: Aliases,
    after_graph: Callable[[Path, list[dict], Path | None], Graph | bytes | None] | None,
    report: BuildReport,
    remote: RemoteStore | None = None,
) -> None:
    """Write records, originals, the store and (through after_graph) the index into a new generation; publish it.

    `before` holds the previous generation's records (by id), `records` those of the new one.
    Records and originals the previous generation holds unchanged are hard-linked from it. When the previous
    store was built from the same alias file, ontology and framework, the new one is a checkpoint of it with only
    the graphs of changed, added and removed plans rewritten (and the graph of what the plans name); otherwise it
    is built whole, from the record files just written: `records` and `before` are emptied meanwhile (the caller
    holds no other reference to what they hold) and `records` filled again from the files. `originals`: the files
    the new plans were read from, by the name their originals are kept under.
    """
    previous = writer.previous
    work = writer.stage()
    staged = work / "records"
    staged.mkdir()
    same = {k for k, rec in records.items() if before.get(k) == rec}
    before_ids = set(before)
    for key, rec in sorted(records.items()):
        old = recordfiles.path(previous.records_dir, key)
        if key in same and old.is_file():
            _keep_original(old, recordfiles.path(staged, key))
        else:
            recordfiles.write(staged, key, rec)
    kept = work / "originals"
    kept.mkdir()
    for rec in records.values():  # the original of every plan kept, new ones from this build
        name = rec.get("original")
        if not name or name != Path(name).name or name.startswith("."):
            continue
        if (previous.originals_dir / name).is_file():
            _keep_original(previous.originals_dir / name, kept / name)
        elif name in originals:
            _copy_original(originals[name], kept / name)
    catalogue = [{f: records[k].get(f) for f in CATALOGUE_FIELDS} for k in sorted(records)]
    (work / CATALOGUE).write_text(json.dumps(catalogue, ensure_ascii=False), "utf-8")
    for own in PLANNER_FILES:  # the planner's files as this build used them (the index reads practices.toml here)
        if (writer.root / own).is_file():
            shutil.copy2(writer.root / own, work / own)
    fixed = _fixed_graphs()
    fingerprint = _fingerprint(writer.root / "aliases.toml", fixed)
    base = _previous_store(previous, fingerprint)
    agencies = _agencies(list(records.values()), aliases)
    if base is None:
        # Bulk-loaded before the index step: the loader's buffers (about twice the quads) and what the index step
        # leaves allocated would otherwise be held at once. The plans go to the loader read back from their files
        # one at a time, and are read again after it: the records (0.3 GB at 100k measures) are not held beside
        # its batches (1.4-1.7 GB).
        ids = sorted(records)
        records.clear()
        before.clear()
        give_back_freed_memory()
        plans = (recordfiles.read(recordfiles.path(staged, k)) for k in ids)
        report.triples, described = _write_store_full(work / "store", plans, agencies, fixed)
        records.update((k, recordfiles.read(recordfiles.path(staged, k))) for k in ids)
    measures = [m for _, r in sorted(records.items()) for m in r["measures"]]
    practice = None
    if after_graph is not None and measures:
        previous_dir = writer.previous_dir if previous.exists() else None
        extra = after_graph(work, measures, previous_dir)
        practice = _graph_nt(extra) if extra is not None else None
    if base is not None:
        fresh = [records[k] for k in sorted(records) if k not in same]
        gone = sorted((before_ids - set(records)) | {r["id"] for r in fresh if r["id"] in before_ids})
        # What the plans name, described anew from all of them (an agency a removed plan named may be named by another)
        described = entity_ntriples(records.values(), agencies).encode("utf-8")
        shared = {PRACTICE_GRAPH: practice or b"", ENTITY_GRAPH: described}
        report.triples = _write_store_patch(
            work / "store", base[0].parent, gone, fresh, agencies, shared, base[1].get("triples")
        )
    else:
        if practice is not None:
            report.triples += _add_graph(work / "store", practice, PRACTICE_GRAPH)
        shared = {PRACTICE_GRAPH: practice or b"", ENTITY_GRAPH: described}
    _save_shared(work, shared)
    # Closed now; opened once more, RocksDB deletes the write-ahead log the flush made obsolete: the generation is
    # never opened to write again.
    _reopen(work / "store")
    info = {"store": "embedded", "fingerprint": fingerprint, "triples": report.triples}
    if remote is not None:
        _write_remote(remote, previous, fingerprint, records, before_ids, same, agencies, fixed, practice)
        info["remote"] = remote.location
    (work / STORE_INFO).write_text(json.dumps(info, indent=1) + "\n", "utf-8")
    stats = work / "index" / "last-build.json"
    report.index = json.loads(stats.read_text("utf-8")) if stats.is_file() else None
    report.plans = len(records)
    report.measures = len(measures)
    write_counts(work, records.values())
    report.generation = writer.publish(work)


def _remote(store: str | None) -> RemoteStore | None:
    """The SPARQL server given (or named by KG_STORE), checked to answer before anything is read or written."""
    location = store if store is not None else os.environ.get(TRIPLESTORE_ENV) or None
    if not location or location == "embedded":
        return None
    remote = RemoteStore(location)
    remote.probe()
    return remote


def _write_remote(
    remote: RemoteStore,
    previous: DataDir,
    fingerprint: str,
    records: dict[str, dict],
    before: set[str],
    same: set[str],
    agencies: dict[str, dict],
    fixed: dict[URIRef, bytes],
    practice: bytes | None,
) -> None:
    """The graphs into the server, before the generation is published: each changed or new plan's graph replaced
    (PUT), each removed plan's deleted; all of them when the previous build was not written into this server with
    the same alias file, ontology and framework."""
    base = previous.current()
    info: dict = {}
    if base is not None and (base / STORE_INFO).is_file():
        with suppress(OSError, ValueError):
            info = json.loads((base / STORE_INFO).read_text("utf-8"))
    patch = info.get("remote") == remote.location and info.get("fingerprint") == fingerprint
    keys = sorted(k for k in records if not (patch and k in same))
    if not patch:
        remote.put_graphs((str(name), data) for name, data in fixed.items())
    for key in keys:
        remote.put_graph(str(graph_iri(key)), plan_ntriples(records[key], agencies, None, Triples()).encode("utf-8"))
    remote.put_graph(str(ENTITY_GRAPH), entity_ntriples(records.values(), agencies).encode("utf-8"))
    if practice is not None:
        remote.put_graph(str(PRACTICE_GRAPH), practice)
    else:
        remote.delete_graph(str(PRACTICE_GRAPH))
    for key in sorted(set(before) - set(records)):
        remote.delete_graph(str(graph_iri(key)))


def _reopen(path: Path) -> None:
    store = ox.Store(str(path))
    del store  # closed
