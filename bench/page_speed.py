"""Page speed: the daily page and the daily_papers API for a 300-paper day, 100,000 papers stored.

The database holds the 74,728 real arXiv papers and the 9,877 Hugging Face daily papers from
../shared/data (merged by id by the store: HF brings upvotes and GitHub links), padded to
100,000 with real titles and abstracts under new ids spread over the real days, and one bench
day (2026-10-01, after both corpora end) holding exactly 300 papers with varied upvotes. It is
written through `paperfeed.store.papers.upsert_many` in batches of 1,000. A SQLite file is kept
and reused (--db); with --database-url a throw-away PostgreSQL database is built on that server.

A real `paperfeed serve` process on a free loopback port is driven by 4 concurrent keep-alive
httpx clients, after a warm-up, for a fixed number of requests per endpoint: `/papers?date=` (the
whole day as HTML), `/api/daily_papers?date=` (50 papers as JSON), and `/healthz` as the baseline
(the framework's floor); with the cache on, also `/papers?date=...&miss=N` with a new N each time,
a page the response cache does not hold (what the first visitor after a vote waits for). Server
time is the app's own `Server-Timing`; client time is the round trip. Set-ups: the default
(response cache on, 1 worker), the cache off (every request reads and renders: the cost right
after each catalogue change), the cache off with 2 workers, and a signed-in reader (cache on, 1
worker) who has upvoted, saved and dismissed papers of the bench day (their session cookie is
made through `paperfeed.accounts`, the marks through the services).
Targets: server time median < 20 ms and p99 < 60 ms; signed in (the day, the week and the day
ranked "For you"), p50 < 5x /healthz, p99 < 30 ms.

    python bench/page_speed.py [--db PATH] [--database-url PG_URL] [--requests 600] [--json-out F]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import gzip
import itertools
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from benchlib import ARXIV, HF, free_port, pg_database, pg_problem, require, table  # noqa: E402
from paperfeed import accounts, library, voting  # noqa: E402
from paperfeed.config import Settings  # noqa: E402
from paperfeed.errors import NotFound  # noqa: E402
from paperfeed.sources.jsonl import record_to_paper  # noqa: E402
from paperfeed.store import Database, papers  # noqa: E402
from paperfeed.store import vectors as vector_store  # noqa: E402

BENCH_DAY = dt.date(2026, 10, 1)  # after both corpora end: only the bench papers are on it
TOTAL, DAY_PAPERS, BATCH = 100_000, 300, 1000
TARGET_MEDIAN_MS, TARGET_P99_MS = 20.0, 60.0
SIGNED_IN_FLOOR_RATIO, SIGNED_IN_P99_MS = 5.0, 30.0
READER = "bench-reader@example.org"
SETUPS = [  # label, response cache size, workers, signed in
    ("cache on, 1 worker", 512, 1, False),
    ("cache off, 1 worker", 0, 1, False),
    ("cache off, 2 workers", 0, 2, False),
    ("signed in, cache on, 1 worker", 512, 1, True),
]


def _read(path: Path):
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            yield record_to_paper(json.loads(line))


def _write(db: Database, batch: list) -> None:
    with db.transaction() as conn:
        for i in range(0, len(batch), BATCH):
            papers.upsert_many(conn, batch[i : i + BATCH])


def fixture_ok(db: Database) -> bool:
    with db.connect() as conn:
        return (
            papers.count(conn) == TOTAL
            and papers.count_between(conn, BENCH_DAY, BENCH_DAY) == DAY_PAPERS
        )


def build(db: Database) -> None:
    """Fill an empty, migrated database with the 100,000 papers."""
    require(ARXIV, HF)
    rng = random.Random(7)
    real = list(_read(ARXIV)) + list(_read(HF))
    days = sorted({p.listing_day for p in real})
    _write(db, real)
    with db.connect() as conn:
        stored = papers.count(conn)
    padding = []
    for i in range(TOTAL - stored):
        src = real[rng.randrange(len(real))]
        on_bench_day = i < DAY_PAPERS
        day = BENCH_DAY if on_bench_day else rng.choice(days)
        padding.append(
            dataclasses.replace(
                src,
                arxiv_id=f"{2701 + i // 90000}.{10000 + i % 90000}",
                listing_day=day,
                published=dt.datetime.combine(day, dt.time(rng.randrange(24)), tzinfo=dt.UTC),
                updated=None,
                upvotes=rng.choice([0, 0, 0, 1, 2, 3, 5, 8, 13, 40, 120, 310])
                if on_bench_day
                else 0,
            )
        )
    _write(db, padding)
    if not fixture_ok(db):
        sys.exit("the fixture did not come out as 100,000 papers with 300 on the bench day")


def sqlite_fixture(path: Path) -> str:
    """The SQLite fixture at `path`, reused when complete, else built beside it and moved in."""
    if path.exists():
        db = Database(f"sqlite:///{path}")
        db.upgrade()  # a file kept from an older paperfeed gets the newer migrations
        ok = fixture_ok(db)
        db.dispose()
        if ok:
            print(f"reusing {path}", file=sys.stderr)
            return f"sqlite:///{path}"
        print(f"{path} is not a complete fixture: rebuilding it", file=sys.stderr)
    part = path.with_name(path.name + ".part")
    for stale in path.parent.glob(part.name + "*"):
        stale.unlink()
    t0 = time.perf_counter()
    db = Database(f"sqlite:///{part}")
    db.upgrade()
    build(db)
    with db.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()
    part.replace(path)
    for leftover in path.parent.glob(part.name + "-*"):  # the emptied -wal and -shm
        leftover.unlink()
    print(f"built {path} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return f"sqlite:///{path}"


def pg_fixture(stack: contextlib.ExitStack, server_url: str) -> str:
    """A throw-away PostgreSQL database on that server, filled; dropped when `stack` closes."""
    if problem := pg_problem(server_url):
        sys.exit(f"PostgreSQL at {server_url} is not usable: {problem}")
    url = stack.enter_context(pg_database(server_url, "bench_signedin_page"))
    t0 = time.perf_counter()
    db = Database(url)
    db.upgrade()
    build(db)
    db.dispose()
    print(f"built the PostgreSQL fixture in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return url


def sign_in(url: str) -> str:
    """A session cookie for the bench reader, who has upvoted 30, saved 20 and dismissed 10
    papers of the bench day (made once; the votes and marks are idempotent)."""
    db = Database(url)
    settings = Settings(database_url=url)
    try:
        try:
            user = accounts.user_by_email(db, READER)
        except NotFound:
            user = accounts.create_user(db, settings, email=READER, password="bench-password-1")
        with db.connect() as conn:
            ids = [p.arxiv_id for p in papers.list_between(conn, BENCH_DAY, BENCH_DAY, limit=300)]
        # Vectors for the bench day (random unit vectors: ranking costs the same), so the "For
        # you" sort has papers to rank; written once.
        with db.transaction() as conn:
            if not vector_store.vectors_of(conn, settings.embedding_model, ids[:1]):
                rng = np.random.default_rng(11)
                m = rng.normal(size=(len(ids), 384)).astype(np.float32)
                m /= np.linalg.norm(m, axis=1, keepdims=True)
                rows = [(a, m[i].tobytes()) for i, a in enumerate(ids)]
                vector_store.save(conn, settings.embedding_model, rows)
        for i, arxiv_id in enumerate(ids[:60]):
            if i % 2 == 0:
                voting.set_vote(db, user=user, arxiv_id=arxiv_id, up=True)
            if i % 3 == 0:
                library.save_paper(db, user, arxiv_id)
            if i % 6 == 1:
                library.dismiss(db, user, arxiv_id)
        cookie, _session = accounts.start_session(db, settings, user)
    finally:
        db.dispose()
    return cookie


def drive(
    base: str,
    path: str,
    requests: int,
    clients: int,
    max_seconds: float = 120.0,
    cookies: dict | None = None,
) -> dict:
    """`requests` GETs of `path` split over `clients` keep-alive threads (stopping early after
    `max_seconds`); server and client times in ms."""
    server_ms, client_ms, errors = [], [], []
    lock = threading.Lock()
    numbers = itertools.count()  # "{n}" in the path: a new URL each time, never cached
    deadline = time.monotonic() + max_seconds

    def worker(n: int) -> None:
        with httpx.Client(base_url=base, timeout=30, cookies=cookies) as c:
            for _ in range(n):
                if time.monotonic() > deadline:
                    return
                t0 = time.perf_counter()
                try:
                    r = c.get(path.replace("{n}", str(next(numbers))))
                except httpx.HTTPError as exc:
                    with lock:
                        errors.append(type(exc).__name__)
                    continue
                took = (time.perf_counter() - t0) * 1000
                timing = r.headers.get("Server-Timing", "")
                with lock:
                    if r.status_code != 200 or "dur=" not in timing:
                        errors.append(r.status_code)
                        continue
                    client_ms.append(took)
                    server_ms.append(float(timing.split("dur=")[1].split(",")[0]))

    share = [requests // clients + (i < requests % clients) for i in range(clients)]
    threads = [threading.Thread(target=worker, args=(n,)) for n in share]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    if len(client_ms) < 2:
        sys.exit(f"{path}: only {len(client_ms)} good answers, errors {errors[:5]}")

    def p99(xs):
        return statistics.quantiles(xs, n=100, method="inclusive")[98]

    return {
        "path": path,
        "requests": len(client_ms),
        "errors": len(errors),
        "server_median": statistics.median(server_ms),
        "server_p99": p99(server_ms),
        "client_median": statistics.median(client_ms),
        "client_p99": p99(client_ms),
        "rps": len(client_ms) / wall,
        "seconds": wall,
    }


def run_server(url: str, args, *, cache: int, workers: int, signed_in: bool) -> list[dict]:
    """Start a server with this set-up, measure every endpoint, always stop it."""
    port = free_port()
    env = {
        **os.environ,
        "PAPERFEED_DATABASE_URL": url,
        "PAPERFEED_LOG_LEVEL": "warning",
        "PAPERFEED_RESPONSE_CACHE_SIZE": str(cache),
    }
    cmd = [
        sys.executable,
        "-m",
        "paperfeed",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    server = subprocess.Popen(cmd, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{base}/healthz", timeout=5).status_code == 200:
                    break
            if time.monotonic() > deadline or server.poll() is not None:
                sys.exit("the server did not answer /healthz within 60 s")
            time.sleep(0.2)
        day = BENCH_DAY.isoformat()
        paths = ["/healthz", f"/papers?date={day}", f"/api/daily_papers?date={day}"]
        if cache:  # a page the response cache does not hold: the first render after a vote
            paths.append(f"/papers?date={day}&miss={{n}}")
        cookies = None
        if signed_in:
            paths = [
                "/healthz",
                f"/papers?date={day}",
                f"/papers?week={BENCH_DAY:%G-W%V}",
                f"/for-you?date={day}",  # the "For you" sort of the day page
            ]
            cookies = {"pf_session": sign_in(url)}
        for p in paths:  # warm caches, imports and connections
            drive(base, p, args.warmup, args.clients, args.max_seconds, cookies)
        return [
            drive(base, p, args.requests, args.clients, args.max_seconds, cookies) for p in paths
        ]
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=30)


def render(results: list[dict], args, backend: str) -> str:
    head = (
        "set-up",
        "endpoint",
        "requests",
        "errors",
        "server p50",
        "server p99",
        "client p50",
        "client p99",
        "req/s",
        "p50 / healthz",
        "target",
        "met?",
    )
    rows = []
    floors = {r["setup"]: r["server_median"] for r in results if r["path"] == "/healthz"}
    for r in results:
        page = r["path"] != "/healthz"
        met = r["server_median"] < TARGET_MEDIAN_MS and r["server_p99"] < TARGET_P99_MS
        target = "p50<20, p99<60"
        if r["signed_in"]:
            ratio = r["server_median"] / floors[r["setup"]]
            met = ratio < SIGNED_IN_FLOOR_RATIO and r["server_p99"] < SIGNED_IN_P99_MS
            target = "p50<5x, p99<30"
        rows.append(
            (
                r["setup"],
                r["path"],
                r["requests"],
                r["errors"],
                f"{r['server_median']:.2f}",
                f"{r['server_p99']:.2f}",
                f"{r['client_median']:.2f}",
                f"{r['client_p99']:.2f}",
                f"{r['rps']:.0f}",
                f"{r['server_median'] / floors[r['setup']]:.1f}x",
                target if page else "baseline",
                ("yes" if met else "NO") if page else "",
            )
        )
    return (
        f"{TOTAL:,} papers ({backend}), a day of {DAY_PAPERS} papers, {args.clients} concurrent "
        f"keep-alive clients, {os.cpu_count()} cores, {dt.date.today()}; times in ms\n\n"
        + table(head, rows)
        + "\n\nserver = the app's Server-Timing; client = the round trip seen by the client thread."
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument(
        "--db",
        type=Path,
        default=Path("/tmp/paperfeed-bench-page-100k.db"),
        help="SQLite fixture file, built on first use and reused after",
    )
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server URL: build a throw-away "
        "database there and measure it instead of SQLite",
    )
    parser.add_argument("--requests", type=int, default=600, help="per endpoint and set-up (600)")
    parser.add_argument("--warmup", type=int, default=40, help="warm-up requests (40)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients (4)")
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=120.0,
        help="stop an endpoint's run after this long (120)",
    )
    parser.add_argument(
        "--setups",
        default="all",
        choices=["all", "default", "signed-in"],
        help="'default' measures only the default set-up (cache on, 1 worker); 'signed-in' only "
        "the signed-in reader",
    )
    parser.add_argument("--json-out", type=Path, help="also write the results here as JSON")
    args = parser.parse_args()
    setups = {"all": SETUPS, "default": SETUPS[:1], "signed-in": SETUPS[3:]}[args.setups]
    with contextlib.ExitStack() as stack:
        if args.database_url:
            url, backend = pg_fixture(stack, args.database_url), "PostgreSQL"
        else:
            url, backend = sqlite_fixture(args.db), "SQLite"
        results = []
        for label, cache, workers, signed_in in setups:
            for r in run_server(url, args, cache=cache, workers=workers, signed_in=signed_in):
                results.append(
                    {
                        **r,
                        "setup": label,
                        "cache": cache,
                        "workers": workers,
                        "signed_in": signed_in,
                    }
                )
    print("\n" + render(results, args, backend))
    if args.json_out:
        out = {"backend": backend, "results": results}
        args.json_out.write_text(json.dumps(out, indent=2) + "\n")
        print(f"\nwrote {args.json_out}")


if __name__ == "__main__":
    main()
