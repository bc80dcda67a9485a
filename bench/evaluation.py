"""Search quality measures: nDCG@k on graded judgments and similar-practice precision@k."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

from index.practices import keyword_types
from index.search import SearchIndex
from index.textnorm import normalise
from index.vocab import Vocabulary

_NUMBERING = re.compile(r"^\d{1,2}[.．、]")


def _key(text: str) -> str:
    # Judgments quote the file verbatim (line breaks, 帄, leading numbering); records may not.
    return normalise(_NUMBERING.sub("", unicodedata.normalize("NFKC", text).strip())).replace(" ", "")


def resolve_judgments(
    queries: Sequence[Mapping[str, Any]], measures: Sequence[Mapping[str, Any]]
) -> dict[str, dict[str, int]]:
    """Query id → {measure id: grade}; a judgment names each measure of its file whose body starts with text_start."""
    by_file: dict[str, list[tuple[str, str]]] = {}
    for m in measures:
        f = (m.get("source") or {}).get("file") or ""
        by_file.setdefault(f, []).append((m["id"], _key(m.get("text") or "")))
    out: dict[str, dict[str, int]] = {}
    for q in queries:
        rel: dict[str, int] = {}
        for r in q["relevant"]:
            start = _key(r["text_start"])
            for mid, body in by_file.get(r["file"], []):
                if start and body.startswith(start[: max(8, min(len(start), 20))]):
                    rel[mid] = max(rel.get(mid, 0), int(r["grade"]))
        out[q["id"]] = rel
    return out


def unresolved(
    queries: Sequence[Mapping[str, Any]], measures: Sequence[Mapping[str, Any]]
) -> list[tuple[str, str, str]]:
    """Judgments that name no measure of the corpus: (query id, file, text_start)."""
    miss = []
    for q in queries:
        for r in q["relevant"]:
            one = resolve_judgments([{"id": "x", "relevant": [r]}], measures)["x"]
            if not one:
                miss.append((q["id"], r["file"], r["text_start"]))
    return miss


def ndcg(ranked: Sequence[str], grades: Mapping[str, int], k: int = 10) -> float:
    """Normalised discounted cumulative gain of a ranking, gains 2^grade - 1."""
    dcg = sum((2 ** grades.get(mid, 0) - 1) / math.log2(i + 2) for i, mid in enumerate(ranked[:k]))
    ideal = sorted(grades.values(), reverse=True)[:k]
    idcg = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def evaluate(
    index: SearchIndex, queries: Sequence[Mapping[str, Any]], mode: str = "hybrid", k: int = 10
) -> dict[str, float]:
    """Query id → nDCG@k of the index's ranking."""
    judged = resolve_judgments(queries, index.measures)
    return {
        q["id"]: ndcg([h["id"] for h in index.search(q["query"], k=k, mode=mode)], judged[q["id"]], k) for q in queries
    }


def similar_precision(
    index: SearchIndex, vocab: Vocabulary, k: int = 5, mode: str = "hybrid"
) -> tuple[float, float, int]:
    """Precision@k of similar() against practice types read off the wording (keyword_types).

    Returns (strict, overlap, n): strict counts a result that uses the source's strongest type;
    overlap counts a result sharing any clear type with the source; n measures had a clear type.
    The reference comes from wording only, but hybrid similar() also weighs type overlap, so
    its figure is partly circular; dense mode is the uncontaminated one.
    """
    kw = keyword_types(index.measures, vocab)
    strong = {mid: [p for p, s in ts if s >= 3.0] for mid, ts in kw.items()}
    strict, overlap = [], []
    for mid, types in strong.items():
        if not types:
            continue
        hits = index.similar(mid, k=k, mode=mode)
        if hits:
            strict.append(sum(types[0] in [p for p, _ in kw[h["id"]]] for h in hits) / len(hits))
            overlap.append(sum(bool(set(types) & set(strong[h["id"]])) for h in hits) / len(hits))
    n = len(strict)
    return (sum(strict) / n if n else 0.0), (sum(overlap) / n if n else 0.0), n


def _labels_of(measures: Sequence[Mapping[str, Any]], labels: Sequence[Mapping[str, Any]]):
    """Measure id → (primary label, every label), from the hand labels' file and text_start."""
    judged = resolve_judgments([{"id": lab["id"], "relevant": [dict(lab, grade=1)]} for lab in labels], measures)
    out: dict[str, tuple[str, set[str]]] = {}
    for lab in labels:
        for mid in judged[lab["id"]]:
            out[mid] = (lab["primary"], {lab["primary"], *lab.get("secondary", [])})
    return out


def _scored(measures: Sequence[Mapping[str, Any]], label_of: Mapping[str, tuple[str, set[str]]]):
    """The measures precision is scored over: those whose primary label a measure of another agency also has."""
    agency = {m["id"]: m["agency"] for m in measures}
    for mid, (first, every) in label_of.items():
        if any(p == first and agency[o] != agency[mid] for o, (p, _) in label_of.items()):
            yield mid, first, every


def label_precision(
    index: SearchIndex, labels: Sequence[Mapping[str, Any]], k: int = 5, mode: str = "hybrid"
) -> tuple[float, float, int]:
    """Precision@k of similar() against hand practice labels (bench/data/practice_labels.json).

    Returns (primary, shared, n): primary counts a result whose primary label is the source's; shared counts a
    result sharing any label (primary or secondary) with it. Scored over the n measures whose primary label some
    measure of another agency also has; a result of the source's own agency counts as wrong.
    """
    by_id = {m["id"]: m for m in index.measures}
    label_of = _labels_of(index.measures, labels)
    primary, shared = [], []
    for mid, first, every in _scored(index.measures, label_of):
        agency = by_id[mid]["agency"]
        hits = index.similar(mid, k=k, mode=mode)
        ok = [h for h in hits if h["agency"] != agency]
        primary.append(sum(label_of.get(h["id"], ("", set()))[0] == first for h in ok) / k)
        shared.append(sum(bool(label_of.get(h["id"], ("", set()))[1] & every) for h in ok) / k)
    n = len(primary)
    return (sum(primary) / n if n else 0.0), (sum(shared) / n if n else 0.0), n


def label_ceiling(
    measures: Sequence[Mapping[str, Any]], labels: Sequence[Mapping[str, Any]], k: int = 5
) -> tuple[float, float]:
    """The precision@k (primary, shared) of the best possible ranking: a measure whose label only two measures of
    other agencies share can score at most 2/k, however good the ranking."""
    agency = {m["id"]: m["agency"] for m in measures}
    label_of = _labels_of(measures, labels)
    primary, shared = [], []
    for mid, first, every in _scored(measures, label_of):
        others = [(p, e) for o, (p, e) in label_of.items() if agency[o] != agency[mid]]
        primary.append(min(k, sum(p == first for p, _ in others)) / k)
        shared.append(min(k, sum(bool(e & every) for _, e in others)) / k)
    n = len(primary)
    return (sum(primary) / n if n else 0.0), (sum(shared) / n if n else 0.0)
