"""Atom and RSS for feed readers: parsed by feedparser, the library feed readers use."""

from __future__ import annotations

import datetime as dt
import html

import feedparser
import pytest
from fastapi.testclient import TestClient

from paperfeed.store import papers
from paperfeed.web import create_app

from .conftest import make_paper


@pytest.fixture
def client(db, settings):
    with db.transaction() as conn:
        papers.upsert_many(
            conn,
            [
                make_paper(1, upvotes=3, code_url="https://github.com/org/repo"),
                make_paper(
                    2,
                    upvotes=9,
                    title="<script>alert(1)</script> & a < b",
                    abstract="Bounds: a < b & c > d. <b>not bold</b>",
                ),
            ],
        )
    with TestClient(create_app(settings, db=db)) as c:
        yield c


FEEDS = [
    "/papers.atom?date=2025-11-20",
    "/papers.rss?date=2025-11-20",
    "/trending.atom?window=all",
    "/trending.rss?window=all",
]


@pytest.mark.parametrize("path", FEEDS)
def test_feeds_parse_cleanly_with_every_field(client, path):
    r = client.get(path)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/")
    feed = feedparser.parse(r.content)
    assert feed.bozo == 0, feed.get("bozo_exception")
    assert feed.feed.title and feed.feed.link
    assert [e.id for e in feed.entries][:2] == [
        "https://arxiv.org/abs/2511.00002",
        "https://arxiv.org/abs/2511.00001",
    ]
    top = feed.entries[0]
    assert top.title == "<script>alert(1)</script> & a < b"  # text, exactly as written
    assert top.link == "http://testserver/papers/2511.00002"
    # Shown as text by a reader: Atom says type="text"; RSS carries it HTML-escaped.
    shown = top.summary if ".atom" in path else html.unescape(top.summary)
    assert shown == "Bounds: a < b & c > d. <b>not bold</b>"
    assert top.published_parsed and top.get("author")
    assert [t.term for t in top.tags] == ["cs.LG", "cs.AI"]


def test_atom_entries_are_stable_and_carry_updated_times(client):
    first = feedparser.parse(client.get("/papers.atom?date=2025-11-20").content)
    again = feedparser.parse(client.get("/papers.atom?date=2025-11-20").content)
    assert [e.id for e in first.entries] == [e.id for e in again.entries]
    assert all(e.updated_parsed for e in first.entries) and first.feed.updated_parsed


def test_conditional_get_with_etag_and_last_modified(client, db):
    r = client.get("/papers.atom?date=2025-11-20")
    etag, modified = r.headers["etag"], r.headers["last-modified"]
    assert (
        client.get("/papers.atom?date=2025-11-20", headers={"If-None-Match": etag}).status_code
        == 304
    )
    assert (
        client.get(
            "/papers.atom?date=2025-11-20", headers={"If-Modified-Since": modified}
        ).status_code
        == 304
    )
    assert (
        client.get(
            "/papers.atom?date=2025-11-20", headers={"If-Modified-Since": "garbage"}
        ).status_code
        == 200
    )
    with db.transaction() as conn:
        papers.upsert(conn, make_paper(3, listing_day=dt.date(2025, 11, 20)))
    changed = client.get("/papers.atom?date=2025-11-20", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and len(feedparser.parse(changed.content).entries) == 3


def test_feed_of_a_malformed_date_is_a_400(client):
    assert client.get("/papers.atom?date=2025-02-30").status_code == 400


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_search_feeds_parse_cleanly_with_every_field(client, fmt):
    r = client.get(f"/search.{fmt}?q=bounds+b&mode=keyword")
    feed = feedparser.parse(r.content)
    assert r.status_code == 200 and feed.bozo == 0, feed.get("bozo_exception")
    assert feed.feed.title == "Search: bounds b · paperfeed" and feed.feed.link
    assert {e.id for e in feed.entries} == {"https://arxiv.org/abs/2511.00002"}
    for e in feed.entries:
        assert e.title and e.link.startswith("http://testserver/papers/") and e.summary
        assert e.published_parsed and e.get("author") and e.tags


def test_search_feed_revalidates_and_needs_a_query(client):
    r = client.get("/search.atom?q=routing")
    assert r.status_code == 200 and r.headers["etag"] and r.headers["last-modified"]
    again = client.get("/search.atom?q=routing", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304
    assert client.get("/search.atom?q=").status_code == 400


def test_a_search_feed_lists_relevant_matches_newest_first(db, settings):
    """A feed follows its query's relevant matches, newest first: papers with every word (or
    the title the query names), not the newest papers sharing any one word; filters hold."""
    day = dt.date(2025, 11, 1)
    rows = [
        make_paper(1, title="A world model for robots", abstract="We learn a world model."),
        make_paper(2, title="World models at scale", abstract="Planning in a learned model."),
        make_paper(3, title="The model zoo", abstract="Many a model.", listing_day=day),
        make_paper(4, title="Around the world", abstract="Travel.", listing_day=day),
        make_paper(5, title="Model of a world", abstract="Old news.", listing_day=day),
    ]
    rows += [
        make_paper(10 + i, title=f"Another model {i}", abstract="A language model.")
        for i in range(30)
    ]
    with db.transaction() as conn:
        papers.upsert_many(conn, rows)
    with TestClient(create_app(settings, db=db)) as c:
        feed = feedparser.parse(c.get("/search.atom?q=world+model&mode=keyword").content)
        hostile = c.get("/search.atom?q=%3Cscript%3E+author%3A&mode=hybrid")
    ids = [e.id.rsplit("/", 1)[1] for e in feed.entries]
    assert sorted(ids[:2]) == ["2511.00001", "2511.00002"] and ids[2:] == ["2511.00005"]
    assert hostile.status_code == 200 and "<script>" not in hostile.text
