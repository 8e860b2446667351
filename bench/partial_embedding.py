"""Search while a catalogue is still being embedded: known-item queries and exact titles with 0%,
20%, 50% and 100% of the papers embedded, in keyword, semantic and hybrid mode (MRR); and the
semantic floor: how close the nearest paper is for nonsense queries and for the papers meant.

The corpus is bench/known_item.py's: its 47 seed papers among the first 3,000 real arXiv papers.
Every paper is embedded once (kept with --db), then for each share a random subset (seeded, the
same papers at every share: 20% is part of 50%) keeps its vector and the index is rebuilt. The
exact-title queries are the titles of 20 random arXiv papers of the corpus (seeded).

    python bench/partial_embedding.py [--db /tmp/paperfeed-bench-ki.db] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).parent))
from known_item import QUERIES, SHARED, corpus  # noqa: E402 - a sibling script
from paperfeed import search  # noqa: E402
from paperfeed.config import Settings  # noqa: E402
from paperfeed.search import indexing  # noqa: E402
from paperfeed.store import Database, papers  # noqa: E402
from paperfeed.store import vectors as vector_store  # noqa: E402

SHARES = (0.0, 0.2, 0.5, 1.0)
MODES = ("keyword", "semantic", "hybrid")
TITLES = 20
NONSENSE = [
    "qwxzv plorf zzzk",
    "blorp snazzle fwip",
    "xkcd qqq zzz",
    "asdkjh qwpeoi zmxn",
    "lorem ipsum dolor sit amet",
    "flibbertigibbet gobbledygook",
    "zzzz",
    "aaaa bbbb cccc",
    "purple monkey dishwasher",
    "the of and to in",
]


def cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()}, {os.cpu_count()} cores"
    except OSError:
        pass
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def paired_interval(a: list[float], b: list[float], n: int = 10_000) -> tuple[float, float]:
    """95% paired bootstrap interval of mean(a) - mean(b) over the queries."""
    rng = random.Random(1)
    diffs = [x - y for x, y in zip(a, b, strict=True)]
    means = sorted(
        sum(diffs[rng.randrange(len(diffs))] for _ in diffs) / len(diffs) for _ in range(n)
    )
    return means[int(0.025 * n)], means[int(0.975 * n)]


def reciprocal_ranks(db, settings, queries, mode) -> list[float]:
    out = []
    for q, target in queries:
        hits = search.search(db, q, mode=mode, limit=100, settings=settings, snippets=False).hits
        ranked = [h.paper.arxiv_id for h in hits]
        out.append(1 / (ranked.index(target) + 1) if target in ranked else 0.0)
    return out


def build(path: Path) -> tuple[Database, str]:
    url = f"sqlite:///{path}"
    db = Database(url)
    db.upgrade()
    rows, _targets = corpus(3000)
    with db.connect() as conn:
        have = papers.count(conn)
    if have < len(rows):
        with db.transaction() as conn:
            for i in range(0, len(rows), 1000):
                papers.upsert_many(conn, rows[i : i + 1000])
    return db, url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=Path("/tmp/paperfeed-bench-ki.db"))
    parser.add_argument("--draws", type=int, default=5, help="random subsets per share")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    if not (SHARED / "seed-page").exists():
        sys.exit(f"missing {SHARED}: the benchmarks read ../shared/data beside the repository")
    print(f"CPU: {cpu()}; {dt.date.today()}", file=sys.stderr)
    db, url = build(args.db)
    tmp = tempfile.mkdtemp(prefix="partial-")
    base = Settings.load(env={}, database_url=url, index_dir=f"{tmp}/all")
    started = time.perf_counter()
    done = indexing.embed_pending(db, base)
    if done:
        print(f"embedded {done} papers in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    with db.connect() as conn:
        ids = [r[0] for r in conn.execute(sa.text("SELECT arxiv_id FROM papers ORDER BY arxiv_id"))]
        stored = vector_store.vectors_of(conn, base.embedding_model, ids)
        titles = dict(conn.execute(sa.text("SELECT arxiv_id, title FROM papers")).all())
    rng = random.Random(12)
    targets = [f"9000.{i:05d}" for i, _q in QUERIES]
    known = [(q, t) for (_n, q), t in zip(QUERIES, targets, strict=True)]
    arxiv = [i for i in ids if not i.startswith("9000.")]
    exact = [(" ".join(titles[i].split()), i) for i in rng.sample(arxiv, TITLES)]

    # The floor: nearest cosine of nonsense, and of the papers the known-item queries mean.
    index = search.vector_index(db, base)
    vectors = indexing.encode(base, [*NONSENSE, *(q for q, _t in known)])
    nonsense_top = [index.nearest(np.asarray(v, np.float32), k=1)[0][1] for v in vectors[:10]]
    meant = [
        float(np.frombuffer(stored[t], np.float32) @ np.asarray(v, np.float32))
        for v, (_q, t) in zip(vectors[10:], known, strict=True)
    ]
    floor = {
        "nonsense_nearest": sorted(round(x, 3) for x in nonsense_top),
        "meant_cosine": sorted(round(x, 3) for x in meant),
    }

    results: dict = {"date": dt.date.today().isoformat(), "cpu": cpu(), "shares": {}}
    for share in SHARES:
        # Which papers have a vector is chance: a share strictly between 0 and 1 is measured
        # over --draws random subsets (the same subsets for every mode) and averaged.
        draws = args.draws if 0 < share < 1 else 1
        sums = {m: collections.defaultdict(float) for m in MODES}
        per_query = {m: [0.0] * len(known) for m in MODES}
        for draw in range(draws):
            order = ids[:]
            random.Random(12 + draw).shuffle(order)
            keep = order[: round(share * len(order))]
            with db.transaction() as conn:
                conn.execute(sa.text("DELETE FROM paper_vectors"))
                if keep:
                    vector_store.save(conn, base.embedding_model, [(i, stored[i]) for i in keep])
            settings = Settings.load(env={}, database_url=url, index_dir=f"{tmp}/{share}-{draw}")
            held = set(keep)
            for mode in MODES:
                k = reciprocal_ranks(db, settings, known, mode)
                e = reciprocal_ranks(db, settings, exact, mode)
                waiting = [rr for rr, (_q, t) in zip(e, exact, strict=True) if t not in held]
                sums[mode]["known_item_mrr"] += sum(k) / len(k) / draws
                sums[mode]["title_mrr"] += sum(e) / len(e) / draws
                sums[mode]["unembedded_titles"] += len(waiting)
                sums[mode]["unembedded_titles_first"] += sum(1 for rr in waiting if rr == 1.0)
                per_query[mode] = [a + b / draws for a, b in zip(per_query[mode], k, strict=True)]
        row = {m: dict(sums[m]) for m in MODES}
        low, high = paired_interval(per_query["hybrid"], per_query["keyword"])
        row["hybrid"]["vs_keyword_interval"] = [low, high]
        results["shares"][f"{share:.0%}"] = row
    with db.transaction() as conn:  # leave the kept database fully embedded
        conn.execute(sa.text("DELETE FROM paper_vectors"))
        vector_store.save(conn, base.embedding_model, list(stored.items()))
    results["floor"] = floor
    db.dispose()

    print(f"\nPartial embedding: {len(known)} known-item queries, {len(exact)} exact titles, ")
    print(f"{len(ids):,} papers, SQLite, 100 results per query; CPU {results['cpu']}\n")
    head = f"{'embedded':<10}{'mode':<10}{'known-item MRR':>16}{'title MRR':>11}"
    print(head + f"{'unembedded titles first':>25}{'hybrid - keyword (95% CI)':>34}")
    for share, row in results["shares"].items():
        for mode, r in row.items():
            first = f"{r['unembedded_titles_first']:.0f}/{r['unembedded_titles']:.0f}"
            diff = ""
            if mode == "hybrid":
                d = r["known_item_mrr"] - row["keyword"]["known_item_mrr"]
                low, high = r["vs_keyword_interval"]
                diff = f"{d:+.3f} [{low:+.3f}, {high:+.3f}]"
            print(
                f"{share:<10}{mode:<10}{r['known_item_mrr']:>16.3f}{r['title_mrr']:>11.3f}"
                f"{first:>25}{diff:>34}"
            )
    print(f"(MRR averaged over {args.draws} random subsets at 20% and 50%; titles first summed)")
    print(f"\nsemantic floor {search.FLOOR}; relevant for feeds/digests {search.RELEVANT}")
    print(f"nearest cosine, nonsense queries: {floor['nonsense_nearest']}")
    print(f"cosine of the paper meant, known-item queries: {floor['meant_cosine']}")
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
