"""Unauthenticated 500s of issue 11, finding 8: calendar edges, hostile cursors, an unreachable
arXiv, a read-only database file, a write lock held past the timeout and a full disk."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import datetime as dt
import re
import shutil
import socket
import subprocess
import time

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from paperfeed import accounts
from paperfeed.cli import app
from paperfeed.config import Settings
from paperfeed.store import Database, papers
from paperfeed.web import create_app

from .conftest import make_paper

EDGES = (
    [f"date=9999-12-{d:02d}" for d in range(1, 32)]
    + ["date=0001-01-01", "date=0001-01-02"]
    + ["week=9999-W52", "week=0001-W01", "month=9999-12", "month=0001-01"]
)
LISTINGS = ["/papers", "/", "/api/papers", "/api/daily_papers", "/papers.atom", "/papers.rss"]


@pytest.fixture
def client(settings, db):
    with db.transaction() as conn:
        papers.upsert_many(
            conn, [make_paper(1, listing_day=dt.date(2025, 11, 20)), make_paper(2, upvotes=3)]
        )
    with TestClient(create_app(settings, db=db), raise_server_exceptions=False) as c:
        yield c


def test_calendar_edges_answer_without_a_server_error(client):
    """Every day of December 9999, the first day, and the first and last weeks and months."""
    failures = []
    for path in LISTINGS:
        for query in EDGES:
            r = client.get(f"{path}?{query}")
            if r.status_code != 200:
                failures.append((path, query, r.status_code))
    assert not failures
    r = client.get("/api/papers?date=9999-12-31")
    assert r.json()["papers"] == [] and r.json()["next"] is None
    assert r.json()["previous"]["value"] == "2025-11-20"  # the last day with papers
    week = client.get("/api/papers?week=9999-W52").json()["period"]
    assert (week["start"], week["end"]) == ("9999-12-27", "9999-12-31")
    page = client.get("/papers?date=0001-01-01")
    assert "No papers were listed on this day" in page.text and "← Previous" not in page.text


@pytest.mark.parametrize(
    "raw",
    [
        b'[12345678901234567890123, "2025-11-20T15:00:00+00:00", "2511.00001"]',
        b"[" * 5000,
        b"[" * 5000 + b"]" * 5000,
        b'[-99999999999999999999999, "2025-11-20T15:00:00+00:00", "x"]',
    ],
)
def test_hostile_cursors_are_400(client, raw):
    cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    for path in ("/api/papers", "/papers"):
        r = client.get(f"{path}?date=2025-11-20&cursor={cursor}")
        assert r.status_code == 400, (path, r.status_code)
    assert client.get(f"/api/papers?cursor={cursor}").json()["error"]["code"] == "invalid_input"


# --- an unreachable arXiv --------------------------------------------------------------------

PASSWORD = "correct horse battery"


def _signed_in(client, db, settings):
    accounts.create_user(db, settings, email="ada@example.org", password=PASSWORD)
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    r = client.post(
        "/login",
        data={"email": "ada@example.org", "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/submit").text)[1]


@contextlib.contextmanager
def black_hole():
    """A port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield s.getsockname()[1]


