"""Several workers, one database: a real `paperfeed serve --workers 2` process, every request on a
new connection so the workers take turns. Sessions, CSRF, rate limits, cached pages and metrics
must behave as with one worker."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from paperfeed import accounts
from paperfeed.store import papers

from .conftest import make_paper
from .livesite import free_port
from .waiting import until

PASSWORD = "correct horse battery"
NO_REUSE = httpx.Limits(max_keepalive_connections=0)  # a new connection, any worker, each time


@pytest.fixture
def server(db, settings, database_url, tmp_path):
    with db.transaction() as conn:
        papers.upsert_many(conn, [make_paper(1), make_paper(2)])
    accounts.create_user(db, settings, email="ada@example.org", password=PASSWORD)
    port = free_port()
    log = tmp_path / "server.log"
    env = {
        **os.environ,
        "PAPERFEED_DATABASE_URL": database_url,
        "PAPERFEED_LOG_FORMAT": "json",
        "PAPERFEED_LOG_LEVEL": "info",
        "PAPERFEED_LIMIT_VOTE": "6/3600",
        "PAPERFEED_METRICS_ENABLED": "true",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
    }
    with log.open("wb") as err:
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
                "2",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        assert proc.poll() is None, log.read_text()
        try:
            return httpx.get(f"{base}/healthz").status_code == 200
        except httpx.TransportError:
            return False

    until(healthy, timeout=120, interval=0.1)  # two workers import the app: slow when busy
    try:
        yield base, log
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def _access(log_text: str, request_ids: set[str]) -> list[dict]:
    """The JSON access-log entries of these requests (whole lines only: a worker may be
    writing one right now)."""
    entries = []
    for line in log_text.splitlines(keepends=True):
        if not line.endswith("\n"):
            continue
        entry = json.loads(line)  # every line is JSON, the workers' start-up lines included
        if entry["logger"] == "paperfeed.access" and entry["request_id"] in request_ids:
            entries.append(entry)
    return entries


def _answered(log_text: str, request_ids: set[str]) -> set[str]:
    return {e["request_id"] for e in _access(log_text, request_ids)}


def _pids(log_text: str, request_ids: set[str]) -> set[int]:
    """Which worker processes answered these requests, from the JSON access log."""
    return {e["pid"] for e in _access(log_text, request_ids)}


def test_two_workers_share_sessions_csrf_limits_caches_and_metrics(server):
    base, log = server
    asked: set[str] = set()

    def rid(name: str) -> dict:
        asked.add(name)
        return {"X-Request-ID": name}

    with httpx.Client(base_url=base, limits=NO_REUSE) as browser:
        # Log in through the form: the CSRF token from one worker, the POST to whichever.
        page = browser.get("/login", headers=rid("login-form")).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
        r = browser.post(
            "/login",
            headers=rid("login"),
            follow_redirects=False,
            data={"email": "ada@example.org", "password": PASSWORD, "csrf_token": token},
        )
        assert r.status_code == 303, r.text
        for i in range(16):  # the session holds on every worker
            r = browser.get("/account", headers=rid(f"account-{i}"), follow_redirects=False)
            assert r.status_code == 200 and "ada@example.org" in r.text, (i, r.status_code)
        # A state-changing form: the session's CSRF token is checked by any worker.
        form = browser.get("/account", headers=rid("account-form")).text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)[1]
        made = browser.post(
            "/account/tokens", headers=rid("token"), data={"name": "workers", "csrf_token": csrf}
        )
        api_token = re.search(r'<pre class="bibtex" id="token">([^<]+)</pre>', made.text)[1]

    def get_paper(i: int) -> int:
        r = httpx.get(f"{base}/api/papers/2511.00001", headers=rid(f"paper-{i}"))
        assert r.status_code == 200
        return r.json()["upvotes"]

    with ThreadPoolExecutor(4) as pool:  # warm both workers' response caches with 0 upvotes
        assert set(pool.map(get_paper, range(24))) == {0}
    voter = httpx.Client(
        base_url=base, limits=NO_REUSE, headers={"Authorization": f"Bearer {api_token}"}
    )
    with voter:
        assert voter.post("/api/papers/2511.00001/vote", json={"up": True}).json()["upvotes"] == 1
        with ThreadPoolExecutor(4) as pool:  # no worker serves its stale cached copy
            assert set(pool.map(get_paper, range(24, 48))) == {1}
        # The vote limit is 6 an hour for the account, whichever worker counts: 1 used above.
        statuses = [
            voter.post("/api/papers/2511.00002/vote", json={"up": i % 2 == 0}).status_code
            for i in range(9)
        ]
    assert statuses == [200] * 5 + [429] * 4, statuses

    # /metrics from any worker adds up every worker's requests.
    text = httpx.get(f"{base}/metrics").text
    series = (
        'paperfeed_request_duration_seconds_count{method="GET",'
        'route="/api/papers/{arxiv_id:path}",status="200"}'
    )
    assert float(re.search(re.escape(series) + r" (\S+)", text)[1]) == 48

    # Each worker writes its access line after answering: wait until every one is in the file.
    until(lambda: _answered(log.read_text(), asked) >= asked, timeout=30)
    pids = _pids(log.read_text(), asked)
    assert len(pids) == 2, f"all requests went to one worker: {pids}"
