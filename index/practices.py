"""Practice types: measures clustered across agencies, seeded by the vocabulary, corrected by planners."""

from __future__ import annotations

import hashlib
import math
import tomllib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from index.textnorm import normalise
from index.vocab import Vocabulary

# How close a measure must be to a seeded type's centroid to join it without a keyword of its own, and
# between members of a new cluster, as a quantile of the cosines between pairs of the corpus's measures:
# every encoder has its own cosine scale (e5's crowd into 0.75–0.95), but "closer than 99.2 % of all pairs"
# means the same with any. Set with USE-multilingual-v3, where these quantiles are the cosines 0.62 and 0.70
# chosen by reading the resulting types on the five sample plans (289 of 311 measures typed, 3 new clusters).
JOIN_QUANTILE = 0.992
CLUSTER_QUANTILE = 0.996
QUANTILE_SAMPLE = 2000  # rows the pair quantiles are measured on (evenly spaced), whatever the corpus size
MIN_CLUSTER = 2


def cosine_levels(vectors: np.ndarray) -> tuple[float, float]:
    """The join and cluster cosines of this corpus (JOIN_QUANTILE, CLUSTER_QUANTILE of pairwise cosines)."""
    n = len(vectors)
    if n < 3:
        return 1.0, 1.0
    rows = np.unique(np.linspace(0, n - 1, min(n, QUANTILE_SAMPLE)).astype(np.int64))
    v = vectors[rows]
    pairs = (v @ v.T)[np.triu_indices(len(rows), 1)]
    join, cluster = np.quantile(pairs, [JOIN_QUANTILE, CLUSTER_QUANTILE])
    return float(join), float(cluster)


@dataclass
class PracticeType:
    """One practice type: a stable id, a name for planners, and its member measure ids."""

    id: str
    label: str
    alt_labels: list[str] = field(default_factory=list)
    members: list[str] = field(default_factory=list)
    source: str = "vocabulary"  # "vocabulary" (seeded) or "cluster" (found in the corpus)


