"""Choosing the approximate-nearest-neighbour library: recall@10 against exact search, query time,
build time, incremental adds, load time and memory, on vectors of real paper texts padded with
random unit vectors to a larger size (random vectors alone make every graph index look broken).

The real vectors are the all-MiniLM-L6-v2 embeddings of the first --real arXiv papers of
../shared (computed once and cached, as bench/search_speed.py does); 200 of them are the queries,
the rest go into the index with --size minus that many random unit vectors. Each candidate is built
with 2 threads and searched with 1. Exact numpy search is the baseline for time and the truth for
recall.

    python bench/ann_choice.py [--size 100000] [--real 20000] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from benchlib import table  # noqa: E402
from paperfeed.config import Settings  # noqa: E402

K = 10


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def unit_noise(n: int, dim: int) -> np.ndarray:
    """Random unit vectors: far from every real text, so they never crowd the real neighbours."""
    v = np.random.default_rng(1).standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def timed(fn, queries) -> tuple[list, float, float]:
    out, times = [], []
    for q in queries:
        t0 = time.perf_counter()
        out.append(fn(q))
        times.append((time.perf_counter() - t0) * 1000)
    return out, statistics.median(times), statistics.quantiles(times, n=100)[98]


def recall(found, truth) -> float:
    return sum(len(set(f) & set(t)) for f, t in zip(found, truth, strict=True)) / (K * len(truth))


def usearch_candidate(base, queries, dtype: str, tmp: Path) -> dict:
    from usearch.index import Index

    t0 = time.perf_counter()
    index = Index(
        ndim=base.shape[1],
        metric="cos",
        dtype=dtype,
        connectivity=16,
        expansion_add=128,
        expansion_search=96,
    )
    index.add(np.arange(len(base), dtype=np.uint64), base, threads=2)
    build = time.perf_counter() - t0
    extra = unit_noise(1000, base.shape[1])
    t0 = time.perf_counter()
    index.add(np.arange(len(base), len(base) + 1000, dtype=np.uint64), extra, threads=2)
    index.remove(np.arange(len(base), len(base) + 1000, dtype=np.uint64))
    add_1000 = time.perf_counter() - t0
    path = tmp / f"u-{dtype}.usearch"
    index.save(str(path))
    del index
    gc.collect()
    before = rss_mb()
    t0 = time.perf_counter()
    view = Index.restore(str(path), view=True)
    view.expansion_search = 96
    load = time.perf_counter() - t0
    found, p50, p99 = timed(lambda q: view.search(q, K).keys.tolist(), queries)
    return {
        "name": f"usearch HNSW {dtype}, mapped",
        "build_s": build,
        "add_1000_s": add_1000,
        "load_s": load,
        "p50": p50,
        "p99": p99,
        "found": found,
        "file_mb": path.stat().st_size / 2**20,
        "rss_mb": rss_mb() - before,
        "removes": "yes",
    }


def faiss_candidate(base, queries, kind: str, tmp: Path) -> dict:
    import faiss

    faiss.omp_set_num_threads(2)
    t0 = time.perf_counter()
    if kind == "flat":
        index = faiss.IndexHNSWFlat(base.shape[1], 16, faiss.METRIC_INNER_PRODUCT)
    else:
        index = faiss.IndexHNSWSQ(
            base.shape[1], faiss.ScalarQuantizer.QT_fp16, 16, faiss.METRIC_INNER_PRODUCT
        )
        index.train(base[:50_000])
    index.hnsw.efConstruction = 128
    index.add(base)
    build = time.perf_counter() - t0
    extra = unit_noise(1000, base.shape[1])
    t0 = time.perf_counter()
    index.add(extra)  # HNSW in faiss cannot remove: replacing a vector means a rebuild
    add_1000 = time.perf_counter() - t0
    path = tmp / f"f-{kind}.faiss"
    faiss.write_index(index, str(path))
    del index
    gc.collect()
    before = rss_mb()
    t0 = time.perf_counter()
    loaded = faiss.read_index(str(path))
    loaded.hnsw.efSearch = 96
    load = time.perf_counter() - t0
    faiss.omp_set_num_threads(1)
    found, p50, p99 = timed(lambda q: loaded.search(q[None, :], K)[1][0].tolist(), queries)
    return {
        "name": f"faiss HNSW {'f32' if kind == 'flat' else 'f16'}, read",
        "build_s": build,
        "add_1000_s": add_1000,
        "load_s": load,
        "p50": p50,
        "p99": p99,
        "found": found,
        "file_mb": path.stat().st_size / 2**20,
        "rss_mb": rss_mb() - before,
        "removes": "no",
    }


def main() -> None:
    from search_speed import real_vectors

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=100_000, help="vectors in the index")
    ap.add_argument("--real", type=int, default=20_000, help="real-text vectors among them")
    ap.add_argument("--dir", type=Path, default=Path("/tmp/paperfeed-bench"))
    ap.add_argument("--json-out", type=Path)
    args = ap.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    _ids, real = real_vectors(args.dir, args.real, Settings(embedding_runtime="onnx"))
    queries, base = real[:200], real[200:]
    pad = args.size - len(base)
    if pad > 0:
        rng = np.random.default_rng(0)
        noise = rng.standard_normal((pad, base.shape[1])).astype(np.float32)
        noise /= np.linalg.norm(noise, axis=1, keepdims=True)
        base = np.vstack([base, noise])
    truth, exact_p50, exact_p99 = timed(
        lambda q: np.argpartition(-(base @ q), K)[:K].tolist(), queries
    )
    results = []
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        for run in (
            lambda: usearch_candidate(base, queries, "f16", Path(tmp)),
            lambda: usearch_candidate(base, queries, "f32", Path(tmp)),
            lambda: faiss_candidate(base, queries, "flat", Path(tmp)),
            lambda: faiss_candidate(base, queries, "sq16", Path(tmp)),
        ):
            r = run()
            r["recall"] = recall(r.pop("found"), truth)
            results.append(r)
            print(f"  {r['name']}: built in {r['build_s']:.0f} s", file=sys.stderr)
    rows = [
        [
            "exact numpy scan",
            "1.000",
            f"{exact_p50:.3f}",
            f"{exact_p99:.3f}",
            "1.00",
            "",
            "",
            "",
            f"{base.nbytes / 2**20:,.0f}",
            f"{base.nbytes / 2**20:,.0f}",
            "yes",
        ]
    ]
    for r in results:
        rows.append(
            [
                r["name"],
                f"{r['recall']:.3f}",
                f"{r['p50']:.3f}",
                f"{r['p99']:.3f}",
                f"{r['p50'] / exact_p50:.2f}",
                f"{r['build_s']:.1f}",
                f"{r['add_1000_s'] * 1000:.0f}",
                f"{r['load_s']:.2f}",
                f"{r['file_mb']:,.0f}",
                f"{r['rss_mb']:,.0f}",
                r["removes"],
            ]
        )
    print(
        f"\n{len(base):,} vectors ({len(real) - 200:,} real, {max(pad, 0):,} random unit), 200 "
        f"real queries, k=10, M=16, efConstruction 128, ef 96; build with 2 threads, search "
        f"with 1; times in ms unless marked\n"
    )
    print(
        table(
            [
                "index",
                "recall@10",
                "p50",
                "p99",
                "p50 vs exact",
                "build s",
                "add 1k ms",
                "load s",
                "file MB",
                "RSS after load+search MB",
                "remove",
            ],
            rows,
        )
    )
    if args.json_out:
        args.json_out.write_text(
            json.dumps({"size": len(base), "results": results, "exact_p50": exact_p50}, indent=2)
        )


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    main()
