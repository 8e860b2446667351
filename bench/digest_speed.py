"""Digest speed: build and send 10,000 personalised digests to a local SMTP server.

A SQLite database holds the real corpora (74,728 arXiv papers and 9,877 Hugging Face daily
papers with their upvotes). 10,000 confirmed subscribers each have 1 to 3 saved searches drawn
from real title words (so nearly every subscriber's searches differ) and a third of them
category filters; 80 % are daily, 20 % weekly, all due at the same moment: noon UTC on the
latest Hugging Face listing day. Ours is the real command, `paperfeed digest send`, in a child
process against an aiosmtpd server on loopback (in this process): it ranks trending, runs every
subscriber's saved searches (hybrid mode, the default, or keyword with --mode), renders HTML
and text from the Jinja2 templates, claims and marks each digest in the send log, and hands
each to SMTP. Baseline: the same number
of one pre-rendered message sent over one smtplib connection to the same server. Peak memory:
the sender's processes (the command and, from 512 due digests, one sender process per core) are
sampled every 0.2 s; reported are the largest sum of their resident sets and each process's own
peak (VmHWM). getrusage(RUSAGE_CHILDREN) would be wrong here: Linux carries the forking
parent's peak into the child's.

With --personal (hybrid mode), every subscriber also has an account whose library holds 5
papers drawn from the embedded ones (LIBRARY_SIZE), so each digest gets a personal "For you"
section: the reader's model is fitted (recommend.reader) and the window's papers ranked for them,
as for a real subscriber with an account.

In hybrid mode the papers of the digest week and after (2,045) are embedded first with the
packaged model (about a minute): a topic's semantic side ranks exactly the vectors of the papers
new since the last digest, so vectors of older papers would not change the work.

    python bench/digest_speed.py [--subscribers 10000] [--mode hybrid|keyword] [--personal]
                                 [--db PATH] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import random
import shutil
import smtplib
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from aiosmtpd.controller import Controller  # noqa: E402

from benchlib import ARXIV, HF, free_port, require, table  # noqa: E402
from paperfeed.config import Settings  # noqa: E402
from paperfeed.models import Preferences  # noqa: E402
from paperfeed.search import indexing  # noqa: E402
from paperfeed.sources.jsonl import record_to_paper  # noqa: E402
from paperfeed.store import Database, papers  # noqa: E402
from paperfeed.store import subscriptions as sub_store  # noqa: E402
from paperfeed.store.tables import subscriptions as subs_table  # noqa: E402

TARGET_SECONDS = 120.0
LIBRARY_SIZE = 5
CATEGORIES = ["cs.LG", "cs.CV", "cs.CL", "cs.AI", "stat.ML", "cs.RO", "eess.IV"]
STOP = {"using", "towards", "based", "large", "under", "through", "their", "which", "about"}


class Counter:
    """aiosmtpd handler that counts what it accepts (keeping 10,000 mails would skew memory)."""

    def __init__(self) -> None:
        self.count = 0
        self.bytes = 0
        self.recipients: set[str] = set()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.count += 1
        self.bytes += len(envelope.content)
        self.recipients.update(envelope.rcpt_tos)
        return "250 OK"


def _read(path: Path):
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            yield record_to_paper(json.loads(line))


def build(db: Database) -> dt.date:
    """Load both corpora; returns the latest day with arXiv listings and upvoted papers."""
    require(ARXIV, HF)
    hf, arxiv = list(_read(HF)), list(_read(ARXIV))
    for source in (arxiv, hf):
        with db.transaction() as conn:
            for i in range(0, len(source), 1000):
                papers.upsert_many(conn, source[i : i + 1000])
    listed = {p.listing_day for p in arxiv}
    return max(p.listing_day for p in hf if p.upvotes and p.listing_day in listed)


def subscribe(db: Database, n: int, day: dt.date, now: dt.datetime) -> None:
    """n confirmed subscribers with varied saved searches, due at `now`."""
    rng = random.Random(5)
    with db.connect() as conn:
        titles = [p.title for p in papers.iter_all(conn)]
    words = sorted(
        {
            w.lower().strip(".,:;()")
            for t in titles[-20000:]
            for w in t.split()
            if len(w) > 4 and w.isalpha() and w.lower() not in STOP
        }
    )
    confirmed = now - dt.timedelta(days=10)
    with db.transaction() as conn:
        for i in range(n):
            topics = [" ".join(rng.sample(words, 2)) for _ in range(rng.randint(1, 3))]
            if i % 10 == 0:
                topics[0] = f'"{rng.choice(words)} {rng.choice(words)}"'  # a phrase, rarely found
            prefs = Preferences(
                cadence="weekly" if i % 5 == 0 else "daily",
                weekday=day.weekday(),
                send_hour=7,
                timezone="UTC",
                max_papers=rng.choice([5, 10, 10, 20]),
                topics=topics,
                categories=rng.sample(CATEGORIES, 2) if i % 3 == 0 else [],
            )
            sub = sub_store.create(
                conn,
                email=f"reader{i}@example.org",
                key=f"{i:032x}",
                prefs=prefs,
                user_id=None,
                now=confirmed,
            )
            conn.execute(
                subs_table.update()
                .where(subs_table.c.id == sub.id)
                .values(status="active", confirmed_at=confirmed)
            )


def give_libraries(db: Database, model: str) -> int:
    """An account with a LIBRARY_SIZE-paper library of embedded papers for every subscriber (the
    accounts made in the store directly: hashing 10,000 passwords is not what is measured)."""
    import sqlalchemy as sa

    from paperfeed.models import Reference
    from paperfeed.store import library as library_store
    from paperfeed.store import users as user_store
    from paperfeed.store.tables import paper_vectors

    rng = random.Random(7)
    with db.connect() as conn:
        embedded = sorted(
            conn.execute(
                sa.select(paper_vectors.c.arxiv_id).where(paper_vectors.c.model == model)
            ).scalars()
        )
        subs = list(conn.execute(sa.select(subs_table.c.id, subs_table.c.email)))
    with db.transaction() as conn:
        for sub_id, email in subs:
            user = user_store.create(
                conn, email=email, display_name=email.split("@")[0], password_hash="-"
            )
            picked = rng.sample(embedded, LIBRARY_SIZE)
            library_store.add_many(
                conn,
                user.id,
                [(f"arxiv:{a}", Reference(title=a, arxiv_id=a)) for a in picked],
                source="bench",
            )
            conn.execute(
                subs_table.update().where(subs_table.c.id == sub_id).values(user_id=user.id)
            )
    return len(subs)


def _tree(pid: int) -> list[int]:
    """pid and all its descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo += [int(c) for c in fh.read().split()]
        except OSError:
            pass
    return out


