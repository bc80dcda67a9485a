"""Print nDCG@10 per mode and per query style on the dev queries, and similar-practice precision@5."""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict

from bench.corpus import load_dev_queries, load_measures
from bench.evaluation import evaluate, similar_precision, unresolved
from index.encoders import DEFAULT_ENCODER, get_encoder
from index.search import SearchIndex


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--encoder", default=DEFAULT_ENCODER, help="encoder name (index.encoders.get_encoder)")
    ap.add_argument("--measures", help="measures jsonl (default: kg export, else the stand-in)")
    ap.add_argument("--backend", default="faiss")
    ap.add_argument("--no-similar", action="store_true", help="skip similar-practice precision")
    args = ap.parse_args(argv)

    measures, source = load_measures(args.measures)
    queries = load_dev_queries()
    t0 = time.perf_counter()
    encoder = get_encoder(args.encoder)
    t1 = time.perf_counter()
    index = SearchIndex.build(measures, encoder, backend=args.backend)
    t2 = time.perf_counter()
    print(f"corpus: {len(measures)} measures ({source}); encoder {encoder.model_id} dim {encoder.dim}")
    print(f"model load {t1 - t0:.2f} s; build {t2 - t1:.2f} s ({len(measures) / max(t2 - t1, 1e-9):.0f} measures/s)")
    miss = unresolved(queries, measures)
    if miss:
        print(f"warning: {len(miss)} judgments name no measure of this corpus, e.g. {miss[0]}")

    styles = sorted({q["style"] for q in queries})
    print(f"\n{'mode':8} {'all':>6} " + " ".join(f"{s:>10}" for s in styles))
    for mode in ("lexical", "dense", "hybrid"):
        scores = evaluate(index, queries, mode)
        by_style = defaultdict(list)
        for q in queries:
            by_style[q["style"]].append(scores[q["id"]])
        print(
            f"{mode:8} {statistics.mean(scores.values()):6.3f} "
            + " ".join(f"{statistics.mean(by_style[s]):10.3f}" for s in styles)
        )
    per_q = evaluate(index, queries, "hybrid")
    print("\nhybrid per query: " + "  ".join(f"{q}={v:.2f}" for q, v in per_q.items()))
    if not args.no_similar:
        for mode in ("dense", "hybrid"):
            strict, overlap, n = similar_precision(index, index.vocabulary, k=5, mode=mode)
            print(
                f"similar-practice precision@5 ({mode}): strict {strict:.3f}, shared type {overlap:.3f} "
                f"over {n} measures with a clear practice type"
            )


if __name__ == "__main__":
    main()
