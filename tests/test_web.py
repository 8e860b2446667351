"""The web app: daily pages, paper pages, the JSON API and its errors, over real HTTP handling."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from fastapi.testclient import TestClient

from paperfeed.errors import SchemaOutdated
from paperfeed.store import Database, papers
from paperfeed.web import create_app

from .conftest import make_paper

DAY = dt.date(2025, 11, 20)


@pytest.fixture
def seeded(db):
    """Three days of papers: the 17th (2 papers), the 20th (5) and the 21st (1)."""
    batch = [make_paper(i, upvotes=i, listing_day=DAY) for i in range(1, 6)]
    batch += [make_paper(10 + i, listing_day=dt.date(2025, 11, 17)) for i in range(2)]
    batch.append(
        make_paper(
            30,
            listing_day=dt.date(2025, 11, 21),
            title="<script>alert('x')</script> Attention $\\mathcal{O}(n)$",
            abstract='<img src=x onerror="alert(1)"> An abstract with <b>HTML</b>.',
            authors=["A", "B", "C", "D", "E", "F"],
            code_url="https://github.com/org/repo",
            project_url="https://org.github.io/repo/",
        )
    )
    with db.transaction() as conn:
        papers.upsert_many(conn, batch)
    return db


@pytest.fixture
def client(settings, seeded):
    with TestClient(create_app(settings, db=seeded)) as c:
        yield c


def test_app_refuses_outdated_schema(settings):
    """create_app on a database nobody migrated must stop with the command that fixes it."""
    with pytest.raises(SchemaOutdated, match="paperfeed db upgrade"):
        create_app(settings, db=Database(settings.database_url))


def test_day_page_lists_papers_by_upvotes(client):
    r = client.get("/papers?date=2025-11-20")
    assert r.status_code == 200
    ids = re.findall(r'data-arxiv-id="([^"]+)"', r.text)
    assert ids == ["2511.00005", "2511.00004", "2511.00003", "2511.00002", "2511.00001"]
    assert "5 papers" in r.text


def test_front_page_shows_latest_day_with_papers(client):
    r = client.get("/")
    assert r.status_code == 200 and 'data-arxiv-id="2511.00030"' in r.text


def test_previous_and_next_skip_empty_days(client):
    r = client.get("/papers?date=2025-11-20")
    assert 'href="/papers?date=2025-11-17"' in r.text  # previous day with papers
    assert 'href="/papers?date=2025-11-21"' in r.text


def test_empty_day_says_so(client):
    r = client.get("/papers?date=2025-11-19")
    assert r.status_code == 200 and "No papers were listed on this day" in r.text


def test_week_and_month_views(client):
    week = client.get("/papers?week=2025-W47")  # Nov 17-23, 2025
    month = client.get("/papers?month=2025-11")
    for r in (week, month):
        assert r.status_code == 200
        assert len(re.findall(r'data-arxiv-id="', r.text)) == 8


@pytest.mark.parametrize(
    "query",
    ["date=2025-13-01", "date=yesterday", "date=2025-11-2", "week=2025-W60", "month=2025-1"],
)
def test_malformed_period_is_400_with_expected_format(client, query):
    r = client.get(f"/papers?{query}")
    assert r.status_code == 400 and "expected" in r.text
    api = client.get(f"/api/papers?{query}")
    assert api.status_code == 400 and "expected" in api.json()["error"]["message"]


def test_paper_page_has_everything(client):
    r = client.get("/papers/2511.00030")
    assert r.status_code == 200
    for name in "ABCDEF":
        link = f"/authors/{name}"
        assert f'<a class="author" href="{link}">{name}</a>' in r.text
    assert "https://arxiv.org/abs/2511.00030" in r.text
    assert "https://arxiv.org/pdf/2511.00030" in r.text
    assert "https://github.com/org/repo" in r.text and "https://org.github.io/repo/" in r.text
    assert "@misc{" in r.text and "eprint = {2511.00030}" in r.text


def test_version_suffix_finds_the_paper(client):
    assert client.get("/papers/2511.00030v3").status_code == 200


def test_html_and_script_in_titles_are_escaped(client):
    """A title with <script> and an abstract with an onerror image render as text."""
    for url in ("/papers?date=2025-11-21", "/papers/2511.00030"):
        body = client.get(url).text
        assert "<script>alert" not in body and "<img src=x" not in body
        assert "&lt;script&gt;alert(" in body and "&lt;img src=x onerror=" in body
        # LaTeX becomes MathML, its source kept as the alternative text
        assert '<math alttext="\\mathcal{O}(n)"' in body and "<mi>𝒪</mi>" in body


def test_card_shows_plus_n_authors_and_code_link(client):
    body = client.get("/papers?date=2025-11-21").text
    assert "+3" in body and 'class="code-link" href="https://github.com/org/repo"' in body


@pytest.mark.parametrize(
    "bad", ["2511.99999", "not-an-id", "<script>alert(1)</script>", "x" * 5000]
)
def test_unknown_paper_is_404_page_and_json(client, bad):
    page = client.get(f"/papers/{bad}")
    assert page.status_code == 404 and "Not found" in page.text
    assert "<script>alert(1)" not in page.text  # the echoed id is escaped
    api = client.get(f"/api/papers/{bad}")
    assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"


def test_api_lists_with_cursor_pagination(client):
    seen, cursor = [], None
    while True:
        params = {"date": "2025-11-20", "limit": 2, **({"cursor": cursor} if cursor else {})}
        body = client.get("/api/papers", params=params).json()
        seen += [p["arxiv_id"] for p in body["papers"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == ["2511.00005", "2511.00004", "2511.00003", "2511.00002", "2511.00001"]
    assert body["total"] == 5 and body["period"]["value"] == "2025-11-20"


def test_api_limits_page_size(client, settings):
    r = client.get("/api/papers", params={"limit": settings.page_size_max + 1})
    assert r.status_code == 400 and "limit" in r.json()["error"]["message"]
    assert client.get("/api/papers", params={"limit": 0}).status_code == 400
    assert client.get("/api/papers", params={"cursor": "forged"}).status_code == 400


def test_api_one_paper(client):
    body = client.get("/api/papers/2511.00030/details").json()
    assert body["authors"] == ["A", "B", "C", "D", "E", "F"]
    assert body["links"]["code"] == "https://github.com/org/repo"
    assert body["links"]["page"] == "http://testserver/papers/2511.00030"
    assert body["bibtex"].startswith("@misc{")


def test_daily_papers_is_shaped_like_hugging_face(client):
    """Field names a script written for huggingface.co/api/daily_papers reads."""
    entries = client.get("/api/daily_papers", params={"date": "2025-11-20"}).json()
    assert [e["paper"]["id"] for e in entries][:2] == ["2511.00005", "2511.00004"]
    e = entries[0]
    assert set(e) >= {"paper", "publishedAt", "title", "summary", "numComments"}
    assert set(e["paper"]) >= {"id", "title", "summary", "authors", "publishedAt", "upvotes"}
    assert e["paper"]["authors"][0]["name"] == "Ada Lovelace"
    assert e["paper"]["upvotes"] == 5
    page2 = client.get("/api/daily_papers", params={"date": "2025-11-20", "limit": 2, "p": 1})
    assert [x["paper"]["id"] for x in page2.json()] == ["2511.00003", "2511.00002"]


def test_openapi_documents_the_endpoints(client):
    spec = client.get("/api/openapi.json").json()
    assert {
        "/api/papers",
        "/api/papers/{arxiv_id}",
        "/api/papers/{arxiv_id}/details",
        "/api/papers/search",
        "/api/daily_papers",
    } <= set(spec["paths"])
    assert client.get("/api/docs").status_code == 200


def test_healthz(client):
    assert client.get("/healthz").json() == {"status": "ok", "database": "ok", "writes": "ok"}


def test_cached_pages_follow_new_papers_in_every_app(settings, seeded):
    """Two apps (two workers) on one database: a write through the store shows up in both."""
    with (
        TestClient(create_app(settings, db=seeded)) as a,
        TestClient(create_app(settings, db=Database(settings.database_url))) as b,
    ):
        for c in (a, b):
            assert 'data-arxiv-id="2511.00077"' not in c.get("/papers?date=2025-11-20").text
            assert len(c.get("/api/papers", params={"date": "2025-11-20"}).json()["papers"]) == 5
        with seeded.transaction() as conn:
            papers.upsert(conn, make_paper(77, listing_day=DAY, upvotes=50))
        for c in (a, b):
            assert 'data-arxiv-id="2511.00077"' in c.get("/papers?date=2025-11-20").text
            api = c.get("/api/papers", params={"date": "2025-11-20"}).json()
            assert api["papers"][0]["arxiv_id"] == "2511.00077"


def test_etag_revalidation_until_the_catalogue_changes(client, seeded):
    first = client.get("/api/daily_papers?date=2025-11-20")
    etag = first.headers["etag"]
    again = client.get("/api/daily_papers?date=2025-11-20", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    with seeded.transaction() as conn:
        papers.upsert(conn, make_paper(1, upvotes=99))  # an upvote count changes
    changed = client.get("/api/daily_papers?date=2025-11-20", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert changed.json()[0]["paper"]["upvotes"] == 99


def test_unchanged_reingest_keeps_the_cache_version(seeded):
    from paperfeed.feeds import catalog_version

    before = catalog_version(seeded)
    with seeded.transaction() as conn:
        papers.upsert(conn, make_paper(1, upvotes=1))  # identical to what is stored
    assert catalog_version(seeded) == before


def test_server_timing_header(client):
    assert client.get("/papers?date=2025-11-20").headers["server-timing"].startswith("app;dur=")


def test_empty_catalogue_explains_how_to_fill_it(settings, db):
    with TestClient(create_app(settings, db=db)) as c:
        body = c.get("/").text
    assert "No papers are stored yet" in body and "paperfeed ingest arxiv" in body
