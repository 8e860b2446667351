"""Community speed: upvote throughput under 16 concurrent clients on SQLite and PostgreSQL, and
trending latency over 100,000 papers carrying 1,000,000 votes.

Both run against real `paperfeed serve` processes on loopback. Baseline: `/healthz` driven the
same way, the framework's floor.

    python bench/community_speed.py [--seconds 10] [--pg URL] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).parent))
from page_speed import drive, free_port  # noqa: E402 - a sibling script, not a package
from paperfeed import accounts  # noqa: E402
from paperfeed.config import Settings  # noqa: E402
from paperfeed.models import Paper  # noqa: E402
from paperfeed.store import Database, papers  # noqa: E402
from paperfeed.store.tables import users as users_table  # noqa: E402
from paperfeed.store.tables import votes as votes_table  # noqa: E402

VOTERS, VOTE_PAPERS = 16, 100
TREND_PAPERS, TREND_VOTES, TREND_USERS = 100_000, 1_000_000, 20_000
TARGET_TRENDING_MS = 30.0


def server(url: str, *, workers: int = 1, cache: int = 512):
    import subprocess

    port = free_port()
    env = {
        **os.environ,
        "PAPERFEED_DATABASE_URL": url,
        "PAPERFEED_LOG_LEVEL": "warning",
        "PAPERFEED_LIMIT_VOTE": "100000000/60",
        "PAPERFEED_RESPONSE_CACHE_SIZE": str(cache),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "paperfeed",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{base}/healthz").status_code == 200:
                return proc, base
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    sys.exit("server did not start")


@contextlib.contextmanager
def fresh_url(backend: str, folder: Path, pg: str | None) -> Iterator[str]:
    """An empty database for one run: a file in `folder`, or a schema on the PostgreSQL server
    that is dropped afterwards (runs used to leave their bench_* schemas behind)."""
    if backend == "sqlite":
        yield f"sqlite:///{folder / (uuid.uuid4().hex + '.db')}"
        return
    assert pg is not None
    schema = "bench_" + uuid.uuid4().hex[:10]
    admin = Database(pg)
    with admin.transaction() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    url = sa.engine.make_url(admin.url)
    try:
        yield url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False
        )
    finally:
        with admin.transaction() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        admin.dispose()


def vote_storm(url: str, seconds: float) -> dict:
    """16 readers set and withdraw votes on 100 papers as fast as the server answers."""
    db = Database(url)
    db.upgrade()
    settings = Settings.load(env={}, database_url=url)
    day = dt.date(2025, 11, 20)
    with db.transaction() as conn:
        papers.upsert_many(
            conn,
            [
                Paper(f"2511.{i:05d}", f"Paper {i}", "Abstract.", ["A"], listing_day=day)
                for i in range(VOTE_PAPERS)
            ],
        )
    tokens = [
        accounts.create_api_token(
            db,
            user=accounts.create_user(
                db, settings, email=f"v{i}@example.org", password="bench password"
            ),
            name="bench",
        )
        for i in range(VOTERS)
    ]
    proc, base = server(url)
    latencies, errors = [], 0
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def voter(i):
        nonlocal errors
        rng, mine = random.Random(i), []
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {tokens[i]}"}) as c:
            while time.monotonic() < stop:
                t0 = time.perf_counter()
                r = c.post(
                    f"/api/papers/2511.{rng.randrange(VOTE_PAPERS):05d}/vote",
                    json={"up": rng.random() < 0.6},
                )
                mine.append((time.perf_counter() - t0) * 1000)
                if r.status_code != 200:
                    with lock:
                        errors += 1
        with lock:
            latencies.extend(mine)

    try:
        started = time.perf_counter()
        threads = [threading.Thread(target=voter, args=(i,)) for i in range(VOTERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - started
        floor = drive(base, "/healthz", 2000, VOTERS)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    with db.connect() as conn:
        counts = conn.exec_driver_sql("SELECT sum(upvotes) FROM papers").scalar()
        rows = conn.exec_driver_sql("SELECT count(*) FROM votes").scalar()
    db.dispose()
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / wall,
        "p50": statistics.median(latencies),
        "p99": statistics.quantiles(latencies, n=100)[98],
        "healthz_rps": floor["rps"],
        "exact": counts == rows,
    }


def build_trending(path: Path) -> None:
    """100,000 papers over 90 days and 1,000,000 votes from 20,000 readers."""
    db = Database(f"sqlite:///{path}")
    db.upgrade()
    rng = random.Random(3)
    now = dt.datetime.now(dt.UTC)
    with db.transaction() as conn:
        for start in range(0, TREND_PAPERS, 5000):
            batch = []
            for i in range(start, start + 5000):
                published = now - dt.timedelta(hours=rng.uniform(0, 24 * 90))
                batch.append(
                    Paper(
                        f"26{i // 100000:02d}.{i % 100000:05d}",
                        f"Paper {i}",
                        "An abstract about learning. " * 20,
                        ["A. Author", "B. Author"],
                        published=published,
                        listing_day=published.date(),
                    )
                )
            papers.upsert_many(conn, batch)
        conn.execute(
            sa.insert(users_table),
            [
                {
                    "id": u + 1,
                    "email": f"r{u}@example.org",
                    "display_name": f"r{u}",
                    "password_hash": "x",
                    "created_at": now,
                }
                for u in range(TREND_USERS)
            ],
        )
        # Votes follow a heavy tail: a few papers collect most of them.
        weights = [1.0 / (k + 10) ** 1.1 for k in range(TREND_PAPERS)]
        order = list(range(TREND_PAPERS))
        rng.shuffle(order)
        ids = [f"26{i // 100000:02d}.{i % 100000:05d}" for i in order]
        seen, rows = set(), []
        while len(rows) < TREND_VOTES:
            for pid in rng.choices(ids, weights=weights, k=200_000):
                user = rng.randrange(TREND_USERS) + 1
                if (user, pid) not in seen:
                    seen.add((user, pid))
                    rows.append({"user_id": user, "arxiv_id": pid, "created_at": now})
        rows = rows[:TREND_VOTES]
        for i in range(0, len(rows), 50_000):
            conn.execute(sa.insert(votes_table), rows[i : i + 50_000])
        conn.exec_driver_sql(
            "UPDATE papers SET upvotes = "
            "(SELECT count(*) FROM votes v WHERE v.arxiv_id = papers.arxiv_id)"
        )
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--pg", default=os.environ.get("PAPERFEED_TEST_DATABASE_URL"))
    parser.add_argument("--trending-db", type=Path, default=Path("/tmp/paperfeed-bench-votes.db"))
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    results: dict = {"votes": {}, "trending": []}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in ("sqlite", "postgresql") if args.pg else ("sqlite",):
            with fresh_url(backend, Path(tmp), args.pg) as url:
                results["votes"][backend] = vote_storm(url, args.seconds)
    if not args.trending_db.exists():
        t0 = time.perf_counter()
        build_trending(args.trending_db)
        print(f"built {args.trending_db} in {time.perf_counter() - t0:.0f} s")
    for label, cache in (("cache on", 512), ("cache off", 0)):
        proc, base = server(f"sqlite:///{args.trending_db}", cache=cache)
        try:
            for path in ("/trending?window=week", "/api/trending?window=week", "/healthz"):
                drive(base, path, 40, 4)
                results["trending"].append({**drive(base, path, 400, 4), "setup": label})
            if not cache:  # the cost of one request alone, without queueing behind others
                r = drive(base, "/trending?window=week", 100, 1)
                results["trending"].append({**r, "setup": "cache off, 1 client"})
        finally:
            proc.terminate()
            proc.wait(timeout=30)

    print(
        f"\nUpvotes: {VOTERS} concurrent clients, {args.seconds:.0f} s, 1 worker, "
        f"{os.cpu_count()} cores; latency in ms\n"
    )
    print(
        f"{'backend':<12}{'requests':>10}{'errors':>8}{'votes/s':>10}{'p50':>8}{'p99':>8}"
        f"{'healthz/s':>11}{'ours/healthz':>14}  counts exact"
    )
    for backend, r in results["votes"].items():
        print(
            f"{backend:<12}{r['requests']:>10}{r['errors']:>8}{r['rps']:>10.0f}{r['p50']:>8.1f}"
            f"{r['p99']:>8.1f}{r['healthz_rps']:>11.0f}{r['rps'] / r['healthz_rps']:>14.2f}"
            f"  {'yes' if r['exact'] else 'NO'}"
        )
    print(
        f"\nTrending: {TREND_PAPERS:,} papers, {TREND_VOTES:,} votes (SQLite), 4 clients, "
        "1 worker; server time in ms (target median < 30)\n"
    )
    print(f"{'set-up':<21}{'endpoint':<28}{'p50':>8}{'p99':>8}{'req/s':>8}  met")
    for r in results["trending"]:
        met = (
            ""
            if r["path"] == "/healthz"
            else ("yes" if r["server_median"] < TARGET_TRENDING_MS else "NO")
        )
        print(
            f"{r['setup']:<21}{r['path']:<28}{r['server_median']:>8.2f}{r['server_p99']:>8.2f}"
            f"{r['rps']:>8.0f}  {met}"
        )
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
