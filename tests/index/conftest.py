"""Shared fixtures: the measure corpus, the real default encoder, a built index, a fake encoder."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import pytest

from bench.corpus import load_dev_queries, load_measures
from index.encoders import DEFAULT_ENCODER, get_encoder, l2_normalise
from index.search import SearchIndex
from index.textnorm import tokens


class FakeEncoder:
    """Hashed character n-grams: deterministic and instant, for plumbing tests only (never quality)."""

    model_id = "fake-hash-64"
    dim = 64

    def __init__(self) -> None:
        self.calls: list[int] = []

    def encode(self, texts: Sequence[str], kind: str = "passage") -> np.ndarray:
        self.calls.append(len(texts))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for tok in tokens(t):
                h = int.from_bytes(hashlib.blake2b(tok.encode(), digest_size=4).digest(), "little")
                out[i, h % self.dim] += 1.0
            out[i, 0] += 1e-3  # no all-zero rows
        return l2_normalise(out)


@pytest.fixture(scope="session")
def measures() -> list[dict]:
    return load_measures()[0]


@pytest.fixture(scope="session")
def encoder():
    return get_encoder(DEFAULT_ENCODER)


@pytest.fixture(scope="session")
def index(measures, encoder) -> SearchIndex:
    return SearchIndex.build(measures, encoder)


@pytest.fixture()
def fake_encoder() -> FakeEncoder:
    return FakeEncoder()


@pytest.fixture(scope="session")
def dev_queries() -> list[dict]:
    return load_dev_queries()
