"""Ingest speed: 10,000 real arXiv papers from a JSON-lines file into SQLite and PostgreSQL.

Measures the real path, `paperfeed.ingest.ingest(db, JsonlSource(path))` with the default batch
size, into a fresh, migrated database (a new SQLite file; a new PostgreSQL database), then the
same file again into the filled database, where every record is unchanged (the cost of
idempotence). Each is repeated with a fresh database and the median reported in papers/s.

Baseline: the floor cost of just writing the rows, a plain DB-API `executemany` INSERT (sqlite3,
psycopg) of the same 10,000 rows, already converted, into a bare table with equivalent columns
(primary key on the id, no other index, no trigger), in one transaction.

    python bench/ingest_speed.py [--papers 10000] [--repeat 3] [--pg URL | --pg ''] [--json-out F]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from benchlib import ARXIV, DEFAULT_PG, pg_database, pg_problem, require, table  # noqa: E402
from paperfeed.config import Settings  # noqa: E402
from paperfeed.ingest import ingest  # noqa: E402
from paperfeed.sources.jsonl import JsonlSource  # noqa: E402
from paperfeed.store import Database  # noqa: E402

TARGETS = {"sqlite": 2000.0}  # fresh ingest, papers/s


def write_sample(n: int, folder: Path) -> Path:
    """The first n records of the shared arXiv corpus as a plain .jsonl file."""
    require(ARXIV)
    out = folder / "sample.jsonl"
    with gzip.open(ARXIV, "rt", encoding="utf-8") as src, out.open("w", encoding="utf-8") as dst:
        for line in itertools.islice(src, n):
            dst.write(line)
    return out


@contextmanager
def fresh(backend: str, folder: Path, pg_url: str | None):
    """A fresh, migrated paperfeed database of one backend; removed afterwards."""
    if backend == "sqlite":
        path = folder / f"{uuid.uuid4().hex}.db"
        db = Database(f"sqlite:///{path}")
        try:
            db.upgrade()
            yield db
        finally:
            db.dispose()
            for p in folder.glob(path.name + "*"):
                p.unlink()
        return
    with pg_database(pg_url, "bench_ingest") as url:
        db = Database(url)
        try:
            db.upgrade()
            yield db
        finally:
            db.dispose()


def time_ingest(db: Database, path: Path, batch: int) -> tuple[float, object]:
    started = time.perf_counter()
    run = ingest(db, JsonlSource(path, batch_size=batch))
    elapsed = time.perf_counter() - started
    if run.status != "ok":
        sys.exit(f"ingest failed: {run.error}")
    return elapsed, run.counts


def baseline_rows(path: Path) -> list[tuple]:
    """The sample's records as plain tuples for the bare table (conversion not timed)."""
    now = dt.datetime.now(dt.UTC).isoformat()
    rows = []
    for line in path.open(encoding="utf-8"):
        r = json.loads(line)
        day = r["published"]  # an ISO date: stored as text by sqlite3, cast by PostgreSQL
        rows.append(
            (
                r["arxiv_id"],
                1,
                r["title"],
                r["abstract"],
                json.dumps(r["authors"]),
                r["categories"][0] if r["categories"] else None,
                json.dumps(r["categories"]),
                r.get("comment"),
                None,
                None,
                day + "T00:00:00+00:00",
                None,
                day,
                r.get("github"),
                None,
                r.get("upvotes") or 0,
                0,
                now,
                now,
            )
        )
    return rows


COLUMNS = (
    "arxiv_id TEXT PRIMARY KEY, version INTEGER, title TEXT, abstract TEXT, authors TEXT, "
    "primary_category TEXT, categories TEXT, comment TEXT, journal_ref TEXT, doi TEXT, "
    "published TIMESTAMP, updated TIMESTAMP, listing_day DATE, code_url TEXT, project_url TEXT, "
    "upvotes INTEGER, num_comments INTEGER, created_at TIMESTAMP, modified_at TIMESTAMP"
)


def time_baseline(db: Database, rows: list[tuple]) -> float:
    """Seconds for a plain driver executemany INSERT of `rows` into a new bare table."""
    name = "floor_" + uuid.uuid4().hex[:8]
    mark = "?" if db.dialect == "sqlite" else "%s"
    sql = f"INSERT INTO {name} VALUES ({', '.join([mark] * len(rows[0]))})"
    with db.transaction() as conn:
        conn.exec_driver_sql(f"CREATE TABLE {name} ({COLUMNS})")
    with db.engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        if db.dialect == "sqlite":  # the engine leaves transactions to SQLAlchemy: open one
            raw.execute("BEGIN")
        started = time.perf_counter()
        cur = raw.cursor()
        cur.executemany(sql, rows)
        raw.commit()
        elapsed = time.perf_counter() - started
        cur.close()
    with db.transaction() as conn:
        stored = conn.exec_driver_sql(f"SELECT count(*) FROM {name}").scalar_one()
        conn.exec_driver_sql(f"DROP TABLE {name}")
    assert stored == len(rows), (stored, len(rows))
    return elapsed


