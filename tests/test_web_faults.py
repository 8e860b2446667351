"""Unauthenticated 500s of issue 11, finding 8: calendar edges, hostile cursors, an unreachable
arXiv, a read-only database file, a write lock held past the timeout and a full disk."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import datetime as dt
import re
import socket
import time

import pytest
from fastapi.testclient import TestClient

from paperfeed import accounts
from paperfeed.store import papers
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
