"""The vector index interface every backend implements: rows of unit vectors keyed by measure id."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path

import numpy as np

IDS_FILE = "ids.json"


class VectorIndex(ABC):
    """Inner-product search over L2-normalised rows (so scores are cosines).

    Row i holds the vector of `ids[i]`; an `allowed_mask` is a boolean array over rows.
    """

    kind: str = ""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.ids: list[str] = []

    def __len__(self) -> int:
        return len(self.ids)

    @abstractmethod
    def add(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        """Append rows; vectors must already be L2-normalised float32 of shape (len(ids), dim)."""

    @abstractmethod
    def _search_rows(
        self, queries: np.ndarray, k: int, allowed_mask: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Scores and row numbers (-1 where fewer than k rows qualify), best first."""

    @abstractmethod
    def _save_vectors(self, directory: Path) -> None: ...

    @abstractmethod
    def _load_vectors(self, directory: Path) -> None: ...

    def search(
        self, queries: np.ndarray, k: int, allowed_mask: np.ndarray | None = None
    ) -> list[list[tuple[str, float]]]:
        """For each query row, up to k (measure id, cosine) pairs, best first."""
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if allowed_mask is not None and allowed_mask.shape != (len(self),):
            raise ValueError(f"allowed_mask has shape {allowed_mask.shape}, index has {len(self)} rows")
        k = min(k, len(self))
        if k <= 0:
            return [[] for _ in range(q.shape[0])]
        scores, rows = self._search_rows(q, k, allowed_mask)
        return [
            [(self.ids[r], float(s)) for s, r in zip(srow, rrow, strict=True) if r >= 0]
            for srow, rrow in zip(scores, rows, strict=True)
        ]

    def save(self, directory: str | Path) -> None:
        """Write the vectors and, beside them, the row → measure id table."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        self._save_vectors(d)
        (d / IDS_FILE).write_text(
            json.dumps({"kind": self.kind, "dim": self.dim, "ids": self.ids}, ensure_ascii=False), encoding="utf-8"
        )

    @classmethod
    def load(cls, directory: str | Path) -> VectorIndex:
        """Read an index written by save()."""
        d = Path(directory)
        meta = json.loads((d / IDS_FILE).read_text(encoding="utf-8"))
        index = cls(int(meta["dim"]))
        index._load_vectors(d)
        index.ids = list(meta["ids"])
        if index._row_count() != len(index.ids):
            raise ValueError(f"{d}: {index._row_count()} vectors but {len(index.ids)} ids")
        return index

    @abstractmethod
    def _row_count(self) -> int: ...


def check_rows(ids: Sequence[str], vectors: np.ndarray, dim: int) -> np.ndarray:
    """The vectors as contiguous float32, after checking their shape against ids and dim."""
    v = np.ascontiguousarray(vectors, dtype=np.float32)
    if v.ndim != 2 or v.shape != (len(ids), dim):
        raise ValueError(f"expected vectors of shape ({len(ids)}, {dim}), got {v.shape}")
    return v
