"""Fit the relevance calibration (index.relevance) of each encoder and mode on the judged query set, and its floor.

    python -m bench.calibrate                      # e5-small-q4 and use-onnx, written to index/data/calibration.json
    python -m bench.calibrate --encoder use-numpy --dry-run

Training pairs are every (query, measure) of bench/data/queries.json over the bundled plans: a measure judged
grade 1 or 2 is relevant, any other is not; the set's nonsense queries add pairs that are all irrelevant. The dev
queries (tests/data/dev-queries.json) are never used here, so bench.eval_search can report them as unseen.

The floor is the highest probability any nonsense query gives any measure, plus a margin: a query about nothing the
plans do must find nothing. A query whose best measure reaches the floor then matches every measure whose
probability is at least KEEP_PROBABILITY (one in twenty). Hybrid search also answers a query on its meaning alone
(index.relevance): its meaning floor is the dense floor plus MEANING_MARGIN. The output also gives a 4-fold
cross-validation over queries (nDCG@10 with and without the floor, and how many held-out nonsense queries match
nothing), so neither is only measured where it was fitted.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import numpy as np

from bench.corpus import load_measures, load_own_queries
from bench.evaluation import resolve_judgments
from index.encoders import get_encoder
from index.relevance import CALIBRATION_FILE, FEATURES, Calibration, fit_logistic
from index.search import SearchIndex

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "index" / CALIBRATION_FILE
ENCODERS = ("e5+use", "e5-small-q4", "use-numpy", "use-onnx")
LEXICAL_ID = "*"  # lexical scores need no encoder: one calibration serves them all
# Once a query is answered, a measure is one of its matches when the chance that it is relevant is at least one in
# twenty: a planner looking for other agencies' practices would rather skim a weak one than miss a true one.
KEEP_PROBABILITY = 0.05
FLOOR_MARGIN = 0.02  # above the most relevant-looking nonsense query: unseen nonsense may look a little better
# Hybrid search answers a query on meaning alone (no word in common with any measure) when the dense model's
# probability clears the dense floor by this much more: with no word to go on, the margin over nonsense is wider.
MEANING_MARGIN = 0.02


def meaning_floor(dense_floor: float) -> float:
    """The dense probability at which hybrid search answers a query on meaning alone."""
    return round(dense_floor + MEANING_MARGIN, 3)


def pairs(index: SearchIndex, queries: list[dict], nonsense: list[str], mode: str):
    """Per query: its feature matrix over all rows, each row's grade (0 for nonsense queries), and the text."""
    judged = resolve_judgments(queries, index.measures)
    names = FEATURES[mode]
    out = []
    for text, grades in [(q["query"], judged[q["id"]]) for q in queries] + [(t, {}) for t in nonsense]:
        f = index.relevance_features(text, mode)
        g = np.array([grades.get(m["id"], 0) for m in index.measures], dtype=np.float64)
        out.append((np.stack([f[n] for n in names], axis=1).astype(np.float64), g, text))
    return out


def fit(data) -> tuple[np.ndarray, float, float, float]:
    """Weights, bias, floor and keep level fitted on these queries: relevant means grade 1 or 2; the floor is the
    highest probability any nonsense query reaches, plus FLOOR_MARGIN; keep is KEEP_PROBABILITY (at most the
    floor)."""
    x = np.concatenate([d[0] for d in data])
    y = np.concatenate([(d[1] >= 1).astype(np.float64) for d in data])
    w, b = fit_logistic(x, y)
    worst = max((float(_prob(d[0], w, b).max()) for d in data if not d[1].any()), default=0.5)
    floor = round(min(worst + FLOOR_MARGIN, 0.95), 3)
    return w, b, floor, min(KEEP_PROBABILITY, floor)


def _prob(x: np.ndarray, w: np.ndarray, b: float) -> np.ndarray:
    return 1 / (1 + np.exp(-np.clip(x @ w + b, -40, 40)))


