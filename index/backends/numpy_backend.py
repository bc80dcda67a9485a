"""Brute-force inner-product search in numpy: exact, and the oracle the FAISS backend is tested against."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from index.backends.base import VectorIndex, check_rows

VECTORS_FILE = "vectors.npy"


class NumpyIndex(VectorIndex):
    """Every query is scored against every allowed row; ties are broken by row order."""

    kind = "numpy"

    def __init__(self, dim: int) -> None:
        super().__init__(dim)
        self._x = np.zeros((0, dim), dtype=np.float32)

    def add(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        v = check_rows(ids, vectors, self.dim)
        self._x = np.concatenate([self._x, v]) if len(self._x) else v.copy()
        self.ids.extend(ids)

    def _search_rows(self, queries, k, allowed_mask):
        scores = queries @ self._x.T
        if allowed_mask is not None:
            scores[:, ~allowed_mask] = -np.inf
        # A stable sort on the negated scores keeps equal scores in row order.
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        top = np.take_along_axis(scores, order, axis=1)
        order = np.where(np.isfinite(top), order, -1)
        return top, order

    def _row_count(self) -> int:
        return int(self._x.shape[0])

    def _save_vectors(self, directory: Path) -> None:
        np.save(directory / VECTORS_FILE, self._x)

    def _load_vectors(self, directory: Path) -> None:
        self._x = np.load(directory / VECTORS_FILE)
