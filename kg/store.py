"""Building the data dir: plan records, the RDF store (Oxigraph through rdflib) and the search index, published whole
as a new generation (see kg/datadir.py: a crash, a full disk or a second build never loses data)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import pyoxigraph as ox
from oxrdflib.store import OxigraphStore
from rdflib import Dataset, Graph, URIRef
from rdflib.namespace import DCTERMS, FOAF, OWL, PROV, RDF, RDFS, SKOS, XSD

from kg.datadir import DEFAULT_WAIT, PLANNER_FILES, DataDir, Writer, check_target, os_error, writing
from kg.errors import PlanError, PlanParseError
from kg.graph import graph_iri, plan_graph
from kg.link import Aliases
from kg.plan import parse_plan
from kg.read import parse_bytes, read_bytes
from kg.records import plan_record
from kg.vocab import CPSV, ID, OA, ORG, SP
from ontology import framework_graph, ontology_graph

ONTOLOGY_GRAPH = ID["graph/ontology"]
FRAMEWORK_GRAPH = ID["graph/framework"]
PRACTICE_GRAPH = ID["graph/practices"]
PREFIXES = {
    "sp": SP._NS,
    "id": ID,
    "org": ORG,
    "oa": OA,
    "cpsv": CPSV,
    "skos": SKOS,
    "prov": PROV,
    "dcterms": DCTERMS,
    "rdfs": RDFS,
    "rdf": RDF,
    "xsd": XSD,
    "owl": OWL,
    "foaf": FOAF,
}


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
    return f"{hashlib.sha1(data).hexdigest()[:12]}-{path.name}"


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
    triples: int = 0
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


def build(
    files: list[Path],
    data_dir: str | Path,
    progress: Callable[[Iterable], Iterable] = lambda x: x,
    after_graph: Callable[[Path, list[dict], Path | None], Graph | None] | None = None,
    strict: bool = False,
    *,
    inputs: Sequence[str | Path] = (),
    wait: float = DEFAULT_WAIT,
    on_wait: Callable[[str], None] | None = None,
) -> BuildReport:
    """Ingest files into the data dir: existing plans stay, a plan of the same agency and year is replaced.

    The files are read first; then, holding the data dir's lock (waiting up to `wait` seconds for another build),
    the plans of the current generation and the new ones are written into a new generation, published only when the
    whole build succeeded. A file that cannot be read is reported (with its name and line) and the other files are
    still built. A folder that is not a data dir (and holds files), or that is one of the folders of plans `inputs`,
    is refused before anything is read.
    """
    target = DataDir(data_dir)
    check_target(target.path, inputs)
    try:
        aliases = Aliases.load(target.path / "aliases.toml")
    except OSError as exc:
        raise os_error(exc, target.path) from None
    report = BuildReport()
    parsed: dict[str, dict] = {}
    originals: dict[str, bytes] = {}
    for path in progress(files):
        try:
            data = read_bytes(path)
            plan = parse_plan(parse_bytes(data, path.name))
            if strict and plan.findings:
                first = plan.findings[0]
                more = f" (and {len(plan.findings) - 1} more)" if len(plan.findings) > 1 else ""
                raise PlanParseError(path.name, f"--strict: {first.where}: {first.what}{more}")
            rec = plan_record(plan, aliases)
        except PlanError as exc:
            report.errors.append(exc)
            continue
        rec["original"] = original_name(path, data)
        originals[rec["original"]] = data
        parsed[rec["id"]] = rec
        report.built.append(path.name)
        report.ingested.append(
            Ingested(path.name, plan.format, plan.layout, len(plan.measures), plan.ocr, [str(f) for f in plan.findings])
        )
    if not report.built:
        return report
    with writing(target.path, inputs, wait=wait, on_wait=on_wait) as writer:
        # Read under the lock: a build that waited for another one adds to what that one published.
        records = {r["id"]: r for r in writer.previous.records()}
        records.update(parsed)
        _publish(writer, records, originals, aliases, after_graph, report)
    return report


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
    after_graph: Callable[[Path, list[dict], Path | None], Graph | None] | None = None,
    *,
    wait: float = DEFAULT_WAIT,
    on_wait: Callable[[str], None] | None = None,
) -> RemoveReport:
    """Remove plans from the graph and the index: a new generation without them, published like a build's.

    A plan that is not there is refused (PlanError) and nothing changes.
    """
    target = DataDir(data_dir)
    if not target.exists():
        raise PlanError(str(target.path), "no knowledge graph here yet: run 'kg build' first")
    find_plans(target.records(), plan_ids, agency, year)  # refuse before taking the lock
    try:
        aliases = Aliases.load(target.path / "aliases.toml")
    except OSError as exc:
        raise os_error(exc, target.path, "the removal") from None
    report = RemoveReport()
    with writing(target.path, wait=wait, on_wait=on_wait, what="the removal") as writer:
        if writer.previous_dir is None:
            raise PlanError(str(target.path), "no knowledge graph here yet: run 'kg build' first")
        records = {r["id"]: r for r in writer.previous.records()}
        gone = find_plans(list(records.values()), plan_ids, agency, year)  # again: another build may have run
        for rec in gone:
            del records[rec["id"]]
        report.removed = gone
        built = BuildReport()
        _publish(writer, records, {}, aliases, after_graph, built)
    report.plans, report.measures, report.triples = built.plans, built.measures, built.triples
    report.generation, report.index = built.generation, built.index
    return report


def _keep_original(source: Path, dest: Path) -> None:
    """An original of the previous generation in the new one: hard-linked (generations are never written), or copied."""
    try:
        os.link(source, dest)
    except OSError:
        shutil.copy2(source, dest)


def _publish(
    writer: Writer,
    records: dict[str, dict],
    originals: dict[str, bytes],
    aliases: Aliases,
    after_graph: Callable[[Path, list[dict], Path | None], Graph | None] | None,
    report: BuildReport,
) -> None:
    """Write records, originals, the store and (through after_graph) the index into a new generation; publish it."""
    previous = writer.previous
    work = writer.stage()
    staged = work / "records"
    staged.mkdir()
    for key, rec in sorted(records.items()):
        (staged / f"{key}.json").write_text(json.dumps(rec, ensure_ascii=False, indent=1, sort_keys=True), "utf-8")
    kept = work / "originals"
    kept.mkdir()
    for rec in records.values():  # the original of every plan kept, new ones from this build
        name = rec.get("original")
        if not name or name != Path(name).name or name.startswith("."):
            continue
        if name in originals:
            (kept / name).write_bytes(originals[name])
        elif (previous.originals_dir / name).is_file():
            _keep_original(previous.originals_dir / name, kept / name)
    for own in PLANNER_FILES:  # the planner's files as this build used them (the index reads practices.toml here)
        if (writer.root / own).is_file():
            shutil.copy2(writer.root / own, work / own)
    store = ox.Store(str(work / "store"))
    ds = Dataset(store=OxigraphStore(store=store), default_union=True)
    agencies = _agencies(list(records.values()), aliases)
    _load(ds, ONTOLOGY_GRAPH, ontology_graph())
    _load(ds, FRAMEWORK_GRAPH, framework_graph())
    for key, rec in sorted(records.items()):
        _load(ds, graph_iri(key), plan_graph(rec, agencies))
    measures = [m for _, r in sorted(records.items()) for m in r["measures"]]
    if after_graph is not None and measures:
        previous_dir = writer.previous_dir if previous.exists() else None
        extra = after_graph(work, measures, previous_dir)
        if extra is not None:
            _load(ds, PRACTICE_GRAPH, extra)
    report.triples = len(ds)
    store.flush()  # everything in the store's files, no log to replay: the generation is never opened to write again
    ds.close()
    del ds, store  # closes the store
    _reopen(work / "store")  # opened once more, RocksDB deletes the write-ahead log the flush made obsolete
    stats = work / "index" / "last-build.json"
    report.index = json.loads(stats.read_text("utf-8")) if stats.is_file() else None
    report.plans = len(records)
    report.measures = len(measures)
    report.generation = writer.publish(work)


def _reopen(path: Path) -> None:
    store = ox.Store(str(path))
    del store  # closed


def _load(ds: Dataset, name: URIRef, g: Graph) -> None:
    graph = ds.graph(name)
    ds.store.addN((s, p, o, graph) for s, p, o in g)
