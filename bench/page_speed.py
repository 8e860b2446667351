"""Page speed: the daily page and the daily_papers API for a 300-paper day, 100,000 papers stored.

Builds (or reuses) a SQLite database of the real arXiv and Hugging Face papers from ../shared,
padded with re-used real texts under new ids to 100,000 papers, with one day holding exactly
300. Starts a real `paperfeed serve` process on loopback and drives it with 4 concurrent
keep-alive clients. Server time is the app's own `Server-Timing` figure; the baseline is
`/healthz`, the framework's floor for one request. Three set-ups are measured: the default
(response cache on, 1 worker), the cache off (every request queries and renders), and the cache
off with 2 workers (one per core).

    python bench/page_speed.py [--db PATH] [--requests 500] [--clients 4] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import gzip
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from paperfeed.sources.jsonl import record_to_paper
from paperfeed.store import Database, papers

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
BENCH_DAY = dt.date(2026, 10, 1)  # after both corpora end: only the bench papers are on it
TOTAL, DAY_PAPERS = 100_000, 300
TARGET_MEDIAN_MS, TARGET_P99_MS = 20.0, 60.0


def _read(path: Path):
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            yield record_to_paper(json.loads(line))


def build(path: Path) -> None:
    """The 100,000-paper database, written through the store in batches of 1,000."""
    for name in ("arxiv-daily-dw", "hf-daily-papers"):
        if not (SHARED / name / "papers.jsonl.gz").exists():
            sys.exit(f"missing {SHARED / name}: the benchmarks read ../shared/data")
    db = Database(f"sqlite:///{path}")
    db.upgrade()
    rng = random.Random(7)
    real = list(_read(SHARED / "arxiv-daily-dw" / "papers.jsonl.gz"))
    real += list(_read(SHARED / "hf-daily-papers" / "papers.jsonl.gz"))
    days = sorted({p.listing_day for p in real})
    with db.transaction() as conn:
        for i in range(0, len(real), 1000):
            papers.upsert_many(conn, real[i : i + 1000])
        stored = papers.count(conn)
    padding = []
    for i in range(TOTAL - stored):
        src = real[rng.randrange(len(real))]
        on_bench_day = i < DAY_PAPERS
        day = BENCH_DAY if on_bench_day else rng.choice(days)
        padding.append(dataclasses.replace(
            src, arxiv_id=f"9{i // 100000:03d}.{i % 100000:05d}", listing_day=day,
            published=dt.datetime.combine(day, dt.time(rng.randrange(24)), tzinfo=dt.UTC),
            upvotes=rng.choice([0, 0, 0, 1, 2, 3, 5, 8, 13, 40, 120]) if on_bench_day else 0,
        ))  # fmt: skip
    with db.transaction() as conn:
        for i in range(0, len(padding), 1000):
            papers.upsert_many(conn, padding[i : i + 1000])
        assert papers.count(conn) == TOTAL
        assert papers.count_between(conn, BENCH_DAY, BENCH_DAY) == DAY_PAPERS
    db.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def drive(base: str, path: str, requests: int, clients: int) -> dict:
    """`requests` GETs of `path` split over `clients` threads; server and client times in ms."""
    server_ms, client_ms, errors = [], [], []
    lock = threading.Lock()

    def worker(n: int) -> None:
        with httpx.Client(base_url=base, timeout=30) as c:
            for _ in range(n):
                t0 = time.perf_counter()
                r = c.get(path)
                took = (time.perf_counter() - t0) * 1000
                with lock:
                    if r.status_code != 200:
                        errors.append(r.status_code)
                    client_ms.append(took)
                    server_ms.append(float(r.headers["Server-Timing"].split("dur=")[1]))

    threads = [threading.Thread(target=worker, args=(requests // clients,)) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started

    def p99(xs):
        return statistics.quantiles(xs, n=100)[98]

    return {"path": path, "requests": len(client_ms), "errors": len(errors),
            "server_median": statistics.median(server_ms), "server_p99": p99(server_ms),
            "client_median": statistics.median(client_ms), "client_p99": p99(client_ms),
            "rps": len(client_ms) / wall}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--db",
        type=Path,
        default=Path("/tmp/paperfeed-bench-100k.db"),
        help="database file, built on first use and reused after",
    )
    parser.add_argument("--requests", type=int, default=600, help="requests per endpoint")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    if not args.db.exists():
        t0 = time.perf_counter()
        build(args.db)
        print(f"built {args.db} in {time.perf_counter() - t0:.0f} s")

    setups = [("cache on, 1 worker", 512, 1), ("cache off, 1 worker", 0, 1),
              ("cache off, 2 workers", 0, 2)]  # fmt: skip
    results = []
    for label, cache, workers in setups:
        for r in run_server(args, cache=cache, workers=workers):
            results.append({**r, "setup": label})
    report(results, args)


def run_server(args, *, cache: int, workers: int) -> list[dict]:
    """Start a server with this set-up, measure every endpoint, stop it."""
    port = free_port()
    env = {
        **os.environ,
        "PAPERFEED_DATABASE_URL": f"sqlite:///{args.db}",
        "PAPERFEED_LOG_LEVEL": "warning",
        "PAPERFEED_RESPONSE_CACHE_SIZE": str(cache),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "paperfeed", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--workers", str(workers)], env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                sys.exit("server did not start")
            time.sleep(0.2)
        day = BENCH_DAY.isoformat()
        paths = ["/healthz", f"/papers?date={day}", f"/api/daily_papers?date={day}"]
        for p in paths:  # warm caches and connections
            drive(base, p, 40, args.clients)
        return [drive(base, p, args.requests, args.clients) for p in paths]
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def report(results: list[dict], args) -> None:
    """Print the table (and write JSON if asked)."""
    print(
        f"\n{TOTAL:,} papers (SQLite), a day of {DAY_PAPERS} papers, {args.clients} concurrent "
        f"clients, {os.cpu_count()} cores; times in ms\n"
    )
    head = ("set-up", "endpoint", "requests", "errors", "server p50", "server p99", "client p50",
            "client p99", "req/s", "p50 / healthz", "target p50<20, p99<60")  # fmt: skip
    rows = []
    floors = {r["setup"]: r["server_median"] for r in results if r["path"] == "/healthz"}
    for r in results:
        floor = floors[r["setup"]]
        met = "" if r["path"] == "/healthz" else (
            "yes" if r["server_median"] < TARGET_MEDIAN_MS and r["server_p99"] < TARGET_P99_MS
            else "NO")  # fmt: skip
        rows.append((r["setup"], r["path"], r["requests"], r["errors"], f"{r['server_median']:.2f}",
                     f"{r['server_p99']:.2f}", f"{r['client_median']:.2f}",
                     f"{r['client_p99']:.2f}", f"{r['rps']:.0f}",
                     f"{r['server_median'] / floor:.1f}x", met))  # fmt: skip
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=True)]
    for row in (head, *rows):
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)))
    print("\nserver = the app's Server-Timing; client = the round trip seen by the client thread.")
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
