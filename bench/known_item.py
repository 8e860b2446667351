"""Known-item search: 20 half-remembered descriptions of papers on ../shared's saved Daily Papers
page, mixed into 3,000 real arXiv papers; reports the mean reciprocal rank of the paper meant.

The queries are written for this benchmark, in other words than the titles use, as a reader who
remembers what a paper did but not what it was called would type them.

    python bench/known_item.py [--distractors 3000] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import itertools
import json
import sys
import tempfile
import time
from pathlib import Path

from paperfeed import search
from paperfeed.config import Settings
from paperfeed.models import Paper
from paperfeed.search import embedder, indexing
from paperfeed.sources.jsonl import record_to_paper
from paperfeed.store import Database, papers

sys.path.insert(0, str(Path(__file__).parent))
from search_quality import tfidf_runs  # noqa: E402 - a sibling script

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
# (line of seed-page/papers.jsonl, query)
QUERIES = [
    (0, "do circuits found for one task get reused by language models on other tasks"),
    (1, "multimodal LLMs distracted by irrelevant image or text inputs when answering questions"),
    (2, "forgetting old tasks hurts less when training data is power-law like the real world"),
    (3, "one transformer that restores many kinds of degraded medical scans"),
    (4, "merging fine-tuned models by resolving sign conflicts"),
    (5, "language models misled by distractor words in a quiz show wall puzzle"),
    (6, "separating memorised fact lookup from multi-step inference inside transformer layers"),
    (7, "searching over robot body designs so policies stop forgetting across environments"),
    (8, "do encoder-decoder attention weights really explain what speech recognisers rely on"),
    (9, "what brain dynamics could teach AI about abstraction and energy efficiency"),
    (10, "people and deep networks both find some visual targets faster one way than the reverse"),
    (11, "one model that decodes images from fMRI across different subjects"),
    (12, "attention explained as classical conditioning from animal learning"),
    (13, "why LLMs that sound fluent still fail at arithmetic and symbolic reasoning"),
    (14, "editing pretrained networks by adding task vectors in a linearised regime"),
    (15, "decoding spoken words from intracranial sEEG with discrete tokens"),
    (16, "reconstructing pictures from brain scans with diffusion pretrained on many people"),
    (17, "tracing where hallucinations come from inside large language models"),
    (18, "a single efficient world model that plans across many heterogeneous tasks"),
    (19, "sparse autoencoders measure feature superposition and relate it to adversarial attacks"),
]


def corpus(distractors: int) -> tuple[list[Paper], list[str]]:
    """The 47 seed papers (ids 9000.000NN) and real arXiv papers; and each query's target id."""
    with open(SHARED / "seed-page" / "papers.jsonl", encoding="utf-8") as fh:
        seed = [json.loads(line) for line in fh]
    day = dt.date(2025, 11, 20)
    rows = [
        Paper(f"9000.{i:05d}", r["title"], r["abstract"], [], listing_day=day)
        for i, r in enumerate(seed)
    ]
    with gzip.open(SHARED / "arxiv-daily-dw" / "papers.jsonl.gz", "rt", encoding="utf-8") as fh:
        rows += [record_to_paper(json.loads(line)) for line in itertools.islice(fh, distractors)]
    return rows, [f"9000.{i:05d}" for i, _q in QUERIES]


def mrr(runs: list[list[str]], targets: list[str]) -> tuple[float, float]:
    """(mean reciprocal rank, share found in the first 10)."""
    ranks = [run.index(t) + 1 if t in run else None for run, t in zip(runs, targets, strict=True)]
    return (
        sum(1 / r for r in ranks if r) / len(ranks),
        sum(1 for r in ranks if r and r <= 10) / len(ranks),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--distractors", type=int, default=3000)
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    if not (SHARED / "seed-page").exists():
        sys.exit(f"missing {SHARED}: the benchmarks read ../shared/data beside the repository")
    rows, targets = corpus(args.distractors)
    results = {}
    docs = {p.arxiv_id: (p.title, p.abstract) for p in rows}
    tf = tfidf_runs(docs, {str(i): q for i, (_n, q) in enumerate(QUERIES)})
    results["tf-idf cosine (baseline)"] = mrr([tf[str(i)] for i in range(len(QUERIES))], targets)
    modes = ("keyword", "semantic", "hybrid") if embedder.available() else ("keyword",)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/k.db"
        db = Database(url)
        db.upgrade()
        with db.transaction() as conn:
            for i in range(0, len(rows), 1000):
                papers.upsert_many(conn, rows[i : i + 1000])
        settings = Settings.load(env={}, database_url=url, index_dir=f"{tmp}/index")
        if len(modes) > 1:
            started = time.perf_counter()
            indexing.embed_pending(db, settings)
            print(
                f"embedded {len(rows)} papers in {time.perf_counter() - started:.0f} s",
                file=sys.stderr,
            )
        for mode in modes:
            runs = [
                [
                    h.paper.arxiv_id
                    for h in search.search(db, q, mode=mode, limit=100, settings=settings).hits
                ]
                for _n, q in QUERIES
            ]
            results[mode] = mrr(runs, targets)
        db.dispose()
    base = results["tf-idf cosine (baseline)"][0]
    print(f"\nKnown-item: {len(QUERIES)} paraphrased queries, {len(rows):,} papers\n")
    print(f"{'method':<28}{'MRR':>8}{'found in top 10':>17}{'MRR vs TF-IDF':>15}")
    for name, (m, top10) in results.items():
        print(f"{name:<28}{m:>8.3f}{top10:>17.0%}{m / base:>15.2f}")
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
