"""Fusion of lexical and dense scores over a shared candidate set."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FusionParams:
    """How the two retrievers are combined; defaults measured on the dev queries (bench/eval_search.py)."""

    method: str = "convex"  # "convex" (normalised scores, weighted) or "rrf" (reciprocal ranks)
    dense_weight: float = 0.5
    depth: int = 100  # candidates taken from each retriever before fusing
    rrf_k: int = 60


def _minmax(x: np.ndarray) -> np.ndarray:
    lo, hi = float(x.min()), float(x.max())
    return (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)


def fuse(lexical: np.ndarray, dense: np.ndarray, params: FusionParams) -> np.ndarray:
    """Fused scores of candidates, given each retriever's raw scores for the same candidates.

    Convex fusion min-max normalises each retriever over the candidates, so BM25's unbounded
    scale and the cosine's narrow band weigh what `dense_weight` says and no more.
    """
    if len(lexical) == 0:
        return np.zeros(0, dtype=np.float32)
    if params.method == "rrf":

        def rr(x: np.ndarray) -> np.ndarray:
            ranks = np.empty(len(x), dtype=np.float32)
            ranks[np.argsort(-x, kind="stable")] = np.arange(1, len(x) + 1)
            return 1.0 / (params.rrf_k + ranks)

        lex_rr = np.where(lexical > 0, rr(lexical), 0.0)
        return (params.dense_weight * rr(dense) + (1 - params.dense_weight) * lex_rr).astype(np.float32)
    w = params.dense_weight
    return (w * _minmax(dense) + (1 - w) * _minmax(lexical)).astype(np.float32)
