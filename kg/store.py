"""The data dir: plan records, the RDF store (Oxigraph through rdflib) and the search index, swapped in whole."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from rdflib import Dataset, Graph, URIRef
from rdflib.namespace import DCTERMS, FOAF, OWL, PROV, RDF, RDFS, SKOS, XSD

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


def open_dataset(path: Path, create: bool = False) -> Dataset:
    ds = Dataset(store="Oxigraph", default_union=True)
    ds.open(str(path), create=create)
    for prefix, ns in PREFIXES.items():
        ds.bind(prefix, ns)
    return ds


class DataDir:
    """One data directory: records/ (one JSON per plan), store/ (Oxigraph), index/ (search), aliases.toml (optional)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @property
    def records_dir(self) -> Path:
        return self.path / "records"

    @property
    def store_dir(self) -> Path:
        return self.path / "store"

    @property
    def index_dir(self) -> Path:
        return self.path / "index"

    @property
    def originals_dir(self) -> Path:
        return self.path / "originals"

    def exists(self) -> bool:
        return self.store_dir.exists() and self.records_dir.exists()

    def records(self) -> list[dict]:
        if not self.records_dir.exists():
            return []
        return [json.loads(p.read_text("utf-8")) for p in sorted(self.records_dir.glob("*.json"))]

    def measures(self) -> list[dict]:
        return [m for r in self.records() for m in r["measures"]]

    def dataset(self) -> Dataset:
        if not self.exists():
            raise PlanError(str(self.path), "no knowledge graph here yet: run 'kg build' first")
        return open_dataset(self.store_dir)


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
) -> BuildReport:
    """Ingest files into the data dir: existing plans stay, a plan of the same agency and year is replaced.

    Everything is built in a sibling temporary folder and swapped in only when the whole build succeeds;
    a file that cannot be read is reported (with its name and line) and the other files are still built.
    """
    target = DataDir(data_dir)
    aliases = Aliases.load(target.path / "aliases.toml")
    report = BuildReport()
    records = {r["id"]: r for r in target.records()}
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
        records[rec["id"]] = rec
        report.built.append(path.name)
        report.ingested.append(
            Ingested(path.name, plan.format, plan.layout, len(plan.measures), plan.ocr, [str(f) for f in plan.findings])
        )
    if not report.built:
        return report
    target.path.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.path.name}.build-", dir=target.path.parent))
    try:
        staged = DataDir(work)
        staged.records_dir.mkdir()
        for key, rec in sorted(records.items()):
            (staged.records_dir / f"{key}.json").write_text(
                json.dumps(rec, ensure_ascii=False, indent=1, sort_keys=True), "utf-8"
            )
        staged.originals_dir.mkdir()
        for rec in records.values():  # the original of every plan kept, new ones from this build
            name = rec.get("original")
            if not name:
                continue
            if name in originals:
                (staged.originals_dir / name).write_bytes(originals[name])
            elif (target.originals_dir / name).is_file():
                shutil.copy2(target.originals_dir / name, staged.originals_dir / name)
        for own in ("aliases.toml", "practices.toml"):  # a planner's own data files stay with the data dir
            if (target.path / own).exists():
                shutil.copy2(target.path / own, work / own)
        ds = open_dataset(staged.store_dir, create=True)
        agencies = _agencies(list(records.values()), aliases)
        _load(ds, ONTOLOGY_GRAPH, ontology_graph())
        _load(ds, FRAMEWORK_GRAPH, framework_graph())
        for key, rec in sorted(records.items()):
            _load(ds, graph_iri(key), plan_graph(rec, agencies))
        if after_graph is not None:
            measures = [m for _, r in sorted(records.items()) for m in r["measures"]]
            extra = after_graph(work, measures, target.path if target.exists() else None)
            if extra is not None:
                _load(ds, PRACTICE_GRAPH, extra)
        report.triples = len(ds)
        ds.close()
        report.plans = len(records)
        report.measures = sum(len(r["measures"]) for r in records.values())
        _swap(work, target.path)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return report


def _load(ds: Dataset, name: URIRef, g: Graph) -> None:
    ds.store.addN((s, p, o, ds.graph(name)) for s, p, o in g)


def _swap(new: Path, target: Path) -> None:
    """Replace the data dir by the freshly built one: two renames, so readers never see half a build."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.rename(target, old)
    os.rename(new, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
