"""The graph's side of search: build the index beside the graph, write practice types into it, open it for queries.

The index of a build lives in the build's own generation (DATA_DIR/generations/<id>/index), built from the same
records as its graph, so what is published is always consistent. Vectors are reused by the content of what is
embedded (index.measures.content_key), never by line numbers or file names: a plan re-saved, renamed, or with its
text only moved encodes nothing again.

Configuration (encoder, threads, limits) is a SearchConfig, read once where a command or the web app starts
(SearchConfig.from_env) and passed down; nothing below reads the environment.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kg import recordfiles
from kg.errors import PlanError
from kg.records import export_record

if TYPE_CHECKING:
    from index import Encoder
    from kg.datadir import DataDir

INDEX_DIR = "index"
RECORDS_DIR = "records"  # a generation's plan records, one file per plan (kg.store)
PRACTICES_FILE = "practices.json"
SCHEME_FILE = "scheme.json"  # the practice types before the planner's corrections: what the next build extends
TYPES_FILE = "practice-types.json"  # the types without their members: what opening a search reads
BUILD_FILE = "last-build.json"  # what the build did about the index: measures, encoded, reused, how
CORRECTIONS_FILE = "practices.toml"  # a planner's corrections in the data dir (rename, merge, move)
ENCODER_ENV = "KG_ENCODER"  # which encoder (index.encoders.ENCODER_NAMES)
THREADS_ENV = "INDEX_ENCODER_THREADS"  # how many threads it encodes with (default: every CPU)
MAX_TOP_K = 1000  # the most results `kg search` and `kg similar` print for one query


class SearchConfigError(ValueError):
    """A search setting that cannot work (unknown encoder, missing extra, bad number): one line saying the fix."""


@dataclass(frozen=True)
class SearchConfig:
    """How search runs: which encoder, on how many threads.

    Validated when made: an unknown encoder name or a bad number raises SearchConfigError at once, before any
    data is read.
    """

    encoder: str = "e5+use"  # index.DEFAULT_ENCODER (not imported here: importing index loads numpy and faiss)
    threads: int | None = None  # None: every CPU

    def __post_init__(self) -> None:
        from index import UnknownEncoderError
        from index.encoders import check_encoder_name

        try:
            check_encoder_name(self.encoder)
        except UnknownEncoderError as exc:
            raise SearchConfigError(str(exc)) from None
        if self.threads is not None and (
            isinstance(self.threads, bool) or not isinstance(self.threads, int) or self.threads < 1
        ):
            raise SearchConfigError(f"encoder threads must be a positive whole number, not {self.threads!r}")

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, encoder: str | None = None, threads: int | None = None
    ) -> SearchConfig:
        """The configuration from KG_ENCODER and INDEX_ENCODER_THREADS (of os.environ unless given), what is not
        set the defaults; encoder and threads given here (e.g. by a web app's own config) take precedence."""
        env = os.environ if environ is None else environ
        if threads is None:
            raw = env.get(THREADS_ENV, "").strip()
            if raw:
                if not raw.isdigit() or int(raw) < 1:
                    raise SearchConfigError(f"{THREADS_ENV} must be a positive whole number, not {raw!r}")
                threads = int(raw)
        return cls(encoder=encoder or env.get(ENCODER_ENV, "").strip() or cls.encoder, threads=threads)

    def load_encoder(self) -> Encoder:
        """The encoder model (shared by every user of the same encoder and threads: it is immutable);
        SearchConfigError naming the pip extra when its packages are not installed."""
        from index import MissingExtraError
        from index.encoders import shared_encoder

        try:
            return shared_encoder(self.encoder, self.threads)
        except MissingExtraError as exc:
            raise SearchConfigError(f"encoder {self.encoder!r} cannot be loaded: {exc}") from None


def index_records(measures: list[dict]) -> list[dict]:
    """What the index sees of a measure: the export contract (plus the plan id the index groups updates by)."""
    return [export_record(m) for m in measures]


class _NoEncoder:
    """Stands for the model of a saved index when a build must not encode (--no-index): every vector is reused."""

    def __init__(self, model_id: str, dim: int) -> None:
        self.model_id, self.dim = model_id, dim

    def encode(self, texts: Sequence[str], kind: str = "passage"):
        raise AssertionError("a build with --no-index encodes nothing")  # IndexStep checks first; never reached


@dataclass
class IndexOutcome:
    """What one build did about the search index."""

    how: str  # "built" (encoding what was new), "kept" (--no-index, nothing to encode) or "none"
    measures: int
    encoded: int = 0
    missing: int = 0  # --no-index: measures that would have needed encoding
    previous: bool = True  # --no-index: the previous build had an index to take vectors from

    def summary(self) -> str:
        if self.how == "built":
            return f"search index: {self.encoded} of {self.measures} measures encoded, the rest reused"
        if self.how == "kept":
            return f"search index: kept up to date without encoding (--no-index): all {self.measures} measures reused"
        why = (
            f"{self.missing} of {self.measures} measures are new or changed"
            if self.previous
            else "the data dir had no search index to take vectors from"
        )
        return (
            f"search index: none in this build: {why}, and --no-index encodes nothing; "
            "'kg search' and 'kg serve' need this build run again without --no-index"
        )


class IndexStep:
    """What a build runs after the graph (kg.store.build's after_graph): the index of exactly these measures,
    written into the staged generation, reusing the previous generation's vectors by content.

    encode=False (kg build --no-index) never encodes: the index is kept, updated, when every measure's vector can
    be reused from the previous one (re-saved or moved plans, removed plans), and otherwise none is built and the
    outcome says so. The encoder is loaded by prepare() (or on first use), so a bad configuration fails before any
    file is read when the caller prepares.
    """

    def __init__(self, config: SearchConfig | None = None, encode: bool = True, encoder: Encoder | None = None):
        self.config = config or SearchConfig()
        self.encode = encode
        self._encoder = encoder
        self.outcome: IndexOutcome | None = None

    def prepare(self, background: bool = False) -> IndexStep:
        """Make the encoder now (a missing extra is told before any file is read). background=True loads its model
        in a child process meanwhile (index.background): for an update, which encodes only a few new texts after
        reading every record; close() stops it."""
        if self.encode and self._encoder is None:
            encoder = self.config.load_encoder()
            if background:
                from index.background import BackgroundEncoder

                encoder = BackgroundEncoder(self.config.encoder, self.config.threads, encoder)
            self._encoder = encoder
        return self

    def close(self) -> None:
        """Stop the child process a background encoder runs in (nothing otherwise)."""
        close = getattr(self._encoder, "close", None)
        if callable(close):
            close()

    def summary(self) -> str | None:
        return self.outcome.summary() if self.outcome is not None else None

    def __call__(self, work: Path, measures: list[dict], previous: Path | None = None) -> str | None:
        from index import SearchIndex
        from index.measures import DEFAULT_CONTEXT, content_key

        records = measures  # whole records: Search.record() answers from the index, not from the records folder
        old = _previous_index(previous)
        saved = _saved_vectors(previous) if old is None else old[1]
        if self.encode:
            encoder = self.prepare()._encoder
            assert encoder is not None
            reuse = saved.by_key if saved is not None and saved.usable_with(encoder) else None
        else:
            missing = (
                len(records)
                if saved is None
                else sum(1 for r in records if content_key(r, DEFAULT_CONTEXT) not in saved.by_key)
            )
            if saved is None or missing:
                self.outcome = IndexOutcome("none", len(records), missing=missing, previous=saved is not None)
                return None
            encoder, reuse = _NoEncoder(saved.model_id, saved.dim), saved.by_key
        prev_index = None
        if old is not None and old[0].encoder.model_id == encoder.model_id:
            prev_index = old[0]
            prev_index.encoder = encoder
        unchanged = _kept_measures(work, previous, records) if prev_index is not None else set()
        index = SearchIndex.build(records, encoder, reuse=reuse, previous=prev_index, unchanged=unchanged)
        scheme = _practice_scheme(index, prev_index, previous)
        raw = scheme
        corrections = work / CORRECTIONS_FILE
        if corrections.exists():
            from index.practices import apply_corrections

            try:
                scheme = apply_corrections(scheme, corrections)
            except (ValueError, KeyError) as exc:
                raise PlanError(str(corrections), f"cannot apply the practice-type corrections: {exc}") from None
        index.set_practice_membership(scheme.membership)
        out = work / INDEX_DIR
        index.save(out, extra={"generation": work.name})
        self.outcome = IndexOutcome("built" if self.encode else "kept", len(records), encoded=index.encoded)
        stats = {
            "measures": len(records),
            "encoded": index.encoded,
            "reused": len(records) - index.encoded,
            "rows_reused": index.reused_rows,
        }
        (out / BUILD_FILE).write_text(json.dumps(dict(stats, how=self.outcome.how)), "utf-8")
        plain = scheme.to_dict()
        # Compact: with an indent the json module encodes in Python (2 s for the membership of 100k measures); the
        # scheme before corrections is encoded again only when corrections changed it
        text = _compact(plain)
        (out / PRACTICES_FILE).write_text(text, "utf-8")
        (out / SCHEME_FILE).write_text(text if raw is scheme else _compact(raw.to_dict()), "utf-8")
        types = [
            {k: t[k] for k in ("id", "label", "alt_labels", "source")} | {"size": len(t["members"])}
            for t in plain["types"]
        ]
        (out / TYPES_FILE).write_text(json.dumps(types, ensure_ascii=False, sort_keys=True), "utf-8")
        return practice_graph(plain)


def _compact(doc: dict) -> str:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _previous_index(previous: Path | None):
    """The previous generation's index opened (memory-mapped) with its vectors by content, or None when there is
    none usable: the build then tokenises every measure (and encodes those it has no vector of)."""
    from index import SearchIndex, SearchIndexError
    from index.search import load_saved_vectors, read_manifest

    if previous is None or not (previous / INDEX_DIR / "manifest.json").is_file():
        return None
    path = previous / INDEX_DIR
    try:
        manifest = read_manifest(path)
        index = SearchIndex.load(path, _NoEncoder(manifest["model_id"], int(manifest["dim"])))
        return index, load_saved_vectors(path)
    except (SearchIndexError, OSError, ValueError, KeyError):
        return None


def _kept_measures(work: Path, previous: Path | None, measures: list[dict]) -> set[str]:
    """Ids of the measures of plans whose record the build kept from the previous generation (its record file
    hard-linked: the very same file), when the previous generation's index was built from its records: that index
    holds them exactly, so their rows are taken without reading them again (SearchIndex.build's `unchanged`)."""
    from index.search import read_manifest

    if previous is None or read_manifest(previous / INDEX_DIR).get("generation") != previous.name:
        return set()
    plans = set()
    for pid, path in recordfiles.files(work / RECORDS_DIR).items():
        with suppress(OSError):
            if os.path.samefile(path, previous / RECORDS_DIR / path.name):
                plans.add(pid)
    return {m["id"] for m in measures if m.get("plan_id") in plans}


def _saved_vectors(previous: Path | None):
    """The previous generation's vectors by content (None: no usable index there, so everything is encoded)."""
    from index import SearchIndexError
    from index.search import load_saved_vectors

    if previous is None or not (previous / INDEX_DIR / "manifest.json").is_file():
        return None
    try:
        return load_saved_vectors(previous / INDEX_DIR)
    except SearchIndexError:
        return None  # unreadable or of another format: rebuilt from scratch


def _practice_scheme(index, previous_index, previous: Path | None):
    """The practice types of the new index: clustered from scratch, or, when the previous build's scheme is at hand,
    that scheme kept for every measure it had and extended to the new ones (index.practices.extend_scheme)."""
    from index.practices import PracticeScheme, extend_scheme

    raw = None
    if previous_index is not None and previous is not None:
        try:
            raw = PracticeScheme.from_dict(json.loads((previous / INDEX_DIR / SCHEME_FILE).read_text("utf-8")))
        except (OSError, ValueError, KeyError, TypeError):
            raw = None
    if raw is None:
        return index.practice_scheme()
    return extend_scheme(raw, index, previous_index)


def build_index_into(work: Path, measures: list[dict], previous: Path | None = None) -> str | None:
    """Build the search index of these measures into work/index with the default configuration (what tests and
    callers without a configuration of their own pass as kg.store.build's after_graph); return the practice graph."""
    return IndexStep()(work, measures, previous)


def practice_graph(scheme: dict) -> str:
    """Practice types as a SKOS concept scheme, each measure sp:practiceType its types, as sorted N-Triples
    (kg.graph.practice_ntriples: 100k measures' memberships are written as text, not through an rdflib Graph)."""
    from kg.graph import practice_ntriples

    return practice_ntriples(scheme)


class Search:
    """An opened search index with its practice types, for the CLI and the web UI.

    It reads one generation of the data dir (the current one when opened, or the one a pinned DataDir names), so
    its index and its measures always belong to the same build: the index's manifest names the generation it was
    built into. Opening maps the index's arrays and reads no record; `measures`, `by_id` and `practices` (every
    record, the full scheme) are read on first use, for small data dirs. Nothing is cached across instances except
    the encoder model (SearchConfig.load_encoder).
    """

    def __init__(self, data_dir: str | Path | DataDir, config: SearchConfig | None = None) -> None:
        from index import IndexMismatchError, SearchIndex, SearchIndexError
        from index.search import read_manifest
        from kg.datadir import DataDir

        d = (data_dir if isinstance(data_dir, DataDir) else DataDir(data_dir)).pin()
        if not d.exists():
            raise PlanError(str(d.path), "no knowledge graph here yet: run 'kg build' first")
        self.config = config or SearchConfig()
        self.data_dir = d
        self.generation = d.generation()
        path = d.index_dir
        if not (path / "manifest.json").is_file():
            raise PlanError(
                str(d.path),
                "this build has no search index (it was made with --no-index, or without one): " + _rebuild_hint(d),
            )
        encoder = self.config.load_encoder()
        try:
            # A data dir of the previous layout has no generation to compare: its corpus is compared instead.
            given = None if self.generation is not None else d.measures()
            self.index = SearchIndex.load(path, encoder, measures=given)
            if self.generation is not None and read_manifest(path).get("generation") != self.generation:
                raise IndexMismatchError(
                    "generation", read_manifest(path).get("generation"), self.generation, str(path)
                )
            self._types = json.loads((path / TYPES_FILE).read_text("utf-8"))
        except IndexMismatchError as exc:
            if exc.what in ("model", "dimension"):
                raise PlanError(
                    str(d.path),
                    f"the search index was built with the encoder model {exc.saved!r}, but this runs with "
                    f"{self.config.encoder!r} ({ENCODER_ENV}): run with {ENCODER_ENV}={exc.saved} to use it, or, to "
                    f"use {self.config.encoder!r}, " + _rebuild_hint(d),
                ) from None
            raise PlanError(str(d.path), "the search index does not match the graph: " + _rebuild_hint(d)) from None
        except (SearchIndexError, OSError, ValueError) as exc:
            raise PlanError(str(d.path), f"the search index cannot be read ({exc}): " + _rebuild_hint(d)) from None
        self.type_labels = {t["id"]: t["label"] for t in self._types}
        self._measures: list[dict] | None = None
        self._by_id: dict[str, dict] | None = None
        self._practices: dict | None = None

    @property
    def measures(self) -> list[dict]:
        """Every measure record (read on first use: at scale, ask record() or records() for the few you show)."""
        if self._measures is None:
            self._measures = self.data_dir.measures()
        return self._measures

    @property
    def by_id(self) -> dict[str, dict]:
        if self._by_id is None:
            self._by_id = {m["id"]: m for m in self.measures}
        return self._by_id

    @property
    def practices(self) -> dict:
        """The whole practice scheme: types with their members, and every measure's types (read on first use)."""
        if self._practices is None:
            self._practices = json.loads((self.data_dir.index_dir / PRACTICES_FILE).read_text("utf-8"))
        return self._practices

    @property
    def practice_type_list(self) -> list[dict]:
        """The practice types (id, label, alt_labels, source, size) without their members."""
        return self._types

    def __len__(self) -> int:
        return len(self.index)

    def record(self, measure_id: str) -> dict | None:
        """The full record of one measure, or None for an id the index does not hold."""
        row = self.index.row_of(measure_id)
        return None if row is None else self.index.record(row)

    def records(self, measure_ids: Iterable[str]) -> list[dict]:
        """The records of these measures, in the order given (unknown ids left out)."""
        return [m for m in map(self.record, measure_ids) if m is not None]

    def practice_types(self, measure_id: str) -> list[dict]:
        row = self.index.row_of(measure_id)
        types = [] if row is None else self.index.practice_types_of(row)
        return [{"id": t, "name": self.type_labels.get(t, t)} for t in types]

    def result(self, hit: dict) -> dict:
        """A search hit in the shape of the export contract, plus score and practice types."""
        out = export_record(hit)
        out["score"] = round(float(hit["score"]), 4)
        out["practice_types"] = self.practice_types(hit["id"])
        return out

    def search(self, query: str, k: int = 10, mode: str = "hybrid", **filters) -> list[dict]:
        return self.query(query, limit=k, mode=mode, **filters)["results"]

    def query(
        self,
        query: str,
        limit: int = 10,
        offset: int = 0,
        mode: str = "hybrid",
        expand: bool = True,
        facets: bool = False,
        **filters,
    ) -> dict:
        """One page of a query's matches with the whole set's total and facet counts (index.SearchIndex.query),
        as plain data for `kg search --json` and the web API:

        query, mode, expand, total, offset, limit, results (export records with score and practice types),
        required / excluded (the literal "phrases" and -words), expansions (vocabulary terms also searched),
        highlight (what results mark), calibrated (scores are probabilities of relevance), floor, facets
        (field → value → matches, each field counted with the other fields' filters only).
        """
        filters = {key: v for key, v in filters.items() if v not in (None, [], "")}
        r = self.index.query(query, limit=limit, offset=offset, mode=mode, expand=expand, facets=facets, **filters)
        return {
            "query": query,
            "mode": mode,
            "expand": expand,
            "total": r.total,
            "offset": r.offset,
            "limit": r.limit,
            "results": [self.result(h) for h in r.hits],
            "required": list(r.query.required),
            "excluded": list(r.query.excluded),
            "expansions": r.expansions,
            "highlight": r.highlight,
            "calibrated": r.calibrated,
            "floor": r.floor,
            "facets": r.facets,
        }

    def similar(self, measure_id: str, k: int = 5) -> list[dict]:
        if self.index.row_of(measure_id) is None:
            raise PlanError(measure_id, "no measure with this id (ids are listed by 'kg export --format jsonl')")
        return [self.result(h) for h in self.index.similar(measure_id, k=k)]

    def coverage(self) -> dict:
        """Practice types with sizes, and the agency × practice-type matrix: a measure counts for every practice type
        it has (the web UI's webui.counts counts the same way)."""
        agencies = sorted({m["agency"] for m in self.measures})
        counts: dict[str, dict[str, int]] = {}
        for m in self.measures:
            for t in self.practices["membership"].get(m["id"]) or []:
                counts.setdefault(t, {}).setdefault(m["agency"], 0)
                counts[t][m["agency"]] += 1
        types = []
        for t in self.practices["types"]:
            row = counts.get(t["id"], {})
            types.append(
                {
                    "id": t["id"],
                    "label": t["label"],
                    "alt_labels": t["alt_labels"],
                    "size": len(t["members"]),
                    "agencies": {a: row.get(a, 0) for a in agencies},
                }
            )
        types.sort(key=lambda t: (-t["size"], t["label"]))
        return {"agencies": agencies, "types": [t for t in types if t["size"]]}


def open_search(data_dir: str | Path, config: SearchConfig | None = None) -> Search:
    """The search of a data dir's current generation (a new one each call: callers keep it as long as they need)."""
    return Search(data_dir, config)


def _rebuild_hint(d: DataDir) -> str:
    """What to run to rebuild the index of a data dir, and that it fixes it: a build re-ingesting any one plan
    already in it (the graph stays the same) indexes every measure again, encoding only what it has no vector of."""
    try:
        measures = d.measures()
    except (OSError, ValueError):
        measures = []
    files = sorted({m["source"]["file"] for m in measures if m.get("source", {}).get("file")})
    example = files[0] if files else "PLAN_FILE"
    return (
        f"run 'kg build --data-dir {d.path} {example}' (or any plan file already built into it, without "
        "--no-index): that rebuilds the search index of every plan, and the graph stays the same"
    )
