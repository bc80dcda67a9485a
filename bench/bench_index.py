"""Print build time, peak memory and query latency per mode, on the bundled corpus and a synthetic 100k one."""

from __future__ import annotations

import argparse
import random
import re
import resource
import statistics
import tempfile
import time
import tracemalloc

import numpy as np

from bench.corpus import load_dev_queries, load_measures
from index.encoders import DEFAULT_ENCODER, get_encoder, l2_normalise
from index.measures import passage_text
from index.search import SearchIndex

# Latency only: a spread of query styles beyond the dev set, none of them judged.
EXTRA_QUERIES = [
    "無障礙坡道",
    "哪些機關有夜間或假日延長服務？",
    "線上申辦",
    "志工引導洽公民眾",
    "雙語標示",
    "案件進度查詢",
    "讓外國人也能看懂申請表",
    "服務滿意度調查",
    "市長信箱陳情案件處理",
    "行動支付繳費",
    "老人家不方便出門也能辦事",
    "公文線上簽核",
    "哺集乳室",
    "開放資料 API",
    "減少民眾往返奔波",
]


def rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def latency(index: SearchIndex, queries: list[str], mode: str, k: int = 10, repeat: int = 3) -> tuple[float, float]:
    """p50 and p95 in ms of index.search over the queries, after one warm-up pass."""
    for q in queries:
        index.search(q, k=k, mode=mode)
    times = []
    for _ in range(repeat):
        for q in queries:
            t = time.perf_counter()
            index.search(q, k=k, mode=mode)
            times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def report_latency(index: SearchIndex, queries: list[str], label: str) -> None:
    for mode in ("lexical", "dense", "hybrid"):
        p50, p95 = latency(index, queries, mode)
        print(f"  {label} {mode:8} p50 {p50:7.2f} ms   p95 {p95:7.2f} ms")
    ids = [m["id"] for m in index.measures[:: max(1, len(index) // 30)]][:30]
    times = []
    for mid in ids:
        t = time.perf_counter()
        index.similar(mid, k=5)
        times.append((time.perf_counter() - t) * 1000)
    print(f"  {label} similar  p50 {statistics.median(times):7.2f} ms")


def perturb(text: str, rng: random.Random) -> str:
    """Shuffle clauses and drop a few characters: same vocabulary, different strings."""
    parts = [p for p in re.split(r"(?<=[，。；、])", text) if p]
    rng.shuffle(parts)
    out = "".join(parts)
    return "".join(ch for ch in out if rng.random() > 0.03)


def synthetic(measures: list[dict], n: int, seed: int = 0) -> list[dict]:
    """n measures of 400 made-up agencies over 10 years, bodies perturbed from real ones."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        base = measures[rng.randrange(len(measures))]
        agency = f"高雄市合成機關{rng.randrange(400):03d}"
        year = 2014 + rng.randrange(10)
        out.append(
            {
                **base,
                "id": f"syn-{i:06d}",
                "plan": f"{agency}{year}年度計畫",
                "agency": agency,
                "year": year,
                "text": perturb(base.get("text") or "", rng),
            }
        )
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--encoder", default=DEFAULT_ENCODER)
    ap.add_argument("--measures", help="measures jsonl (default: kg export, else the stand-in)")
    ap.add_argument("--n", type=int, default=100_000, help="size of the synthetic corpus (0 to skip)")
    ap.add_argument("--encode-subset", type=int, default=2000, help="synthetic measures really encoded")
    ap.add_argument("--noise", type=float, default=0.02, help="per-dimension noise added to tiled vectors")
    ap.add_argument("--backend", default="faiss")
    args = ap.parse_args(argv)

    t = time.perf_counter()
    encoder = get_encoder(args.encoder)
    print(
        f"encoder {encoder.model_id} (dim {encoder.dim}): model load {time.perf_counter() - t:.2f} s (excluded below)"
    )
    measures, source = load_measures(args.measures)
    queries = [q["query"] for q in load_dev_queries()] + EXTRA_QUERIES

    print(f"\n== bundled corpus: {len(measures)} measures ({source})")
    tracemalloc.start()
    t = time.perf_counter()
    index = SearchIndex.build(measures, encoder, backend=args.backend)
    build = time.perf_counter() - t
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"  build {build:.2f} s ({len(measures) / build:.0f} measures/s, encoding included)")
    print(f"  peak traced allocations during build {peak / 2**20:.1f} MiB; process peak RSS {rss_mb():.0f} MiB")
    report_latency(index, queries, "bundled")

    if args.n <= 0:
        return
    print(f"\n== synthetic corpus: {args.n} measures perturbed from the bundled ones")
    syn = synthetic(measures, args.n)
    k = min(args.encode_subset, args.n)
    t = time.perf_counter()
    sub = encoder.encode([passage_text(m) for m in syn[:k]], kind="passage")
    enc_time = time.perf_counter() - t
    rng = np.random.default_rng(0)
    vecs = np.empty((args.n, encoder.dim), dtype=np.float32)
    for start in range(0, args.n, k):
        stop = min(start + k, args.n)
        noise = rng.standard_normal((stop - start, encoder.dim)).astype(np.float32) * args.noise
        vecs[start:stop] = l2_normalise(sub[: stop - start] + noise)
    print(
        f"  dense vectors: {k} synthetic measures encoded ({k / enc_time:.0f} passages/s, "
        f"{enc_time:.1f} s), the rest tiled from them with N(0, {args.noise}) noise and renormalised"
    )
    rss0 = rss_mb()
    t = time.perf_counter()
    big = SearchIndex.from_vectors(syn, vecs, encoder, backend=args.backend)
    build = time.perf_counter() - t
    print(f"  index build (BM25, literal postings, facet columns; no encoding) {build:.1f} s")
    print(f"  process peak RSS {rss_mb():.0f} MiB (was {rss0:.0f} MiB before the build)")
    est = args.n / (k / enc_time)
    print(f"  encoding all {args.n} measures would take about {est / 60:.1f} min at the measured rate")
    report_latency(big, queries, f"{args.n // 1000}k")
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        big.save(tmp)
        print(f"  save {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        opened = SearchIndex.load(tmp, encoder)
        print(f"  open (memory-mapped) {(time.perf_counter() - t) * 1000:.0f} ms")
        plan = syn[0]["plan"]
        changed = [m for m in syn if m["plan"] != plan] + [
            {**m, "text": m["text"] + "（修正）"} for m in syn if m["plan"] == plan
        ]
        t = time.perf_counter()
        patched = SearchIndex.build(changed, encoder, previous=opened)
        print(
            f"  one plan replaced ({patched.encoded} measures encoded, {patched.reused_rows} rows reused): "
            f"{time.perf_counter() - t:.1f} s"
        )


if __name__ == "__main__":
    main()
