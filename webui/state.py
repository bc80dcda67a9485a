"""Everything the web UI reads about one build of the data dir (a KGState), and keeping it current (LiveState).

Pages look things up here by id; nothing a request names ever becomes a path on disk. A KGState is loaded from one
generation of the data dir (DATA_DIR/generations/<id>): its RDF store is opened read-only on disk and queried with
Oxigraph's own engine (webui.store; nothing is copied into memory), its search index opened, and little else is
read at start: the agencies, the practice types and the city framework. Plans, measures, units, systems, laws and
programmes are looked up when a page asks (plan records from that generation's records/, measures from the search
index, the rest by SPARQL), a few kept in an LRU; lists are aggregated by SPARQL (webui.entities), whole-corpus
counts read from what the build saved (webui.counts). The downloads and the plans' original files are read from
that generation's folder when asked for (held with a shared lock, so that a later build does not prune it while it
is served).

A running server follows the builds: before each request the app's LiveState looks at DATA_DIR/CURRENT (at most
every RELOAD_INTERVAL seconds); when a build has published another generation, one request loads its KGState and
swaps it in, while the others go on answering from the one they have. Each request takes the state once (on
flask.g), so all that one request shows comes from one build. A generation that fails to load is logged and the
previous state kept. Nothing here is shared between apps or kept in module globals.
"""

from __future__ import annotations

import io
import logging
import math
import os
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from flask import Flask, current_app, g, has_request_context
from rdflib import Literal, URIRef
from rdflib.namespace import SKOS

from kg import recordfiles
from kg.datadir import DataDir, hold_generation
from kg.errors import PlanError
from kg.search import Search, SearchConfig, SearchConfigError
from ontology import framework_graph
from webui import counts, entities
from webui.entities import SYSTEM_TYPES
from webui.graphindex import GraphIndex
from webui.sparql_runner import SparqlRunner
from webui.store import Store, StoreError

EXTENSION = "spkg"  # app.extensions[EXTENSION]: the KGState being served (replaced when a build is picked up)
LIVE = "spkg.live"  # app.extensions[LIVE]: the app's LiveState
REQUEST_STATE = "spkg_state"  # flask.g attribute: the KGState this request answers from
DEFAULT_RELOAD_INTERVAL = 0.5  # seconds between two looks at DATA_DIR/CURRENT
T = TypeVar("T")

__all__ = ["SYSTEM_TYPES", "KGState", "LiveState", "get_state", "load_state", "year_key"]


class LRU:
    """A small thread-safe LRU for computed answers (search results, similar measures)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
        value = compute()  # outside the lock: a slow computation must not block other requests' hits
        with self._lock:
            self._data[key] = value
            while len(self._data) > self.size:
                self._data.popitem(last=False)
        return value


class Table(Mapping[str, dict]):
    """Things of one kind by id, looked up when asked (`one`) and listed only when a page lists them all (`every`,
    computed once); a few recent look-ups kept."""

    def __init__(
        self,
        one: Callable[[str], dict | None],
        every: Callable[[], list[dict]],
        size: int = 1024,
        several: Callable[[list[str]], dict[str, dict]] | None = None,
    ) -> None:
        self._one = one
        self._every = every
        self._several = several
        self._all: dict[str, dict] | None = None
        self._lock = threading.Lock()
        self._recent = LRU(size)

    def rows(self) -> list[dict]:
        """Every row, in the kind's own order (aggregated once per state)."""
        with self._lock:
            if self._all is None:
                self._all = {r["id"]: r for r in self._every()}
            return list(self._all.values())

    def __getitem__(self, key: str) -> dict:
        if not isinstance(key, str):
            raise KeyError(key)
        if self._all is not None:
            return self._all[key]
        found = self._recent.get(key, lambda: self._one(key))
        if found is None:
            raise KeyError(key)
        return found

    def __iter__(self) -> Iterator[str]:
        return iter([r["id"] for r in self.rows()])

    def __len__(self) -> int:
        return len(self.rows())

    def some(self, keys: list[str]) -> dict[str, dict]:
        """The rows of these ids that there are, by id: looked up together when the kind can (`several`), which is
        what a page naming thousands of them needs, else one by one."""
        if self._all is not None or self._several is None:
            return {k: self[k] for k in keys if k in self}
        found = self._several(keys)
        return {k: self._recent.get(k, lambda k=k: found[k]) for k in keys if k in found}


