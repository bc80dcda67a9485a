"""Vector index backends (FAISS, brute-force numpy) behind one interface, chosen by name."""

from __future__ import annotations

import json
from pathlib import Path

from index.backends.base import IDS_FILE, VectorIndex
from index.backends.faiss_backend import FaissIndex
from index.backends.numpy_backend import NumpyIndex

BACKENDS: dict[str, type[VectorIndex]] = {"faiss": FaissIndex, "numpy": NumpyIndex}


def make_vector_index(kind: str, dim: int) -> VectorIndex:
    """An empty index of the named backend."""
    try:
        return BACKENDS[kind](dim)
    except KeyError:
        raise ValueError(f"unknown vector backend {kind!r}; known: {', '.join(BACKENDS)}") from None


def load_vector_index(directory: str | Path) -> VectorIndex:
    """Whatever backend wrote this directory, read back."""
    kind = json.loads((Path(directory) / IDS_FILE).read_text(encoding="utf-8"))["kind"]
    return BACKENDS[kind].load(directory)


__all__ = ["VectorIndex", "FaissIndex", "NumpyIndex", "make_vector_index", "load_vector_index", "BACKENDS"]
