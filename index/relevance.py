"""Calibrated relevance: the probability that a measure answers a query, from raw retrieval evidence.

Scores shown to planners must mean the same from query to query, and a query nothing answers must find nothing.
Min-max normalised scores do neither (the best candidate of any query scores 1.0), so every (query, measure) pair is
described by raw, query-independent features and a logistic model turns them into a probability:

- cosine: the encoder's cosine between query and passage;
- gap: how far that cosine lies below the query's best cosine over the whole corpus (0 for the nearest measure);
- coverage: the share of the query's words (idf-weighted character pairs and ASCII words) the measure contains;
- bm25n: BM25 of the query (with vocabulary expansion) over the total idf of the query's words;
- expansion: whether the measure uses a vocabulary synonym of a practice the query names.

The weights and the floor (the probability a result needs to be shown) are fitted per encoder and mode on judged
queries by `python -m bench.calibrate` and stored in index/data/calibration.json. A query is answered only when its
best measure reaches the floor (no off-topic query does); its matches are then every measure reaching a lower
`keep` level, fitted for recall.

A query in other words than the plans' (a paraphrase sharing no word with any measure) gets a low hybrid probability
everywhere, since the hybrid model learnt that words in common are the surest evidence. So hybrid search also asks
the dense model of the same encoder: a query is answered too when its meaning alone reaches `meaning_floor` (set a
margin above every off-topic query's dense probability), and the measures the dense model keeps are matches as well.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

FEATURES = {
    "hybrid": ("cosine", "gap", "coverage", "bm25n", "expansion"),
    "lexical": ("coverage", "bm25n", "expansion"),
    "dense": ("cosine", "gap"),
}


@dataclass(frozen=True)
class Calibration:
    """A logistic model over named features, and the probabilities that make a match.

    A query is answered at all only when some measure reaches `floor` (set above every off-topic query); the
    query's matches are then the measures reaching `keep` (at most `floor`), a level fitted for recall.
    """

    model_id: str
    mode: str
    features: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float
    floor: float
    keep: float | None = None  # None: the floor
    # hybrid only: the dense model's probability at which a query is answered on meaning alone (None: words only)
    meaning_floor: float | None = None

    @property
    def keep_level(self) -> float:
        return self.floor if self.keep is None else min(self.keep, self.floor)

    def probability(self, features: dict[str, np.ndarray]) -> np.ndarray:
        z = np.full(len(next(iter(features.values()))), self.bias, dtype=np.float64)
        for name, w in zip(self.features, self.weights, strict=True):
            z += w * np.asarray(features[name], dtype=np.float64)
        return (1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))).astype(np.float32)

    def to_dict(self) -> dict:
        return asdict(self)


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-3, iterations: int = 100) -> tuple[np.ndarray, float]:
    """Weights and bias of an L2-regularised logistic regression (Newton's method), for bench.calibrate.

    Features are standardised while fitting, so the penalty treats a cosine (spread 0.05) and a coverage (spread
    0.3) alike; the weights returned apply to the raw features."""
    mu, sd = x.mean(axis=0), x.std(axis=0)
    sd[sd < 1e-9] = 1.0
    xs = (x - mu) / sd
    n, d = xs.shape
    xb = np.hstack([xs, np.ones((n, 1))])
    w = np.zeros(d + 1)
    reg = np.full(d + 1, l2)
    reg[-1] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(xb @ w, -40, 40)))
        grad = xb.T @ (p - y) / n + reg * w
        hess = (xb * (p * (1 - p))[:, None]).T @ xb / n + np.diag(reg)
        step = np.linalg.solve(hess + 1e-9 * np.eye(d + 1), grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    weights = w[:-1] / sd
    return weights, float(w[-1] - (weights * mu).sum())


CALIBRATION_FILE = "data/calibration.json"


@lru_cache(maxsize=4)
def load_calibrations(path: str | None = None) -> dict[tuple[str, str], Calibration]:
    """Every stored calibration by (encoder model id, mode)."""
    raw = (
        Path(path).read_text(encoding="utf-8")
        if path
        else resources.files("index").joinpath(CALIBRATION_FILE).read_text(encoding="utf-8")
    )
    out = {}
    for c in json.loads(raw)["calibrations"]:
        cal = Calibration(
            c["model_id"],
            c["mode"],
            tuple(c["features"]),
            tuple(float(w) for w in c["weights"]),
            float(c["bias"]),
            float(c["floor"]),
            None if c.get("keep") is None else float(c["keep"]),
            None if c.get("meaning_floor") is None else float(c["meaning_floor"]),
        )
        out[(cal.model_id, cal.mode)] = cal
    return out


def calibration_for(model_id: str, mode: str) -> Calibration | None:
    """The calibration of this encoder and mode (None: nobody calibrated it); lexical scores need no encoder, so
    one lexical calibration (model id "*") serves every encoder."""
    return load_calibrations().get(("*" if mode == "lexical" else model_id, mode))