def cross_validate(data, meaning=None, folds: int = 4) -> tuple[float, float, float]:
    """Each query scored by a model fitted without it (round-robin folds): mean nDCG@10 of the judged queries
    without and with the floor, and the share of nonsense queries matching nothing. meaning: the same queries'
    dense data, for hybrid search's answer on meaning alone (its model and floor fitted on the same folds)."""
    plain, floored, empty = [], [], []
    for k in range(folds):
        train = [d for i, d in enumerate(data) if i % folds != k]
        w, b, floor, keep = fit(train)
        if meaning is not None:
            wd, bd, floor_d, keep_d = fit([d for i, d in enumerate(meaning) if i % folds != k])
        for i, (x, g, _) in enumerate(data):
            if i % folds != k:
                continue
            p = _prob(x, w, b)
            answered, kept = p.max() >= floor, p >= keep
            if meaning is not None:
                pd = _prob(meaning[i][0], wd, bd)
                answered = answered or pd.max() >= meaning_floor(floor_d)
                kept = kept | (pd >= keep_d)
            if not g.any():
                empty.append(float(not answered))
                continue
            order = np.argsort(-p, kind="stable")
            plain.append(_ndcg(g[order[:10]], g))
            shown = order[kept[order]] if answered else order[:0]
            floored.append(_ndcg(g[shown[:10]], g))
    return statistics.mean(plain), statistics.mean(floored), statistics.mean(empty)


def _ndcg(ranked: np.ndarray, grades: np.ndarray) -> float:
    gains = (2**ranked - 1) / np.log2(np.arange(2, len(ranked) + 2))
    ideal = np.sort(grades)[::-1][:10]
    idcg = ((2**ideal - 1) / np.log2(np.arange(2, len(ideal) + 2))).sum()
    return float(gains.sum() / idcg) if idcg > 0 else 0.0


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--encoder", action="append", help=f"encoder(s) to calibrate (default: {', '.join(ENCODERS)})")
    ap.add_argument("--dry-run", action="store_true", help="print the fit, write nothing")
    args = ap.parse_args(argv)
    measures, _ = load_measures()
    queries, nonsense = load_own_queries()
    existing = json.loads(OUT.read_text("utf-8"))["calibrations"] if OUT.exists() else []
    kept = {(c["model_id"], c["mode"]): c for c in existing}
    lexical_done = False
    for name in args.encoder or ENCODERS:
        encoder = get_encoder(name)
        index = SearchIndex.build(measures, encoder)
        dense_data, dense_floor = None, None
        for mode in ("dense", "hybrid", "lexical"):
            if mode == "lexical" and lexical_done:
                continue
            data = pairs(index, queries, nonsense, mode)
            w, b, floor, keep = fit(data)
            meaning = dense_data if mode == "hybrid" else None
            cv_plain, cv_floor, cv_empty = cross_validate(data, meaning)
            if mode == "dense":
                dense_data, dense_floor = data, floor
            model_id = LEXICAL_ID if mode == "lexical" else encoder.model_id
            weights = tuple(round(float(v), 4) for v in w)
            by_dense = meaning_floor(dense_floor) if mode == "hybrid" else None
            cal = Calibration(model_id, mode, FEATURES[mode], weights, round(b, 4), floor, keep, by_dense)
            kept[(model_id, mode)] = cal.to_dict()
            shown = ", ".join(f"{n} {v:+.2f}" for n, v in zip(FEATURES[mode], w, strict=True))
            by_meaning = f", meaning floor {by_dense:.3f}" if by_dense is not None else ""
            print(
                f"{model_id:32} {mode:8} floor {floor:.2f} keep {keep:.2f}{by_meaning}  bias {b:+.2f}  {shown}\n"
                f"{'':32} {'':8} 4-fold CV: nDCG@10 {cv_plain:.3f} unfloored, {cv_floor:.3f} floored; "
                f"nonsense queries matching nothing {cv_empty:.2f}"
            )
        lexical_done = True
    if not args.dry_run:
        doc = {
            "about": "Fitted by `python -m bench.calibrate` on bench/data/queries.json over the bundled plans.",
            "calibrations": sorted(kept.values(), key=lambda c: (c["model_id"], c["mode"])),
        }
        OUT.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        print(f"written {OUT.relative_to(REPO)}")


if __name__ == "__main__":
    main()
