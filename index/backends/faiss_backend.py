"""FAISS backend: exact flat inner product for small corpora, HNSW past a measured size."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from index.backends.base import VectorIndex, check_rows
from index.errors import MissingExtraError

INDEX_FILE = "index.faiss"
# Measured on 2 cores with 512-d rows (bench/bench_index.py --sweep): flat search p50 is 1.3 ms
# at 10k rows, 3.8 ms at 25k, 7.6 ms at 50k and 40 ms at 100k, where HNSW (M=32) takes ~2 ms.
# Hybrid search runs two vector searches (the second after feedback), so past 50k rows the
# flat scan alone would spend most of a 20 ms budget.
HNSW_THRESHOLD = 50_000
HNSW_M = 32
HNSW_EF_SEARCH = 128


def _faiss():
    try:
        import faiss
    except ImportError as e:
        raise MissingExtraError("faiss", "faiss", "faiss-cpu") from e
    return faiss


class FaissIndex(VectorIndex):
    """Rows are L2-normalised, so METRIC_INNER_PRODUCT (IndexFlatIP / HNSW-IP) ranks by cosine."""

    kind = "faiss"

    def __init__(self, dim: int, hnsw_threshold: int = HNSW_THRESHOLD) -> None:
        super().__init__(dim)
        self.hnsw_threshold = hnsw_threshold
        self._index = _faiss().IndexFlatIP(dim)  # inner product on unit vectors = cosine

    @property
    def is_hnsw(self) -> bool:
        return "HNSW" in type(self._index).__name__

    def add(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        v = check_rows(ids, vectors, self.dim)
        total = len(self.ids) + len(ids)
        if not self.is_hnsw and total > self.hnsw_threshold:
            self._to_hnsw()
        self._index.add(v)
        self.ids.extend(ids)

    def _to_hnsw(self) -> None:
        faiss = _faiss()
        old = self._index
        # Inner product on unit vectors = cosine, as in the flat index it replaces.
        hnsw = faiss.IndexHNSWFlat(self.dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efSearch = HNSW_EF_SEARCH
        if old.ntotal:
            hnsw.add(old.reconstruct_n(0, old.ntotal))
        self._index = hnsw

    def _search_rows(self, queries, k, allowed_mask):
        faiss = _faiss()
        params = None
        if allowed_mask is None and self.is_hnsw:
            # The candidate list must be at least k long, or HNSW returns fewer, worse neighbours.
            params = faiss.SearchParametersHNSW(efSearch=max(HNSW_EF_SEARCH, 2 * k))
            return self._index.search(queries, k, params=params)
        if allowed_mask is not None:
            if not allowed_mask.any():
                return np.full((len(queries), k), -np.inf, np.float32), np.full((len(queries), k), -1)
            bits = np.packbits(allowed_mask.astype(bool), bitorder="little")
            sel = faiss.IDSelectorBitmap(len(allowed_mask), faiss.swig_ptr(bits))
            if self.is_hnsw:
                params = faiss.SearchParametersHNSW(sel=sel, efSearch=max(HNSW_EF_SEARCH, 2 * k))
            else:
                params = faiss.SearchParameters(sel=sel)
            scores, rows = self._index.search(queries, k, params=params)
            del bits  # the selector points into this buffer until the search returns
        else:
            scores, rows = self._index.search(queries, k)
        return scores, rows

    def _row_count(self) -> int:
        return int(self._index.ntotal)

    def _save_vectors(self, directory: Path) -> None:
        _faiss().write_index(self._index, str(directory / INDEX_FILE))

    def _load_vectors(self, directory: Path) -> None:
        self._index = _faiss().read_index(str(directory / INDEX_FILE))
