"""Hugging Face's own client, huggingface_hub, against a live paperfeed server.

Scripts written for huggingface.co must work by changing the endpoint. The papers come in
through Hugging Face's daily_papers JSON (ingested like any saved file) and go back out to
`HfApi`, whose parsed objects are checked field by field.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from paperfeed.accounts import create_user
from paperfeed.ingest import ingest
from paperfeed.models import Paper
from paperfeed.sources.hf_daily import HFDailySource
from paperfeed.store import papers as paper_store
from paperfeed.web import create_app
from tests.livesite import serve

huggingface_hub = pytest.importorskip("huggingface_hub", reason="the test extra installs it")
HfApi = huggingface_hub.HfApi
HfHubHTTPError = huggingface_hub.errors.HfHubHTTPError


def hf_entry(n: int, day: str, *, upvotes: int | None, **paper) -> dict:
    """One element of huggingface.co/api/daily_papers, as Hugging Face sends it."""
    body = {
        "id": f"2511.{n:05d}",
        "authors": [{"_id": f"a{n}", "name": f"Author {n}", "hidden": False}, {"name": "Ada"}],
        "publishedAt": f"{day}T00:00:00.000Z",
        "submittedOnDailyAt": f"{day}T00:00:00.000Z",
        "title": f"Paper number {n}",
        "summary": f"Abstract of paper {n} about sparse routing.",
        "discussionId": f"d{n}",
        **paper,
    }
    if upvotes is not None:
        body["upvotes"] = upvotes
    return {
        "paper": body,
        "publishedAt": f"{day}T08:00:00.000Z",
        "title": body["title"],
        "summary": body["summary"],
        "thumbnail": f"https://example.org/{n}.png",
        "numComments": 4,
        "submittedBy": {"name": "taesiri", "fullname": "Taesiri", "user": "taesiri"},
    }


@pytest.fixture
def site(db, settings, tmp_path):
    """Five papers on 2025-11-20, two on 2025-11-21, one a reader submitted; served live."""
    entries = [
        hf_entry(
            1,
            "2025-11-20",
            upvotes=163,
            githubRepo="https://github.com/org/one",
            githubStars=8,
            ai_summary="It routes.",
            ai_keywords=["routing", "MoE"],
            organization={"name": "google", "fullname": "Google"},
            projectPage="https://org.github.io/one/",
        ),
        hf_entry(2, "2025-11-20", upvotes=None),  # no upvotes at all: 0, never null
        hf_entry(3, "2025-11-20", upvotes=7, title="Limits as $k \\to \\infty$"),
        hf_entry(4, "2025-11-20", upvotes=3),
        hf_entry(5, "2025-11-20", upvotes=1),
        hf_entry(6, "2025-11-21", upvotes=2),
    ]
    entries[4]["submittedBy"] = {"name": "<script>x</script>", "fullname": "x"}
    saved = tmp_path / "2025-11-20.json"
    saved.write_text(json.dumps(entries))
    run = ingest(db, HFDailySource(saved))
    assert run.status == "ok" and run.counts.new == 6
    reader = create_user(db, settings, email="reader@example.org", password="a long password 1")
    with db.transaction() as conn:
        paper_store.upsert(
            conn,
            Paper(
                arxiv_id="2511.00007",
                title="A reader's own submission",
                abstract="Submitted here.",
                authors=["Grace Hopper"],
                listing_day=dt.date(2025, 11, 21),
                published=dt.datetime(2025, 11, 21, 12, tzinfo=dt.UTC),
            ),
        )
        paper_store.set_submitter(conn, "2511.00007", reader.id)
    with serve(create_app(settings, db=db)) as base:
        yield HfApi(endpoint=base, token=False), base


def test_list_daily_papers_by_date(site):
    api, _ = site
    got = list(api.list_daily_papers(date="2025-11-20"))
    assert [p.id for p in got] == [
        "2511.00001",
        "2511.00003",
        "2511.00004",
        "2511.00005",
        "2511.00002",
    ]  # most upvoted first
    first = got[0]
    assert first.title == "Paper number 1"
    assert first.summary == "Abstract of paper 1 about sparse routing."
    assert [a.name for a in first.authors] == ["Author 1", "Ada"]
    assert first.authors[0].hidden is False
    assert first.upvotes == 163
    assert first.published_at == dt.datetime(2025, 11, 20, tzinfo=dt.UTC)
    assert first.submitted_at == dt.datetime(2025, 11, 20, tzinfo=dt.UTC)
    assert first.github_repo == "https://github.com/org/one"
    assert first.github_stars == 8
    assert first.project_page == "https://org.github.io/one/"
    assert first.ai_summary == "It routes." and first.ai_keywords == ["routing", "MoE"]
    assert (first.organization.name, first.organization.fullname) == ("google", "Google")
    assert first.submitted_by.username == "taesiri"
    assert first.discussion_id == "2511.00001"
    # Hugging Face's 4 comments are theirs: the count is of the discussion on our page.
    assert first.comments == 0
    assert got[1].title == "Limits as $k \\to \\infty$"  # LaTeX as the source wrote it


def test_list_daily_papers_week_month_sort_paging_and_submitter(site):
    api, _ = site
    week = [p.id for p in api.list_daily_papers(week="2025-W47")]
    assert sorted(week) == [f"2511.{n:05d}" for n in range(1, 8)]
    assert [p.id for p in api.list_daily_papers(month="2025-11")] == week
    newest = [p.id for p in api.list_daily_papers(week="2025-W47", sort="publishedAt")]
    assert newest[0] == "2511.00007" and set(newest[-5:]) == {f"2511.0000{n}" for n in range(1, 6)}
    trending = [p.id for p in api.list_daily_papers(date="2025-11-20", sort="trending")]
    assert trending[0] == "2511.00001"
    pages = [
        [p.id for p in api.list_daily_papers(date="2025-11-20", limit=2, p=page)]
        for page in range(3)
    ]
    assert pages == [["2511.00001", "2511.00003"], ["2511.00004", "2511.00005"], ["2511.00002"]]
    mine = list(api.list_daily_papers(week="2025-W47", submitter="taesiri"))
    assert {p.id for p in mine} == {
        "2511.00001",
        "2511.00002",
        "2511.00003",
        "2511.00004",
        "2511.00006",
    }
    # A reader's submission answers to their name, and carries it.
    (own,) = api.list_daily_papers(week="2025-W47", submitter="reader")
    assert own.id == "2511.00007" and own.submitted_by.username == "reader"
    # A hostile submitter name is data, matched exactly, never markup or SQL.
    (odd,) = api.list_daily_papers(week="2025-W47", submitter="<script>x</script>")
    assert odd.id == "2511.00005"
    assert list(api.list_daily_papers(week="2025-W47", submitter="' OR 1=1 --")) == []
    with pytest.raises(HfHubHTTPError):
        list(api.list_daily_papers(date="2025-11-20", sort="'; DROP TABLE papers"))


def test_paper_info(site):
    api, _ = site
    info = api.paper_info("2511.00002")
    assert info.id == "2511.00002" and info.title == "Paper number 2"
    assert [a.name for a in info.authors] == ["Author 2", "Ada"]
    assert info.upvotes == 0  # never None
    assert info.summary == "Abstract of paper 2 about sparse routing."
    assert info.published_at == dt.datetime(2025, 11, 20, tzinfo=dt.UTC)
    assert info.submitted_by.username == "taesiri"
    full = api.paper_info("2511.00001v2")  # a version suffix is ignored
    assert full.github_stars == 8 and full.organization.fullname == "Google"
    with pytest.raises(HfHubHTTPError) as missing:
        api.paper_info("2511.99999")
    assert missing.value.response.status_code == 404


def test_list_papers_searches(site):
    api, base = site
    found = list(api.list_papers(query="sparse routing", limit=3))
    assert len(found) == 3
    assert all("sparse routing" in p.summary for p in found)
    assert all(p.authors and p.authors[0].name.startswith("Author") for p in found)
    assert [p.id for p in api.list_papers(query="Paper number 3")][0] == "2511.00003"
    assert list(api.list_papers(query="zyzzyva")) == []
    assert len(list(api.list_papers(query="x" * 250))) == 0
    with pytest.raises(HfHubHTTPError) as too_long:
        list(api.list_papers(query="x" * 251))
    assert too_long.value.response.status_code == 400
    with pytest.raises(HfHubHTTPError):
        list(api.list_papers(query="routing", limit=121))
    assert len(list(api.list_papers(query="routing", limit=120))) == 6


def test_paperfeed_shape_stays_beside_hugging_face_shape(site):
    """/api/papers/{id}/details keeps paperfeed's own shape, with plain-text LaTeX."""
    import httpx

    _, base = site
    mine = httpx.get(f"{base}/api/papers/2511.00003/details").json()
    assert mine["authors"] == ["Author 3", "Ada"] and mine["upvotes"] == 7
    assert mine["title_text"] == "Limits as k → ∞"
    assert mine["hf_comments"] == 4 and mine["num_comments"] == 0
    hf = httpx.get(f"{base}/api/papers/2511.00003").json()
    assert hf["authors"][0] == {"name": "Author 3", "hidden": False}
    assert hf["upvotes"] == 7 and hf["id"] == "2511.00003"
