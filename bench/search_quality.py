"""Search quality on SciFact (BEIR test split, 300 queries over 5,183 abstracts).

Loads the corpus into a fresh paperfeed database (SQLite, and PostgreSQL when configured) and
runs every test query through the real search service in keyword mode, then scores the rankings
with nDCG@10 and Recall@100. Baseline beside it: TF-IDF cosine similarity over title + abstract
(the method of arxiv-sanity). With the embeddings extra installed, the corpus is embedded too
(several minutes on 2 cores) and semantic and hybrid rows are added.

    python bench/search_quality.py [--pg URL] [--keyword-only] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import collections
import csv
import datetime as dt
import gzip
import json
import math
import os
import re
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

from paperfeed import search
from paperfeed.config import Settings
from paperfeed.models import Paper
from paperfeed.search import embedder, indexing
from paperfeed.store import Database, papers, rum
from paperfeed.store import vectors as vector_store

SCIFACT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "scifact"
_TOKEN = re.compile(r"[a-z0-9]+")


def load():
    """(docs {doc_id: (title, text)}, queries {qid: text}, qrels {qid: {doc_id: 1}})."""
    if not SCIFACT.exists():
        sys.exit(f"missing {SCIFACT}: the benchmarks read ../shared/data beside the repository")
    with gzip.open(SCIFACT / "corpus.jsonl.gz", "rt", encoding="utf-8") as fh:
        docs = {r["_id"]: (r["title"], r["text"]) for r in map(json.loads, fh)}
    with open(SCIFACT / "queries.jsonl", encoding="utf-8") as fh:
        queries = {r["_id"]: r["text"] for r in map(json.loads, fh)}
    qrels = collections.defaultdict(dict)
    with open(SCIFACT / "qrels" / "test.tsv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            qrels[row["query-id"]][row["corpus-id"]] = int(row["score"])
    return docs, {q: queries[q] for q in qrels}, qrels


def ndcg_at(ranked: list[str], rel: dict[str, int], k: int = 10) -> float:
    dcg = sum(rel.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sum(g / math.log2(i + 2) for i, g in enumerate(sorted(rel.values(), reverse=True)[:k]))
    return dcg / ideal if ideal else 0.0


def recall_at(ranked: list[str], rel: dict[str, int], k: int = 100) -> float:
    return len(set(ranked[:k]) & set(rel)) / len(rel)


def score(runs: dict[str, list[str]], qrels) -> tuple[float, float]:
    n = len(qrels)
    return (
        sum(ndcg_at(runs.get(q, []), r) for q, r in qrels.items()) / n,
        sum(recall_at(runs.get(q, []), r) for q, r in qrels.items()) / n,
    )


def tfidf_runs(docs, queries) -> dict[str, list[str]]:
    """arxiv-sanity's method: TF-IDF vectors (log tf, smooth idf, l2-normalised), cosine."""
    tokens = {d: _TOKEN.findall(f"{t} {x}".lower()) for d, (t, x) in docs.items()}
    df = collections.Counter(w for ws in tokens.values() for w in set(ws))
    n = len(docs)
    idf = {w: math.log((1 + n) / (1 + c)) + 1 for w, c in df.items()}

    def vec(words):
        tf = collections.Counter(words)
        v = {w: (1 + math.log(c)) * idf.get(w, 0.0) for w, c in tf.items() if w in idf}
        norm = math.sqrt(sum(x * x for x in v.values())) or 1.0
        return {w: x / norm for w, x in v.items()}

    index = collections.defaultdict(list)
    for d, ws in tokens.items():
        for w, x in vec(ws).items():
            index[w].append((d, x))
    runs = {}
    for q, text in queries.items():
        acc = collections.Counter()
        for w, x in vec(_TOKEN.findall(text.lower())).items():
            for d, y in index[w]:
                acc[d] += x * y
        runs[q] = [d for d, _ in acc.most_common(100)]
    return runs


