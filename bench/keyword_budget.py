"""Keyword ranking at 100,000 papers: CPU per ranking and agreement with ranking every match,
for postings budgets, and how much a provably exact max-score split could save.

Runs on the fixture `bench/search_speed.py` builds (default /tmp/paperfeed-bench/search-100000.db)
and its 200 queries (real titles and first sentences of real abstracts). For each budget
(`POSTINGS_BUDGET` on SQLite, today 20,000) it times `store.ranking` (thread CPU time, the
figure that survives a shared machine) for the hybrid pool (100 best) and reports overlap@10
and overlap@100 with the baseline: FTS5 bm25 over every match of every optional word (no
pruning), measured in the same run.

The max-score column: with the score of the `over`-th best paper known in advance (an oracle),
the share of the budget's matches that would still need bm25 if papers holding only the most
common words (whose bm25 ceilings, idf x (k1 + 1), sum below that score) were never scored.

    python bench/keyword_budget.py --budgets 20000,10000,5000 --queries 100
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).parent))
from benchlib import table  # noqa: E402
from embed_speed import cpu, load  # noqa: E402 - a sibling script
from paperfeed.search import parse, words_of  # noqa: E402
from paperfeed.store import Database  # noqa: E402
from paperfeed.store import search as store  # noqa: E402

WEIGHTS = ", ".join(str(x) for x in store.SQLITE_WEIGHTS)
K = 100  # the hybrid pool


def every_match(conn, query, k: int) -> list[str]:
    """The baseline: bm25 over every match of every optional word, hidden papers left out."""
    match = store.fts5_match(query.terms, query.phrases)
    sql = f"""SELECT p.arxiv_id, -bm25(papers_fts, {WEIGHTS}) AS score FROM papers_fts
        JOIN papers p ON p.rowid = papers_fts.rowid WHERE papers_fts MATCH :m AND p.hidden = 0
        ORDER BY {store.ORDERS["relevance"]} LIMIT :k"""
    return [r[0] for r in conn.execute(sa.text(sql), {"m": match, "k": k})]


def max_score_share(conn, query, over: int) -> float | None:
    """The share of the pruned words' matches an oracle max-score split would still score."""
    terms, all_terms = store.prune(conn, query.terms)
    if all_terms or len(terms) < 2 or query.phrases:
        return None
    total, df = store._frequencies(conn, terms)
    sql = f"""SELECT -bm25(papers_fts, {WEIGHTS}) AS s FROM papers_fts WHERE papers_fts MATCH :m
        ORDER BY s DESC LIMIT :over"""
    scores = [
        r[0] for r in conn.execute(sa.text(sql), {"m": store.fts5_match(terms, []), "over": over})
    ]
    if len(scores) < over:
        return None
    ceiling, dropped = 0.0, 0
    for t in sorted(terms, key=lambda t: -df[t])[:-1]:
        idf = max(math.log((total - df[t] + 0.5) / (df[t] + 0.5)), 1e-6)
        if ceiling + idf * 2.2 >= scores[-1]:
            break
        ceiling += idf * 2.2
        dropped += df[t]
    return 1 - dropped / sum(df.values())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, default=Path("/tmp/paperfeed-bench/search-100000.db"))
    ap.add_argument("--budgets", default="20000,10000,5000")
    ap.add_argument("--queries", type=int, default=200)
    args = ap.parse_args()
    model, flags = cpu()
    print(f"CPU: {model}; flags: {flags}; load before: {load()}", flush=True)
    qfile = args.db.parent / "search-queries.json"
    queries = [parse(t) for t in json.loads(qfile.read_text())[: args.queries]]
    db = Database(f"sqlite:///{args.db}")
    rows = []
    with db.connect() as conn:
        cpu_s = time.thread_time()
        truth = [every_match(conn, q, K) for q in queries]
        base_ms = (time.thread_time() - cpu_s) * 1000 / len(queries)
        rows.append(["every match (baseline)", f"{base_ms:.1f}", "1.00", "1.000", "1.000", ""])
        for budget in [int(b) for b in args.budgets.split(",")]:
            store.POSTINGS_BUDGET["sqlite"] = budget
            store._df_cache.clear()
            for q in queries:  # warm-up: document frequencies, pages
                store.ranking(conn, words_of(q), filters=store.Filters(), sort="relevance", limit=K)
            took, got = [], []
            for q in queries:
                t0 = time.thread_time()
                r = store.ranking(
                    conn, words_of(q), filters=store.Filters(), sort="relevance", limit=K
                )
                took.append((time.thread_time() - t0) * 1000)
                got.append([i for i, _s in r])
            o10 = [
                len(set(a[:10]) & set(b[:10])) / max(1, min(10, len(b)))
                for a, b in zip(got, truth, strict=True)
            ]
            ok = [len(set(a) & set(b)) / max(1, len(b)) for a, b in zip(got, truth, strict=True)]
            shares = [
                s for q in queries if (s := max_score_share(conn, q, K * 6 // 5 + 20)) is not None
            ]
            rows.append(
                [
                    f"budget {budget:,}",
                    f"{statistics.mean(took):.1f}",
                    f"{statistics.mean(took) / base_ms:.2f}",
                    f"{statistics.mean(o10):.3f}",
                    f"{statistics.mean(ok):.3f}",
                    f"{statistics.median(shares):.2f}" if shares else "",
                ]
            )
            print(rows[-1], flush=True)
    head = ["ranking", "CPU ms", "vs baseline", "overlap@10", f"overlap@{K}", "max-score share"]
    print(f"\n{len(queries)} queries, {args.db.name}, hybrid pool of {K}\n")
    print(table(head, rows))
    print(f"\nload after: {load()} (judge by CPU time and ratios on a shared machine)")


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
