"""Search quality per encoder: nDCG@10 per mode and query style on our judged set and on the dev set, how many
nonsense queries match nothing (those the floors were set on, and a held-out set), and similar-practice
precision@5 against hand practice labels.

    python -m bench.eval_search                       # the default encoder and use-onnx
    python -m bench.eval_search --encoder e5-small-q4 --encoder use-numpy

Our set (bench/data/queries.json) is what the relevance calibration is fitted on (bench.calibrate), so its figures
are in-sample for the calibration's few weights; the dev set (tests/data/dev-queries.json), the held-out paraphrases
(bench/data/paraphrase_heldout.json) and the blind set (bench/data/blind_queries.json) are used by neither; the
blind set was also written without sight of the vocabulary. Results below the relevance floor are not returned, so a
floor set too high costs nDCG here.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict

from bench.corpus import (
    load_dev_queries,
    load_heldout_nonsense,
    load_measures,
    load_own_queries,
    load_practice_labels,
    load_unfitted_queries,
)
from bench.evaluation import evaluate, label_ceiling, label_precision, unresolved
from index.encoders import DEFAULT_ENCODER, get_encoder
from index.search import SearchIndex

MODES = ("lexical", "dense", "hybrid")
STYLES = ("keyword", "paraphrase", "question")


def report(index: SearchIndex, name: str, queries: list[dict]) -> None:
    miss = unresolved(queries, index.measures)
    if miss:
        print(f"warning: {len(miss)} judgments of {name} name no measure of this corpus, e.g. {miss[0]}")
    print(f"{name + ' (' + str(len(queries)) + ')':18} {'all':>6} " + " ".join(f"{s:>10}" for s in STYLES))
    for mode in MODES:
        scores = evaluate(index, queries, mode)
        by_style = defaultdict(list)
        for q in queries:
            by_style[q["style"]].append(scores[q["id"]])
        cells = " ".join(f"{statistics.mean(by_style[s]):10.3f}" if by_style[s] else f"{'—':>10}" for s in STYLES)
        print(f"  {mode:16} {statistics.mean(scores.values()):6.3f} {cells}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--encoder", action="append", help=f"encoder name(s) (default: {DEFAULT_ENCODER} and use-onnx)")
    ap.add_argument("--measures", help="measures jsonl (default: the bundled plans through kg)")
    ap.add_argument("--no-similar", action="store_true", help="skip similar-practice precision")
    args = ap.parse_args(argv)

    measures, source = load_measures(args.measures)
    own, nonsense = load_own_queries()
    dev = load_dev_queries()
    heldout = load_heldout_nonsense()
    everyday = load_heldout_nonsense(everyday=True)
    unfitted = load_unfitted_queries()
    names = args.encoder or list(dict.fromkeys([DEFAULT_ENCODER, "use-onnx"]))
    print(f"corpus: {len(measures)} measures ({source})")
    for name in names:
        t0 = time.perf_counter()
        encoder = get_encoder(name)
        index = SearchIndex.build(measures, encoder)
        took = time.perf_counter() - t0
        print(f"\n== {encoder.model_id} (dim {encoder.dim}): loaded and built in {took:.1f} s")
        report(index, "ours", own)
        report(index, "dev", dev)
        for set_name, queries in unfitted.items():
            report(index, set_name, queries)
        empty = sum(index.query(q).total == 0 for q in nonsense)
        unseen = sum(index.query(q).total == 0 for q in heldout)
        plain = sum(index.query(q).total == 0 for q in everyday)
        print(
            f"nonsense queries matching nothing (hybrid): {empty} of {len(nonsense)} the floors were set on, "
            f"{unseen} of {len(heldout)} held out, {plain} of {len(everyday)} off-topic ones in everyday words"
        )
        if not args.no_similar:
            labels = load_practice_labels()
            for mode in ("dense", "hybrid"):
                first, shared, n = label_precision(index, labels, k=5, mode=mode)
                if mode == "dense":
                    best_first, best_shared = label_ceiling(index.measures, labels, k=5)
                    print(
                        f"similar practices precision@5 of the best possible ranking: same primary label "
                        f"{best_first:.3f}, any shared label {best_shared:.3f}"
                    )
                print(
                    f"similar practices precision@5 ({mode}): same primary label {first:.3f}, "
                    f"any shared label {shared:.3f}, over {n} measures"
                )


if __name__ == "__main__":
    main()
