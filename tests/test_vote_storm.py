"""Fifty readers upvote and withdraw on the same papers at once, against a real server process:
every count must equal the votes recorded, and no request may fail with a 5xx."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import httpx
import pytest

from paperfeed import accounts
from paperfeed.store import papers, votes

from .conftest import make_paper
from .livesite import free_port
from .waiting import until

CLIENTS = 50
SECONDS = float(os.environ.get("PAPERFEED_STORM_SECONDS", "10"))
PAPER_IDS = [f"2511.{i:05d}" for i in range(1, 6)]


def _start(database_url: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **os.environ,
        "PAPERFEED_DATABASE_URL": database_url,
        "PAPERFEED_LOG_LEVEL": "warning",
        "PAPERFEED_LIMIT_VOTE": "1000000/60",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "paperfeed", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
    )
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        assert proc.poll() is None, "the server exited"
        try:
            return httpx.get(f"{base}/healthz").status_code == 200
        except httpx.TransportError:
            return False

    try:
        until(healthy, timeout=120, interval=0.1)  # a busy machine imports the app slowly
    except AssertionError:
        proc.kill()
        raise
    return proc, base


@pytest.mark.storm
def test_fifty_concurrent_voters_leave_exact_counts(db, settings, database_url):
    with db.transaction() as conn:
        papers.upsert_many(conn, [make_paper(int(p[-5:]), upvotes=0) for p in PAPER_IDS])
    tokens = []
    for i in range(CLIENTS):
        user = accounts.create_user(
            db, settings, email=f"reader{i}@example.org", password="storm password 1"
        )
        tokens.append(accounts.create_api_token(db, user=user, name="storm"))

    statuses: Counter[int] = Counter()
    final: list[dict[str, bool]] = [{} for _ in range(CLIENTS)]
    lock = threading.Lock()
    proc, base = _start(database_url)
    stop_at = time.monotonic() + SECONDS

    def voter(i: int) -> None:
        rng = random.Random(i)
        headers = {"Authorization": f"Bearer {tokens[i]}"}
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            while time.monotonic() < stop_at:
                paper, up = rng.choice(PAPER_IDS), rng.random() < 0.6
                r = client.post(f"/api/papers/{paper}/vote", json={"up": up})
                with lock:
                    statuses[r.status_code] += 1
                if r.status_code == 200:
                    final[i][paper] = r.json()["voted"]

    threads = [threading.Thread(target=voter, args=(i,)) for i in range(CLIENTS)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)

    assert sum(statuses.values()) > CLIENTS, statuses
    assert not [s for s in statuses if s >= 500], statuses
    assert set(statuses) == {200}, statuses
    with db.connect() as conn:
        for paper in PAPER_IDS:
            expected = sum(1 for f in final if f.get(paper))
            count, rows = votes.count_of(conn, paper), votes.recorded(conn, paper)
            assert count == rows == expected, (paper, count, rows, expected)
