"""SearchIndex: hybrid (BM25 + dense) search over measures, with filters, similar measures and updates."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from index.arrays import Patch, RowFile, Strings, open_array, save_array, take_rows
from index.encoders import Encoder, l2_normalise
from index.errors import IndexFormatError, IndexMismatchError, UnknownMeasureError
from index.facets import UNKNOWN, Facets, MultiColumn  # noqa: F401 (UNKNOWN: the year facet of plans stating none)
from index.fusion import FusionParams, fuse
from index.lexical import BM25, term_counts
from index.literal import LiteralIndex
from index.measures import (
    CONTEXT_FIELDS,
    DEFAULT_CONTEXT,
    Measure,
    content_key,
    corpus_hash,
    corpus_hash_of_digests,
    lexical_text,
    literal_text,
    passage_text,
)
from index.query import ParsedQuery, parse_query
from index.relevance import FEATURES, calibration_for
from index.textnorm import query_units, tokens
from index.vocab import Vocabulary, load_vocabulary

Mode = Literal["hybrid", "lexical", "dense", "literal"]
MODES = ("hybrid", "lexical", "dense", "literal")
FORMAT_VERSION = 2  # 2: arrays opened memory-mapped (1 read everything and rebuilt the postings)
FILTER_FIELDS = ("agency", "year", "framework_item", "unit", "system", "practice_type")
WORD_MIN_ROWS = 10  # in a small corpus, a plan word in this many measures is still searched


@dataclass(frozen=True)
class QueryParams:
    """Query-side knobs (bench/eval_search.py measures them)."""

    expansion_weight: float = 0.25  # BM25 weight of vocabulary terms the user did not type
    expansion_blend: float = 0.3  # share of the matched practice labels' embedding in the query vector
    # The plans' words for everyday words of a query (升降梯 → 電梯, index.vocab.WordGroup): their BM25 weight; the
    # query is embedded with them after it; one in more than word_max_share of all measures (申請, 線上; and more
    # than WORD_MIN_ROWS) says nothing about the query and is not searched.
    word_weight: float = 0.5
    words_in_meaning: bool = True
    word_max_share: float = 0.05
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
    # the probability a measure needed to count as a match (None: literal matches); in hybrid mode a measure the
    # query's meaning alone answers (index.relevance) is a match too, and may score less
    floor: float | None = None


@dataclass(frozen=True)
class UpdateStats:
    plan: str
    removed: int
    added: int
    encoded: int


class SearchIndex:
    """Measures in row order, their unit vectors, BM25 and literal postings and the facet columns.

    Every part is a set of flat arrays: save() writes them as .npy files and load() opens them memory-mapped, so
    opening costs the same at any corpus size and a query reads only the pages it touches. Records are parsed only
    for the hits shown. Similar measures are found by an exact scan of the vectors (a 100k-row scan takes a few
    milliseconds, less than building an approximate index would cost every build).
    """

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
        self.backend = backend  # kept in the manifest for older readers; vectors are scanned exactly
        self.vocabulary = vocabulary or load_vocabulary()
        self.fusion = fusion or FusionParams()
        self.query_params = query or QueryParams()
        self._label_vectors: dict[str, np.ndarray] = {}
        self._practices = None
        self._practice_membership: Mapping[str, Sequence[str]] | None = None
        self._practice_column: MultiColumn | None = None
        self.encoded = 0  # passages encoded when this index was built (the rest reused or loaded)
        self.reused_rows = 0  # rows taken whole (vector, postings) from a previous index
        self.kept_rows = np.zeros(0, dtype=np.int64)  # per row: its row in that previous index, -1 if built anew
        self._parts(_Rows([], []), np.zeros((0, encoder.dim), dtype=np.float32), np.zeros((0, 2), "S16"))
        self._bm25 = BM25()
        self._literal = LiteralIndex()
        self._facets = Facets.of([])

    # ----- building -----

    @classmethod
    def build(
        cls,
        measures: Iterable[Measure],
        encoder: Encoder,
        backend: str = "faiss",
        reuse: Mapping[str, np.ndarray] | None = None,
        previous: SearchIndex | None = None,
        unchanged: Iterable[str] = (),
        **kwargs: Any,
    ) -> SearchIndex:
        """Embed every measure with its context and index it lexically and densely. The index holds the records
        given (a caller must not change them afterwards).

        reuse: vectors by content key (content_key, e.g. SavedVectors.by_key of an index saved with the same
        encoder); a measure whose embedded text has one is not encoded again. `encoded` tells how many were.
        previous: an index (e.g. the last build's, opened) whose rows of records unchanged here are taken whole
        (vector and postings), so only changed measures are tokenised; the result equals a build from scratch.
        unchanged: ids of measures whose records the caller knows to be those `previous` holds (a plan not touched
        by an update): their rows are taken without serialising and hashing the records again.
        """
        index = cls(encoder, backend=backend, **kwargs)
        ms = list(measures)  # kept as given, not copied (0.4 s at 100k measures): the index never changes a record
        _check_ids(ms)
        usable = (
            previous is not None
            and (previous.encoder.model_id, previous.encoder.dim) == (encoder.model_id, encoder.dim)
            and previous.context == index.context
        )
        kept = np.full(len(ms), -1, dtype=np.int64)
        keys = np.zeros((len(ms), 2), dtype="S16")
        lines: list[bytes | None] = [None] * len(ms)
        same = set(unchanged) if usable else set()
        whole = np.zeros(len(ms), dtype=bool)  # rows whose saved line is the previous index's, copied when saved
        if same:
            known = [j for j, m in enumerate(ms) if m["id"] in same]
            kept[known] = previous._id_table().find([ms[j]["id"] for j in known])
            whole[known] = kept[known] >= 0
        todo_rows = np.flatnonzero(~whole).tolist()
        for j in todo_rows:
            lines[j] = _line(ms[j])
            keys[j, 0] = _digest(lines[j])
        old_rows = previous._row_keys() if usable and todo_rows else {}
        for j in todo_rows:
            kept[j] = old_rows.get(bytes(keys[j, 0]), -1)
        vectors = np.zeros((len(ms), encoder.dim), dtype=np.float32)
        have = kept >= 0
        if have.any():
            take_rows(vectors, previous._vectors, kept)
            take_rows(keys, previous._keys, kept)  # the same record: the same digest, the same text embedded
        by_content = previous._by_content() if usable else {}
        reuse = reuse or {}
        todo = []
        for j in np.flatnonzero(~have).tolist():
            ck = content_key(ms[j], index.context)
            keys[j, 1] = ck[:16]
            if ck in reuse:
                vectors[j] = reuse[ck]
            elif bytes(keys[j, 1]) in by_content:
                vectors[j] = previous._vectors[by_content[bytes(keys[j, 1])]]
            else:
                todo.append(j)
        if todo:
            vectors[todo] = _encode_passages(encoder, [ms[j] for j in todo], index.context)
        source = previous._records._file if whole.any() else None
        if whole.any() and source is None:  # a previous index not saved: its lines are taken one by one
            for j in np.flatnonzero(whole).tolist():
                lines[j] = previous._records.line(int(kept[j]))
        index._parts(_Rows(ms, lines, source=source, source_rows=kept if source is not None else None), vectors, keys)
        if usable and have.any():
            patch = Patch.of(kept, len(previous))
            fresh = [ms[j] for j in patch.new.tolist()]
            index._patch_postings(previous, patch, fresh)
            index._facets = previous._facets.patched(patch, fresh)
        else:
            index._postings_of(ms)
            index._facets = Facets.of(ms)
        index.encoded = len(todo)
        index.reused_rows = int(have.sum())
        index.kept_rows = kept
        return index

    @classmethod
    def from_vectors(
        cls, measures: Iterable[Measure], vectors: np.ndarray, encoder: Encoder, backend: str = "faiss", **kwargs: Any
    ) -> SearchIndex:
        """An index of measures whose passage vectors were computed elsewhere (same encoder, row order)."""
        ms = [dict(m) for m in measures]
        v = np.asarray(vectors, dtype=np.float32)
        if v.shape != (len(ms), encoder.dim):
            raise ValueError(f"expected vectors of shape ({len(ms)}, {encoder.dim}), got {v.shape}")
        v = l2_normalise(v)
        reuse = {content_key(m, tuple(kwargs.get("context", DEFAULT_CONTEXT))): v[i] for i, m in enumerate(ms)}
        index = cls.build(ms, encoder, backend=backend, reuse=reuse, **kwargs)
        index._vectors = np.ascontiguousarray(v)  # exactly the rows given, duplicates of one text included
        return index

    def _parts(self, records, vectors: np.ndarray, keys: np.ndarray) -> None:
        self._records = records
        self._vectors = vectors if isinstance(vectors, np.memmap) else np.ascontiguousarray(vectors, dtype=np.float32)
        self._keys = keys  # per row: digest of the record, and the content key of what is embedded
        self._ids: Strings | None = None
        self._profiles: dict[int, np.ndarray] = {}  # row → its practice-type profile, made when first asked
        self._practices = None
        self._practice_column = None

    def _postings_of(self, ms: Sequence[dict]) -> None:
        self._bm25 = BM25().fit_counts(term_counts(lexical_text(m)) for m in ms)
        self._literal = LiteralIndex(literal_text(m) for m in ms)

    def _patch_postings(self, previous: SearchIndex, patch: Patch, fresh: Sequence[dict]) -> None:
        """Postings of the rows kept from the previous index renumbered, those of the new rows (fresh) added."""
        self._bm25 = previous._bm25.patched(patch, [term_counts(lexical_text(m)) for m in fresh])
        self._literal = previous._literal.patched(patch, [literal_text(m) for m in fresh])

    def _row_keys(self) -> dict[bytes, int]:
        return {bytes(k): i for i, k in enumerate(self._keys[:, 0])}

    def _by_content(self) -> dict[bytes, int]:
        return {bytes(k): i for i, k in enumerate(self._keys[:, 1])}

    def __len__(self) -> int:
        return len(self._records)

    @property
    def measures(self) -> list[dict]:
        """Every record, parsed (for small corpora and tools; a query reads only the records it shows)."""
        return self._records.all()

    @property
    def vectors(self) -> np.ndarray:
        return self._vectors

    def get(self, measure_id: str) -> dict:
        return self._records[self._row(measure_id)]

    def _id_table(self) -> Strings:
        if self._ids is None:
            self._ids = Strings.pack(self._records.ids(), lookup=True)
        return self._ids

    def row_of(self, measure_id: str) -> int | None:
        """The row of a measure, None for an id the index does not hold."""
        (row,) = self._id_table().find([measure_id])
        return None if row < 0 else int(row)

    def _row(self, measure_id: str) -> int:
        row = self.row_of(measure_id)
        if row is None:
            raise UnknownMeasureError(measure_id)
        return row

    def record(self, row: int) -> dict:
        return self._records[row]

    # ----- practice types -----

    def set_practice_membership(self, membership: Mapping[str, Sequence[str]] | None) -> None:
        """Use these practice types per measure id for the practice_type filter (None: computed)."""
        self._practice_membership = membership
        self._practice_column = None

    def practice_scheme(self):
        """Practice types clustered from this corpus (see index.practices), computed once."""
        if self._practices is None:
            from index.practices import build_scheme

            self._practices = build_scheme(self.measures, np.asarray(self._vectors), self.vocabulary)
        return self._practices

    def _practice_facet(self) -> MultiColumn:
        if self._practice_column is None:
            membership = self._practice_membership or self.practice_scheme().membership
            self._practice_column = MultiColumn.of_ids([membership.get(mid) or () for mid in self._records.ids()])
        return self._practice_column

    def practice_types_of(self, row: int) -> list[str]:
        """The practice type ids of a row, primary first."""
        col = self._practice_facet()
        return [col.labels()[int(c)] for c in col.per_row.get(row)]

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
            keys = [_facet_key(self._practice_id(v) if name == "practice_type" else v) for v in values]
            if name == "practice_type":
                masks[name] = self._practice_facet().mask(keys, len(self))
            elif name in self._facets.single:
                masks[name] = self._facets.single[name].mask(keys)
            else:
                masks[name] = self._facets.multi[name].mask(keys, len(self))
        return masks

    def _facet_counts(self, match: np.ndarray, masks: Mapping[str, np.ndarray]) -> dict[str, dict[str, int]]:
        """Per filter field, value → matches having it, counted with the other fields' filters only."""
        out: dict[str, dict[str, int]] = {}
        for name in FILTER_FIELDS:
            sel = match.copy()
            for other, m in masks.items():
                if other != name:
                    sel &= m
            if name == "practice_type":
                col = self._practice_facet()
            else:
                col = self._facets.single.get(name) or self._facets.multi[name]
            out[name] = col.counts(sel)
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

        A measure matches when its calibrated relevance reaches the floor of the mode (in hybrid mode, also when the
        query's meaning alone answers it: index.relevance), or, when the query has "phrases" or +words, when it
        contains them all; it never matches when it contains an excluded -word. mode "literal" requires every typed
        word literally and expands nothing.
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
            answered = float(score.max()) >= cal.floor
            keep = score >= floor
            by_meaning = self._meaning(cal, feats)
            if by_meaning is not None:
                p_dense, dense_keep = by_meaning
                answered = answered or float(p_dense.max()) >= cal.meaning_floor
                keep |= p_dense >= dense_keep
            match = literal & keep if answered else np.zeros(len(self), bool)
        selected = match.copy()
        for m in masks.values():
            selected &= m
        rows = np.flatnonzero(selected)
        page = _page(rows, score, lex, offset, limit)
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

    def _meaning(self, cal, feats: Mapping[str, np.ndarray]) -> tuple[np.ndarray, float] | None:
        """For hybrid search with a meaning floor: every row's dense-model probability and that model's keep level
        (index.relevance: a paraphrase shares no word with the plans, so the hybrid model underrates it)."""
        if cal.meaning_floor is None:
            return None
        dense_cal = calibration_for(self.encoder.model_id, "dense")
        if dense_cal is None:
            return None
        return dense_cal.probability({n: feats[n] for n in dense_cal.features}), dense_cal.keep_level

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
        words = [t for t in self.vocabulary.plan_words(loose) if t not in skip] if expand and loose else []
        most = max(self.query_params.word_max_share * len(self), WORD_MIN_ROWS)
        words = [t for t in words if len(self._literal.rows(t)) <= most]
        synonyms = [t for pid in matched for t in self.vocabulary.get(pid).terms if t not in skip]
        expansions = list(dict.fromkeys(words + synonyms))
        feats, dense, lex = self._features(parsed, mode, matched, words, [t for t in expansions if t not in words])
        return feats, dense, lex, expansions

    def _features(
        self, parsed: ParsedQuery, mode: str, matched: Mapping[str, list[str]], words: list[str], synonyms: list[str]
    ):
        """words: the plans' words for the query's everyday ones; synonyms: the other terms of the practices it
        names."""
        free = self.vocabulary.strip_frames(parsed.free)
        names = set(FEATURES["lexical" if mode == "literal" else mode])
        feats: dict[str, np.ndarray] = {}
        dense = lex = None
        if names & {"cosine", "gap"}:
            text = f"{free}（{'、'.join(words)}）" if words and self.query_params.words_in_meaning else free
            q = self.encoder.encode([text], kind="query")[0]
            q = self._query_vector(q, matched)
            dense = self._vectors @ q
            feats["cosine"] = dense
            feats["gap"] = dense - float(dense.max())
        if names & {"coverage", "bm25n", "expansion"}:
            units = query_units(free)
            feats["coverage"] = self._bm25.coverage(units)
            parts: list[tuple[str, float]] = [(free, 1.0)]
            for terms, w in ((words, self.query_params.word_weight), (synonyms, self.query_params.expansion_weight)):
                if w > 0:
                    parts.extend((t, w) for t in terms)
            lex = self._bm25.scores(parts)
            self_score = sum(self._bm25.idfs(sorted(set(tokens(free))))) or 1.0
            feats["bm25n"] = lex / self_score
            exp = np.zeros(len(self), dtype=np.float32)
            for t in words + synonyms:
                exp[self._literal.rows(t)] = 1.0
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
        out = dict(self._records[row])
        out["score"] = score
        out["dense_score"] = None if dense is None else float(dense)
        out["lexical_score"] = None if lex is None else float(lex)
        return out

    # ----- similar measures -----

    def similar(self, measure_id: str, k: int = 5, mode: Mode = "hybrid") -> list[dict]:
        """The k measures of OTHER agencies most like this one, best first, with scores."""
        row = self._row(measure_id)
        agencies = np.asarray(self._facets.single["agency"].codes)
        mask = agencies != agencies[row]
        if not mask.any():
            return []
        q = np.asarray(self._vectors[row])
        depth = max(self.fusion.depth, k)
        cos = np.where(mask, self._vectors @ q, -np.inf)
        cands = set(_top_k(cos, depth if mode != "dense" else k).tolist())
        lex_all = None
        if mode != "dense":
            lex_all = self._bm25.scores(lexical_text(self._records[row]))
            lex_all[~mask] = 0.0
            cands.update(_top_rows(lex_all, depth).tolist())
        rows = np.asarray(sorted(cands), dtype=np.int64)
        dense = self._vectors[rows] @ q
        lex = lex_all[rows] if lex_all is not None else None
        score = fuse(lex, dense, self.fusion) if lex is not None else dense
        g = self.query_params.similar_practice_weight
        if mode == "hybrid" and g > 0:
            profiles = self._type_profiles(rows)
            score = (1 - g) * score + g * (profiles @ self._type_profiles(np.asarray([row]))[0])
        order = np.argsort(-score, kind="stable")[:k]
        return [self._hit(int(rows[i]), float(score[i]), dense[i], None if lex is None else lex[i]) for i in order]

    def _type_profiles(self, rows: np.ndarray) -> np.ndarray:
        """The unit vectors of these rows' vocabulary practice-type scores (zero where a row names none), each term's
        rarity taken from the whole corpus's literal index; a row's is made when first asked, so that no call reads
        every record."""
        from index.practices import keyword_scores

        todo = sorted({int(r) for r in rows} - self._profiles.keys())
        if todo:
            ids = {p.id: j for j, p in enumerate(self.vocabulary.practices)}
            records = [self._records[r] for r in todo]
            scores = keyword_scores(records, self.vocabulary, self._literal.document_frequency, max(len(self), 1))
            for r, scored in zip(todo, scores, strict=True):
                v = np.zeros(max(len(ids), 1), dtype=np.float32)
                for pid, sc in scored:
                    v[ids[pid]] = sc
                self._profiles[r] = v / max(float(np.linalg.norm(v)), 1e-12)
        return np.stack([self._profiles[int(r)] for r in rows])

    # ----- lifecycle -----

    def update(self, plan_records: Sequence[Measure], plan: str | None = None) -> UpdateStats:
        """Replace all measures of one plan by these records, encoding only those whose text changed."""
        new = [dict(m) for m in plan_records]
        plans = {m.get("plan") for m in new} | ({plan} if plan else set())
        if len(plans) != 1 or None in plans:
            raise ValueError(f"update takes the records of exactly one plan, got plans {sorted(map(str, plans))}")
        (plan_id,) = plans
        current = self.measures
        keep = [m for m in current if m.get("plan") != plan_id]
        kept_ids = {m["id"] for m in keep}
        clash = [m["id"] for m in new if m["id"] in kept_ids]
        if clash:
            raise ValueError(f"measure ids of plan {plan_id} already belong to other plans: {clash[:5]}")
        _check_ids(new)
        other = len(keep)
        patched = SearchIndex.build(
            keep + new,
            self.encoder,
            previous=self,
            vocabulary=self.vocabulary,
            fusion=self.fusion,
            query=self.query_params,
            context=self.context,
        )
        membership = self._practice_membership
        self.__dict__.update(patched.__dict__)
        self._practice_membership = membership
        return UpdateStats(plan_id, len(current) - other, len(new), patched.encoded)

    def save(self, directory: str | Path, extra: Mapping[str, Any] | None = None) -> None:
        """Write the manifest (last: a folder without one is no index), the records, vectors and every posting
        list and facet column as arrays that load() memory-maps. extra: more manifest entries (e.g. the build's
        generation)."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        (d / "manifest.json").unlink(missing_ok=True)
        self._records.write(d / RECORDS_FILE)
        self._id_table().save(d, "ids")
        save_array(d, "vectors", self._vectors)
        save_array(d, "keys", self._keys)
        self._bm25.save(d)
        self._literal.prepare(
            [t for p in self.vocabulary.practices for t in p.terms] + [t for g in self.vocabulary.words for t in g.plan]
        )
        known = self._literal.save(d)
        self._facets.save(d)
        sizes = {
            "bm25_terms": len(self._bm25.terms),
            "literal_grams": len(self._literal.grams),
            "literal_known": known,
            "facets": self._facets.sizes(),
        }
        if self._practice_membership is not None:
            col = self._practice_facet()
            col.save(d, "practice_type")
            sizes["practice_type"] = col.sizes()
        manifest = {
            "format": FORMAT_VERSION,
            "model_id": self.encoder.model_id,
            "dim": self.encoder.dim,
            "corpus_hash": _keys_hash(self._keys),
            "backend": self.backend,
            "context": list(self.context),
            "count": len(self),
            "sizes": sizes,
            "fusion": asdict(self.fusion),
            "query": asdict(self.query_params),
            **(extra or {}),
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
        """Open a saved index memory-mapped; IndexMismatchError if the encoder or the given corpus differ,
        IndexFormatError naming the file when a part is missing or damaged."""
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
        index = cls(
            encoder,
            backend=manifest["backend"],
            vocabulary=vocabulary,
            fusion=_known(FusionParams, manifest.get("fusion", {})),
            query=_known(QueryParams, manifest.get("query", {})),
            context=tuple(manifest.get("context", DEFAULT_CONTEXT)),
        )
        try:
            n, sizes = int(manifest["count"]), manifest["sizes"]
            vectors = open_array(d, "vectors", "float32", n)
            if vectors.ndim != 2 or vectors.shape[1] != encoder.dim:
                raise IndexFormatError(f"{d / 'vectors.npy'}: vectors of shape {vectors.shape}; rebuild the index")
            keys = open_array(d, "keys", "S16", n)
            index._parts(_Rows.open(d / RECORDS_FILE, n), vectors, keys)
            index._ids = Strings.open(d, "ids", n, lookup=True)
            index._bm25 = BM25.open(d, n, int(sizes["bm25_terms"]))
            index._literal = LiteralIndex.open(d, n, int(sizes["literal_grams"]), int(sizes.get("literal_known", 0)))
            index._facets = Facets.open(d, n, sizes["facets"])
            if "practice_type" in sizes:
                s = sizes["practice_type"]
                index._practice_column = MultiColumn.open(d, "practice_type", n, int(s["values"]), int(s["keys"]))
                index._practice_membership = _Membership(index)
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, IndexFormatError):
                raise
            raise IndexFormatError(f"{d / 'manifest.json'}: incomplete ({exc!r}); rebuild the index") from None
        if keys.shape != (n, 2):
            raise IndexFormatError(f"{d / 'keys.npy'}: of shape {keys.shape}, expected ({n}, 2); rebuild the index")
        return index


class _Rows:
    """The records of an index in row order: a list while building, a RowFile (parsed on demand) when opened."""

    def __init__(
        self,
        records: list[dict] | None,
        lines: list[bytes | None] | None,
        file: RowFile | None = None,
        source: RowFile | None = None,
        source_rows: np.ndarray | None = None,
    ) -> None:
        """While building, lines[j] is the saved line of row j, or None for a row kept whole from `source` (the
        previous index's rows: row source_rows[j] there), read from it when asked and copied by ranges when saved."""
        self._list, self._lines, self._file = records, lines, file
        self._source, self._source_rows = source, source_rows
        self._ids: list[str] | None = None

    @classmethod
    def open(cls, path: Path, n: int) -> _Rows:
        return cls(None, None, RowFile.open(path, "records.offsets", n))

    def __len__(self) -> int:
        return len(self._list) if self._list is not None else len(self._file)

    def __getitem__(self, row: int) -> dict:
        return self._list[row] if self._list is not None else self._file[row]

    def line(self, row: int) -> bytes:
        """The saved line of a row (the JSON of its record, as written)."""
        if self._lines is None:
            return self._file.line(row)
        line = self._lines[row]
        return line if line is not None else self._source.line(int(self._source_rows[row]))

    def all(self) -> list[dict]:
        if self._list is None:
            self._list = [json.loads(b) for b in self._file.all_lines()]
        return self._list

    def ids(self) -> list[str]:
        if self._ids is None:
            self._ids = [m["id"] for m in self.all()]
        return self._ids

    def write(self, path: Path) -> None:
        if self._lines is not None and self._source is not None:
            RowFile.write_spliced(path, self._lines, self._source, self._source_rows, "records.offsets")
            return
        lines = self._lines if self._lines is not None else self._file.all_lines()
        RowFile.write(path, lines, "records.offsets")


class _Membership(Mapping):
    """The practice types of a saved index's measures by id, read from its column (for set_practice_membership's
    callers that only test for one)."""

    def __init__(self, index: SearchIndex) -> None:
        self._index = index

    def __getitem__(self, measure_id: str) -> list[str]:
        row = self._index.row_of(measure_id)
        if row is None:
            raise KeyError(measure_id)
        return self._index.practice_types_of(row)

    def __iter__(self):
        return iter(self._index._records.ids())

    def __len__(self) -> int:
        return len(self._index)


RECORDS_FILE = "records.jsonl"


def _line(m: Mapping) -> bytes:
    return (json.dumps(m, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")


def _digest(line: bytes) -> str:
    return hashlib.sha256(line).hexdigest()[:16]


def _keys_hash(keys: np.ndarray) -> str:
    """The corpus hash of an index from its row digests (index.measures.corpus_hash computes the same)."""
    return corpus_hash_of_digests(bytes(k).decode("ascii") for k in keys[:, 0])


@dataclass(frozen=True)
class SavedVectors:
    """The passage vectors of a saved index by content key, with the model they were made with."""

    model_id: str
    dim: int
    by_key: Mapping[str, np.ndarray]

    def usable_with(self, encoder: Encoder) -> bool:
        return self.model_id == encoder.model_id and self.dim == encoder.dim


class _VectorsByKey(Mapping):
    """Saved vectors looked up by content key (the prefix the index keeps), read from the memory map on use."""

    def __init__(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        self._rows = {bytes(k).decode("ascii"): i for i, k in enumerate(keys[:, 1])}
        self._vectors = vectors

    def __getitem__(self, key: str) -> np.ndarray:
        return np.asarray(self._vectors[self._rows[key[:16]]], dtype=np.float32)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key[:16] in self._rows

    def __iter__(self):
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)


def read_manifest(directory: str | Path, formats: tuple[int, ...] = (FORMAT_VERSION,)) -> dict:
    """The manifest of a saved index; IndexFormatError if there is none or of another format."""
    d = Path(directory)
    try:
        manifest = json.loads((d / "manifest.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexFormatError(f"{d} holds no saved index (manifest.json missing)") from None
    except (OSError, ValueError) as exc:
        raise IndexFormatError(f"{d}: unreadable manifest.json ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") not in formats:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise IndexFormatError(f"{d}: index format {found!r}, expected {FORMAT_VERSION}")
    return manifest


def load_saved_vectors(directory: str | Path) -> SavedVectors:
    """What a saved index can lend a new build: its vectors by the content key of each measure's embedded text.

    Reads only the manifest and the row keys, and maps the vectors, so it is cheap whatever the corpus size;
    raises IndexFormatError when the files are missing or do not line up.
    """
    d = Path(directory)
    manifest = read_manifest(d, formats=(1, FORMAT_VERSION))
    if manifest["format"] == 1:
        return _format1_vectors(d, manifest)
    n = int(manifest.get("count", -1))
    vectors = open_array(d, "vectors", "float32", n)
    keys = open_array(d, "keys", "S16", n)
    if vectors.ndim != 2 or vectors.shape != (n, manifest["dim"]) or keys.shape != (n, 2):
        raise IndexFormatError(f"{d}: vector rows do not line up with the row keys")
    return SavedVectors(manifest["model_id"], int(manifest["dim"]), _VectorsByKey(keys, vectors))


def _format1_vectors(d: Path, manifest: dict) -> SavedVectors:
    """The vectors of an index saved by the previous format (records and vectors read whole, once, to upgrade)."""
    try:
        with open(d / "measures.jsonl", encoding="utf-8") as f:
            stored = [json.loads(line) for line in f if line.strip()]
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


def _page(rows: np.ndarray, score: np.ndarray, lex: np.ndarray | None, offset: int, limit: int) -> np.ndarray:
    """The rows [offset, offset + limit) of `rows` ranked by score, then BM25 score, then row. Only the rows
    scoring at least the page's last one are sorted: a broad query matches most of the corpus."""
    stop = offset + limit
    if stop <= 0 or not len(rows):
        return rows[:0]
    s = score[rows]
    if stop < len(rows):
        last = np.partition(s, len(rows) - stop)[len(rows) - stop]  # the stop-th highest score
        keep = s >= last
        rows, s = rows[keep], s[keep]
    return rows[np.lexsort((rows, -lex[rows] if lex is not None else rows, -s))][offset:stop]


def _facet_key(value: object) -> str:
    return str(value)


def _top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Rows of the k highest finite scores."""
    ok = np.flatnonzero(np.isfinite(scores))
    if len(ok) > k:
        ok = ok[np.argpartition(-scores[ok], k - 1)[:k]]
    return ok


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
