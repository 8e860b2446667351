"""Search speed and memory at 100,000 and 1,000,000 papers, beside exact numpy search.

For each size a SQLite fixture is built once and kept (default /tmp/paperfeed-bench): the real
arXiv and Hugging Face papers from ../shared/data, padded with synthetic papers (titles and
abstracts assembled from sentences of random real abstracts, under new ids); a vector per paper:
the real all-MiniLM-L6-v2 embeddings of the first --real-vectors arXiv papers (embedded once and
cached), random unit vectors for the rest. Then the ANN index is rebuilt and timed.

A separate process (so its memory is only what search needs) opens the fixture as a server
worker does and times `paperfeed.search.search` for 200 queries (real titles and first sentences
of real abstracts) in keyword, semantic and hybrid mode after a warm-up pass: server time,
including the query's embedding. The baseline runs the same searches with the vector index
replaced by an exact numpy scan of every vector; ANN recall@10 is measured against that scan.
Embedding throughput at ingest is measured on 512 real abstracts with each runtime.

    python bench/search_speed.py                       # 100,000 and 1,000,000 papers
    python bench/search_speed.py --sizes 100000 --json-out search.json
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import gzip
import json
import os
import random
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).parent))
from benchlib import ARXIV, HF, require, table  # noqa: E402
from embed_speed import cpu, load  # noqa: E402 - a sibling script
from paperfeed import search  # noqa: E402
from paperfeed.config import Settings  # noqa: E402
from paperfeed.search import embedder, indexing  # noqa: E402
from paperfeed.search.vectors import VectorIndex  # noqa: E402
from paperfeed.sources.jsonl import record_to_paper  # noqa: E402
from paperfeed.store import Database, papers  # noqa: E402
from paperfeed.store import vectors as vector_store  # noqa: E402

DIM, BATCH = 384, 2000
TARGETS = {100_000: (15.0, 50.0), 1_000_000: (40.0, 120.0)}  # hybrid median, p99 in ms
QUERIES = 200
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def read_real() -> list:
    require(ARXIV, HF)
    out = []
    for path in (ARXIV, HF):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            out.extend(record_to_paper(json.loads(line)) for line in fh)
    return out


def real_vectors(cache: Path, n: int, settings: Settings) -> tuple[list[str], np.ndarray]:
    """The first n arXiv papers' embeddings, computed once and kept in `cache`."""
    path = cache / f"real-vectors-{n}.npz"
    if path.exists():
        with np.load(path) as f:
            return [str(i) for i in f["ids"]], f["vectors"]
    require(ARXIV)
    rows = []
    with gzip.open(ARXIV, "rt", encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            rows.append((r["arxiv_id"], embedder.paper_text(r["title"], r["abstract"])))
            if len(rows) == n:
                break
    t0 = time.perf_counter()
    print(f"embedding {n} real papers once (cached in {path})", file=sys.stderr)
    vectors = indexing.encode(settings, [t for _i, t in rows])
    print(f"  {n / (time.perf_counter() - t0):.1f} papers/s", file=sys.stderr)
    np.savez(path, ids=np.array([i for i, _t in rows]), vectors=vectors)
    return [i for i, _t in rows], vectors


def synthetic(real: list, i: int, rng: random.Random):
    """A made-up paper: a title and abstract assembled from random real ones, a new id."""
    sentences = []
    for _ in range(rng.randint(4, 8)):
        src = real[rng.randrange(len(real))].abstract
        parts = _SENTENCE.split(src)
        sentences.append(parts[rng.randrange(len(parts))])
    words = real[rng.randrange(len(real))].title.split()
    words += real[rng.randrange(len(real))].title.split()
    rng.shuffle(words)
    day = real[rng.randrange(len(real))].listing_day
    return dataclasses.replace(
        real[rng.randrange(len(real))],
        arxiv_id=f"{2701 + i // 90000}.{10000 + i % 90000}",
        title=" ".join(words[: rng.randint(6, 14)]),
        abstract=" ".join(sentences),
        listing_day=day,
        published=dt.datetime.combine(day, dt.time(rng.randrange(24)), tzinfo=dt.UTC),
        updated=None,
        upvotes=0,
    )


def fixture(size: int, args, settings_for) -> tuple[str, dict]:
    """The fixture database of `size` papers with a vector each and a built index."""
    path = args.dir / f"search-{size}.db"
    url = f"sqlite:///{path}"
    info_path = path.with_suffix(".json")
    settings = settings_for(url)
    if path.exists() and info_path.exists():
        db = Database(url)
        db.upgrade()
        with db.connect() as conn:
            ok = papers.count(conn) == size == vector_store.count(conn, settings.embedding_model)
        db.dispose()
        if ok and indexing.ann_file(settings).describe().get("count") == size:
            print(f"reusing {path}", file=sys.stderr)
            return url, json.loads(info_path.read_text())
    for stale in path.parent.glob(path.name + "*"):
        if stale.is_dir():
            for f in stale.iterdir():
                f.unlink()
            stale.rmdir()
        else:
            stale.unlink()
    rng, nrng = random.Random(7), np.random.default_rng(7)
    real = read_real()
    real_ids, real_vecs = real_vectors(args.dir, args.real_vectors, settings)
    known = dict(zip(real_ids, real_vecs, strict=True))
    db = Database(url)
    db.upgrade()
    t0 = time.perf_counter()
    with db.transaction() as conn:
        for i in range(0, len(real), BATCH):
            papers.upsert_many(conn, real[i : i + BATCH])
        stored = papers.count(conn)
    made = 0
    while stored + made < size:
        n = min(BATCH * 10, size - stored - made)
        batch = [synthetic(real, made + j, rng) for j in range(n)]
        with db.transaction() as conn:
            for i in range(0, n, BATCH):
                papers.upsert_many(conn, batch[i : i + BATCH])
        made += n
        print(f"  papers: {stored + made:,}", file=sys.stderr, end="\r")
    papers_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    with db.connect() as conn:
        ids = [r[0] for r in conn.exec_driver_sql("SELECT arxiv_id FROM papers ORDER BY arxiv_id")]
    for i in range(0, len(ids), 5000):
        part = ids[i : i + 5000]
        noise = nrng.standard_normal((len(part), DIM)).astype(np.float32)
        noise /= np.linalg.norm(noise, axis=1, keepdims=True)
        rows = [
            (pid, (known[pid] if pid in known else noise[j]).tobytes())
            for j, pid in enumerate(part)
        ]
        with db.transaction() as conn:
            vector_store.save(conn, settings.embedding_model, rows)
    vectors_s = time.perf_counter() - t0
    with db.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    t0 = time.perf_counter()
    indexing.rebuild_index(db, settings)
    rebuild_s = time.perf_counter() - t0
    db.dispose()
    info = {
        "size": size,
        "papers_s": papers_s,
        "vectors_s": vectors_s,
        "rebuild_s": rebuild_s,
        "real_vectors": len(known),
    }
    info_path.write_text(json.dumps(info))
    print(
        f"built {path}: papers {papers_s:.0f} s, vectors {vectors_s:.0f} s, "
        f"index {rebuild_s:.0f} s",
        file=sys.stderr,
    )
    return url, info


def queries(n: int) -> list[str]:
    """Real titles and first sentences of real abstracts, as people type them."""
    rng = random.Random(11)
    real = []
    with gzip.open(ARXIV, "rt", encoding="utf-8") as fh:
        for line in fh:
            real.append(json.loads(line))
    picks = rng.sample(real, n)
    out = []
    for i, r in enumerate(picks):
        if i % 2:
            out.append(" ".join(r["title"].split()[:12]))
        else:
            out.append(" ".join(_SENTENCE.split(r["abstract"].strip())[0].split()[:20]))
    return out


def rss_mb() -> tuple[float, float]:
    """(resident now, peak resident) of this process in MB."""
    fields = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def p99(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=100, method="inclusive")[98]


def time_modes(db: Database, settings: Settings, qs: list[str]) -> dict:
    out = {}
    for mode in ("keyword", "semantic", "hybrid"):
        for q in qs:  # warm-up: caches, the index's pages, the model
            search.search(db, q, mode=mode, settings=settings)
        took = []
        cpu_s = time.process_time()
        for q in qs:
            t0 = time.perf_counter()
            r = search.search(db, q, mode=mode, settings=settings)
            took.append((time.perf_counter() - t0) * 1000)
            if r.mode != mode:
                sys.exit(f"search answered in {r.mode} mode, not {mode}: {r.notice}")
        # CPU time per query: the steadier figure when other work shares the cores.
        cpu_ms = (time.process_time() - cpu_s) * 1000 / len(qs)
        out[mode] = {"median": statistics.median(took), "p99": p99(took), "cpu_ms": cpu_ms}
    return out


def measure(args) -> None:
    """The worker side, in its own process: open the fixture as a server does, time searches."""
    settings = Settings(
        database_url=args.url, embedding_runtime=args.runtime, index_dir=args.index_dir
    )
    db = Database(args.url)
    qs = json.loads(Path(args.queries).read_text())
    t0 = time.perf_counter()
    index = search.vector_index(db, settings)
    opened = time.perf_counter() - t0
    result = {"open_s": opened, "indexed": len(index), "modes": time_modes(db, settings, qs)}
    result["rss_mb"], result["peak_rss_mb"] = rss_mb()
    print(json.dumps(result))


class ExactIndex(VectorIndex):
    """The baseline: every vector in one float32 matrix, scanned in full for each query."""

    def __init__(self, db: Database, settings: Settings) -> None:
        super().__init__(indexing.ann_file(settings))
        ids, blocks = [], []
        after = None
        while True:
            with db.connect() as conn:
                rows = vector_store.page(conn, settings.embedding_model, after=after, limit=50_000)
            if not rows:
                break
            ids += [r[0] for r in rows]
            blocks.append(np.frombuffer(b"".join(r[1] for r in rows), np.float32).reshape(-1, DIM))
            after = rows[-1][0]
        self.ids, self.matrix = ids, np.vstack(blocks)

    def refresh(self, db) -> int:
        return 0

    def __len__(self) -> int:
        return len(self.ids)

    def holds(self, arxiv_ids) -> set[str]:
        if not hasattr(self, "_held"):
            self._held = set(self.ids)
        return self._held.intersection(arxiv_ids)

    def nearest(self, vector, *, k, exclude=None):
        scores = self.matrix @ np.asarray(vector, np.float32)
        top = np.argpartition(-scores, k)[:k]
        top = top[np.argsort(-scores[top])]
        return [(self.ids[i], float(scores[i])) for i in top if self.ids[i] != exclude][:k]


def embedding_throughput(settings: Settings) -> list[tuple[str, float]]:
    texts = []
    with gzip.open(ARXIV, "rt", encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            texts.append(embedder.paper_text(r["title"], r["abstract"]))
            if len(texts) == 512:
                break
    out = []
    for runtime in ("onnx", "torch"):
        s = dataclasses.replace(settings, embedding_runtime=runtime)
        if runtime == "torch":  # the int8 default runs on onnxruntime only
            s = dataclasses.replace(s, embedding_model=embedder.PACKAGED_MODEL)
        indexing.encode(s, texts[:32])  # load (and export) first
        t0 = time.perf_counter()
        indexing.encode(s, texts)
        out.append((runtime, len(texts) / (time.perf_counter() - t0)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100000,1000000", help="comma-separated paper counts")
    ap.add_argument(
        "--dir",
        type=Path,
        default=Path("/tmp/paperfeed-bench"),
        help="where fixtures and cached embeddings are kept",
    )
    ap.add_argument(
        "--real-vectors",
        type=int,
        default=20_000,
        help="how many real papers get their real embedding",
    )
    ap.add_argument("--runtime", default="onnx", help="embedding runtime for queries")
    ap.add_argument("--json-out", type=Path)
    ap.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    ap.add_argument("--index-dir", help=argparse.SUPPRESS)
    ap.add_argument("--queries", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        return measure(args)
    args.dir.mkdir(parents=True, exist_ok=True)

    def settings_for(url: str) -> Settings:
        return Settings(database_url=url, embedding_runtime=args.runtime)

    model, flags = cpu()
    print(f"CPU: {model}; flags: {flags}; load before: {load()}", flush=True)
    qs = queries(QUERIES)
    qfile = args.dir / "search-queries.json"
    qfile.write_text(json.dumps(qs))
    results = {"date": dt.date.today().isoformat(), "sizes": []}
    tables = []
    for size in [int(s) for s in args.sizes.split(",")]:
        url, info = fixture(size, args, settings_for)
        settings = settings_for(url)
        worker = subprocess.run(
            [
                sys.executable,
                __file__,
                "--measure",
                "--url",
                url,
                "--runtime",
                args.runtime,
                "--index-dir",
                str(settings.index_path),
                "--queries",
                str(qfile),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        ours = json.loads(worker.stdout.strip().splitlines()[-1])
        db = Database(url)
        search._indexes.clear()
        # paperfeed keeps BLAS on one thread (once per process); the exact scan gets every
        # core, as plain numpy has.
        search.blas_on_one_thread()
        threadpool_limits(limits=os.cpu_count(), user_api="blas")
        exact = ExactIndex(db, settings)
        ann = indexing.ann_file(settings).load()
        vecs = indexing.encode(settings, qs)
        recall = []
        for v in vecs:
            truth = {i for i, _s in exact.nearest(v, k=10)}
            found = {i for i, _s in ann.search(v, 10)}
            recall.append(len(truth & found) / 10)
        key = (db.url, settings.embedding_model, str(indexing.ann_file(settings).dir.resolve()))
        search._indexes[key] = exact
        base = time_modes(db, settings, qs)
        db.dispose()
        entry = {
            "size": size,
            "fixture": info,
            "ann": ours,
            "exact": base,
            "recall_at_10": statistics.mean(recall),
        }
        results["sizes"].append(entry)
        target = TARGETS.get(size)
        rows = []
        for mode in ("keyword", "semantic", "hybrid"):
            a, e = ours["modes"][mode], base[mode]
            goal, met = "", ""
            if mode == "hybrid" and target:
                goal = f"p50<{target[0]:g}, p99<{target[1]:g}"
                met = "yes" if a["median"] < target[0] and a["p99"] < target[1] else "NO"
            rows.append(
                [
                    mode,
                    f"{a['median']:.2f}",
                    f"{a['p99']:.2f}",
                    f"{e['median']:.2f}",
                    f"{e['p99']:.2f}",
                    f"{a['median'] / e['median']:.2f}",
                    f"{a['p99'] / e['p99']:.2f}",
                    f"{a.get('cpu_ms', 0):.1f}",
                    goal,
                    met,
                ]
            )
        head = [
            "mode",
            "ANN p50",
            "ANN p99",
            "exact p50",
            "exact p99",
            "p50 ratio",
            "p99 ratio",
            "ANN CPU ms/query",
            "target",
            "met?",
        ]
        mem_met = "yes" if ours["rss_mb"] < 2048 else "NO"
        recall_met = "yes" if entry["recall_at_10"] >= 0.95 else "NO"
        tables.append(
            f"{size:,} papers ({info['real_vectors']:,} real embeddings, the rest random unit "
            f"vectors), SQLite, {QUERIES} queries, 1 thread, server time in ms incl. query "
            f"embedding ({args.runtime}), {results['date']}\n\n"
            + table(head, rows)
            + f"\n\nANN recall@10 against the exact scan: {entry['recall_at_10']:.3f} "
            f"(target >= 0.95: {recall_met})\n"
            f"search process resident memory: {ours['rss_mb']:.0f} MB, peak "
            f"{ours['peak_rss_mb']:.0f}"
            f" MB (target < 2,048 MB: {mem_met}); opening the index took {ours['open_s']:.2f} s\n"
            f"fixture: papers written in {info['papers_s']:.0f} s, vectors in "
            f"{info['vectors_s']:.0f} s; index rebuild of {size:,} vectors: "
            f"{info['rebuild_s']:.1f} s ({size / info['rebuild_s']:,.0f} vectors/s)"
        )
    rates = embedding_throughput(settings_for(f"sqlite:///{args.dir}/unused.db"))
    results["embedding"] = dict(rates)
    base_rate = dict(rates)["torch"]
    tables.append(
        "Embedding at ingest: 512 real arXiv abstracts (title + abstract, 256 tokens), 2 cores\n\n"
        + table(
            ["runtime", "papers/s", "vs torch"],
            [[r, f"{v:.1f}", f"{v / base_rate:.2f}"] for r, v in rates],
        )
    )
    print("\n\n".join(tables))
    print(f"\nload after: {load()} (the machine may be shared: judge by ratios and CPU time)")
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