@dataclass
class PracticeScheme:
    """All practice types, each measure's types (primary first) and the agency coverage."""

    types: list[PracticeType]
    membership: dict[str, list[str]]

    def type(self, type_id: str) -> PracticeType:
        for t in self.types:
            if t.id == type_id:
                return t
        raise KeyError(type_id)

    def primary(self, measure_id: str) -> str | None:
        types = self.membership.get(measure_id) or []
        return types[0] if types else None

    def coverage(self, measures: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, int]]:
        """Agency → practice type id → number of that agency's measures of the type (primary)."""
        out: dict[str, dict[str, int]] = {}
        for m in measures:
            t = self.primary(m["id"])
            if t is not None:
                row = out.setdefault(m.get("agency") or "", {})
                row[t] = row.get(t, 0) + 1
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PracticeScheme:
        """The scheme to_dict() wrote."""
        types = [
            PracticeType(t["id"], t["label"], list(t["alt_labels"]), list(t["members"]), t["source"])
            for t in data["types"]
        ]
        return cls(types, {mid: list(ts) for mid, ts in data["membership"].items()})

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the graph writer (types become skos:Concepts, members sp:practiceType)."""
        return {
            "types": [
                {"id": t.id, "label": t.label, "alt_labels": t.alt_labels, "members": t.members, "source": t.source}
                for t in self.types
            ],
            "membership": self.membership,
        }


def _matched_terms(m: Mapping[str, Any], vocab: Vocabulary) -> dict[str, dict[str, float]]:
    """Vocabulary type → the terms of it a measure uses, each weighted by where (title counts double)."""
    per: dict[str, dict[str, float]] = {}
    for where, weight in ((m.get("title") or "", 2.0), (m.get("text") or "", 1.0)):
        for pid, terms in vocab.matches(where).items():
            for t in terms:
                per.setdefault(pid, {})[t] = max(per.get(pid, {}).get(t, 0.0), weight)
    return per


def _rarity_scores(per: Mapping[str, Mapping[str, float]], df: Callable[[str], int], n: int) -> list[tuple[str, float]]:
    """The types a measure names, strongest first: a term most measures use (網站, 服務設施) says little about which
    practice this is, so each term counts by its rarity in a corpus of n measures (df: its document frequency)."""
    scored = [(pid, sum(w * math.log(1 + n / df(t)) for t, w in terms.items())) for pid, terms in per.items()]
    return sorted(scored, key=lambda x: (-x[1], x[0]))


def keyword_types(measures: Sequence[Mapping[str, Any]], vocab: Vocabulary) -> dict[str, list[tuple[str, float]]]:
    """Measure id → vocabulary types whose terms it uses, scored by term rarity among these measures."""
    hits = {m["id"]: _matched_terms(m, vocab) for m in measures}
    df: Counter[str] = Counter()
    for per in hits.values():
        df.update({t for terms in per.values() for t in terms})
    n = max(len(measures), 1)
    return {mid: _rarity_scores(per, df.__getitem__, n) for mid, per in hits.items()}


def build_scheme(
    measures: Sequence[Mapping[str, Any]],
    vectors: np.ndarray,
    vocab: Vocabulary,
    corrections: str | Path | Mapping[str, Any] | None = None,
    min_keyword_score: float = 3.0,
) -> PracticeScheme:
    """Cluster measures into practice types.

    1. a measure whose wording clearly names vocabulary types gets them (primary = strongest);
    2. a measure without such wording joins the nearest seeded type if close enough in embedding;
    3. the rest are clustered among themselves and each cluster is named from its members;
    4. planner corrections (rename, merge, move) are applied last.
    """
    ids = [m["id"] for m in measures]
    kw = keyword_types(measures, vocab)
    membership: dict[str, list[str]] = {}
    for mid in ids:
        strong = [pid for pid, s in kw[mid] if s >= min_keyword_score]
        if strong:
            membership[mid] = strong[:3]

    join_cosine, cluster_cosine = cosine_levels(vectors)
    centroids, cent_ids = _centroids(ids, vectors, membership)
    rest = [i for i, mid in enumerate(ids) if mid not in membership]
    if len(cent_ids) and rest:
        sims = vectors[rest] @ centroids.T
        best = sims.argmax(axis=1)
        for j, (i, b) in enumerate(zip(rest, best, strict=True)):
            if sims[j, b] >= join_cosine:
                membership[ids[i]] = [cent_ids[b]]
    rest = [i for i, mid in enumerate(ids) if mid not in membership]

    types = {p.id: PracticeType(p.id, p.label, list(p.synonyms)) for p in vocab.practices}
    for members in _leader_clusters(rest, vectors, cluster_cosine):
        if len(members) < MIN_CLUSTER:
            continue
        label = _name_cluster([measures[i] for i in members])
        tid = "cluster-" + hashlib.sha1(label.encode("utf-8")).hexdigest()[:8]
        types.setdefault(tid, PracticeType(tid, label, source="cluster"))
        for i in members:
            membership[ids[i]] = [tid]

    scheme = _assemble(types, membership, ids)
    if corrections is not None:
        scheme = apply_corrections(scheme, corrections)
    return scheme


def _centroids(
    ids: list[str], vectors: np.ndarray, membership: Mapping[str, list[str]]
) -> tuple[np.ndarray, list[str]]:
    rows: dict[str, list[int]] = {}
    for i, mid in enumerate(ids):
        if mid in membership:
            rows.setdefault(membership[mid][0], []).append(i)
    cent_ids = sorted(t for t, r in rows.items() if len(r) >= MIN_CLUSTER)
    if not cent_ids:
        return np.zeros((0, vectors.shape[1]), dtype=np.float32), []
    c = np.stack([vectors[rows[t]].mean(axis=0) for t in cent_ids])
    return c / np.linalg.norm(c, axis=1, keepdims=True), cent_ids


LEADER_BLOCK = 256  # rows whose cosines to the clusters are computed in one product


def _leader_clusters(rows: list[int], vectors: np.ndarray, cluster_cosine: float) -> list[list[int]]:
    """Single-pass clustering: join the closest cluster at cluster_cosine or above, else start one.

    The cosines of a block of rows to the clusters existing before it come from one matrix product; only the
    clusters the block itself changes or starts are scored row by row, so the result is that of scoring every row
    against every cluster in turn, at a fraction of the cost (the 100k corpus leaves thousands of clusters).
    """
    dim = vectors.shape[1]
    sums = np.zeros((max(len(rows), 1), dim), dtype=np.float32)
    norms = np.zeros(max(len(rows), 1), dtype=np.float32)
    clusters: list[list[int]] = []
    for start in range(0, len(rows), LEADER_BLOCK):
        block = rows[start : start + LEADER_BLOCK]
        v_block = np.asarray(vectors[block], dtype=np.float32)
        k0 = len(clusters)
        base = (v_block @ sums[:k0].T) / norms[:k0] if k0 else np.zeros((len(block), 0), dtype=np.float32)
        touched: dict[int, None] = {}  # clusters changed or started in this block, in order
        for j, r in enumerate(block):
            v = v_block[j]
            k = len(clusters)
            if k:
                sims = np.empty(k, dtype=np.float32)
                sims[:k0] = base[j]
                if touched:
                    t = np.fromiter(touched, dtype=np.int64, count=len(touched))
                    sims[t] = (sums[t] @ v) / norms[t]
                b = int(sims.argmax())
                if sims[b] >= cluster_cosine:
                    clusters[b].append(r)
                    sums[b] = sums[b] + v
                    norms[b] = np.linalg.norm(sums[b])
                    touched[b] = None
                    continue
            clusters.append([r])
            sums[k] = v
            norms[k] = np.linalg.norm(v)
            touched[k] = None
    return clusters


def extend_scheme(
    scheme: PracticeScheme,
    index: Any,
    previous: Any,
    vocab: Vocabulary | None = None,
    min_keyword_score: float = 3.0,
) -> PracticeScheme:
    """The scheme of a previous build carried over to a patched index (index.SearchIndex.build with previous):
    measures whose records are unchanged keep their types; new and changed ones get the vocabulary types their
    wording names (term rarity from the whole new corpus), or else join the nearest existing type when close
    enough (a seeded type at the join cosine, a found cluster at the cluster cosine). No new clusters are formed:
    a full rebuild (a build without a previous index) clusters everything again."""
    vocab = vocab or index.vocabulary
    ids = index._records.ids()
    kept = index.kept_rows
    membership: dict[str, list[str]] = {}
    fresh: list[int] = []
    before = scheme.membership
    for row, (mid, was) in enumerate(zip(ids, (kept >= 0).tolist(), strict=True)):
        if not was:
            fresh.append(row)
        elif (types_of := before.get(mid)) is not None:
            membership[mid] = list(types_of)
    types = {t.id: PracticeType(t.id, t.label, list(t.alt_labels), [], t.source) for t in scheme.types}
    for p in vocab.practices:
        types.setdefault(p.id, PracticeType(p.id, p.label, list(p.synonyms)))
    if fresh:
        n = max(len(index), 1)
        records = [index.record(r) for r in fresh]
        df = index._literal.document_frequency
        for row, scored in zip(fresh, keyword_scores(records, vocab, df, n), strict=True):
            strong = [pid for pid, sc in scored if sc >= min_keyword_score]
            if strong:
                membership[ids[row]] = strong[:3]
        rest = [r for r in fresh if ids[r] not in membership]
        if rest:
            vectors = np.asarray(index.vectors)
            join_cosine, cluster_cosine = cosine_levels(vectors)
            cents, cent_ids = _centroids(ids, vectors, membership)
            if len(cent_ids):
                sims = vectors[rest] @ cents.T
                best = sims.argmax(axis=1)
                for j, (r, b) in enumerate(zip(rest, best, strict=True)):
                    level = cluster_cosine if types[cent_ids[b]].source == "cluster" else join_cosine
                    if sims[j, b] >= level:
                        membership[ids[r]] = [cent_ids[b]]
    return _assemble(types, membership, ids)


def keyword_scores(measures, vocab: Vocabulary, df, n: int) -> list[list[tuple[str, float]]]:
    """keyword_types of some measures, with each term's document frequency taken from a whole corpus (df)."""
    dfs: dict[str, int] = {}

    def known(t: str) -> int:
        if t not in dfs:
            dfs[t] = max(df(t), 1)
        return dfs[t]

    return [_rarity_scores(_matched_terms(m, vocab), known, n) for m in measures]


