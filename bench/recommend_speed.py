"""Personal-ranking speed (server time, in process): ranking a 1,000-paper day for one reader,
refreshing a reader's model after feedback with a 2,000-paper library, and importing a
5,000-entry BibTeX file, on SQLite with real arxiv-daily-dw metadata.

Vectors are random unit vectors (speed does not depend on their values). Baseline beside ours:
zotero-arxiv-daily's scoring (a dense 1,000 x 2,000 similarity matrix, recency weighted) on the
same vectors, timed the same way.

    python bench/recommend_speed.py [--repeat 200] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import itertools
import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info

from paperfeed import accounts, library, recommend
from paperfeed.config import Settings
from paperfeed.models import Paper
from paperfeed.store import Database, papers
from paperfeed.store import vectors as vector_store

sys.path.insert(0, str(Path(__file__).parent))
from benchlib import ARXIV, require, table  # noqa: E402
from recommend_quality import cpu  # noqa: E402

DAY_SIZE, LIBRARY, IMPORT = 1_000, 2_000, 5_000
DAY = dt.date(2026, 6, 1)


class Timer:
    """Wall and CPU milliseconds of each timed call (CPU time is what other jobs on a shared
    machine inflate least: it leaves out the time spent waiting for a core)."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def __enter__(self) -> Timer:
        self._w, self._c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        self.wall.append((time.perf_counter() - self._w) * 1000)
        self.cpu.append((time.process_time() - self._c) * 1000)


