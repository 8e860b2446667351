"""What Hugging Face's data brings, on pages and in the API; comment counts that agree; the
"previous day with papers" link; hostile values in every new field."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient

from paperfeed import comments
from paperfeed.accounts import create_user
from paperfeed.store import papers
from paperfeed.web import create_app

from .conftest import make_paper

HOSTILE = "<script>alert(1)</script>"


@pytest.fixture
def client(db, settings):
    with db.transaction() as conn:
        papers.upsert_many(
            conn,
            [
                make_paper(
                    1,
                    listing_day=dt.date(2025, 11, 20),
                    hf_comments=1,
                    ai_summary=f"Summary {HOSTILE}",
                    ai_keywords=[HOSTILE, "routing"],
                    organization=f"Org {HOSTILE}",
                    organization_id="org",
                    hf_submitter=HOSTILE,
                    github_stars=12345,
                    code_url="https://github.com/o/r",
                    authors=[f"Name {HOSTILE}", 'Quote " Person'],
                ),
                make_paper(2, listing_day=dt.date(2025, 11, 17)),
                make_paper(3, listing_day=dt.date(2025, 11, 10), hidden=True),
            ],
        )
        papers.set_hidden(conn, "2511.00003", True)
    with TestClient(create_app(settings, db=db)) as c:
        yield c


def test_hugging_face_fields_on_cards_and_pages_as_text(client):
    card = client.get("/papers?date=2025-11-20").text
    page = client.get("/papers/2511.00001").text
    for body in (card, page):
        assert HOSTILE not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body
        assert "★ 12k" in body and "Org &lt;script&gt;" in body
    assert "2 authors" in card and "0 upvotes" in card
    assert "submitted by &lt;script&gt;" in card
    assert "AI-generated summary" in page and "Summary &lt;script&gt;" in page
    assert 'href="/search?q=%22%3Cscript%3Ealert%281%29%3C/script%3E%22"' in page
    assert 'href="/search?q=author%3A%22Quote%20%22%20Person%22"' in page


def test_imported_comment_count_never_disagrees_with_the_page(client, db, settings):
    """Hugging Face's "1 comment" is theirs: the card counts our discussion, the page says
    where the other one is."""
    card = client.get("/papers?date=2025-11-20").text
    assert "1 comment" not in card
    page = client.get("/papers/2511.00001").text
    assert "No comments yet." in page and "1 comment on" in page
    reader = create_user(db, settings, email="r@example.org", password="a long password 1")
    other = create_user(db, settings, email="o@example.org", password="a long password 2")
    mine = comments.add(db, user=reader, arxiv_id="2511.00001", body="First")
    comments.add(db, user=other, arxiv_id="2511.00001", body="Second")
    admin = create_user(
        db, settings, email="a@example.org", password="a long password 3", admin=True
    )
    comments.set_hidden(db, user=admin, comment_id=mine.id, hidden=True)
    card = client.get("/papers?date=2025-11-20").text
    page = client.get("/papers/2511.00001").text
    assert "1 comment</a>" in card and "Discussion (1)" in page
    api = client.get("/api/papers/2511.00001/details").json()
    assert (api["num_comments"], api["hf_comments"]) == (1, 1)


def test_previous_day_with_papers_points_at_papers(client):
    empty = client.get("/papers?date=2025-11-19").text
    assert 'href="/papers?date=2025-11-17">See the previous day with papers' in empty
    # Nothing visible before the 17th (the 10th's only paper is hidden): no link at all.
    first = client.get("/papers?date=2025-11-17").text
    assert "See the previous" not in first and "← Previous" not in first
    week = client.get("/papers?week=2025-W48").text  # Nov 24-30: empty
    assert 'href="/papers?week=2025-W47">See the previous week with papers' in week
    api = client.get("/api/papers", params={"date": "2025-11-19"}).json()
    assert api["previous"]["value"] == "2025-11-17"
