"""SearchIndex: hybrid (BM25 + dense) search over measures, with filters, similar measures and updates."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from index.backends import VectorIndex, load_vector_index, make_vector_index
from index.encoders import Encoder, l2_normalise
from index.errors import IndexFormatError, IndexMismatchError, UnknownMeasureError
from index.fusion import FusionParams, fuse
from index.lexical import BM25
from index.literal import LiteralIndex
from index.measures import (
    CONTEXT_FIELDS,
    DEFAULT_CONTEXT,
    Measure,
    content_key,
    corpus_hash,
    lexical_text,
    literal_text,
    passage_text,
    read_jsonl,
    write_jsonl,
)
from index.query import ParsedQuery, parse_query
from index.relevance import FEATURES, calibration_for
from index.textnorm import query_units, tokens
from index.vocab import Vocabulary, load_vocabulary

Mode = Literal["hybrid", "lexical", "dense", "literal"]
MODES = ("hybrid", "lexical", "dense", "literal")
UNKNOWN = "none"  # the facet value of a measure whose plan states no year
FORMAT_VERSION = 1
FILTER_FIELDS = ("agency", "year", "framework_item", "unit", "system", "practice_type")


@dataclass(frozen=True)
class QueryParams:
    """Query-side knobs (bench/eval_search.py measures them)."""

    expansion_weight: float = 0.25  # BM25 weight of vocabulary terms the user did not type
    expansion_blend: float = 0.3  # share of the matched practice labels' embedding in the query vector
    # similar(): share of the score given to overlap of vocabulary practice types (by wording),
    # so that "similar" means "the same practice", not just "similar sentences".
    similar_practice_weight: float = 0.3
    highlight_max_share: float = 0.2  # a character pair in more than this share of measures is not marked


@dataclass
class SearchResult:
    """One page of a query's matches, with everything a planner is told about the whole set.

    total counts every match (above the relevance floor, with every filter, phrase and exclusion); facets count
    the values of each filter field over the matches with the *other* fields' filters, so a second agency can be
    added as easily as one chosen. Scores are calibrated probabilities of relevance when `calibrated`.
    """

    query: ParsedQuery
    mode: str
    hits: list[dict]
    total: int
    offset: int
    limit: int
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    expansions: list[str] = field(default_factory=list)  # vocabulary terms searched besides the typed words
    highlight: list[str] = field(default_factory=list)  # what to mark in results: typed words, pairs, synonyms
    calibrated: bool = True
    floor: float | None = None  # the probability a measure needed to count as a match (None: literal matches)


@dataclass(frozen=True)
class UpdateStats:
    plan: str
    removed: int
    added: int
    encoded: int


class SearchIndex:
    """Measures in row order, their unit vectors, a vector index over them and a BM25 index."""

    def __init__(
        self,
        encoder: Encoder,
        backend: str = "faiss",
        vocabulary: Vocabulary | None = None,
        fusion: FusionParams | None = None,
        query: QueryParams | None = None,
        context: Sequence[str] = DEFAULT_CONTEXT,
    ) -> None:
        unknown = set(context) - set(CONTEXT_FIELDS)
        if unknown:
            raise ValueError(f"unknown context field(s) {sorted(unknown)}; known: {', '.join(CONTEXT_FIELDS)}")
        self.context = tuple(context)
        self.encoder = encoder
        self.backend = backend
        self.vocabulary = vocabulary or load_vocabulary()
        self.fusion = fusion or FusionParams()
        self.query_params = query or QueryParams()
        self._measures: list[dict] = []
        self._vectors = np.zeros((0, encoder.dim), dtype=np.float32)
        self._label_vectors: dict[str, np.ndarray] = {}
        self._practices = None
        self._practice_membership: Mapping[str, Sequence[str]] | None = None
        self.encoded = 0  # passages encoded when this index was built (the rest reused or loaded)
        self._reindex()

    # ----- building -----

    @classmethod
    def build(
        cls,
        measures: Iterable[Measure],
        encoder: Encoder,
        backend: str = "faiss",
        reuse: Mapping[str, np.ndarray] | None = None,
        **kwargs: Any,
    ) -> SearchIndex:
        """Embed every measure with its context and index it lexically and densely.

        reuse: vectors by content key (content_key, e.g. SavedVectors.by_key of an index saved with the same
        encoder); a measure whose embedded text has one is not encoded again. `encoded` tells how many were.
        """
        index = cls(encoder, backend=backend, **kwargs)
        ms = [dict(m) for m in measures]
        _check_ids(ms)
        reuse = reuse or {}
        keys = [content_key(m, index.context) for m in ms]
        todo = [j for j, key in enumerate(keys) if key not in reuse]
        vectors = np.zeros((len(ms), encoder.dim), dtype=np.float32)
        if todo:
            vectors[todo] = _encode_passages(encoder, [ms[j] for j in todo], index.context)
        for j, key in enumerate(keys):
            if key in reuse:
                vectors[j] = reuse[key]
        index._set(ms, vectors)
        index.encoded = len(todo)
        return index

    @classmethod
    def from_vectors(
        cls, measures: Iterable[Measure], vectors: np.ndarray, encoder: Encoder, backend: str = "faiss", **kwargs: Any
    ) -> SearchIndex:
        """An index of measures whose passage vectors were computed elsewhere (same encoder, row order)."""
        index = cls(encoder, backend=backend, **kwargs)
        ms = [dict(m) for m in measures]
        _check_ids(ms)
        v = np.asarray(vectors, dtype=np.float32)
        if v.shape != (len(ms), encoder.dim):
            raise ValueError(f"expected vectors of shape ({len(ms)}, {encoder.dim}), got {v.shape}")
        index._set(ms, l2_normalise(v))
        return index

    def _set(self, measures: list[dict], vectors: np.ndarray) -> None:
        self._measures = measures
        self._vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self._reindex()

    def _reindex(self, ann: VectorIndex | None = None) -> None:
        self._rows = {m["id"]: i for i, m in enumerate(self._measures)}
        self._agencies = np.array([m.get("agency") or "" for m in self._measures], dtype=object)
        if ann is None:
            ann = make_vector_index(self.backend, self.encoder.dim)
            if self._measures:
                ann.add([m["id"] for m in self._measures], self._vectors)
        self._ann = ann
        self._bm25 = BM25().fit(lexical_text(m) for m in self._measures)
        self._literal = LiteralIndex(literal_text(m) for m in self._measures)
        self._practices = None
        self._profiles: np.ndarray | None = None
        self._facets = _facets(self._measures)
        self._count_facets = _facets(self._measures, by_name=False)

    def __len__(self) -> int:
        return len(self._measures)

    @property
    def measures(self) -> list[dict]:
        return self._measures

    @property
    def vectors(self) -> np.ndarray:
        return self._vectors

    def get(self, measure_id: str) -> dict:
        return self._measures[self._row(measure_id)]

    def _row(self, measure_id: str) -> int:
        try:
            return self._rows[measure_id]
        except KeyError:
            raise UnknownMeasureError(measure_id) from None

    # ----- practice types -----

    def set_practice_membership(self, membership: Mapping[str, Sequence[str]] | None) -> None:
        """Use these practice types per measure id for the practice_type filter (None: computed)."""
        self._practice_membership = membership
        self._facets.pop("practice_type", None)

    def practice_scheme(self):
        """Practice types clustered from this corpus (see index.practices), computed once."""
        if self._practices is None:
            from index.practices import build_scheme

            self._practices = build_scheme(self._measures, self._vectors, self.vocabulary)
        return self._practices

    def _practice_facet(self) -> dict[str, np.ndarray]:
        if "practice_type" not in self._facets:
            membership = self._practice_membership or self.practice_scheme().membership
            rows: dict[str, list[int]] = {}
            for mid, types in membership.items():
                if mid in self._rows:
                    for t in types:
                        rows.setdefault(t, []).append(self._rows[mid])
            self._facets["practice_type"] = {t: np.asarray(r, dtype=np.int64) for t, r in rows.items()}
        return self._facets["practice_type"]

    # ----- filters -----

    def filter_mask(self, **filters: Any) -> np.ndarray | None:
        """Rows that pass every given filter (values of one filter are alternatives); None = all.

        agency, framework_item: exact strings; year: int, or UNKNOWN for plans stating none; unit, system: id or
        name; practice_type: practice type id or label.
        """
        masks = self._filter_masks(filters)
        if not masks:
            return None
        out = np.ones(len(self), dtype=bool)
        for m in masks.values():
            out &= m
        return out

    def _filter_masks(self, filters: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Per filter field given, the rows having one of its values."""
        unknown = set(filters) - set(FILTER_FIELDS)
        if unknown:
            raise ValueError(f"unknown filter(s) {sorted(unknown)}; known: {', '.join(FILTER_FIELDS)}")
        masks: dict[str, np.ndarray] = {}
        for name, value in filters.items():
            if value is None or value == [] or value == ():
                continue
            values = value if isinstance(value, (list, tuple, set, frozenset)) else [value]
            facet = self._practice_facet() if name == "practice_type" else self._facets[name]
            if name == "practice_type":
                values = [self._practice_id(v) for v in values]
            m = np.zeros(len(self), dtype=bool)
            for v in values:
                rows = facet.get(_facet_key(v))
                if rows is not None:
                    m[rows] = True
            masks[name] = m
        return masks

    def _facet_counts(self, match: np.ndarray, masks: Mapping[str, np.ndarray]) -> dict[str, dict[str, int]]:
        """Per filter field, value → matches having it, counted with the other fields' filters only."""
        out: dict[str, dict[str, int]] = {}
        for name in FILTER_FIELDS:
            sel = match.copy()
            for other, m in masks.items():
                if other != name:
                    sel &= m
            facet = self._practice_facet() if name == "practice_type" else self._count_facets[name]
            counts = {v: int(sel[rows].sum()) for v, rows in facet.items()}
            out[name] = {v: n for v, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if n}
        return out

    def _practice_id(self, value: str) -> str:
        # Planners may filter by a type's label as well as by its id.
        if self._practice_membership is None:
            for t in self.practice_scheme().types:
                if value == t.label:
                    return t.id
        return value

    # ----- search -----

    def search(self, query: str, k: int = 10, mode: Mode = "hybrid", expand: bool = True, **filters: Any) -> list[dict]:
        """The k best matches of a query, as record dicts with score, dense_score, lexical_score (see query())."""
        return self.query(query, limit=k, mode=mode, expand=expand, **filters).hits

    def query(
        self,
        query: str,
        limit: int = 10,
        offset: int = 0,
        mode: Mode = "hybrid",
        expand: bool = True,
        facets: bool = False,
        **filters: Any,
    ) -> SearchResult:
        """Every match of a query (index.query syntax), ranked; one page of them, the total and the facets.

        A measure matches when its calibrated relevance reaches the floor of the mode (index.relevance), or, when
        the query has "phrases" or +words, when it contains them all; it never matches when it contains an
        excluded -word. mode "literal" requires every typed word literally and expands nothing.
        """
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; use {', '.join(MODES)}")
        if limit < 0 or offset < 0:
            raise ValueError("limit and offset must not be negative")
        parsed = parse_query(query)
        if mode == "literal":
            parsed = replace(parsed, required=tuple(dict.fromkeys(parsed.required + parsed.typed)))
            expand = False
        masks = self._filter_masks(filters)
        empty = SearchResult(parsed, mode, [], 0, offset, limit)
        if not len(self) or not parsed.positive:
            return empty
        feats, dense, lex, expansions = self._evidence(parsed, mode, expand)
        cal = calibration_for(self.encoder.model_id, "lexical" if mode == "literal" else mode)
        if cal is not None:
            score = cal.probability(feats)
        else:  # an encoder nobody calibrated: rank as before calibration, and say the scores are not calibrated
            score = _uncalibrated(mode, dense, lex, self.fusion)
        literal = self._literal_mask(parsed)
        if parsed.required:
            match = literal.copy()
            floor = None
        elif cal is None:
            floor = None
            match = literal & (score > 0)
        else:
            # Answered at all only if some measure reaches the floor (whatever the filters), then down to keep.
            floor = cal.keep_level
            match = literal & (score >= floor) if float(score.max()) >= cal.floor else np.zeros(len(self), bool)
        selected = match.copy()
        for m in masks.values():
            selected &= m
        rows = np.flatnonzero(selected)
        order = rows[np.lexsort((rows, -lex[rows] if lex is not None else rows, -score[rows]))]
        page = order[offset : offset + limit]
        hits = [
            self._hit(int(r), float(score[r]), None if dense is None else dense[r], None if lex is None else lex[r])
            for r in page
        ]
        return SearchResult(
            parsed,
            mode,
            hits,
            total=len(rows),
            offset=offset,
            limit=limit,
            facets=self._facet_counts(match, masks) if facets else {},
            expansions=expansions,
            highlight=self._highlight_terms(parsed, expansions),
            calibrated=cal is not None,
            floor=floor,
        )

    def relevance_features(self, query: str, mode: Mode = "hybrid", expand: bool = True) -> dict[str, np.ndarray]:
        """The relevance features (index.relevance) of every row for a query: what bench.calibrate fits on."""
        return self._evidence(parse_query(query), mode, expand)[0]

    def _evidence(self, parsed: ParsedQuery, mode: str, expand: bool):
        """Features of every row, raw cosines and BM25 scores, and the vocabulary terms searched besides the typed
        words. Words inside "quotes" are meant literally and expand to nothing; excluded words are never added."""
        literal = set(parsed.required)
        loose = " ".join(t for t in parsed.typed if t not in literal)
        matched = self.vocabulary.matches(loose) if expand and loose else {}
        skip = set(parsed.typed) | set(parsed.excluded)
        expansions = list(dict.fromkeys(t for pid in matched for t in self.vocabulary.get(pid).terms if t not in skip))
        feats, dense, lex = self._features(parsed, mode, matched, expansions)
        return feats, dense, lex, expansions

    def _features(self, parsed: ParsedQuery, mode: str, matched: Mapping[str, list[str]], expansions: list[str]):
        free = self.vocabulary.strip_frames(parsed.free)
        names = set(FEATURES["lexical" if mode == "literal" else mode])
        feats: dict[str, np.ndarray] = {}
        dense = lex = None
        if names & {"cosine", "gap"}:
            q = self.encoder.encode([free], kind="query")[0]
            q = self._query_vector(q, matched)
            dense = self._vectors @ q
            feats["cosine"] = dense
            feats["gap"] = dense - float(dense.max())
        if names & {"coverage", "bm25n", "expansion"}:
            units = query_units(free)
            feats["coverage"] = self._bm25.coverage(units)
            parts: list[tuple[str, float]] = [(free, 1.0)]
            w = self.query_params.expansion_weight
            if w > 0:
                parts.extend((t, w) for t in expansions)
            lex = self._bm25.scores(parts)
            self_score = sum(self._bm25.idf(t) for t in set(tokens(free))) or 1.0
            feats["bm25n"] = lex / self_score
            exp = np.zeros(len(self), dtype=np.float32)
            for t in expansions:
                exp[self._literal.contains(t)] = 1.0
            feats["expansion"] = exp
        return feats, dense, lex

    def _literal_mask(self, parsed: ParsedQuery) -> np.ndarray:
        mask = np.ones(len(self), dtype=bool)
        for phrase in parsed.required:
            mask &= self._literal.contains(phrase)
        for phrase in parsed.excluded:
            mask &= ~self._literal.contains(phrase)
        return mask

    def _highlight_terms(self, parsed: ParsedQuery, expansions: list[str]) -> list[str]:
        """What a result marks: the words typed and the synonyms searched, whole; and of longer Chinese words,
        the character pairs that are not everywhere (服務 in half of all measures marks nothing)."""
        terms = list(parsed.typed) + list(parsed.required) + expansions
        n = max(len(self), 1)
        for word in parsed.typed:
            units = query_units(word)
            if len(units) > 1:
                terms.extend(
                    u
                    for u in units
                    if len(u) == 2 and self._literal.document_frequency(u) / n <= self.query_params.highlight_max_share
                )
        return sorted(dict.fromkeys(t for t in terms if t.strip()), key=lambda t: (-len(t), t))

    def _query_vector(self, q: np.ndarray, matched: Mapping[str, list[str]]) -> np.ndarray:
        beta = self.query_params.expansion_blend
        if beta > 0 and matched:
            labels = np.stack([self._label_vector(pid) for pid in matched])
            q = l2_normalise(((1 - beta) * q + beta * labels.mean(axis=0))[None, :])[0]
        return q

    def _label_text(self, practice_id: str) -> str:
        # The label with its first synonyms says what the practice is in the plans' own words.
        p = self.vocabulary.get(practice_id)
        return p.label + "：" + "、".join(p.synonyms[:8])

    def _label_vector(self, practice_id: str) -> np.ndarray:
        if practice_id not in self._label_vectors:
            self._label_vectors[practice_id] = self.encoder.encode([self._label_text(practice_id)], kind="passage")[0]
        return self._label_vectors[practice_id]

    def _hit(self, row: int, score: float, dense: float | None, lex: float | None) -> dict:
        out = dict(self._measures[row])
        out["score"] = score
        out["dense_score"] = None if dense is None else float(dense)
        out["lexical_score"] = None if lex is None else float(lex)
        return out

    # ----- similar measures -----

    def similar(self, measure_id: str, k: int = 5, mode: Mode = "hybrid") -> list[dict]:
        """The k measures of OTHER agencies most like this one, best first, with scores."""
        row = self._row(measure_id)
        mask = self._agencies != self._agencies[row]
        if not mask.any():
            return []
        q = self._vectors[row]
        depth = max(self.fusion.depth, k)
        cands = {self._rows[mid] for mid, _ in self._ann.search(q, depth if mode != "dense" else k, mask)[0]}
        lex_all = None
        if mode != "dense":
            lex_all = self._bm25.scores(lexical_text(self._measures[row]))
            lex_all[~mask] = 0.0
            cands.update(_top_rows(lex_all, depth).tolist())
        rows = np.asarray(sorted(cands), dtype=np.int64)
        dense = self._vectors[rows] @ q
        lex = lex_all[rows] if lex_all is not None else None
        score = fuse(lex, dense, self.fusion) if lex is not None else dense
        g = self.query_params.similar_practice_weight
        if mode == "hybrid" and g > 0:
            profiles = self._type_profiles()
            score = (1 - g) * score + g * (profiles[rows] @ profiles[row])
        order = np.argsort(-score, kind="stable")[:k]
        return [self._hit(int(rows[i]), float(score[i]), dense[i], None if lex is None else lex[i]) for i in order]

    def _type_profiles(self) -> np.ndarray:
        """Per row, the unit vector of its vocabulary practice-type scores (zero if it names none)."""
        if self._profiles is None:
            from index.practices import keyword_types

            ids = {p.id: j for j, p in enumerate(self.vocabulary.practices)}
            prof = np.zeros((len(self), max(len(ids), 1)), dtype=np.float32)
            for mid, scored in keyword_types(self._measures, self.vocabulary).items():
                for pid, sc in scored:
                    prof[self._rows[mid], ids[pid]] = sc
            norms = np.linalg.norm(prof, axis=1, keepdims=True)
            self._profiles = prof / np.maximum(norms, 1e-12)
        return self._profiles

    # ----- lifecycle -----

    def update(self, plan_records: Sequence[Measure], plan: str | None = None) -> UpdateStats:
        """Replace all measures of one plan by these records, encoding only those whose text changed."""
        new = [dict(m) for m in plan_records]
        plans = {m.get("plan") for m in new} | ({plan} if plan else set())
        if len(plans) != 1 or None in plans:
            raise ValueError(f"update takes the records of exactly one plan, got plans {sorted(map(str, plans))}")
        (plan_id,) = plans
        keep = [i for i, m in enumerate(self._measures) if m.get("plan") != plan_id]
        kept_ids = {self._measures[i]["id"] for i in keep}
        clash = [m["id"] for m in new if m["id"] in kept_ids]
        if clash:
            raise ValueError(f"measure ids of plan {plan_id} already belong to other plans: {clash[:5]}")
        _check_ids(new)
        keep_set = set(keep)
        old = {
            content_key(self._measures[i], self.context): self._vectors[i]
            for i in range(len(self))
            if i not in keep_set
        }
        todo = [j for j, m in enumerate(new) if content_key(m, self.context) not in old]
        todo_set = set(todo)
        vecs = np.zeros((len(new), self.encoder.dim), dtype=np.float32)
        if todo:
            vecs[todo] = _encode_passages(self.encoder, [new[j] for j in todo], self.context)
        for j, m in enumerate(new):
            if j not in todo_set:
                vecs[j] = old[content_key(m, self.context)]
        removed = len(self) - len(keep)
        self._set([self._measures[i] for i in keep] + new, np.concatenate([self._vectors[keep], vecs]))
        return UpdateStats(plan_id, removed, len(new), len(todo))

    def save(self, directory: str | Path) -> None:
        """Write manifest, measures, vectors and the vector index into a directory."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        write_jsonl(d / "measures.jsonl", self._measures)
        np.save(d / "vectors.npy", self._vectors)
        self._ann.save(d / "ann")
        manifest = {
            "format": FORMAT_VERSION,
            "model_id": self.encoder.model_id,
            "dim": self.encoder.dim,
            "corpus_hash": corpus_hash(self._measures),
            "backend": self.backend,
            "context": list(self.context),
            "count": len(self),
            "fusion": asdict(self.fusion),
            "query": asdict(self.query_params),
        }
        (d / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")

    @classmethod
    def load(
        cls,
        directory: str | Path,
        encoder: Encoder,
        measures: Iterable[Measure] | None = None,
        vocabulary: Vocabulary | None = None,
    ) -> SearchIndex:
        """Read a saved index; raises IndexMismatchError if the encoder or the given corpus differ."""
        d = Path(directory)
        manifest = read_manifest(d)
        if manifest["model_id"] != encoder.model_id:
            raise IndexMismatchError("model", manifest["model_id"], encoder.model_id, str(d))
        if manifest["dim"] != encoder.dim:
            raise IndexMismatchError("dimension", manifest["dim"], encoder.dim, str(d))
        if measures is not None:
            given = corpus_hash(measures)
            if given != manifest["corpus_hash"]:
                raise IndexMismatchError("corpus hash", manifest["corpus_hash"], given, str(d))
        stored = read_jsonl(d / "measures.jsonl")
        if corpus_hash(stored) != manifest["corpus_hash"]:
            raise IndexFormatError(f"{d}: measures.jsonl does not match the manifest's corpus hash")
        index = cls(
            encoder,
            backend=manifest["backend"],
            vocabulary=vocabulary,
            fusion=_known(FusionParams, manifest.get("fusion", {})),
            query=_known(QueryParams, manifest.get("query", {})),
            context=tuple(manifest.get("context", DEFAULT_CONTEXT)),
        )
        index._measures = stored
        index._vectors = np.load(d / "vectors.npy")
        ann = load_vector_index(d / "ann")
        if ann.ids != [m["id"] for m in stored] or len(index._vectors) != len(stored):
            raise IndexFormatError(f"{d}: vector rows do not line up with measures.jsonl")
        index._reindex(ann)
        return index


@dataclass(frozen=True)
class SavedVectors:
    """The passage vectors of a saved index by content key, with the model they were made with."""

    model_id: str
    dim: int
    by_key: dict[str, np.ndarray]

    def usable_with(self, encoder: Encoder) -> bool:
        return self.model_id == encoder.model_id and self.dim == encoder.dim


def read_manifest(directory: str | Path) -> dict:
    """The manifest of a saved index; IndexFormatError if there is none or of another format."""
    d = Path(directory)
    try:
        manifest = json.loads((d / "manifest.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexFormatError(f"{d} holds no saved index (manifest.json missing)") from None
    except (OSError, ValueError) as exc:
        raise IndexFormatError(f"{d}: unreadable manifest.json ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_VERSION:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise IndexFormatError(f"{d}: index format {found!r}, expected {FORMAT_VERSION}")
    return manifest


def load_saved_vectors(directory: str | Path) -> SavedVectors:
    """What a saved index can lend a new build: its vectors by the content key of each measure's embedded text.

    Reads only the manifest, the measures and the vectors (no vector index, no BM25), so it is cheap whatever
    the corpus size; raises IndexFormatError when the files are missing or do not line up.
    """
    d = Path(directory)
    manifest = read_manifest(d)
    try:
        stored = read_jsonl(d / "measures.jsonl")
        vectors = np.load(d / "vectors.npy")
    except (OSError, ValueError) as exc:
        raise IndexFormatError(f"{d}: unreadable measures or vectors ({exc})") from None
    if vectors.ndim != 2 or vectors.shape != (len(stored), manifest["dim"]):
        raise IndexFormatError(f"{d}: vector rows do not line up with measures.jsonl")
    context = tuple(manifest.get("context", DEFAULT_CONTEXT))
    by_key = {content_key(m, context): np.asarray(vectors[i], dtype=np.float32) for i, m in enumerate(stored)}
    return SavedVectors(manifest["model_id"], int(manifest["dim"]), by_key)


def _check_ids(measures: Sequence[Measure]) -> None:
    seen: set[str] = set()
    for m in measures:
        mid = m.get("id")
        if not mid:
            raise ValueError(f"measure without id: {str(m)[:80]}")
        if mid in seen:
            raise ValueError(f"measure id {mid!r} occurs twice")
        seen.add(mid)


def _encode_passages(encoder: Encoder, measures: Sequence[Measure], context: tuple[str, ...]) -> np.ndarray:
    if not measures:
        return np.zeros((0, encoder.dim), dtype=np.float32)
    return l2_normalise(encoder.encode([passage_text(m, context) for m in measures], kind="passage"))


def _top_rows(scores: np.ndarray, k: int) -> np.ndarray:
    """Rows of the k highest positive scores, best first (ties in row order)."""
    pos = np.flatnonzero(scores > 0)
    if len(pos) > k:
        pos = pos[np.argpartition(-scores[pos], k - 1)[:k]]
    return pos[np.argsort(-scores[pos], kind="stable")]


def _facet_key(value: object) -> str:
    return str(value)


def _facets(measures: Sequence[Measure], by_name: bool = True) -> dict[str, dict[str, np.ndarray]]:
    """Per filter field, value → rows having it; units and systems answer to id (and name, by_name); a measure
    whose plan states no year has the year UNKNOWN."""
    acc: dict[str, dict[str, list[int]]] = {f: {} for f in FILTER_FIELDS if f != "practice_type"}
    for row, m in enumerate(measures):
        for name in ("agency", "year", "framework_item"):
            if m.get(name) not in (None, ""):
                acc[name].setdefault(_facet_key(m[name]), []).append(row)
            elif name == "year":
                acc[name].setdefault(UNKNOWN, []).append(row)
        for name, key in (("unit", "units"), ("system", "systems")):
            for x in m.get(key) or []:
                for v in ({x.get("id"), x.get("name")} if by_name else {x.get("id")}) - {None, ""}:
                    rows = acc[name].setdefault(_facet_key(v), [])
                    if not rows or rows[-1] != row:
                        rows.append(row)
    return {f: {v: np.asarray(r, dtype=np.int64) for v, r in vals.items()} for f, vals in acc.items()}


def _uncalibrated(mode: str, dense: np.ndarray | None, lex: np.ndarray | None, params: FusionParams) -> np.ndarray:
    """Scores of an encoder without a calibration: min-max fused as before calibration existed (no floor)."""
    if mode == "dense" or lex is None:
        return np.maximum(dense, 0.0).astype(np.float32)
    if dense is None:
        return lex.astype(np.float32)
    return np.where((lex > 0) | (dense > 0), fuse(lex, dense, params), 0.0).astype(np.float32)


def _known(cls, saved: Mapping[str, Any]):
    """Saved parameters of a dataclass, those it no longer has left out (an index saved by an older version)."""
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in saved.items() if k in names})
