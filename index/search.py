"""SearchIndex: hybrid (BM25 + dense) search over measures, with filters, similar measures and updates."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from index.backends import VectorIndex, load_vector_index, make_vector_index
from index.encoders import Encoder, l2_normalise
from index.errors import IndexFormatError, IndexMismatchError, UnknownMeasureError
from index.fusion import FusionParams, fuse
from index.lexical import BM25
from index.measures import (
    CONTEXT_FIELDS,
    DEFAULT_CONTEXT,
    Measure,
    content_key,
    corpus_hash,
    lexical_text,
    passage_text,
    read_jsonl,
    write_jsonl,
)
from index.vocab import Vocabulary, load_vocabulary

Mode = Literal["hybrid", "lexical", "dense"]
FORMAT_VERSION = 1
FILTER_FIELDS = ("agency", "year", "framework_item", "unit", "system", "practice_type")


@dataclass(frozen=True)
class QueryParams:
    """Query-side knobs; defaults measured on the dev queries (bench/eval_search.py)."""

    expansion_weight: float = 0.25  # BM25 weight of vocabulary terms the user did not type
    expansion_blend: float = 0.3  # share of the matched practice labels' embedding in the query vector
    # A query that names no vocabulary term still gets the practice type whose label embedding is
    # nearest, if this close: paraphrases rarely share words with the vocabulary either.
    semantic_type_cosine: float = 0.42
    semantic_expansion_weight: float = 0.25
    # Pseudo-relevance feedback: the query vector moves towards its first hybrid results, which
    # pulls in the same practice written differently by other agencies (recall-oriented queries).
    prf_docs: int = 3
    prf_weight: float = 0.5
    # similar(): share of the score given to overlap of vocabulary practice types (by wording),
    # so that "similar" means "the same practice", not just "similar sentences".
    similar_practice_weight: float = 0.3


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
        self._practices = None
        self._profiles: np.ndarray | None = None
        self._facets = _facets(self._measures)

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

        agency, framework_item: exact strings; year: int; unit, system: id or name;
        practice_type: practice type id or label.
        """
        unknown = set(filters) - set(FILTER_FIELDS)
        if unknown:
            raise ValueError(f"unknown filter(s) {sorted(unknown)}; known: {', '.join(FILTER_FIELDS)}")
        mask: np.ndarray | None = None
        for field, value in filters.items():
            if value is None or value == [] or value == ():
                continue
            values = value if isinstance(value, (list, tuple, set, frozenset)) else [value]
            facet = self._practice_facet() if field == "practice_type" else self._facets[field]
            if field == "practice_type":
                values = [self._practice_id(v) for v in values]
            m = np.zeros(len(self), dtype=bool)
            for v in values:
                rows = facet.get(_facet_key(v))
                if rows is not None:
                    m[rows] = True
            mask = m if mask is None else mask & m
        return mask

    def _practice_id(self, value: str) -> str:
        # Planners may filter by a type's label as well as by its id.
        if self._practice_membership is None:
            for t in self.practice_scheme().types:
                if value == t.label:
                    return t.id
        return value

    # ----- search -----

    def search(
        self,
        query: str,
        k: int = 10,
        mode: Mode = "hybrid",
        expand: bool = True,
        **filters: Any,
    ) -> list[dict]:
        """The k best measures for a query, as record dicts with score, dense_score, lexical_score."""
        if mode not in ("hybrid", "lexical", "dense"):
            raise ValueError(f"unknown mode {mode!r}; use hybrid, lexical or dense")
        mask = self.filter_mask(**filters)
        if not len(self) or not query.strip() or (mask is not None and not mask.any()):
            return []
        q_vec = (
            None if mode == "lexical" else self.encoder.encode([self.vocabulary.strip_frames(query)], kind="query")[0]
        )
        matched = self._matched_types(query, q_vec) if expand else {}
        lex_all = self._lexical_scores(query, matched, mask) if mode != "dense" else None
        dense_q = self._query_vector(q_vec, matched) if q_vec is not None else None
        rows, score, dense, lex = self._rank(lex_all, dense_q, k, mode, mask)
        p = self.query_params
        if mode == "hybrid" and p.prf_docs > 0 and p.prf_weight > 0 and len(rows):
            fb = self._vectors[rows[np.argsort(-score, kind="stable")[: p.prf_docs]]].mean(axis=0)
            dense_q = l2_normalise(((1 - p.prf_weight) * dense_q + p.prf_weight * fb)[None, :])[0]
            rows, score, dense, lex = self._rank(lex_all, dense_q, k, mode, mask)
        order = np.argsort(-score, kind="stable")[:k]
        return [
            self._hit(
                int(rows[i]),
                float(score[i]),
                dense[i] if dense is not None else None,
                lex[i] if lex is not None else None,
            )
            for i in order
        ]

    def _rank(self, lex_all, dense_q, k: int, mode: str, mask):
        """Candidates of each retriever in the mode, with fused, dense and lexical scores."""
        depth = max(self.fusion.depth, k)
        cands: dict[int, None] = {}
        if lex_all is not None:
            cands.update(dict.fromkeys(_top_rows(lex_all, k if mode == "lexical" else depth).tolist()))
        if dense_q is not None:
            for mid, _ in self._ann.search(dense_q, k if mode == "dense" else depth, mask)[0]:
                cands[self._rows[mid]] = None
        rows = np.fromiter(cands, dtype=np.int64, count=len(cands))
        dense = self._vectors[rows] @ dense_q if dense_q is not None else None
        lex = lex_all[rows] if lex_all is not None else None
        if not len(rows):
            score = np.zeros(0, dtype=np.float32)
        elif mode == "hybrid":
            score = fuse(lex, dense, self.fusion)
        else:
            score = lex if mode == "lexical" else dense
        return rows, score, dense, lex

    def _lexical_scores(self, query: str, matched: Mapping[str, list[str]], mask: np.ndarray | None) -> np.ndarray:
        parts: list[tuple[str, float]] = [(query, 1.0)]
        for pid, how in matched.items():
            p = self.vocabulary.get(pid)
            w = self.query_params.expansion_weight if how == "keyword" else self.query_params.semantic_expansion_weight
            if p is not None and w > 0:
                parts.extend((t, w) for t in p.terms)
        scores = self._bm25.scores(parts)
        if mask is not None:
            scores[~mask] = 0.0
        return scores

    def _matched_types(self, query: str, q_vec: np.ndarray | None) -> dict[str, str]:
        """Practice type id → "keyword" (a term of it is in the query) or "semantic" (nearest label)."""
        matched = dict.fromkeys(self.vocabulary.matches(query), "keyword")
        if not matched and q_vec is not None and self.vocabulary.practices:
            ids, labels = self._all_label_vectors()
            sims = labels @ q_vec
            best = int(sims.argmax())
            if sims[best] >= self.query_params.semantic_type_cosine:
                matched[ids[best]] = "semantic"
        return matched

    def _all_label_vectors(self) -> tuple[list[str], np.ndarray]:
        ids = [p.id for p in self.vocabulary.practices]
        missing = [pid for pid in ids if pid not in self._label_vectors]
        if missing:
            vecs = self.encoder.encode([self._label_text(pid) for pid in missing], kind="passage")
            self._label_vectors.update(zip(missing, vecs, strict=True))
        return ids, np.stack([self._label_vectors[pid] for pid in ids])

    def _label_text(self, practice_id: str) -> str:
        # The label with its first synonyms says what the practice is in the plans' own words.
        p = self.vocabulary.get(practice_id)
        return p.label + "：" + "、".join(p.synonyms[:8])

    def _query_vector(self, q: np.ndarray, matched: Mapping[str, str]) -> np.ndarray:
        beta = self.query_params.expansion_blend
        if beta > 0 and matched:
            labels = np.stack([self._label_vector(pid) for pid in matched])
            q = l2_normalise(((1 - beta) * q + beta * labels.mean(axis=0))[None, :])[0]
        return q

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
            fusion=FusionParams(**manifest.get("fusion", {})),
            query=QueryParams(**manifest.get("query", {})),
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


def _facets(measures: Sequence[Measure]) -> dict[str, dict[str, np.ndarray]]:
    """Per filter field, value → rows having it; units and systems answer to id and name."""
    acc: dict[str, dict[str, list[int]]] = {f: {} for f in FILTER_FIELDS if f != "practice_type"}
    for row, m in enumerate(measures):
        for field in ("agency", "year", "framework_item"):
            if m.get(field) not in (None, ""):
                acc[field].setdefault(_facet_key(m[field]), []).append(row)
        for field, key in (("unit", "units"), ("system", "systems")):
            for x in m.get(key) or []:
                for v in {x.get("id"), x.get("name")} - {None, ""}:
                    rows = acc[field].setdefault(_facet_key(v), [])
                    if not rows or rows[-1] != row:
                        rows.append(row)
    return {f: {v: np.asarray(r, dtype=np.int64) for v, r in vals.items()} for f, vals in acc.items()}