class PlanTable(Mapping[str, dict]):
    """The plan records of one generation (kg.recordfiles), read when a page asks for one; the ids are the file
    names listed at start, so a request's text never becomes a path."""

    def __init__(self, folder: Path, size: int = 256) -> None:
        self._files = recordfiles.files(folder)  # by plan id, in id order
        self._recent = LRU(size)

    def _read(self, pid: str) -> dict:
        rec = recordfiles.read(self._files[pid])
        return dict(rec, measure_ids=[m["id"] for m in rec["measures"]])

    def __getitem__(self, key: str) -> dict:
        if key not in self._files:
            raise KeyError(key)
        return self._recent.get(key, lambda: self._read(key))

    def __contains__(self, key: object) -> bool:
        return key in self._files

    def __iter__(self) -> Iterator[str]:
        return iter(self._files)

    def __len__(self) -> int:
        return len(self._files)


class MeasureTable(Mapping[str, dict]):
    """The measures' full records, from the search index (Search.record); listed only when asked for all."""

    def __init__(self, search: Search, store: Store) -> None:
        self.search = search
        self.store = store

    def __getitem__(self, key: str) -> dict:
        found = self.search.record(key) if isinstance(key, str) else None
        if found is None:
            raise KeyError(key)
        return found

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.search.record(key) is not None

    def __iter__(self) -> Iterator[str]:
        rows = self.store.select("SELECT ?id WHERE { ?m a sp:Measure ; dcterms:identifier ?id } ORDER BY ?id")
        return iter([str(r["id"]) for r in rows])

    def __len__(self) -> int:
        return len(self.search)


@dataclass
class KGState:
    data_dir: Path  # the folder of the generation loaded (a DataDir of it reads that build only)
    search: Search
    store: Store  # the generation's on-disk store, opened read-only (the pages' own SPARQL)
    graph: GraphIndex
    sparql: SparqlRunner
    plans: PlanTable
    measures: MeasureTable
    agencies: dict[str, dict]
    agency_by_name: dict[str, str]
    units: Table
    systems: Table
    laws: Table
    programmes: Table
    practice_types: dict[str, dict]
    framework: dict[str, dict]
    root: Path | None = None  # the data dir
    generation: str | None = None  # the id of the generation loaded (None: a data dir of the previous layout)
    cache: LRU = field(default_factory=lambda: LRU(512))
    _downloads: dict[str, bytes] = field(default_factory=dict)
    _download_lock: threading.Lock = field(default_factory=threading.Lock)

    # ----- look-ups used by several pages -----

    def plan_measures(self, plan_id: str) -> list[dict]:
        return self.plans[plan_id]["measures"]

    def original_plan(self, name: str) -> str | None:
        """The id of the plan whose original file has this name (as its record and the graph say), or None."""
        if not _plain_name(name):
            return None
        rows = self.store.select("SELECT ?plan WHERE { ?plan sp:originalFile ?name }", {"name": name})
        pids = [entities.local(r["plan"], "plan") for r in rows]
        return next((p for p in pids if p in self.plans and self.plans[p].get("original") == name), None)

    def original_path(self, name: str) -> Path | None:
        """The file in originals/ a plan record names, found by that name in the records (never built from a
        request's text); None when no plan has such an original or the file is missing."""
        pid = self.original_plan(name)
        if pid is None:
            return None
        folder = DataDir(self.data_dir).originals_dir
        path = folder / self.plans[pid]["original"]
        return path if path.parent == folder and path.is_file() else None

    def framework_count(self, notation: str) -> int:
        """Measures filed under a framework concept itself (webui.counts, once per state)."""
        return counts.counts(self).framework_items.get(notation, 0)

    def agency_id(self, name: str) -> str | None:
        return self.agency_by_name.get(name)

    def practice_types_of(self, measure_id: str) -> list[dict]:
        return self.search.practice_types(measure_id)

    def similar(self, measure_id: str, k: int = 5) -> list[dict]:
        return self.cache.get(("similar", measure_id, k), lambda: self.search.similar(measure_id, k=k))

    def download(self, name: str, produce: Callable[[], bytes]) -> bytes:
        """A generated download, made once: exporting the whole graph canonically takes about a second."""
        with self._download_lock:  # one export at a time: kg.export opens the on-disk store, which allows one opener
            if name not in self._downloads:
                self._downloads[name] = produce()
            return self._downloads[name]

    def export_bytes(self, fmt: str) -> bytes:
        from kg.export import export

        def produce() -> bytes:
            buf = io.StringIO()
            export(str(self.data_dir), fmt, buf)
            return buf.getvalue().encode("utf-8")

        return self.download(f"export.{fmt}", produce)


