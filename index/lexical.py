"""BM25 over character 1–2-grams of normalised text, in pure numpy."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

from index.textnorm import tokens


class BM25:
    """An inverted index of documents in row order; scores are BM25 (Okapi) per row."""

    def __init__(self, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self._postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._lengths = np.zeros(0, dtype=np.float32)

    def __len__(self) -> int:
        return int(self._lengths.shape[0])

    def fit(self, docs: Iterable[str]) -> BM25:
        """Index documents; row i of every score vector is docs[i]."""
        rows: dict[str, list[int]] = {}
        tfs: dict[str, list[int]] = {}
        lengths: list[int] = []
        for row, doc in enumerate(docs):
            counts = Counter(tokens(doc))
            lengths.append(sum(counts.values()))
            for term, tf in counts.items():
                rows.setdefault(term, []).append(row)
                tfs.setdefault(term, []).append(tf)
        self._lengths = np.asarray(lengths, dtype=np.float32)
        self._postings = {t: (np.asarray(rows[t], dtype=np.int32), np.asarray(tfs[t], dtype=np.float32)) for t in rows}
        n = max(len(lengths), 1)
        avg = float(self._lengths.mean()) if lengths else 1.0
        # Precompute the length part of the BM25 denominator once per document.
        self._norm = self.k1 * (1 - self.b + self.b * self._lengths / max(avg, 1e-9))
        self._idf = {t: float(np.log(1 + (n - len(r) + 0.5) / (len(r) + 0.5))) for t, (r, _) in self._postings.items()}
        return self

    def idf(self, term: str) -> float:
        """The term's inverse document frequency; a term no document has gets the highest there can be."""
        known = self._idf.get(term)
        return known if known is not None else float(np.log(1 + (len(self) + 0.5) / 0.5))

    def coverage(self, units: Sequence[str]) -> np.ndarray:
        """Per row, the share of the units' total idf that the row contains (0 to 1).

        Units are what a query is made of (index.textnorm.query_units): a query whose words no measure has
        covers nothing anywhere, however many single characters it shares with the plans.
        """
        out = np.zeros(len(self), dtype=np.float32)
        total = sum(self.idf(u) for u in units)
        if total <= 0:
            return out
        for u in units:
            post = self._postings.get(u)
            if post is not None:
                out[post[0]] += self.idf(u)
        return out / total

    def scores(self, query: str | Sequence[tuple[str, float]]) -> np.ndarray:
        """BM25 score of every row for a query string, or for weighted (text, weight) parts."""
        parts = [(query, 1.0)] if isinstance(query, str) else list(query)
        weights: dict[str, float] = {}
        for text, w in parts:
            for term in set(tokens(text)):
                # An expansion term never outweighs the same term typed by the user.
                weights[term] = max(weights.get(term, 0.0), w)
        out = np.zeros(len(self), dtype=np.float32)
        for term, w in weights.items():
            post = self._postings.get(term)
            if post is None:
                continue
            rows, tf = post
            out[rows] += w * self._idf[term] * tf * (self.k1 + 1) / (tf + self._norm[rows])
        return out