def _status_kib(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_sampled(command: list[str], env: dict) -> tuple[float, list[float]]:
    """Run the command to completion; (peak MiB of its process tree's summed RSS, each
    process's own peak MiB)."""
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    total, peaks = 0, {}
    while proc.poll() is None:
        pids = _tree(proc.pid)
        total = max(total, sum(_status_kib(p, "VmRSS") for p in pids))
        for p in pids:
            peaks[p] = max(peaks.get(p, 0), _status_kib(p, "VmHWM"))
        time.sleep(0.2)
    if proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, command)
    return total / 1024, [v / 1024 for v in peaks.values() if v]


def baseline(port: int, n: int, size: int) -> float:
    """Seconds to send n copies of one pre-rendered message of about `size` bytes."""
    msg = EmailMessage()
    msg["From"], msg["Subject"] = "paperfeed@localhost", "fixed"
    msg.set_content("x" * (size // 2))
    msg.add_alternative("<p>" + "x" * (size // 2) + "</p>", subtype="html")
    t0 = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for i in range(n):
            del msg["To"]
            msg["To"] = f"reader{i}@example.org"
            smtp.send_message(msg)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("--subscribers", type=int, default=10_000, help="digests to send (10000)")
    parser.add_argument(
        "--mode",
        choices=["hybrid", "keyword"],
        default="hybrid",
        help="search mode of the saved searches (hybrid, the default)",
    )
    parser.add_argument(
        "--personal",
        action="store_true",
        help="every subscriber has an account and a library: a personal section in each digest",
    )
    parser.add_argument("--db", type=Path, help="SQLite file to build in (default: a temp dir)")
    parser.add_argument("--json-out", type=Path, help="also write the results as JSON here")
    parser.add_argument(
        "--fixture",
        type=Path,
        help="SQLite file holding a built fixture: copied when it exists (the build is skipped), "
        "else written after the build (to compare code changes on the same data)",
    )
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="digest-bench-"))
    path = args.db or folder / "bench.db"
    if path.exists():
        sys.exit(f"{path} exists: give a new path")
    url = f"sqlite:///{path}"
    t0 = time.perf_counter()
    if args.fixture and args.fixture.exists():
        shutil.copyfile(args.fixture, path)
        db = Database(url)
        db.upgrade()
        built = json.loads(args.fixture.with_suffix(".json").read_text())
        day, embedded, libraries = (
            dt.date.fromisoformat(built["day"]),
            built["embedded"],
            built["libraries"],
        )
        now = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
    else:
        db = Database(url)
        db.upgrade()
        day = build(db)
        now = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
        subscribe(db, args.subscribers, day, now)
        embedded = 0
        if args.mode == "hybrid":
            with db.connect() as conn:
                recent = papers.count_between(conn, day - dt.timedelta(days=6), dt.date.max)
            embedded = indexing.embed_pending(
                db, Settings.load(env={}, database_url=url), limit=recent
            )  # newest listings first
        libraries = 0
        if args.personal:
            libraries = give_libraries(db, Settings.load(env={}, database_url=url).embedding_model)
        if args.fixture:
            db.engine.dispose()
            shutil.copyfile(path, args.fixture)
            args.fixture.with_suffix(".json").write_text(
                json.dumps({"day": day.isoformat(), "embedded": embedded, "libraries": libraries})
            )
    print(
        f"fixture: {time.perf_counter() - t0:.0f} s; digest day {day}; {embedded:,} papers "
        f"embedded; {libraries:,} readers with a library",
        file=sys.stderr,
    )

    handler, port = Counter(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    env = {
        **os.environ,
        "PAPERFEED_DATABASE_URL": url,
        "PAPERFEED_MAIL_BACKEND": "smtp",
        "PAPERFEED_SMTP_PORT": str(port),
        "PAPERFEED_DIGEST_SEARCH_MODE": args.mode,
        "PAPERFEED_BASE_URL": "https://papers.example.org",
        "PAPERFEED_LOG_LEVEL": "warning",
    }
    command = [sys.executable, "-m", "paperfeed", "digest", "send", "--now", now.isoformat()]
    try:
        t0 = time.perf_counter()
        peak_mib, peaks = run_sampled(command, env)
        ours = time.perf_counter() - t0
        delivered, unique = handler.count, len(handler.recipients)
        avg_size = handler.bytes // max(1, handler.count)
        t0 = time.perf_counter()
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
        rerun = time.perf_counter() - t0
        again = handler.count - delivered
        handler.count = 0
        base = baseline(port, args.subscribers, avg_size)
    finally:
        controller.stop()
    with db.connect() as conn:
        sent = sub_store.count_sends(conn, status="sent")
        empty = sub_store.count_sends(conn, status="empty")
    n = args.subscribers
    rows = [
        [
            "digest send (ours)",
            f"{n:,}",
            f"{ours:.1f}",
            f"{n / ours:,.0f}",
            f"{base / ours:.3f}",
            f"< {TARGET_SECONDS:.0f} s",
            "yes" if ours < TARGET_SECONDS else "no",
        ],
        ["baseline: fixed message", f"{n:,}", f"{base:.1f}", f"{n / base:,.0f}", "1.000", "", ""],
        ["re-run (nothing due)", "0", f"{rerun:.1f}", "", "", "", ""],
    ]
    print(
        f"\n{n:,} personalised digests ({args.mode} search"
        f"{', a For you section each' if args.personal else ''}, SQLite, real corpus of 84,605 "
        f"papers), aiosmtpd on loopback, 2 cores, {dt.date.today()}; load average "
        "{:.2f} {:.2f} {:.2f}\n".format(*os.getloadavg())
    )
    print(
        table(
            ["what", "digests", "seconds", "digests/s", "ours/baseline speed", "target", "met?"],
            rows,
        )
    )
    print(
        f"\ndelivered {delivered:,} to {unique:,} addresses ({sent:,} sent, {empty:,} empty "
        f"in the send log), re-run delivered {again}; average mail {avg_size:,} bytes; "
        f"peak memory of the sender {peak_mib:,.0f} MiB in all ({len(peaks)} processes, each "
        f"at most {max(peaks):,.0f} MiB; includes Python start-up)"
    )
    if args.json_out:
        args.json_out.write_text(
            json.dumps(
                {
                    "subscribers": n,
                    "mode": args.mode,
                    "personal": args.personal,
                    "embedded": embedded,
                    "seconds": ours,
                    "digests_per_s": n / ours,
                    "baseline_seconds": base,
                    "rerun_seconds": rerun,
                    "rerun_delivered": again,
                    "delivered": delivered,
                    "sent": sent,
                    "empty": empty,
                    "peak_mib": peak_mib,
                    "process_peaks_mib": peaks,
                    "avg_bytes": avg_size,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