def measure(backend: str, path: Path, n: int, args, batch: int, folder: Path) -> dict:
    fresh_s, again_s, floor_s = [], [], []
    rows = baseline_rows(path)
    for i in range(args.repeat):
        with fresh(backend, folder, args.pg) as db:
            elapsed, counts = time_ingest(db, path, batch)
            if counts.new != n:
                sys.exit(f"{backend}: {counts.new} of {n} papers were new ({counts})")
            fresh_s.append(elapsed)
            elapsed, counts = time_ingest(db, path, batch)
            if counts.unchanged != n:
                sys.exit(f"{backend}: re-ingest left {counts.unchanged} of {n} unchanged")
            again_s.append(elapsed)
        with fresh(backend, folder, args.pg) as db:  # the floor, also into an empty database
            floor_s.append(time_baseline(db, rows))
        print(
            f"  {backend} run {i + 1}: fresh {fresh_s[-1]:.2f} s, again {again_s[-1]:.2f} s, "
            f"baseline {floor_s[-1]:.3f} s",
            file=sys.stderr,
        )
    return {
        "backend": backend,
        "papers": n,
        "batch_size": batch,
        "fresh_s": fresh_s,
        "reingest_s": again_s,
        "baseline_s": floor_s,
        "fresh_per_s": n / statistics.median(fresh_s),
        "reingest_per_s": n / statistics.median(again_s),
        "baseline_per_s": n / statistics.median(floor_s),
        "target_per_s": TARGETS.get(backend),
    }


def render(results: list[dict], args, batch: int) -> str:
    rows = []
    for r in results:
        for what, key in (
            ("fresh ingest", "fresh_per_s"),
            ("re-ingest, unchanged", "reingest_per_s"),
        ):
            target = r["target_per_s"] if key == "fresh_per_s" else None
            rows.append(
                (
                    r["backend"],
                    what,
                    f"{r[key]:,.0f}",
                    f"{r['baseline_per_s']:,.0f}",
                    f"{r[key] / r['baseline_per_s']:.3f}",
                    f">= {target:,.0f}" if target else "",
                    ("yes" if r[key] >= target else "NO") if target else "",
                )
            )
    head = ("backend", "what", "papers/s", "baseline papers/s", "ours/baseline", "target", "met?")
    return (
        f"Ingest of {args.papers:,} real arXiv papers from JSON lines: median of {args.repeat} "
        f"fresh databases, batch size {batch}, {os.cpu_count()} cores, "
        f"{dt.date.today().isoformat()}\n\n"
        + table(head, rows)
        + "\n\nbaseline: plain DB-API executemany INSERT of the same rows into a bare table."
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("--papers", type=int, default=10_000, help="records to take (10000)")
    parser.add_argument("--repeat", type=int, default=3, help="fresh databases per backend (3)")
    parser.add_argument(
        "--pg",
        default=os.environ.get("PAPERFEED_TEST_DATABASE_URL", DEFAULT_PG),
        help="a PostgreSQL server to create throw-away databases on (default: "
        f"PAPERFEED_TEST_DATABASE_URL or {DEFAULT_PG}); '' skips PostgreSQL",
    )
    parser.add_argument("--json-out", type=Path, help="also write the results here as JSON")
    args = parser.parse_args()
    batch = Settings.load(env={}).ingest_batch_size
    backends = ["sqlite"]
    if args.pg:
        problem = pg_problem(args.pg)
        if problem:
            print(f"skipping PostgreSQL ({args.pg}): {problem}", file=sys.stderr)
        else:
            backends.append("postgresql")
    results = []
    with tempfile.TemporaryDirectory(prefix="paperfeed-ingest-") as tmp:
        folder = Path(tmp)
        path = write_sample(args.papers, folder)
        n = sum(1 for _ in path.open(encoding="utf-8"))
        for backend in backends:
            results.append(measure(backend, path, n, args, batch, folder))
    print("\n" + render(results, args, batch))
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=2) + "\n")
        print(f"\nwrote {args.json_out}")


if __name__ == "__main__":
    main()
