"""Trending: the decayed score, windows, deterministic ties, and its page, API and command."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from paperfeed import feeds
from paperfeed.cli import app
from paperfeed.errors import InvalidInput
from paperfeed.store import papers
from paperfeed.web import create_app

from .conftest import make_paper

NOW = dt.datetime(2025, 11, 21, 12, 0, tzinfo=dt.UTC)


def _at(hours_ago: float) -> dt.datetime:
    return NOW - dt.timedelta(hours=hours_ago)


@pytest.fixture
def voted_db(db):
    rows = [
        make_paper(1, upvotes=10, published=_at(2), listing_day=dt.date(2025, 11, 21)),
        make_paper(2, upvotes=40, published=_at(50), listing_day=dt.date(2025, 11, 19)),
        make_paper(3, upvotes=400, published=_at(24 * 20), listing_day=dt.date(2025, 11, 1)),
        make_paper(4, upvotes=0, published=_at(1), listing_day=dt.date(2025, 11, 21)),
        # 5 and 6 tie exactly: same votes, same time
        make_paper(5, upvotes=3, published=_at(10), listing_day=dt.date(2025, 11, 21)),
        make_paper(6, upvotes=3, published=_at(10), listing_day=dt.date(2025, 11, 21)),
    ]
    with db.transaction() as conn:
        papers.upsert_many(conn, rows)
    return db


def test_score_formula_is_votes_over_decayed_age():
    assert feeds.trending_score(10, _at(8), now=NOW, gravity=1.8, offset=2.0) == pytest.approx(
        10 / 10**1.8
    )


def test_windows_and_order(voted_db):
    ids = lambda w: [t.paper.arxiv_id[-1] for t in feeds.trending(voted_db, w, limit=10, now=NOW)]  # noqa: E731
    assert ids("day") == ["1", "6", "5"]  # only the latest listing day; 0 votes never trend
    assert ids("week") == ["1", "6", "5", "2"]  # 40 votes at 50 h < 3 votes at 10 h
    assert ids("month") == ["1", "6", "5", "2", "3"]  # 400 votes at 20 days decay below all
    assert ids("all") == ids("month")


def test_ties_are_deterministic(voted_db):
    runs = {
        tuple(t.paper.arxiv_id for t in feeds.trending(voted_db, "day", limit=5, now=NOW))
        for _ in range(5)
    }
    assert runs == {("2511.00001", "2511.00006", "2511.00005")}


def test_gravity_is_a_setting(voted_db):
    flat = feeds.trending(voted_db, "month", limit=1, gravity=0.0, now=NOW)
    assert flat[0].paper.arxiv_id == "2511.00003"  # no decay: raw upvotes win


def test_unknown_window_is_refused(voted_db):
    with pytest.raises(InvalidInput, match="day, week, month or all"):
        feeds.trending(voted_db, "year", limit=5)


def test_trending_page_api_and_command(voted_db, settings, database_url):
    with TestClient(create_app(settings, db=voted_db)) as client:
        page = client.get("/trending?window=month")
        assert page.status_code == 200 and "Trending this month" in page.text
        body = client.get("/api/trending", params={"window": "month", "limit": 2}).json()
        expected = [t.paper.arxiv_id for t in feeds.trending(voted_db, "month", limit=2)]
        assert [p["arxiv_id"] for p in body["papers"]] == expected
        assert all(p["score"] > 0 for p in body["papers"]) and len(body["papers"]) == 2
        assert client.get("/api/trending", params={"window": "x"}).status_code == 400
    out = CliRunner(env={"COLUMNS": "200"}).invoke(
        app, ["--database-url", database_url, "trending", "--window", "all", "--limit", "3"]
    )
    assert out.exit_code == 0 and "2511.0000" in out.output
