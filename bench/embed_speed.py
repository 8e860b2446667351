"""Embedding throughput and vector-index rebuild speed: today's path against the current one,
interleaved in the same run.

Embedding: real arXiv papers (title + abstract, as `paperfeed index embed` embeds them), timed
through the onnxruntime embedder. "before" is the path of 2026-11-24, frozen below: the full
precision model, batches of 32 sorted by length, one session on two intra-op threads. "after" is
`paperfeed.search.embedder` with the default model (fused attention, int8 weights, each text
alone, one thread per core). Two rows between them separate the changes: the full-precision
model through the current path, and `@int8` (int8 weights without the fused attention). Rounds
alternate the order; the median round is reported, in wall-clock papers/s and in papers per
CPU-second of the process (the steadier figure on a shared machine).

Index rebuild: random unit vectors (the hardest case for a graph index) with real embeddings
among them (200 of them are the queries, kept out of the index); "before" is the build loop of
2026-11-24 (usearch, f16, connectivity 16, expansion 128, adds of 5,000) from vectors in memory;
"after" is `paperfeed index rebuild`'s code, reading the vectors from a SQLite database's
paper_vectors table (filled untimed beforehand). Recall@10 of each graph against an exact scan,
for the 200 real queries, is printed beside its speed, and CPU seconds beside wall clock.

    python bench/embed_speed.py [--papers 256] [--rounds 3] [--sizes 100000,1000000] [--json-out F]
    python bench/embed_speed.py --no-embedding --sizes 100000 \
        --real-vectors /tmp/paperfeed-bench/real-vectors-3000.npz
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import itertools
import json
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import ARXIV, require, table  # noqa: E402
from paperfeed.search import embedder  # noqa: E402
from paperfeed.search import vectors as vector_index  # noqa: E402
from paperfeed.search.ann import AnnFile, keys_of  # noqa: E402


def cpu() -> tuple[str, str]:
    """The CPU model and the vector instruction flags that matter here."""
    model, flags = platform.processor() or "unknown", ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and model in ("unknown", "", "x86_64"):
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                have = set(line.split(":", 1)[1].split())
                wanted = ("avx2", "fma", "f16c", "avx512f", "avx512_vnni", "avx512_bf16")
                flags = " ".join(f for f in wanted if f in have)
    except OSError:
        pass
    return model, flags


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} / {five:.1f} / {fifteen:.1f} (1 / 5 / 15 min) on {os.cpu_count()} cores"


class BeforeEncoder:
    """The onnxruntime embedder of 2026-11-24, frozen for comparison: full precision, batches of
    32 sorted by token length, one session on min(cores, 4) intra-op threads."""

    def __init__(self, directory: Path, max_tokens: int = 256) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=max_tokens)
        self.tokenizer.no_padding()
        options = ort.SessionOptions()
        options.intra_op_num_threads = min(os.cpu_count() or 1, 4)
        options.log_severity_level = 3
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(
            str(directory / "model.onnx"), options, providers=["CPUExecutionProvider"]
        )

    def encode(self, texts: list[str], *, batch: int = 32) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        out = np.zeros((len(texts), 0), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), batch):
            part = order[start : start + batch]
            width = max(len(encodings[i].ids) for i in part)
            ids = np.zeros((len(part), width), dtype=np.int64)
            mask = np.zeros((len(part), width), dtype=np.int64)
            for row, i in enumerate(part):
                n = len(encodings[i].ids)
                ids[row, :n], mask[row, :n] = encodings[i].ids, 1
            hidden = self.session.run(
                None,
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
            )[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
            if out.shape[1] == 0:
                out = np.zeros((len(texts), pooled.shape[1]), dtype=np.float32)
            out[part] = pooled
        return out


def texts_of(n: int, skip: int = 0) -> list[str]:
    with gzip.open(ARXIV, "rt", encoding="utf-8") as fh:
        rows = map(json.loads, itertools.islice(fh, skip, skip + n))
        return [embedder.paper_text(r["title"], r["abstract"]) for r in rows]


def embedding(n: int, rounds: int) -> tuple[list[list], np.ndarray, dict]:
    texts = texts_of(n)
    full = embedder.export_onnx(embedder.PACKAGED_MODEL)
    if full is None:
        sys.exit("the full-precision model cannot be exported here (needs the embeddings extra)")
    encoders = {
        "before: fp32, batches of 32, 2 intra-op threads": BeforeEncoder(full),
        "fp32, each text alone, a thread per core": embedder.get(
            embedder.PACKAGED_MODEL, runtime="onnx"
        ),
        # The default of 2026-12-02 morning: int8 weights without fused attention.
        f"{embedder.PACKAGED_MODEL}{embedder.INT8}, each text alone": embedder.get(
            embedder.PACKAGED_MODEL + embedder.INT8, runtime="onnx"
        ),
        f"after: {embedder.DEFAULT_MODEL}, each text alone, a thread per core": embedder.get(
            embedder.DEFAULT_MODEL, runtime="onnx"
        ),
    }
    names = list(encoders)
    walls: dict[str, list[float]] = {k: [] for k in names}
    cpus: dict[str, list[float]] = {k: [] for k in names}
    vectors = {}
    for enc in encoders.values():
        enc.encode(texts[:8])  # warm up: first runs allocate
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            wall, cpu_s = time.perf_counter(), time.process_time()
            vectors[name] = encoders[name].encode(texts)
            walls[name].append(n / (time.perf_counter() - wall))
            cpus[name].append(n / (time.process_time() - cpu_s))
            print(f"  round {r + 1}: {name}: {walls[name][-1]:.1f} papers/s", file=sys.stderr)
    base = names[0]
    rows, figures = [], {}
    for name in names:
        wall, per_cpu = statistics.median(walls[name]), statistics.median(cpus[name])
        cosine = (vectors[name] * vectors[base]).sum(axis=1)
        rows.append(
            [
                name,
                f"{wall:.1f}",
                f"{per_cpu:.1f}",
                f"{wall / statistics.median(walls[base]):.2f}",
                f"{per_cpu / statistics.median(cpus[base]):.2f}",
                f"{cosine.min():.4f}",
                f"{cosine.mean():.4f}",
            ]
        )
        figures[name] = {"papers_s": wall, "papers_cpu_s": per_cpu, "rounds": walls[name]}
    return rows, vectors[names[-1]], figures


def before_build(keys: np.ndarray, vectors: np.ndarray, path: Path):
    """The build loop of `paperfeed index rebuild` on 2026-11-24."""
    from usearch.index import Index

    graph = Index(
        ndim=vectors.shape[1],
        metric="cos",
        dtype="f16",
        connectivity=16,
        expansion_add=128,
        expansion_search=96,
    )
    for start in range(0, len(keys), 5_000):
        graph.add(keys[start : start + 5_000], vectors[start : start + 5_000], threads=0)
    graph.save(str(path))
    return graph


def after_build(ids: np.ndarray, vectors: np.ndarray, directory: Path) -> tuple:
    """`paperfeed index rebuild` as it runs: the vectors are first stored in the paper_vectors
    table of a fresh SQLite database (untimed: written with foreign keys off, so without the
    papers they belong to, which a rebuild never reads), then `search.vectors.rebuild` reads
    them back and writes the ANN file (timed). Returns the loaded graph and (wall, CPU) seconds."""
    import datetime as dt_

    from paperfeed.store import Database

    db = Database(f"sqlite:///{directory}/rebuild.db")
    db.upgrade()
    # Written with sqlite3 itself: SQLAlchemy's connections turn foreign keys on inside their
    # transactions. The time is stored as the store's UTCDateTime writes it.
    now = dt_.datetime.now(dt_.UTC).replace(tzinfo=None).isoformat(" ")
    raw = sqlite3.connect(directory / "rebuild.db", isolation_level=None)
    raw.execute("PRAGMA foreign_keys=OFF")
    raw.execute("BEGIN")
    raw.executemany(
        "INSERT INTO paper_vectors (arxiv_id, model, vector, created_at) VALUES (?, ?, ?, ?)",
        (
            (str(i), embedder.DEFAULT_MODEL, np.asarray(v, np.float32).tobytes(), now)
            for i, v in zip(ids, vectors, strict=True)
        ),
    )
    raw.execute("COMMIT")
    raw.close()
    ann = AnnFile(directory / "index", embedder.DEFAULT_MODEL)
    wall, cpu_s = time.perf_counter(), time.process_time()
    count = vector_index.rebuild(db, ann)
    took = (time.perf_counter() - wall, time.process_time() - cpu_s)
    db.dispose()
    assert count == len(ids), (count, len(ids))
    return ann.load(view=True).graph, took


def exact_top10(queries: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """Rows of the 10 nearest vectors of each query, scanned in parts (200 x 1M scores at once
    would take 800 MB)."""
    best_rows = np.zeros((len(queries), 0), dtype=np.int64)
    best = np.zeros((len(queries), 0), dtype=np.float32)
    for start in range(0, len(vectors), 100_000):
        scores = queries @ vectors[start : start + 100_000].T
        top = np.argpartition(-scores, min(10, scores.shape[1] - 1), axis=1)[:, :10]
        best = np.hstack([best, np.take_along_axis(scores, top, axis=1)])
        best_rows = np.hstack([best_rows, top + start])
        keep = np.argsort(-best, axis=1)[:, :10]
        best = np.take_along_axis(best, keep, axis=1)
        best_rows = np.take_along_axis(best_rows, keep, axis=1)
    return best_rows


def rebuild(size: int, real: np.ndarray) -> list[list]:
    rng = np.random.default_rng(7)
    queries, real = real[:200], real[200:]
    vectors = rng.standard_normal((size - len(real), real.shape[1]), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors = np.vstack([real, vectors])[rng.permutation(size)]
    ids = np.array([f"x{i}" for i in range(size)])
    keys = keys_of(ids)
    true_keys = keys[exact_top10(queries, vectors)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("before", "after"):
            if name == "before":
                wall, cpu_s = time.perf_counter(), time.process_time()
                graph = before_build(keys, vectors, Path(tmp) / "before.usearch")
                took, cpu_took = time.perf_counter() - wall, time.process_time() - cpu_s
            else:
                graph, (took, cpu_took) = after_build(ids, vectors, Path(tmp))
            found = graph.search(queries, 10).keys
            recall = np.mean(
                [len(set(found[i].tolist()) & set(true_keys[i].tolist())) / 10 for i in range(200)]
            )
            rows.append([f"{size:,}", name, f"{took:.1f}", f"{size / took:,.0f}", f"{recall:.3f}"])
            rows[-1] += [f"{cpu_took:.1f}", f"{size / cpu_took:,.0f}"]
            print(f"  {size:,} {name}: {size / took:,.0f} vectors/s; {load()}", file=sys.stderr)
            del graph

    def rate(row: list, col: int) -> float:
        return float(row[col].replace(",", ""))

    rows[0] += ["1.00", "1.00"]
    rows[1] += [f"{rate(rows[1], 3) / rate(rows[0], 3):.2f}"]
    rows[1] += [f"{rate(rows[1], 6) / rate(rows[0], 6):.2f}"]
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--papers", type=int, default=256, help="real papers embedded per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--sizes", default="100000,1000000", help="index sizes; empty to skip")
    ap.add_argument("--json-out", type=Path)
    ap.add_argument(
        "--real-vectors",
        type=Path,
        help="an .npz with `vectors` of real papers (bench/search_speed.py caches one) to use in "
        "the index instead of embedding 400 papers with the default model",
    )
    ap.add_argument("--no-embedding", action="store_true", help="only the index rebuild")
    args = ap.parse_args()
    require(ARXIV)
    model, flags = cpu()
    print(f"CPU: {model}; flags: {flags}; {dt.date.today()}", flush=True)
    print(f"load before: {load()}", flush=True)
    results: dict = {"cpu": model, "flags": flags, "embedding": {}, "rebuild": []}
    real = np.zeros((0, 384), dtype=np.float32)
    if not args.no_embedding:
        rows, real, figures = embedding(args.papers, args.rounds)
        print(
            f"\nEmbedding {args.papers} real arXiv papers (title + abstract, 256 tokens), "
            f"median of {args.rounds} interleaved rounds\n"
        )
        head = ["path", "papers/s", "papers/CPU-s", "vs before", "CPU vs before", "cos min"]
        print(table([*head, "cos mean"], rows))
        print(f"\nload after embedding: {load()}", flush=True)
        results["embedding"] = figures
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if sizes:
        if args.real_vectors:
            with np.load(args.real_vectors) as cached:
                real = cached["vectors"].astype(np.float32)
            source = f"{len(real):,} real ones from {args.real_vectors.name}"
        else:
            # More real vectors for the index's queries and neighbours than the timing needed.
            more = max(0, 400 - len(real))
            extra = embedder.encode(texts_of(more, skip=len(real)), model=embedder.DEFAULT_MODEL)
            real = np.vstack([real, extra]).astype(np.float32)
            source = f"{len(real):,} real ones"
        out = []
        for size in sizes:
            out += rebuild(size, real)
        print(
            f"\nIndex rebuild (random unit vectors, {source} among them, 200 of those the "
            "queries; after: read from SQLite by `paperfeed index rebuild`'s code)\n"
        )
        head = ["vectors", "build", "seconds", "vectors/s", "recall@10", "CPU s", "vectors/CPU-s"]
        head += ["ratio", "CPU ratio"]
        print(table(head, out))
        results["rebuild"] = out
        print(f"\nload after rebuilds: {load()}")
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