def _name_cluster(members: Sequence[Mapping[str, Any]]) -> str:
    """A shared title if members have one, else the bigrams most typical of their bodies."""
    titles = Counter(normalise(m.get("title") or "").replace(" ", "") for m in members if m.get("title"))
    if titles:
        title, n = titles.most_common(1)[0]  # ties: the first member's title (members come in corpus order)
        if n >= 2 or len(titles) == 1:
            return next(m["title"] for m in members if normalise(m.get("title") or "").replace(" ", "") == title)
    grams: Counter[str] = Counter()
    for m in members:
        run = normalise(m.get("text") or "").replace(" ", "")
        grams.update({run[i : i + 2] for i in range(len(run) - 1)})
    top = [g for g, _ in _most_common(grams, 3)]
    return "・".join(top) or "未命名"


def _most_common(counts: Counter[str], n: int) -> list[tuple[str, int]]:
    """The n most frequent keys, ties by the key itself: Counter.most_common breaks ties by insertion order,
    which for keys that came from a set is the hash seed's order, and the label names the type's IRI."""
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def _assemble(
    types: Mapping[str, PracticeType], membership: Mapping[str, list[str]], ids: Sequence[str]
) -> PracticeScheme:
    members: dict[str, list[str]] = {}
    for mid in ids:
        for t in membership.get(mid, []):
            members.setdefault(t, []).append(mid)
    out = []
    for tid, t in types.items():
        if tid in members:
            out.append(PracticeType(t.id, t.label, t.alt_labels, members[tid], t.source))
    return PracticeScheme(out, {mid: list(membership[mid]) for mid in ids if mid in membership})


