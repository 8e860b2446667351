"""Load test: the scale path, 1,000,000 papers, 64 concurrent clients, real server processes.

The fixture: the 74,728 real arXiv papers and 9,877 Hugging Face daily papers of ../shared/data,
padded to --papers (1,000,000) with synthetic papers whose titles, sentences, authors and
categories are drawn from the real ones, spread over the real days and 1,000 days before them
(about 700 papers a day, near arXiv's rate); 2,000 of the padding papers on the latest day start
with no upvotes and take the votes; 1,000 readers each hold a personal API token. It is built
once into a SQLite file in /tmp (checked before reuse, built beside it and moved in) and, for
PostgreSQL, copied there with `paperfeed db copy` and kept as a pg_dump in /tmp, restored into
a brand-new database for every run (dropped afterwards). Each run serves a fresh copy, so the
votes of one run never leak into the next.

The mix, from --clients (64) keep-alive clients for --seconds (60) after a --warmup (10 s):
35 % daily page (`/papers?date=`, one of the latest 30 days), 35 % paper page (`/papers/<id>`,
any paper), 25 % search (`/search?q=`, 2-3 words of a real title, hybrid by default: keyword
only when no vectors are stored), 5 % upvote or withdrawal (`POST /api/papers/<id>/vote` with a
token). Afterwards every voted paper's count must equal its vote rows and the votes the clients
were last told about. Baseline: `/healthz` from the same clients on the same server. Worker
memory is the RSS of each worker process, sampled every 2 s.

    python bench/load_test.py [--papers 1000000] [--seconds 60] [--clients 64] [--vectors]
        [--pg postgresql://postgres@127.0.0.1:5432/test] [--setups pg,pg-norum,sqlite]
        [--json-out F]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import gzip
import hashlib
import json
import os
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).parent))
from benchlib import (  # noqa: E402
    ARXIV,
    DEFAULT_PG,
    HF,
    free_port,
    pg_database,
    pg_problem,
    require,
    table,
)
from paperfeed.config import Settings  # noqa: E402
from paperfeed.sources.jsonl import record_to_paper  # noqa: E402
from paperfeed.store import Database, papers, transfer, vectors  # noqa: E402
from paperfeed.store.tables import api_tokens, users  # noqa: E402

VOTE_PAPERS, USERS, BATCH, DIM = 2000, 1000, 2000, 384
PG_SETUPS = {"pg": "", "pg-norum": ", no RUM index"}
MIX = [("daily", 35), ("paper", 35), ("search", 25), ("vote", 5)]
MODEL = Settings.embedding_model  # the default model name, as the server will look it up


def _read(path: Path):
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            yield record_to_paper(json.loads(line))


def token_of(i: int) -> str:
    return f"pf_loadtest{i:06d}"


def pad_id(i: int) -> str:
    return f"{2701 + i // 90000}.{10000 + i % 90000}"


# --- fixture ---------------------------------------------------------------------------------


def fixture_ok(db: Database, total: int, with_vectors: bool) -> bool:
    """Complete and untouched: every paper, every reader, no votes yet."""
    with db.connect() as conn:
        ok = (
            papers.count(conn) == total
            and conn.execute(sa.select(sa.func.count()).select_from(users)).scalar() == USERS
            and conn.exec_driver_sql("SELECT count(*) FROM votes").scalar() == 0
        )
        return ok and (not with_vectors or vectors.count(conn, MODEL) == total)


def build(db: Database, total: int, with_vectors: bool) -> None:
    """Fill an empty, migrated database: real papers, synthetic padding, readers and tokens."""
    require(ARXIV, HF)
    rng = random.Random(11)
    real = list(_read(ARXIV)) + list(_read(HF))
    with db.transaction() as conn:
        for i in range(0, len(real), BATCH):
            papers.upsert_many(conn, real[i : i + BATCH])
        stored = papers.count(conn)
    real_days = sorted({p.listing_day for p in real})
    days = [real_days[0] - dt.timedelta(days=d) for d in range(1, 1001)] + real_days
    sentences = [s.strip() for p in real[:30000] for s in p.abstract.split(". ") if len(s) > 40]
    title_words = [w for p in real[:30000] for w in p.title.split()]
    authors = [a for p in real[:30000] for a in p.authors]
    print(f"{stored:,} real papers stored; padding to {total:,}", file=sys.stderr)
    t0, batch = time.perf_counter(), []
    for i in range(total - stored):
        src = real[rng.randrange(len(real))]
        votable = i < VOTE_PAPERS
        day = real_days[-1] if votable else rng.choice(days)
        batch.append(
            dataclasses.replace(
                src,
                arxiv_id=pad_id(i),
                version=1,
                listing_day=day,
                title=" ".join(rng.choices(title_words, k=rng.randint(6, 12))).capitalize(),
                abstract=". ".join(rng.choices(sentences, k=rng.randint(4, 7))) + ".",
                authors=rng.sample(authors, rng.randint(1, 6)),
                published=dt.datetime.combine(day, dt.time(rng.randrange(24)), tzinfo=dt.UTC),
                updated=None,
                upvotes=0 if votable else rng.choice([0, 0, 0, 0, 1, 2, 5]),
                code_url=None,
                project_url=None,
                doi=None,
                journal_ref=None,
                comment=None,
            )
        )
        if len(batch) == BATCH * 5:
            _write(db, batch)
            batch = []
            done = i + 1
            rate = done / (time.perf_counter() - t0)
            print(f"\r  {done:,} padding papers, {rate:,.0f}/s", end="", file=sys.stderr)
    _write(db, batch)
    print(file=sys.stderr)
    now = dt.datetime.now(dt.UTC)
    with db.transaction() as conn:
        conn.execute(
            sa.insert(users),
            [
                {
                    "id": u + 1,
                    "email": f"reader{u}@example.org",
                    "display_name": f"Reader {u}",
                    "password_hash": "!unusable",
                    "created_at": now,
                    "confirmed_at": now,
                }
                for u in range(USERS)
            ],
        )
        conn.execute(
            sa.insert(api_tokens),
            [
                {
                    "user_id": u + 1,
                    "name": "load test",
                    "created_at": now,
                    "token_hash": hashlib.sha256(token_of(u).encode()).hexdigest(),
                }
                for u in range(USERS)
            ],
        )
    if with_vectors:
        store_vectors(db)


def _write(db: Database, batch: list) -> None:
    with db.transaction() as conn:
        for i in range(0, len(batch), BATCH):
            papers.upsert_many(conn, batch[i : i + BATCH])


def store_vectors(db: Database) -> None:
    """A random unit vector per paper (dimension 384) for the model the server searches with."""
    rng = np.random.default_rng(5)
    with db.connect() as conn:
        ids = list(conn.execute(sa.text("SELECT arxiv_id FROM papers ORDER BY arxiv_id")).scalars())
    for i in range(0, len(ids), 10_000):
        chunk = ids[i : i + 10_000]
        vecs = rng.standard_normal((len(chunk), DIM)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        with db.transaction() as conn:
            vectors.save(conn, MODEL, [(a, v.tobytes()) for a, v in zip(chunk, vecs, strict=True)])


def sqlite_fixture(total: int, with_vectors: bool) -> Path:
    """The cached SQLite fixture, built when missing or incomplete."""
    path = Path(f"/tmp/paperfeed-load-{total}{'-vec' if with_vectors else ''}.db")
    if path.exists():
        db = Database(f"sqlite:///{path}")
        db.upgrade()
        ok = fixture_ok(db, total, with_vectors)
        db.dispose()
        if ok:
            print(f"reusing {path}", file=sys.stderr)
            return path
        print(f"{path} is not a complete fixture: rebuilding it", file=sys.stderr)
    part = path.with_name(path.name + ".part")
    for stale in path.parent.glob(part.name + "*"):
        stale.unlink()
    t0 = time.perf_counter()
    db = Database(f"sqlite:///{part}")
    db.upgrade()
    build(db, total, with_vectors)
    with db.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()
    part.replace(path)
    for leftover in path.parent.glob(part.name + "-*"):
        leftover.unlink()
    took = time.perf_counter() - t0
    print(f"built {path} in {took:.0f} s ({total / took:,.0f} papers/s)", file=sys.stderr)
    return path


def sqlite_copy(path: Path, folder: Path) -> str:
    """A fresh working copy of the fixture for one run."""
    work = folder / "work.db"
    with (
        contextlib.closing(sqlite3.connect(path)) as src,
        contextlib.closing(sqlite3.connect(work)) as dst,
    ):
        src.backup(dst)
    return f"sqlite:///{work}"


RUM_INDEX = "ix_papers_search_rum"


def pg_fixture(
    stack: contextlib.ExitStack, server: str, sqlite_path: Path, *, rum: bool = True
) -> str:
    """A brand-new PostgreSQL database holding the fixture: restored from the cached dump, or
    copied from the SQLite fixture with `db copy`'s service and dumped for next time. Without
    `rum`, the RUM index (migration 0010) is left out: search takes the GIN + ts_rank path of a
    server without the extension."""
    if problem := pg_problem(server):
        sys.exit(f"PostgreSQL at {server} is not usable: {problem}")
    url = stack.enter_context(pg_database(server, "bench_load"))
    libpq = sa.engine.make_url(url).set(drivername="postgresql").render_as_string(False)
    dump = sqlite_path.with_suffix(".pgdump")
    t0 = time.perf_counter()
    if dump.exists() and dump.stat().st_mtime > sqlite_path.stat().st_mtime:
        listing = subprocess.run(
            ["pg_restore", "-l", str(dump)], check=True, capture_output=True, text=True
        ).stdout
        keep = [line for line in listing.splitlines() if rum or RUM_INDEX not in line]
        with tempfile.NamedTemporaryFile("w", suffix=".list", delete=False) as fh:
            fh.write("\n".join(keep) + "\n")
        subprocess.run(
            ["pg_restore", "--no-owner", "-j", "2", "-L", fh.name, "-d", libpq, str(dump)],
            check=True,
            env={**os.environ, "PGOPTIONS": "-c maintenance_work_mem=512MB"},  # index builds
        )
        os.unlink(fh.name)
        how = f"restored {dump}{'' if rum else ' without the RUM index'}"
    else:
        source = Database(f"sqlite:///{sqlite_path}")
        results = transfer.copy_database(
            source, Database(url), batch_size=5000, on_rows=_copy_progress()
        )
        print(file=sys.stderr)
        source.dispose()
        bad = [r.table for r in results if not r.matches]
        if bad:
            sys.exit(f"db copy: counts differ in {bad}")
        part = dump.with_name(dump.name + ".part")
        subprocess.run(["pg_dump", "-Fc", "-f", str(part), libpq], check=True)
        part.replace(dump)
        how = f"copied from {sqlite_path} with db copy, dumped to {dump}"
    with Database(url).transaction() as conn:
        if not rum:
            conn.exec_driver_sql(f"DROP INDEX IF EXISTS {RUM_INDEX}")
        conn.exec_driver_sql("ANALYZE")
    print(f"PostgreSQL fixture: {how} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return url


def _copy_progress():
    seen: dict[str, int] = {}
    t0 = time.perf_counter()

    def hook(name: str, n: int) -> None:
        seen[name] = seen.get(name, 0) + n
        rate = sum(seen.values()) / (time.perf_counter() - t0)
        print(
            f"\r  db copy: {name} {seen[name]:,} rows ({rate:,.0f} rows/s)   ",
            end="",
            file=sys.stderr,
        )

    return hook


# --- the run ---------------------------------------------------------------------------------


@dataclasses.dataclass
class Plan:
    days: list[str]
    paper_ids: list[str]
    queries: list[str]
    vote_ids: list[str]


def plan(url: str) -> Plan:
    rng = random.Random(3)
    db = Database(url)
    with db.connect() as conn:
        days = [
            str(d)
            for d in conn.execute(
                sa.text(
                    "SELECT DISTINCT listing_day FROM papers ORDER BY listing_day DESC LIMIT 30"
                )
            ).scalars()
        ]
        real_ids = list(
            conn.execute(
                sa.text(
                    "SELECT arxiv_id FROM papers WHERE arxiv_id < '2701' "
                    "ORDER BY random() LIMIT 20000"
                )
            ).scalars()
        )
        titles = list(
            conn.execute(
                sa.text("SELECT title FROM papers WHERE arxiv_id < '2701' LIMIT 20000")
            ).scalars()
        )
        padded = conn.execute(
            sa.text("SELECT count(*) FROM papers WHERE arxiv_id LIKE '27__.1____'")
        ).scalar()
    db.dispose()
    padding = [pad_id(rng.randrange(VOTE_PAPERS, padded)) for _ in range(30_000)]
    queries = []
    for title in rng.sample(titles, 3000):
        words = [w for w in re.findall(r"[A-Za-z][A-Za-z-]{2,}", title)]
        if len(words) >= 3:
            k = rng.choice((2, 3))
            start = rng.randrange(len(words) - k + 1)
            queries.append(" ".join(words[start : start + k]).lower())
    return Plan(days, real_ids + padding, queries, [pad_id(i) for i in range(VOTE_PAPERS)])


def start_server(url: str, workers: int, folder: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **os.environ,
        "PAPERFEED_DATABASE_URL": url,
        "PAPERFEED_LOG_LEVEL": "warning",
        "PAPERFEED_LIMIT_VOTE": "100000000/60",
        "PROMETHEUS_MULTIPROC_DIR": str(folder / "metrics"),
    }
    proc = subprocess.Popen(
        [
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
        ],
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300  # a worker loading a vector index takes a while
    while True:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{base}/healthz", timeout=5).status_code == 200:
                return proc, base
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            sys.exit("the server did not answer /healthz")
        time.sleep(0.3)


def worker_rss(proc: subprocess.Popen, workers: int) -> list[float]:
    """RSS in MB of the worker processes (the server process itself when it serves alone)."""

    def children(pid: int) -> list[int]:
        found = []
        for task in Path(f"/proc/{pid}/task").glob("*/children"):
            found += [int(x) for x in task.read_text().split()]
        return found

    pids = [proc.pid]
    if workers > 1:
        pids = [
            c
            for c in children(proc.pid)
            if "multiprocessing" not in Path(f"/proc/{c}/cmdline").read_text()
            or "spawn_main" in Path(f"/proc/{c}/cmdline").read_text()
        ]
    sizes = []
    for pid in pids:
        with contextlib.suppress(FileNotFoundError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    sizes.append(int(line.split()[1]) / 1024)
    return sizes


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.times: dict[str, list[float]] = {}
        self.errors: dict[str, int] = {}
        self.samples: list[str] = []

    def add(self, endpoint: str, ms: float, ok: bool, what: str = "") -> None:
        with self.lock:
            if ok:
                self.times.setdefault(endpoint, []).append(ms)
            else:
                self.errors[endpoint] = self.errors.get(endpoint, 0) + 1
                if len(self.samples) < 10:
                    self.samples.append(f"{endpoint}: {what}")


def drive(
    base: str,
    p: Plan,
    *,
    clients: int,
    seconds: float,
    rec: Recorder,
    final: list[dict],
    healthz_only: bool = False,
) -> float:
    """Run the mix (or /healthz alone) until `seconds` pass; returns the wall time."""
    names = [n for n, _ in MIX]
    weights = [w for _, w in MIX]
    stop = time.monotonic() + seconds
    per = USERS // clients

    def client(i: int) -> None:
        rng = random.Random(1000 + i)
        mine = list(range(i * per, (i + 1) * per))
        with httpx.Client(base_url=base, timeout=60) as c:
            while time.monotonic() < stop:
                kind = "healthz" if healthz_only else rng.choices(names, weights)[0]
                t0 = time.perf_counter()
                try:
                    if kind == "healthz":
                        r = c.get("/healthz")
                    elif kind == "daily":
                        r = c.get("/papers", params={"date": rng.choice(p.days)})
                    elif kind == "paper":
                        r = c.get(f"/papers/{rng.choice(p.paper_ids)}")
                    elif kind == "search":
                        r = c.get("/search", params={"q": rng.choice(p.queries)})
                    else:
                        user, paper = rng.choice(mine), rng.choice(p.vote_ids)
                        auth = {"Authorization": f"Bearer {token_of(user)}"}
                        r = c.post(
                            f"/api/papers/{paper}/vote",
                            json={"up": rng.random() < 0.7},
                            headers=auth,
                        )
                        if r.status_code == 200:
                            final[i][(user, paper)] = r.json()["voted"]
                except httpx.HTTPError as exc:
                    rec.add(kind, 0, False, type(exc).__name__)
                    continue
                ms = (time.perf_counter() - t0) * 1000
                rec.add(kind, ms, r.status_code == 200, str(r.status_code))

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started


def check_votes(url: str, final: list[dict]) -> dict:
    """Counts on the voted papers == their vote rows == what the clients were last told."""
    expected: dict[str, int] = {}
    for state in final:
        for (_user, paper), voted in state.items():
            expected[paper] = expected.get(paper, 0) + (1 if voted else 0)
    db = Database(url)
    with db.connect() as conn:
        counts = dict(
            conn.execute(
                sa.text("SELECT arxiv_id, upvotes FROM papers WHERE arxiv_id IN :ids").bindparams(
                    sa.bindparam("ids", expanding=True)
                ),
                {"ids": list(expected)},
            ).all()
        )
        rows = dict(
            conn.execute(sa.text("SELECT arxiv_id, count(*) FROM votes GROUP BY arxiv_id")).all()
        )
        total_rows = conn.execute(sa.text("SELECT count(*) FROM votes")).scalar()
    db.dispose()
    mismatched = [a for a in expected if not (counts.get(a, 0) == rows.get(a, 0) == expected[a])]
    return {
        "papers_voted": len(expected),
        "vote_rows": total_rows,
        "sum_counts": sum(counts.values()),
        "expected": sum(expected.values()),
        "exact": not mismatched and total_rows == sum(expected.values()),
    }


def run_setup(label: str, url: str, workers: int, args, p: Plan) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="paperfeed-load-"))
    proc, base = start_server(url, workers, folder)
    rss: list[list[float]] = []
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.wait(2.0):
            rss.append(worker_rss(proc, workers))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    final: list[dict] = [{} for _ in range(args.clients)]
    try:
        print(f"{label}: warming up {args.warmup:.0f} s", file=sys.stderr)
        drive(base, p, clients=args.clients, seconds=args.warmup, rec=Recorder(), final=final)
        print(f"{label}: measuring {args.seconds:.0f} s", file=sys.stderr)
        rec = Recorder()
        wall = drive(base, p, clients=args.clients, seconds=args.seconds, rec=rec, final=final)
        load = os.getloadavg()  # the machine may be shared: say how busy it was
        floor = Recorder()
        floor_wall = drive(
            base,
            p,
            clients=args.clients,
            seconds=args.healthz_seconds,
            rec=floor,
            final=final,
            healthz_only=True,
        )
    finally:
        sampling.set()
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(folder, ignore_errors=True)
    votes = check_votes(url, final)
    peak = [max(s[i] for s in rss if len(s) > i) for i in range(max(len(s) for s in rss))]
    return {
        "setup": label,
        "workers": workers,
        "wall": wall,
        "rec": rec,
        "floor": floor,
        "floor_wall": floor_wall,
        "votes": votes,
        "rss_mb": peak,
        "load": load,
    }


def pct(xs: list[float], q: int) -> float:
    return statistics.quantiles(xs, n=100, method="inclusive")[q - 1] if len(xs) > 1 else xs[0]


def render(results: list[dict], args) -> str:
    head = (
        "set-up",
        "endpoint",
        "requests",
        "errors",
        "req/s",
        "p50 ms",
        "p99 ms",
        "req/s vs healthz",
        "p50 vs healthz",
    )
    rows, notes = [], []
    for r in results:
        floor = r["floor"].times.get("healthz", [0.0])
        floor_rps = len(floor) / r["floor_wall"]
        floor_p50 = statistics.median(floor)
        total = sum(len(v) for v in r["rec"].times.values())
        errors = sum(r["rec"].errors.values())
        for name, _w in MIX:
            xs = r["rec"].times.get(name, [])
            if not xs:
                rows.append((r["setup"], name, 0, r["rec"].errors.get(name, 0), "", "", "", "", ""))
                continue
            rows.append(
                (
                    r["setup"],
                    name,
                    len(xs),
                    r["rec"].errors.get(name, 0),
                    f"{len(xs) / r['wall']:.1f}",
                    f"{statistics.median(xs):.1f}",
                    f"{pct(xs, 99):.1f}",
                    "",
                    f"{statistics.median(xs) / floor_p50:.1f}x",
                )
            )
        rows.append(
            (
                r["setup"],
                "all (the mix)",
                total,
                errors,
                f"{total / r['wall']:.1f}",
                "",
                "",
                f"{total / r['wall'] / floor_rps:.3f}x",
                "",
            )
        )
        rows.append(
            (
                r["setup"],
                "/healthz (baseline)",
                len(floor),
                r["floor"].errors.get("healthz", 0),
                f"{floor_rps:.1f}",
                f"{floor_p50:.1f}",
                f"{pct(floor, 99):.1f}",
                "1.000x",
                "1.0x",
            )
        )
        v = r["votes"]
        notes.append(
            f"{r['setup']}: {v['papers_voted']} papers voted on; vote rows {v['vote_rows']}, sum "
            f"of their counts {v['sum_counts']}, clients' last answers {v['expected']}: "
            f"{'EXACT' if v['exact'] else 'MISMATCH'}; worker RSS peak MB "
            f"{', '.join(f'{m:.0f}' for m in r['rss_mb'])}; load average after the measured "
            f"seconds {' '.join(f'{x:.2f}' for x in r['load'])}"
        )
        if r["rec"].samples:
            notes.append(f"{r['setup']}: first errors: {r['rec'].samples}")
    return (
        f"{args.papers:,} papers, {args.clients} concurrent keep-alive clients, {args.seconds:.0f} "
        f"s after {args.warmup:.0f} s warm-up, mix {'/'.join(str(w) for _, w in MIX)} "
        f"daily/paper/search/vote, vectors {'stored' if args.vectors else 'none (keyword search)'}"
        f", {os.cpu_count()} cores (clients and server share them), {dt.date.today()}, "
        f"load average at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n\n"
        + table(head, rows)
        + "\n\n"
        + "\n".join(notes)
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("--papers", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--healthz-seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--workers", type=int, default=4, help="PostgreSQL workers (4)")
    parser.add_argument("--pg", default=os.environ.get("PAPERFEED_TEST_DATABASE_URL", DEFAULT_PG))
    parser.add_argument(
        "--setups",
        default="pg,sqlite",
        help="comma-separated, run in this order: pg, pg-norum (no RUM index: the GIN + "
        "ts_rank fallback), sqlite (pg,sqlite)",
    )
    parser.add_argument(
        "--vectors",
        action="store_true",
        help="store a random unit vector per paper (semantic and hybrid search)",
    )
    parser.add_argument(
        "--mix", default="35,35,25,5", help="weights of daily,paper,search,vote (35,35,25,5)"
    )
    parser.add_argument("--build-only", action="store_true", help="build the fixtures and stop")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    MIX[:] = [(name, int(w)) for (name, _), w in zip(MIX, args.mix.split(","), strict=True)]
    setups = args.setups.split(",")
    fixture = sqlite_fixture(args.papers, args.vectors)
    results = []
    for setup in setups:
        if setup in PG_SETUPS:
            with contextlib.ExitStack() as stack:
                pg_url = pg_fixture(stack, args.pg, fixture, rum=setup == "pg")
                if args.build_only:
                    return
                p = plan(pg_url)
                label = f"PostgreSQL, {args.workers} workers{PG_SETUPS[setup]}"
                results.append(run_setup(label, pg_url, args.workers, args, p))
        elif setup == "sqlite" and not args.build_only:
            with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
                url = sqlite_copy(fixture, Path(tmp))
                p = plan(url)
                results.append(run_setup("SQLite, 1 worker", url, 1, args, p))
        if results:
            print(render(results[-1:], args), file=sys.stderr)  # in case a later set-up fails
    if args.build_only:
        return
    print("\n" + render(results, args))
    if args.json_out:
        args.json_out.write_text(
            json.dumps(
                [
                    {
                        "setup": r["setup"],
                        "workers": r["workers"],
                        "seconds": r["wall"],
                        "requests": {k: len(v) for k, v in r["rec"].times.items()},
                        "errors": r["rec"].errors,
                        "p50": {k: statistics.median(v) for k, v in r["rec"].times.items()},
                        "p99": {k: pct(v, 99) for k, v in r["rec"].times.items()},
                        "healthz_rps": len(r["floor"].times.get("healthz", [])) / r["floor_wall"],
                        "votes": r["votes"],
                        "rss_mb": r["rss_mb"],
                    }
                    for r in results
                ],
                indent=2,
            )
            + "\n"
        )


if __name__ == "__main__":
    main()