def cpu_flags() -> list[str]:
    """The vector instruction flags the matrix products use, of those this CPU has."""
    wanted = ("avx2", "fma", "avx512f", "avx512_bf16")
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            have = next((line.split() for line in fh if line.startswith("flags")), [])
    except OSError:
        have = []
    return [f for f in wanted if f in have]


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q / 100 * len(values)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--json-out")
    args = parser.parse_args()
    require(ARXIV)
    print(f"CPU: {cpu()} ({os.cpu_count()} cores, shared); numpy {np.__version__}")
    print(f"flags: {' '.join(cpu_flags())}")
    print("load average at start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    with gzip.open(ARXIV, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in itertools.islice(fh, DAY_SIZE + LIBRARY + IMPORT)]
    work = Path(tempfile.mkdtemp(prefix="recommend-speed-"))
    url = f"sqlite:///{work / 'bench.db'}"
    db = Database(url)
    db.upgrade()
    settings = Settings.load(env={}, database_url=url, index_dir=str(work / "index"))
    now = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    catalogue = [
        Paper(
            arxiv_id=r["arxiv_id"],
            title=r["title"],
            abstract=r["abstract"],
            authors=r["authors"],
            categories=r["categories"],
            primary_category=r["categories"][0],
            published=now,
            updated=now,
            listing_day=DAY if i < DAY_SIZE else dt.date(2025, 6, 1),
        )
        for i, r in enumerate(rows[: DAY_SIZE + LIBRARY])
    ]
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(len(catalogue), 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    with db.transaction() as conn:
        papers.upsert_many(conn, catalogue)
        vector_store.save(
            conn,
            settings.embedding_model,
            [(p.arxiv_id, vectors[i].tobytes()) for i, p in enumerate(catalogue)],
        )
    reader = accounts.create_user(db, settings, email="reader@example.org", password="x" * 12)
    ids = "\n".join(p.arxiv_id for p in catalogue[DAY_SIZE:])
    library.import_references(db, settings, reader, ids)
    assert library.items(db, reader, limit=1) and len(library.items(db, reader)) == LIBRARY

    recommend._TERMS.clear()  # the first ranking of a day hashes its words: timed apart
    recommend._WORDS.clear()
    start = time.perf_counter()
    recommend.words(db)
    words_ms = (time.perf_counter() - start) * 1000
    start = time.perf_counter()
    recommend.reader(db, settings, reader.id)  # hashes the library's words, once per process
    first_fit_ms = (time.perf_counter() - start) * 1000

    # Refresh after feedback: each round dismisses one more paper, so the stamp changes.
    refresh = Timer()
    for i in range(min(args.repeat, 50)):
        library.dismiss(db, reader, catalogue[i].arxiv_id)
        with refresh:
            recommend.reader(db, settings, reader.id)

    fitted = recommend.reader(db, settings, reader.id)
    start = time.perf_counter()
    found = recommend.candidates(db, settings, DAY, DAY)
    first_day_ms = (time.perf_counter() - start) * 1000
    assert len(found.ids) == DAY_SIZE
    day_vectors = found.papers.vectors
    score_only, with_reasons, service = Timer(), Timer(), Timer()
    for _ in range(args.repeat):
        with score_only:
            recommend.rank(fitted, found, explain=0)
        with with_reasons:
            recommend.rank(fitted, found, explain=20)
    for _ in range(max(10, args.repeat // 5)):
        with service:
            recommend.rank_period(db, settings, reader, DAY, DAY, limit=20)
    # Refresh after a save: the library changes, so everything is read and fitted again (a
    # dismissal alone refits the positives as they were: the rounds above).
    saved = Timer()
    for i in range(min(args.repeat, 30)):
        library.save_paper(db, reader, catalogue[DAY_SIZE - 1 - i].arxiv_id)
        with saved:
            recommend.reader(db, settings, reader.id)
    library_matrix = vectors[DAY_SIZE:]
    weight = 1 / (1 + np.log10(np.arange(LIBRARY) + 1))
    weight /= weight.sum()
    baseline = Timer()
    for _ in range(args.repeat):
        with baseline:
            np.argsort(-(day_vectors @ library_matrix.T * weight).sum(axis=1))

    # Import: 5,000 BibTeX entries, half with arXiv ids of catalogue papers, half title only.
    entries = []
    for i, r in enumerate(rows[DAY_SIZE + LIBRARY :] + rows[:0]):
        eprint = f", eprint={{{catalogue[i % len(catalogue)].arxiv_id}}}" if i % 2 else ""
        entries.append(
            f"@article{{k{i}, title={{{r['title']}}}, author={{{' and '.join(r['authors'][:5])}}},"
            f" abstract={{{r['abstract']}}}, year={{2025}}{eprint}}}"
        )
    bib = "\n".join(entries).encode()
    other = accounts.create_user(db, settings, email="importer@example.org", password="x" * 12)
    start = time.perf_counter()
    report = library.import_references(db, replace(settings), other, bib)
    import_s = time.perf_counter() - start

    timed = [
        ("rank 1,000 papers, scores only", score_only),
        ("rank 1,000 papers + 20 reasons", with_reasons),
        ("rank_period (DB read included)", service),
        ("baseline: zotero scoring", baseline),
        ("refresh after a dismissal, 2,000", refresh),
        ("refresh after a save, 2,000", saved),
    ]
    rows_out = [
        [
            name,
            f"{pct(t.wall, 50):.2f}",
            f"{pct(t.wall, 99):.2f}",
            f"{pct(t.cpu, 50):.2f}",
            f"{pct(t.cpu, 99):.2f}",
            f"{pct(t.wall, 50) / pct(baseline.wall, 50):.2f}x",
        ]
        for name, t in timed
    ]
    print(
        table(["what (ms)", "wall p50", "wall p99", "CPU p50", "CPU p99", "/ baseline"], rows_out)
    )
    print("targets: rank p50 < 10 ms, p99 < 30 ms; refresh < 200 ms")
    print(
        f"first fit of the reader (hashing the library's words, once per process): "
        f"{first_fit_ms:.0f} ms"
    )
    print(
        f"word weights over the catalogue's {len(catalogue):,} most recent papers (at most "
        f"{recommend.WORD_PAPERS:,}): {words_ms:.0f} ms; reading and weighing a day's 1,000 "
        f"papers: {first_day_ms:.0f} ms (each once per listing day and worker)"
    )
    print(
        f"import of {IMPORT:,} BibTeX entries ({len(bib) / 1e6:.1f} MB): {import_s:.2f} s "
        f"({report.added} added, {report.merged} merged, {report.skipped} skipped; "
        f"no arXiv fetches); target < 10 s"
    )
    blas = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    print(f"BLAS threads (ours and the baseline's, same process): {blas}")
    print("load average at end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    if args.json_out:
        Path(args.json_out).write_text(
            json.dumps(
                {
                    **{
                        name: {
                            "wall_ms": [pct(t.wall, 50), pct(t.wall, 99)],
                            "cpu_ms": [pct(t.cpu, 50), pct(t.cpu, 99)],
                        }
                        for name, t in timed
                    },
                    "first_fit_ms": first_fit_ms,
                    "import_s": import_s,
                    "first_day_ms": first_day_ms,
                    "words_ms": words_ms,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