def paperfeed_runs(
    url: str,
    docs,
    queries,
    modes: tuple[str, ...],
    index_dir: str,
    vectors: dict[str, bytes] | None = None,
) -> tuple[dict[str, dict], dict]:
    """Load the corpus through the store, embed it if a semantic mode is asked for (or store the
    `vectors` given, by document id), and run each query through the search service in each
    mode. Returns the runs and the stored vectors by document id."""
    db = Database(url)
    db.upgrade()
    ids = {d: f"9{i // 100000:03d}.{i % 100000:05d}" for i, d in enumerate(docs)}
    back = {v: k for k, v in ids.items()}
    day = dt.date(2020, 1, 1)
    rows = [Paper(ids[d], t or "untitled", x, [], listing_day=day) for d, (t, x) in docs.items()]
    with db.transaction() as conn:
        for i in range(0, len(rows), 1000):
            papers.upsert_many(conn, rows[i : i + 1000])
    settings = Settings.load(env={}, database_url=url, index_dir=index_dir)
    if set(modes) - {"keyword"}:
        if vectors:
            with db.transaction() as conn:
                vector_store.save(
                    conn, settings.embedding_model, [(ids[d], v) for d, v in vectors.items()]
                )
            indexing.update_index(db, settings)
        else:
            started = time.perf_counter()
            n = indexing.embed_pending(db, settings)
            took = time.perf_counter() - started
            print(
                f"embedded {n} abstracts in {took:.0f} s ({n / took:.1f}/s, "
                f"{settings.embedding_runtime} runtime)",
                file=sys.stderr,
            )
    with db.connect() as conn:
        stored = vector_store.vectors_of(conn, settings.embedding_model, list(back))
    runs: dict[str, dict] = {}
    for mode in modes:
        runs[mode] = {}
        for q, text in queries.items():
            hits = search.search(db, text, mode=mode, limit=100, settings=settings).hits
            runs[mode][q] = [back[h.paper.arxiv_id] for h in hits]
    db.dispose()
    return runs, {back[i]: v for i, v in stored.items()}


def rum_off(url: str) -> bool:
    """Drop the RUM index of this database (migration 0010, where the extension is installed);
    whether there was one. Search then ranks through GIN and ts_rank, as without RUM."""
    db = Database(url)
    with db.transaction() as conn:
        had = conn.exec_driver_sql("SELECT to_regclass('ix_papers_search_rum')").scalar()
        conn.exec_driver_sql("DROP INDEX IF EXISTS ix_papers_search_rum")
    db.dispose()
    rum.forget()
    return had is not None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", default=os.environ.get("PAPERFEED_TEST_DATABASE_URL"))
    parser.add_argument("--json-out", type=Path)
    parser.add_argument(
        "--keyword-only", action="store_true", help="skip the semantic and hybrid rows"
    )
    args = parser.parse_args()
    docs, queries, qrels = load()
    results = {"tf-idf cosine (baseline)": score(tfidf_runs(docs, queries), qrels)}
    full = embedder.available() and not args.keyword_only
    modes = ("keyword", "semantic", "hybrid") if full else ("keyword",)
    names = {
        "keyword": "keyword, SQLite FTS5 bm25",
        "semantic": "semantic, all-MiniLM-L6-v2",
        "hybrid": "hybrid, reciprocal rank fusion",
    }
    with tempfile.TemporaryDirectory() as tmp:
        sqlite_runs, vectors = paperfeed_runs(
            f"sqlite:///{tmp}/q.db", docs, queries, modes, f"{tmp}/index"
        )
        for mode, runs in sqlite_runs.items():
            results[names[mode]] = score(runs, qrels)
    if args.pg:
        schema = "bench_" + uuid.uuid4().hex[:10]
        admin = Database(args.pg)
        with admin.transaction() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        options = {"options": f"-csearch_path={schema}"}
        url = sa.engine.make_url(admin.url).update_query_dict(options)
        url = url.render_as_string(hide_password=False)
        try:
            with tempfile.TemporaryDirectory() as tmp:
                pg_runs, _v = paperfeed_runs(url, docs, queries, modes, f"{tmp}/index", vectors)
            has_rum = rum_off(url)
            pg_names = {
                "keyword": "keyword, PostgreSQL "
                + ("RUM + ts_rank x IDF" if has_rum else "ts_rank x IDF"),
                "semantic": "semantic, PostgreSQL",
                "hybrid": "hybrid, PostgreSQL",
            }
            for mode, runs in pg_runs.items():
                results[pg_names[mode]] = score(runs, qrels)
            if has_rum:  # the same database without its RUM index: the GIN fallback
                with tempfile.TemporaryDirectory() as tmp:
                    gin, _v = paperfeed_runs(url, docs, queries, ("keyword",), f"{tmp}/i", None)
                results["keyword, PostgreSQL GIN ts_rank x IDF"] = score(gin["keyword"], qrels)
        finally:
            with admin.transaction() as conn:
                conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    base_ndcg = results["tf-idf cosine (baseline)"][0]
    print(
        f"\nSciFact test: {len(qrels)} queries, {len(docs):,} abstracts "
        "(reference: BM25 nDCG@10 0.660 on these files, BEIR 0.665)\n"
    )
    print(f"{'method':<42}{'nDCG@10':>9}{'Recall@100':>12}{'nDCG vs TF-IDF':>16}")
    for name, (ndcg, rec) in results.items():
        print(f"{name:<42}{ndcg:>9.3f}{rec:>12.3f}{ndcg / base_ndcg:>16.2f}")
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