def load_corrections(path: str | Path) -> dict[str, Any]:
    """A planner's corrections file (see index/data/practice_corrections.toml)."""
    return tomllib.loads(Path(path).read_text(encoding="utf-8"))


def apply_corrections(scheme: PracticeScheme, corrections: str | Path | Mapping[str, Any]) -> PracticeScheme:
    """Rename types, merge types into one, and move measures (by id) to another type."""
    c = load_corrections(corrections) if isinstance(corrections, (str, Path)) else corrections
    types = {t.id: PracticeType(t.id, t.label, list(t.alt_labels), [], t.source) for t in scheme.types}
    membership = {mid: list(ts) for mid, ts in scheme.membership.items()}
    for merge in c.get("merge", []):
        into, sources = merge["into"], merge.get("from", [])
        if into not in types:
            raise ValueError(f"merge into unknown practice type {into!r}")
        for src in sources:
            if src in types and src != into:
                types[into].alt_labels.append(types.pop(src).label)
        for mid, ts in membership.items():
            membership[mid] = list(dict.fromkeys(into if t in sources else t for t in ts))
    for mid, target in c.get("move", {}).items():
        # A move may also name a measure the clustering left untyped.
        if target not in types:
            types[target] = PracticeType(target, target, source="planner")
        membership[mid] = [target] + [t for t in membership.get(mid, []) if t != target]
    for tid, label in c.get("rename", {}).items():
        if tid not in types:
            raise ValueError(f"rename of unknown practice type {tid!r}")
        types[tid].alt_labels.append(types[tid].label)
        types[tid].label = label
    return _assemble(types, membership, list(membership))