@contextlib.contextmanager
def dead_port():
    """A port nothing listens on: connections are refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    yield port


@pytest.mark.parametrize("server", [black_hole, dead_port])
def test_submit_while_arxiv_is_unreachable_answers_within_the_timeout(settings, db, server):
    """It hung 34 s and then showed a bare 500; now: the configured timeout, then a message."""
    with server() as port:
        s = dataclasses.replace(
            settings,
            arxiv_api_url=f"http://127.0.0.1:{port}/api/query",
            http_timeout=1.0,
            http_retries=4,
        )
        with TestClient(create_app(s, db=db)) as client:
            token = _signed_in(client, db, s)
            started = time.monotonic()
            r = client.post("/submit", data={"ref": "2511.00099", "csrf_token": token})
            elapsed = time.monotonic() - started
    assert r.status_code == 503 and r.headers["retry-after"]
    assert "arXiv did not answer within 1 s" in r.text and 'value="2511.00099"' in r.text
    assert elapsed < 6, elapsed  # one 1 s budget, not 5 attempts with backoff (35 s)
    with db.connect() as conn:
        assert papers.get_many(conn, ["2511.00099"]) == {}


# --- a database that cannot take the write ---------------------------------------------------


def _vote(client, token):
    return client.post(
        "/papers/2511.00001/vote", data={"up": "1", "csrf_token": token}, follow_redirects=False
    )


@contextlib.contextmanager
def write_lock(database_url):
    """Another connection holding the write lock (SQLite) or the votes table (PostgreSQL)."""
    other = Database(database_url)
    with other.engine.connect() as conn:
        if other.dialect == "sqlite":
            conn.connection.driver_connection.execute("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")
            conn.exec_driver_sql("LOCK TABLE votes, rate_limits IN EXCLUSIVE MODE")
        try:
            yield
        finally:
            conn.connection.driver_connection.rollback()
    other.dispose()


def test_a_lock_held_past_the_timeout_is_503_with_retry_after(settings, db, database_url):
    s = dataclasses.replace(settings, lock_timeout=0.5)
    with db.transaction() as conn:
        papers.upsert(conn, make_paper(1))
    with TestClient(create_app(s), raise_server_exceptions=False) as client:
        token = _signed_in(client, db, s)
        with write_lock(database_url):
            started = time.monotonic()
            r = _vote(client, token)
            assert time.monotonic() - started < 10
            assert r.status_code == 503 and int(r.headers["retry-after"]) >= 1
            assert "busy with another write" in r.text
            assert client.get("/papers/2511.00001").status_code == 200  # reads go on
            if db.dialect == "sqlite":  # PostgreSQL locks tables, not the database
                health = client.get("/healthz")
                assert health.status_code == 503 and health.json()["writes"] == "locked"
                assert health.headers["retry-after"]
        assert client.get("/healthz").json() == {"status": "ok", "database": "ok", "writes": "ok"}
        assert _vote(client, token).status_code == 303


def _sqlite_settings(tmp_path, url):
    return Settings.load(
        env={}, database_url=url, base_url="http://testserver", index_dir=str(tmp_path / "i")
    )


def test_a_full_disk_is_503_and_healthz_reports_it(tmp_path):
    """SQLite's own "database or disk is full" (max_page_count caps the file where it is)."""
    url = f"sqlite:///{tmp_path / 'full.db'}"
    setup = Database(url)
    setup.upgrade()
    with setup.transaction() as conn:
        papers.upsert(conn, make_paper(1))
    s = _sqlite_settings(tmp_path, url)
    accounts.create_user(setup, s, email="ada@example.org", password=PASSWORD)
    pages = setup.engine.connect().exec_driver_sql("PRAGMA page_count").scalar()
    setup.dispose()

    db = Database(url)

    @sa.event.listens_for(db.engine, "connect")
    def _cap(dbapi_conn, _record):
        dbapi_conn.execute(f"PRAGMA max_page_count = {pages}")

    with TestClient(create_app(s, db=db), raise_server_exceptions=False) as client:
        page = client.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
        client.post(
            "/login",
            data={"email": "ada@example.org", "password": PASSWORD, "csrf_token": token},
        )
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/submit").text)[1]
        r = client.post(
            "/papers/2511.00001/comments", data={"body": "x " * 4000, "csrf_token": token}
        )
        assert r.status_code == 503 and r.headers["retry-after"] == "60"
        assert "full" in r.text
        health = client.get("/healthz")
        assert health.status_code == 503 and health.json()["writes"] == "full"
    with db.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM comments").scalar() == 0
    db.dispose()


@pytest.fixture
def read_only_file(tmp_path):
    """A SQLite file nobody may write, even root (chattr +i); skipped where that is refused."""
    if not shutil.which("chattr"):
        pytest.skip("chattr is not installed")
    url = f"sqlite:///{tmp_path / 'ro.db'}"
    db = Database(url)
    db.upgrade()
    with db.transaction() as conn:
        papers.upsert(conn, make_paper(1))
    db.dispose()
    path = tmp_path / "ro.db"
    done = subprocess.run(["chattr", "+i", str(path)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"chattr +i refused here: {done.stderr.decode().strip()}")
    try:
        yield url
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_a_read_only_file_is_one_clear_line_for_the_cli_and_serve(read_only_file):
    env = {"PAPERFEED_DATABASE_URL": read_only_file, "COLUMNS": "300", "NO_COLOR": "1"}
    runner = CliRunner(env=env)
    for args in (["users", "create", "x@example.org", "--password", "a long password"], ["serve"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 1, (args, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit)
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert "is read-only" in " ".join(lines) and len(lines) <= 2, result.output
        assert "Traceback" not in result.output


def test_a_read_only_file_under_a_running_server_is_503(read_only_file, tmp_path):
    s = _sqlite_settings(tmp_path, read_only_file)
    with TestClient(create_app(s), raise_server_exceptions=False) as client:
        assert client.get("/papers/2511.00001").status_code == 200
        page = client.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
        r = client.post(
            "/login", data={"email": "a@example.org", "password": "x", "csrf_token": token}
        )
        assert r.status_code == 503 and "read-only" in r.text
        health = client.get("/healthz")
        assert health.status_code == 503 and health.json()["writes"] == "read_only"