def year_key(year: int | None) -> tuple[bool, int]:
    """Sort key of a plan's year: plans without a year in their title come after all dated ones."""
    return (year is None, year or 0)


def _plain_name(name: object) -> bool:
    """A record's original names one file inside originals/: no folder part, nothing hidden."""
    return (
        isinstance(name, str)
        and bool(name)
        and name == Path(name).name
        and not name.startswith(".")
        and not any(c in name for c in "/\\\0")
    )


def get_state() -> KGState:
    """The state the current request answers from (taken once per request), else the app's current one."""
    if has_request_context():
        state = g.get(REQUEST_STATE)
        if state is not None:
            return state
    return current_app.extensions[EXTENSION]


def open_store(store_dir: Path) -> Store:
    """The generation's store, opened read-only where it is (never copied)."""
    if not store_dir.exists():
        raise PlanError(str(store_dir.parent), "no knowledge graph here yet: run 'kg build' first")
    try:
        return Store(store_dir)
    except StoreError as exc:
        raise PlanError(str(store_dir), str(exc).split(": ", 1)[-1]) from None


def _framework() -> dict[str, dict]:
    """The city template's concepts by notation, with their labels, hierarchy and cross-version mapping."""
    g = framework_graph()
    by_iri: dict[str, str] = {str(c): str(n) for c, n in g.subject_objects(SKOS.notation)}
    subjects = {str(c): c for c in g.subjects(SKOS.notation, None)}

    def label(c: URIRef, lang: str) -> str:
        return next((str(x) for x in g.objects(c, SKOS.prefLabel) if isinstance(x, Literal) and x.language == lang), "")

    out: dict[str, dict] = {}
    for iri, notation in by_iri.items():
        c = subjects[iri]
        broader = g.value(c, SKOS.broader)
        out[notation] = {
            "notation": notation,
            "iri": iri,
            "version": notation.split("-")[0],
            "label": label(c, "zh-Hant"),
            "label_en": label(c, "en"),
            "alt_labels": sorted(
                str(x) for x in g.objects(c, SKOS.altLabel) if isinstance(x, Literal) and x.language == "zh-Hant"
            ),
            "broader": by_iri.get(str(broader)) if broader else None,
            "narrower": sorted(
                (by_iri[str(x)] for x in g.objects(c, SKOS.narrower) if str(x) in by_iri), key=_notation_key
            ),
            "close_match": sorted(
                (by_iri[str(x)] for x in g.objects(c, SKOS.closeMatch) if str(x) in by_iri), key=_notation_key
            ),
            "related_match": sorted(
                (by_iri[str(x)] for x in g.objects(c, SKOS.relatedMatch) if str(x) in by_iri), key=_notation_key
            ),
        }
    return dict(sorted(out.items(), key=lambda kv: _notation_key(kv[0])))


def _notation_key(notation: str) -> tuple[int, ...]:
    return tuple(int(p) for p in notation.split("-") if p.isdigit())


