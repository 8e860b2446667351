"""Ingest speed: 10,000 real papers from a JSON-lines file into SQLite and PostgreSQL.

Times the real path (`paperfeed.ingest.ingest` over `JsonlSource`, default batch size) into a
fresh database, then the same file again (every record unchanged). The baseline is the floor
cost of writing: a bare `executemany` INSERT of the same rows into a table of the same columns.

    python bench/ingest_speed.py [--papers 10000] [--repeat 3] [--pg URL] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

from paperfeed.config import Settings
from paperfeed.ingest import ingest
from paperfeed.sources.jsonl import JsonlSource
from paperfeed.store import Database

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
ARXIV = SHARED / "arxiv-daily-dw" / "papers.jsonl.gz"
TARGET_SQLITE = 2000.0


def write_sample(n: int, folder: Path) -> Path:
    """The first n records of the shared arXiv corpus as a plain .jsonl file."""
    if not ARXIV.exists():
        sys.exit(f"missing {ARXIV}: the benchmarks read ../shared/data beside the repository")
    out = folder / "sample.jsonl"
    with gzip.open(ARXIV, "rt", encoding="utf-8") as src, out.open("w", encoding="utf-8") as dst:
        for line in itertools.islice(src, n):
            dst.write(line)
    return out


class Fresh:
    """A fresh, migrated database of one backend, dropped afterwards."""

    def __init__(self, backend: str, folder: Path, pg_url: str | None) -> None:
        self.backend, self.folder, self.pg_url = backend, folder, pg_url

    def __enter__(self) -> Database:
        if self.backend == "sqlite":
            path = self.folder / f"{uuid.uuid4().hex}.db"
            self.url = f"sqlite:///{path}"
        else:
            self.schema = "bench_" + uuid.uuid4().hex[:10]
            self.admin = Database(self.pg_url)
            with self.admin.transaction() as conn:
                conn.exec_driver_sql(f"CREATE SCHEMA {self.schema}")
            url = sa.engine.make_url(self.admin.url)
            self.url = url.update_query_dict(
                {"options": f"-csearch_path={self.schema}"}
            ).render_as_string(hide_password=False)
        self.db = Database(self.url)
        self.db.upgrade()
        return self.db

    def __exit__(self, *exc) -> None:
        self.db.dispose()
        if self.backend != "sqlite":
            with self.admin.transaction() as conn:
                conn.exec_driver_sql(f"DROP SCHEMA {self.schema} CASCADE")
            self.admin.dispose()


def time_ingest(db: Database, path: Path, batch: int) -> tuple[float, int]:
    started = time.perf_counter()
    run = ingest(db, JsonlSource(path, batch_size=batch))
    elapsed = time.perf_counter() - started
    assert run.status == "ok", run.error
    c = run.counts
    return elapsed, c.new + c.updated + c.unchanged


def baseline(db: Database, path: Path) -> float:
    """Seconds for a bare executemany INSERT of the same rows (parsing excluded)."""
    rows = []
    for line in path.open(encoding="utf-8"):
        r = json.loads(line)
        rows.append({
            "arxiv_id": r["arxiv_id"], "title": r["title"], "abstract": r["abstract"],
            "authors": json.dumps(r["authors"]), "categories": json.dumps(r["categories"]),
            "published": r["published"], "listing_day": r["published"], "comment": r.get("comment"),
        })  # fmt: skip
    table = sa.Table(
        "floor_" + uuid.uuid4().hex[:8], sa.MetaData(),
        *(sa.Column(k, sa.Text) for k in rows[0]),
    )  # fmt: skip
    with db.transaction() as conn:
        table.create(conn)
    started = time.perf_counter()
    with db.transaction() as conn:
        conn.execute(table.insert(), rows)
    return time.perf_counter() - started


def measure(backend, path, n, repeat, batch, folder, pg_url) -> dict:
    fresh_s, again_s, floor_s = [], [], []
    for _ in range(repeat):
        with Fresh(backend, folder, pg_url) as db:
            elapsed, seen = time_ingest(db, path, batch)
            assert seen == n, f"{seen} of {n} records ingested"
            fresh_s.append(elapsed)
            again_s.append(time_ingest(db, path, batch)[0])
            floor_s.append(baseline(db, path))
    return {
        "backend": backend,
        "papers": n,
        "fresh_per_s": n / statistics.median(fresh_s),
        "reingest_per_s": n / statistics.median(again_s),
        "baseline_per_s": n / statistics.median(floor_s),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--pg",
        default=os.environ.get("PAPERFEED_TEST_DATABASE_URL"),
        help="PostgreSQL URL (default: PAPERFEED_TEST_DATABASE_URL); '' skips it",
    )
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    batch = Settings.load(env={}).ingest_batch_size
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = write_sample(args.papers, folder)
        for backend in ("sqlite", "postgresql") if args.pg else ("sqlite",):
            results.append(measure(backend, path, args.papers, args.repeat, batch, folder, args.pg))

    print(
        f"\nIngest of {args.papers:,} papers from JSON lines (median of {args.repeat}, "
        f"batch {batch}, {os.cpu_count()} cores)\n"
    )
    head = ("backend", "what", "papers/s", "baseline/s", "ours/baseline", "target", "met")
    rows = []
    for r in results:
        target = TARGET_SQLITE if r["backend"] == "sqlite" else None
        kinds = (("fresh ingest", "fresh_per_s"), ("re-ingest (unchanged)", "reingest_per_s"))
        for what, key in kinds:
            met = (
                ""
                if target is None or key != "fresh_per_s"
                else ("yes" if r[key] >= target else "NO")
            )
            rows.append(
                (
                    r["backend"],
                    what,
                    f"{r[key]:,.0f}",
                    f"{r['baseline_per_s']:,.0f}",
                    f"{r[key] / r['baseline_per_s']:.2f}",
                    f">= {target:,.0f}" if target and key == "fresh_per_s" else "",
                    met,
                )
            )
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=True)]
    for row in (head, *rows):
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)))
    print("\nbaseline: a bare executemany INSERT of the same rows (no parsing, no merge).")
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
