"""`ingest github-stars` and Trending code, against a local fake GitHub with recorded answers."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from paperfeed import stars
from paperfeed.sources.github import GitHubClient, RateLimitWait
from paperfeed.store import papers
from paperfeed.store.tables import github_star_snapshots as S
from paperfeed.web import create_app

from .conftest import make_paper
from .fake_github import FakeGitHub, serve
from .recorded import FakeClock

DAY1, DAY2 = dt.date(2025, 11, 20), dt.date(2025, 11, 27)
REPOS = {"org/alpha": 10, "org/beta": 500, "lab/gamma": 7, "lab/delta": 0}


def client(base: str, clock: FakeClock, **kwargs) -> GitHubClient:
    return GitHubClient(
        base_url=base, token="ghp_test", sleep=clock.sleep, clock=clock, retries=2, **kwargs
    )


@pytest.fixture
def linked(db):
    """Papers linking to the four repositories (two share one), a missing one and GitLab."""
    batch = [
        make_paper(1, code_url="https://github.com/org/alpha"),
        make_paper(2, code_url="https://github.com/Org/Beta/tree/main"),
        make_paper(3, code_url="https://github.com/org/beta.git"),  # the same repository
        make_paper(4, code_url="https://github.com/lab/gamma"),
        make_paper(5, code_url="https://github.com/lab/delta", github_stars=3),
        make_paper(6, code_url="https://github.com/gone/away"),
        make_paper(7, code_url="https://gitlab.com/org/alpha"),
        make_paper(8),
    ]
    with db.transaction() as conn:
        papers.upsert_many(conn, batch)
    return db


def stars_of(db) -> dict[str, int | None]:
    with db.connect() as conn:
        return {p.arxiv_id: p.github_stars for p in papers.iter_all(conn)}


def test_client_reads_stars_etags_and_missing_repos():
    clock = FakeClock()
    fake = FakeGitHub(REPOS, clock=clock)
    with serve(fake) as base, client(base, clock) as gh:
        first = gh.stars("org/beta")
        assert (first.status, first.stars) == ("ok", 500) and first.etag
        again = gh.stars("org/beta", etag=first.etag)
        assert again.status == "unchanged" and again.stars is None
        fake.stars["org/beta"] = 501  # a new star: the ETag no longer matches
        assert gh.stars("org/beta", etag=first.etag).stars == 501
        assert gh.stars("nobody/nothing").status == "missing"
    assert fake.authorizations == {"Bearer ghp_test"}
    assert [s for _, s in fake.log] == [200, 304, 200, 404]


def test_client_waits_for_the_reset_and_honours_retry_after():
    clock = FakeClock()
    fake = FakeGitHub(REPOS, limit=2, window=60, clock=clock, retry_after_once=True)
    with serve(fake) as base, client(base, clock) as gh:
        got = [gh.stars(r).stars for r in ("org/alpha", "org/beta", "lab/gamma")]
    assert got == [10, 500, 7]
    assert clock.sleeps[0] == 2  # Retry-After of the secondary limit
    # Remaining hit 0 after two answers: it waited for the reset instead of spending a 403.
    assert 55 < clock.sleeps[1] <= 62 and 403 not in [s for _, s in fake.log]


def test_client_stops_when_the_wait_is_too_long():
    clock = FakeClock()
    fake = FakeGitHub(REPOS, limit=1, window=3600, clock=clock)
    with serve(fake) as base, client(base, clock, max_wait=600) as gh:
        assert gh.stars("org/alpha").stars == 10
        with pytest.raises(RateLimitWait) as wait:
            gh.stars("org/beta")
    assert wait.value.until > clock.now + 3000


def test_refresh_stores_stars_and_a_daily_snapshot(linked):
    clock = FakeClock()
    fake = FakeGitHub(REPOS, clock=clock)
    with serve(fake) as base, client(base, clock) as gh:
        result = stars.refresh(linked, gh, day=DAY1, batch_size=2)
    assert result.run.status == "ok" and result.stopped is None
    assert result.papers_changed == 5  # four repositories, one shared by two papers
    assert (result.progress.total, result.progress.ok, result.progress.missing) == (5, 4, 1)
    assert [r.ref for r in result.run.rejections] == ["gone/away"]
    got = stars_of(linked)
    assert got["2511.00001"] == 10 and got["2511.00002"] == got["2511.00003"] == 500
    assert got["2511.00005"] == 0  # GitHub's count replaces the imported one
    assert got["2511.00006"] is None and got["2511.00007"] is None and got["2511.00008"] is None
    # Again the same day: every answer is a free 304, and nothing changes.
    with serve(fake) as base, client(base, clock) as gh:
        again = stars.refresh(linked, gh, day=DAY1, restart=True)
    assert again.progress.unchanged == 4 and again.papers_changed == 0
    with linked.connect() as conn:
        snaps = conn.execute(sa.select(S.c.repo, S.c.day, S.c.stars).order_by(S.c.repo)).all()
    assert [tuple(s) for s in snaps] == [
        ("lab/delta", DAY1, 0),
        ("lab/gamma", DAY1, 7),
        ("org/alpha", DAY1, 10),
        ("org/beta", DAY1, 500),
    ]


def test_refresh_stopped_by_the_rate_limit_resumes_and_loses_nothing(linked):
    clock = FakeClock()
    fake = FakeGitHub(REPOS, limit=3, window=3600, clock=clock)
    with serve(fake) as base, client(base, clock, max_wait=60) as gh:
        first = stars.refresh(linked, gh, day=DAY1, batch_size=2)
    assert first.stopped and first.run.status == "failed" and first.progress.done == 3
    assert "rate limit" in first.run.error
    clock.now += 3700  # an hour later the allowance is back
    with serve(fake) as base, client(base, clock, max_wait=60) as gh:
        second = stars.refresh(linked, gh, day=DAY1, batch_size=2)
    assert second.run.status == "ok" and second.resumed_from == first.run.cursor
    assert second.progress.total == 2 and second.progress.done == 2
    asked = [p for p, s in fake.log if s != 403]
    assert len(asked) == len(set(asked)) == 5  # every repository asked once, none twice
    assert stars_of(linked)["2511.00004"] == 7


def test_trending_code_page_api_and_feed(linked, settings):
    clock = FakeClock()
    fake = FakeGitHub(REPOS, clock=clock)
    with serve(fake) as base, client(base, clock) as gh:
        stars.refresh(linked, gh, day=DAY1)
        fake.stars.update({"org/alpha": 250, "org/beta": 520, "lab/gamma": 7})
        stars.refresh(linked, gh, day=DAY2)
    found = stars.trending_code(linked, "week")
    assert [(t.paper.arxiv_id, t.gained) for t in found.trends] == [
        ("2511.00001", 240),
        ("2511.00003", 20),
        ("2511.00002", 20),
    ]
    assert (found.since, found.until) == (DAY2 - dt.timedelta(days=7), DAY2)
    assert stars.trending_code(linked, "day").trends == []  # one snapshot in a day's window
    with TestClient(create_app(settings, db=linked)) as web:
        api = web.get("/api/trending/code", params={"window": "week"}).json()
        assert [(p["arxiv_id"], p["stars_gained"], p["stars"]) for p in api["papers"]][0] == (
            "2511.00001",
            240,
            250,
        )
        page = web.get("/trending/code?window=week").text
        assert "+240 ★" in page and "org/alpha" in page
        assert page.index("2511.00001") < page.index("2511.00003")
        feed = web.get("/trending/code.atom?window=week")
        assert feed.status_code == 200 and feed.text.count("<entry>") == 3
        for bad in ("<script>alert(1)</script>", "year"):
            r = web.get("/api/trending/code", params={"window": bad})
            assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_input"
            page = web.get("/trending/code", params={"window": bad})
            assert page.status_code == 400 and "<script>alert" not in page.text
        # A hidden paper is nobody's trending code.
        with linked.transaction() as conn:
            papers.set_hidden(conn, "2511.00001", True)
        api = web.get("/api/trending/code").json()
        assert "2511.00001" not in [p["arxiv_id"] for p in api["papers"]]


def test_cli_refreshes_with_a_progress_bar(linked, settings, monkeypatch):
    from typer.testing import CliRunner

    from paperfeed.cli import app

    fake = FakeGitHub(REPOS)
    with serve(fake) as base:
        monkeypatch.setenv("PAPERFEED_GITHUB_API_URL", base)
        monkeypatch.setenv("PAPERFEED_GITHUB_TOKEN", "ghp_cli")
        monkeypatch.setenv("PAPERFEED_DATABASE_URL", settings.database_url)
        out = CliRunner().invoke(app, ["ingest", "github-stars"])
    assert out.exit_code == 0, out.output
    assert "github-stars" in out.output and "ghp_cli" not in out.output
    assert fake.authorizations == {"Bearer ghp_cli"}
    assert stars_of(linked)["2511.00004"] == 7