def load_state(
    data_dir: str | Path | DataDir,
    sparql_timeout: float,
    sparql_max_rows: int,
    sparql_workers: int,
    search_config: SearchConfig | None = None,
) -> KGState:
    """The state of the data dir's current generation (or of the generation a pinned DataDir names)."""
    d = (data_dir if isinstance(data_dir, DataDir) else DataDir(data_dir)).pin()
    if not d.exists():
        raise PlanError(str(d.path), "no knowledge graph here yet: run 'kg build' first")
    folder = d.current()
    assert folder is not None  # d.exists()
    hold = hold_generation(folder)
    search = Search(d, search_config)
    store = open_store(d.store_dir)
    agencies = entities.agencies(store)
    practice_types = {
        t["id"]: {"id": t["id"], "label": t["label"], "alt_labels": t["alt_labels"], "source": t.get("source", "")}
        for t in search.practice_type_list
    }
    state = KGState(
        data_dir=folder,
        search=search,
        store=store,
        graph=GraphIndex(store, derived=lambda kind, key: counts.derived_of(state, kind, key)),
        sparql=SparqlRunner(None, timeout=sparql_timeout, max_rows=sparql_max_rows, workers=sparql_workers),
        plans=PlanTable(d.records_dir),
        measures=MeasureTable(search, store),
        agencies=agencies,
        agency_by_name={a["name"]: a["id"] for a in agencies.values()},
        units=Table(
            lambda k: entities.unit(store, k),
            lambda: entities.unit_rows(store),
            several=lambda ks: entities.units(store, ks),
        ),
        systems=Table(  # listed (after start) with the counts the build saved for this state
            lambda k: entities.system(store, k), lambda: entities.system_rows(store, counts.counts(state).systems)
        ),
        laws=Table(lambda k: _row(entities.law_rows(store), k), lambda: entities.law_rows(store)),
        programmes=Table(lambda k: _programme(store, k), lambda: entities.programme_rows(store)),
        practice_types=practice_types,
        framework=_framework(),
        root=d.path,
        generation=d.generation(),
    )
    if hold is not None:
        weakref.finalize(state, os.close, hold)  # let go of the generation once no request uses this state
    return state


def _row(rows: list[dict], key: str) -> dict | None:
    return next((r for r in rows if r["id"] == key), None)


def _programme(store: Store, key: str) -> dict | None:
    found = _row(entities.programme_rows(store), key)
    return dict(found, plan_ids=entities.programme_plans(store, key)) if found else None


class StateConfigError(ValueError):
    """A setting of the web app that cannot work: raised by create_app, one line naming the setting."""


