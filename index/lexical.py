"""BM25 over character 1–2-grams of normalised text, in pure numpy, kept as arrays that save and open memory-mapped."""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from index.arrays import Patch, Postings, Strings, open_array, save_array
from index.textnorm import tokens


def term_counts(doc: str) -> Counter[str]:
    """A document's terms with their frequencies: what BM25 keeps of it."""
    return Counter(tokens(doc))


class BM25:
    """An inverted index of documents in row order; scores are BM25 (Okapi) per row.

    Terms are a string table (found by digest), postings CSR arrays with the term frequency of every entry; a
    term no row has any more (after a patch) counts as unknown, so a patched index scores as a rebuilt one.
    """

    def __init__(self, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self._set(
            Strings.pack([], lookup=True),
            Postings(np.zeros(1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.float32)),
            np.zeros(0, np.float32),
        )

    def __len__(self) -> int:
        return int(self._lengths.shape[0])

    def fit(self, docs: Iterable[str]) -> BM25:
        """Index documents; row i of every score vector is docs[i]."""
        return self.fit_counts(term_counts(d) for d in docs)

    def fit_counts(self, counts: Iterable[Counter[str]]) -> BM25:
        """The index of these documents' term counts, read once: a generator of them is never held whole (at 100k
        measures their Counters took about 1 GB)."""
        ids: dict[str, int] = {}
        keys, rows, tfs, lengths = _entries(counts, ids, 0)
        terms = Strings.pack(list(ids), lookup=True)
        self._set(terms, Postings.from_pairs(keys, rows, len(ids), tfs), lengths)
        return self

    def patched(self, patch: Patch, counts: Sequence[Counter[str]]) -> BM25:
        """This index with its rows renumbered as the patch keeps them and new documents (their term counts) at the
        patch's new rows."""
        terms = list(self.terms)
        ids = {t: i for i, t in enumerate(terms)}
        keys, rows, tfs, new_lengths = _entries(counts, ids, 0)
        rows = patch.new[np.asarray(rows, dtype=np.int64)]
        lengths = np.zeros(len(patch.kept), dtype=np.float32)
        kept = patch.kept >= 0
        lengths[kept] = np.asarray(self._lengths)[patch.kept[kept]]
        lengths[patch.new] = new_lengths
        out = BM25(self.k1, self.b)
        new_terms = Strings.pack(list(ids), lookup=True) if len(ids) > len(terms) else self.terms
        out._set(new_terms, self.postings.patched(patch.old_to_new, len(ids), keys, rows, tfs), lengths)
        return out

    def _set(self, terms: Strings, postings: Postings, lengths: np.ndarray) -> None:
        self.terms, self.postings, self._lengths = terms, postings, lengths
        n = max(len(lengths), 1)
        avg = float(lengths.mean()) if len(lengths) else 1.0
        # Precompute the length part of the BM25 denominator once per document.
        self._norm = self.k1 * (1 - self.b + self.b * np.asarray(lengths) / max(avg, 1e-9))
        df = postings.sizes()
        self._idf = np.log(1 + (n - df + 0.5) / (df + 0.5))
        self._df = df
        self._impacts: np.ndarray | None = None  # per posting entry: its BM25 term score (made when saved)

    def impacts(self) -> np.ndarray:
        """Every posting entry's BM25 score for its term, in posting order, so that a query only adds them up (at 100k
        rows: 5.2 -> 3.0 ms per query with its synonyms); they depend on every row, so a patch makes them anew."""
        if self._impacts is None:
            tf, rows = self.postings.weights, self.postings.rows
            idf = np.repeat(self._idf.astype(np.float32), self.postings.sizes())
            out = np.empty(len(rows), dtype=np.float32)
            step = 1 << 20  # in float32 and in slices: whole-array temporaries raised a 100k build's peak memory
            for a in range(0, len(out), step):
                t = np.asarray(tf[a : a + step])
                out[a : a + step] = (
                    idf[a : a + step] * t * np.float32(self.k1 + 1) / (t + self._norm[rows[a : a + step]])
                )
            self._impacts = out
        return self._impacts

    def _term_ids(self, terms: Sequence[str]) -> list[int]:
        """Row of each term in the table, -1 for terms no row has."""
        found = self.terms.find(terms)
        return [int(i) if i >= 0 and self._df[i] > 0 else -1 for i in found]

    def idfs(self, terms: Sequence[str]) -> list[float]:
        """Each term's inverse document frequency; a term no document has gets the highest there can be."""
        return self._idfs(self._term_ids(terms))

    def _idfs(self, ids: Sequence[int]) -> list[float]:
        highest = float(np.log(1 + (len(self) + 0.5) / 0.5))
        return [float(self._idf[i]) if i >= 0 else highest for i in ids]

    def coverage(self, units: Sequence[str]) -> np.ndarray:
        """Per row, the share of the units' total idf that the row contains (0 to 1).

        Units are what a query is made of (index.textnorm.query_units): a query whose words no measure has
        covers nothing anywhere, however many single characters it shares with the plans.
        """
        out = np.zeros(len(self), dtype=np.float32)
        units = list(units)
        ids = self._term_ids(units)
        idfs = self._idfs(ids)
        total = sum(idfs)
        if total <= 0:
            return out
        for i, idf in zip(ids, idfs, strict=True):
            if i >= 0:
                np.add.at(out, self.postings.get(i), np.float32(idf))  # a float32 scalar: ufunc.at's fast loop
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
        offsets, impacts = self.postings.offsets, self.impacts()
        for (_term, w), i in zip(weights.items(), self._term_ids(list(weights)), strict=True):
            if i >= 0:  # ufunc.at: one pass over the postings, where `out[rows] += ...` gathers, adds and scatters
                np.add.at(out, self.postings.get(i), w * impacts[offsets[i] : offsets[i + 1]])
        return out

    def save(self, directory: Path) -> None:
        self.terms.save(directory, "bm25.terms")
        self.postings.save(directory, "bm25.postings")
        save_array(directory, "bm25.lengths", self._lengths)
        save_array(directory, "bm25.impacts", self.impacts())

    @classmethod
    def open(cls, directory: Path, rows: int, terms: int, k1: float = 1.2, b: float = 0.75) -> BM25:
        """Open a saved index memory-mapped (one saved before impacts were kept makes them when first asked)."""
        out = cls(k1, b)
        out._set(
            Strings.open(directory, "bm25.terms", terms, lookup=True),
            Postings.open(directory, "bm25.postings", terms, weighted=True),
            open_array(directory, "bm25.lengths", "float32", rows),
        )
        if (Path(directory) / "bm25.impacts.npy").is_file():
            out._impacts = open_array(directory, "bm25.impacts", "float32", len(out.postings.rows))
        return out


def _entries(counts: Iterable[Counter[str]], ids: dict[str, int], first_row: int):
    """(term id, row, frequency) of every term of every document, term ids taken from (and added to) ids, and each
    document's length (its number of terms); the counts are read once."""
    keys, rows, tfs, lengths = array("q"), array("q"), array("f"), array("f")
    for row, c in enumerate(counts, first_row):
        keys.extend(ids.setdefault(t, len(ids)) for t in c)
        rows.extend([row] * len(c))
        tfs.extend(c.values())
        lengths.append(sum(c.values()))
    return (
        np.frombuffer(keys, dtype=np.int64) if keys else np.zeros(0, np.int64),
        np.frombuffer(rows, dtype=np.int64) if rows else np.zeros(0, np.int64),
        np.frombuffer(tfs, dtype=np.float32) if tfs else np.zeros(0, np.float32),
        np.frombuffer(lengths, dtype=np.float32) if lengths else np.zeros(0, np.float32),
    )
