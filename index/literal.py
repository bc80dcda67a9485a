"""Which measures contain a word or phrase literally: character-pair postings narrow, a substring test decides."""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np

from index.query import literal_key
from index.textnorm import normalise

_ASCII = re.compile(r"[a-z0-9 .\-+]+")


class LiteralIndex:
    """The normalised texts of the rows, with the rows of every character pair (and ASCII word) in them."""

    def __init__(self, texts: Iterable[str]) -> None:
        self._flat: list[str] = []  # normalised, spaces removed: CJK phrases broken by line breaks still match
        self._padded: list[str] = []  # normalised with token spaces: ASCII words match whole
        postings: dict[str, list[int]] = {}
        for row, text in enumerate(texts):
            norm = normalise(text)
            flat = norm.replace(" ", "")
            self._flat.append(flat)
            self._padded.append(f" {norm} ")
            for gram in set(_grams(flat)):
                postings.setdefault(gram, []).append(row)
        self._postings = {g: np.asarray(r, dtype=np.int32) for g, r in postings.items()}

    def __len__(self) -> int:
        return len(self._flat)

    def contains(self, phrase: str) -> np.ndarray:
        """Boolean mask of the rows whose text contains the phrase (normalised; ASCII words as whole words)."""
        key = literal_key(phrase)
        out = np.zeros(len(self), dtype=bool)
        if not key:
            return out
        rows = self._candidates(key)
        norm = normalise(phrase)
        if _ASCII.fullmatch(norm):
            padded = f" {norm} "
            hits = [r for r in rows.tolist() if padded in self._padded[r]]
        else:
            hits = [r for r in rows.tolist() if key in self._flat[r]]
        out[hits] = True
        return out

    def document_frequency(self, phrase: str) -> int:
        return int(self.contains(phrase).sum())

    def _candidates(self, key: str) -> np.ndarray:
        grams = set(_grams(key))
        rows: np.ndarray | None = None
        for g in sorted(grams, key=lambda g: len(self._postings.get(g, ()))):
            post = self._postings.get(g)
            if post is None:
                return np.zeros(0, dtype=np.int64)
            rows = post if rows is None else np.intersect1d(rows, post, assume_unique=True)
            if not len(rows):
                break
        return rows if rows is not None else np.arange(len(self), dtype=np.int64)


def _grams(flat: str) -> list[str]:
    if len(flat) < 2:
        return [flat] if flat else []
    return [flat[i : i + 2] for i in range(len(flat) - 1)]
