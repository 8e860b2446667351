"""Choosing the approximate-nearest-neighbour library: recall@10 against exact search and query
time, on vectors of real paper texts (random vectors make every graph index look broken).

Embeds the first N papers of ../shared's arXiv corpus with paperfeed's embedder (cached in a
.npy file next to the output), holds out 200 of them as queries, and compares exact numpy search
with usearch and faiss HNSW indexes at a few search widths. Padding with random unit vectors
(--pad) checks speed at a larger size; recall is only reported on the real vectors.

    python bench/ann_choice.py [--papers 10000] [--pad 0] [--cache /tmp/ann-vectors.npy]
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from paperfeed.search import embedder

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
K = 10


def vectors(n: int, cache: Path) -> np.ndarray:
    if cache.exists():
        v = np.load(cache)
        if len(v) >= n:
            return v[:n]
    with gzip.open(SHARED / "arxiv-daily-dw" / "papers.jsonl.gz", "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in itertools.islice(fh, n)]
    texts = [embedder.paper_text(r["title"], r["abstract"]) for r in rows]
    started = time.perf_counter()
    v = embedder.encode(texts, model=embedder.DEFAULT_MODEL, batch=64)
    print(f"embedded {n} papers in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    np.save(cache, v)
    return v


def timed(fn, queries) -> tuple[list, float, float]:
    out, times = [], []
    for q in queries:
        t0 = time.perf_counter()
        out.append(fn(q))
        times.append((time.perf_counter() - t0) * 1000)
    return out, statistics.median(times), statistics.quantiles(times, n=100)[98]


def recall(found, truth) -> float:
    return sum(len(set(f) & set(t)) for f, t in zip(found, truth, strict=True)) / (K * len(truth))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=10_000)
    parser.add_argument("--pad", type=int, default=0, help="random unit vectors added for scale")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/ann-vectors.npy"))
    args = parser.parse_args()
    real = vectors(args.papers, args.cache)
    queries, base = real[:200], real[200:]
    if args.pad:
        rng = np.random.default_rng(0)
        pad = rng.standard_normal((args.pad, base.shape[1])).astype(np.float32)
        pad /= np.linalg.norm(pad, axis=1, keepdims=True)
        base = np.vstack([base, pad])
    rows = []
    truth, p50, p99 = timed(lambda q: np.argpartition(-(base @ q), K)[:K].tolist(), queries)
    rows.append(("exact numpy scan", "", 1.0, p50, p99, 0.0))

    from usearch.index import Index

    t0 = time.perf_counter()
    u = Index(ndim=base.shape[1], metric="ip", dtype="f32", connectivity=16, expansion_add=128)
    u.add(np.arange(len(base)), base)
    build = time.perf_counter() - t0
    for ef in (32, 64, 128):
        u.expansion_search = ef
        found, a, b = timed(lambda q: u.search(q, K).keys.tolist(), queries)
        rows.append(("usearch HNSW M=16", f"ef={ef}", recall(found, truth), a, b, build))

    import faiss

    faiss.omp_set_num_threads(1)
    t0 = time.perf_counter()
    f = faiss.IndexHNSWFlat(base.shape[1], 16, faiss.METRIC_INNER_PRODUCT)
    f.hnsw.efConstruction = 128
    f.add(base)
    build = time.perf_counter() - t0
    for ef in (32, 64, 128):
        f.hnsw.efSearch = ef
        found, a, b = timed(lambda q: f.search(q[None, :], K)[1][0].tolist(), queries)
        rows.append(("faiss HNSW M=16", f"ef={ef}", recall(found, truth), a, b, build))

    exact = rows[0][3]
    print(
        f"\n{len(base):,} vectors ({len(real) - 200:,} real, {args.pad:,} random), 200 real "
        "queries, single thread; times in ms\n"
    )
    print(f"{'index':<20}{'setting':<9}{'recall@10':>10}{'p50':>8}{'p99':>8}"
          f"{'p50 vs exact':>14}{'build s':>9}")  # fmt: skip
    for name, setting, rec, a, b, build in rows:
        print(f"{name:<20}{setting:<9}{rec:>10.3f}{a:>8.3f}{b:>8.3f}{a / exact:>14.2f}"
              f"{build:>9.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