@dataclass(frozen=True)
class StateSettings:
    """The web app's settings for loading state, read from its config once and checked when it is created."""

    data_dir: Path
    sparql_timeout: float
    sparql_max_rows: int
    sparql_workers: int
    search: SearchConfig
    reload_interval: float  # seconds between looks at DATA_DIR/CURRENT (0: before every request)

    @classmethod
    def from_config(cls, config: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> StateSettings:
        """From a Flask config: DATA_DIR, SPARQL_TIMEOUT, SPARQL_MAX_ROWS, SPARQL_WORKERS, RELOAD_INTERVAL, and
        ENCODER / ENCODER_THREADS (when not set: KG_ENCODER / INDEX_ENCODER_THREADS of the environment)."""
        if not config.get("DATA_DIR"):
            raise StateConfigError("create_app needs DATA_DIR: the data dir built by 'kg build'")
        try:
            search = SearchConfig.from_env(
                environ,
                encoder=_setting(config, "ENCODER", str, None),
                threads=_setting(config, "ENCODER_THREADS", int, 1),
            )
        except SearchConfigError as exc:
            raise StateConfigError(str(exc)) from None
        return cls(
            data_dir=Path(config["DATA_DIR"]),
            sparql_timeout=_setting(config, "SPARQL_TIMEOUT", float, 0.0, above=True),
            sparql_max_rows=_setting(config, "SPARQL_MAX_ROWS", int, 1),
            sparql_workers=_setting(config, "SPARQL_WORKERS", int, 1),
            search=search,
            reload_interval=_setting(config, "RELOAD_INTERVAL", float, 0.0, default=DEFAULT_RELOAD_INTERVAL),
        )

    def load(self, data_dir: DataDir | None = None) -> KGState:
        return load_state(
            data_dir or self.data_dir,
            sparql_timeout=self.sparql_timeout,
            sparql_max_rows=self.sparql_max_rows,
            sparql_workers=self.sparql_workers,
            search_config=self.search,
        )


def _setting(config: Mapping[str, Any], key: str, kind: type, least: float | None, above: bool = False, default=None):
    """config[key] as `kind` (None when not set and no default), at least `least` (or above it); else one line."""
    value = config.get(key, default)
    if value is None or least is None:
        return value
    what = "a positive number" if above else f"a {'whole ' if kind is int else ''}number of at least {least:g}"
    try:
        if isinstance(value, bool) or (kind is int and isinstance(value, float)):
            raise ValueError
        number = kind(value)
        if (kind is float and not math.isfinite(number)) or number < least or (above and number <= least):
            raise ValueError
    except (TypeError, ValueError):
        raise StateConfigError(f"{key} must be {what}, not {value!r}") from None
    return number


class LiveState:
    """The KGState of one app's data dir, following the builds published into it.

    current() is what a request calls (once): at most every `interval` seconds it reads DATA_DIR/CURRENT, and when
    another generation is current, loads its state and swaps it in. One thread loads at a time; requests arriving
    meanwhile answer from the state they find. A failed load is logged, the old state kept, and that generation not
    tried again (the next build's is).
    """

    def __init__(
        self,
        settings: StateSettings,
        logger: logging.Logger | None = None,
        on_swap: Callable[[KGState], None] | None = None,
    ) -> None:
        self.settings = settings
        self.root = DataDir(settings.data_dir)
        self.interval = settings.reload_interval
        self.log = logger or logging.getLogger(__name__)
        self._on_swap = on_swap
        self._lock = threading.Lock()
        self._state = settings.load(self.root)  # at start a failure is the app's startup error
        self._failed: str | None = None
        self._checked = time.monotonic()

    @property
    def state(self) -> KGState:
        return self._state

    def current(self, force: bool = False) -> KGState:
        """The state to answer from; force=True looks at CURRENT now (waiting for a load under way), as a request
        that has just published a build does, so that the page it leads to shows that build."""
        state = self._state
        if force:
            self._lock.acquire()
            state = self._state
        elif time.monotonic() - self._checked < self.interval or not self._lock.acquire(blocking=False):
            return state
        try:
            try:
                pinned = self.root.pin()
                generation = pinned.generation()
            except (PlanError, OSError) as exc:  # CURRENT unreadable for a moment: look again next time
                self.log.warning("cannot tell the current build of %s: %s", self.root.path, exc)
                return state
            if generation == state.generation or generation == self._failed or pinned.current() is None:
                return state
            try:
                new = self.settings.load(pinned)
            except Exception:
                self._failed = generation
                self.log.exception(
                    "could not load build %s of %s; still serving build %s",
                    generation,
                    self.root.path,
                    state.generation,
                )
                return state
            self._state = new
            self._failed = None
            if self._on_swap is not None:
                self._on_swap(new)
            self.log.info("now serving build %s of %s", new.generation, self.root.path)
            return new
        finally:
            self._checked = time.monotonic()
            self._lock.release()


def install_state(app: Flask) -> LiveState:
    """Check the app's settings, load the state of the data dir's current build and keep it current: a
    before_request hook gives every request its one state (get_state). StateConfigError for a bad setting."""
    settings = StateSettings.from_config(app.config)
    try:
        settings.search.load_encoder()  # a missing extra is told now, naming it, not on the first search
    except SearchConfigError as exc:
        raise StateConfigError(str(exc)) from None

    def swapped(state: KGState) -> None:
        app.extensions[EXTENSION] = state

    live = LiveState(settings, logger=app.logger, on_swap=swapped)
    app.extensions[EXTENSION] = live.state
    app.extensions[LIVE] = live

    @app.before_request
    def take_state() -> None:
        setattr(g, REQUEST_STATE, live.current())

    return live
