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
    assert 'href="/authors/Quote%20%22%20Person"' in page


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


def test_migration_0008_keeps_imported_counts_apart(database_url):
    """A database at 0005 with an imported "1 comment" and a real one elsewhere: after 0008
    the counts are ours, Hugging Face's is kept apart, and code links know their repository."""
    import sqlalchemy as sa

    from paperfeed.store import Database

    db = Database(database_url)
    db.upgrade("0005")
    now = dt.datetime(2025, 11, 20, tzinfo=dt.UTC)
    row = dict(
        version=1,
        title="t",
        abstract="a",
        authors=[],
        categories=[],
        published=now,
        listing_day=now.date(),
        upvotes=0,
        created_at=now,
        modified_at=now,
    )
    from paperfeed.store.tables import papers as current

    names = ("arxiv_id", "code_url", "num_comments", *row)
    papers_t = sa.table("papers", *(sa.column(c, current.c[c].type) for c in names))
    with db.transaction() as conn:
        conn.execute(
            sa.insert(papers_t),
            [
                {
                    **row,
                    "arxiv_id": "2511.00001",
                    "code_url": "https://github.com/A/B",
                    "num_comments": 1,
                },
                {**row, "arxiv_id": "2511.00002", "code_url": None, "num_comments": 2},
            ],
        )
        conn.execute(
            sa.text(
                "INSERT INTO users (email, display_name, password_hash, is_admin, created_at) "
                "VALUES ('u@example.org', 'u', 'x', false, :t)"
            ),
            {"t": now},
        )
        uid = conn.execute(sa.text("SELECT id FROM users")).scalar_one()
        for _ in range(2):
            conn.execute(
                sa.text(
                    "INSERT INTO comments (arxiv_id, user_id, body, html, created_at, deleted, "
                    "hidden) VALUES ('2511.00002', :u, 'b', '<p>b</p>', :t, false, false)"
                ),
                {"u": uid, "t": now},
            )
    db.upgrade()
    with db.connect() as conn:
        one, two = papers.get(conn, "2511.00001"), papers.get(conn, "2511.00002")
        repo = conn.execute(
            sa.text("SELECT github_repo FROM papers WHERE arxiv_id = '2511.00001'")
        ).scalar_one()
    assert (one.num_comments, one.hf_comments, repo) == (0, 1, "a/b")
    assert (two.num_comments, two.hf_comments) == (2, None)  # all of them were ours
    db.dispose()


def test_latex_as_plain_text_in_feeds_and_mail(db, settings):
    from paperfeed.latex import to_html, to_text
    from paperfeed.mail_templates import paragraph

    title = "Walks as $k \\to \\infty$ for $\\alpha$-stable <b>laws</b>"
    with db.transaction() as conn:
        papers.upsert(conn, make_paper(9, title=title, abstract="We bound $\\frac{a}{b}$."))
    with TestClient(create_app(settings, db=db)) as c:
        feed = c.get("/papers.atom", params={"date": "2025-11-20"}).text
    assert "<title>Walks as k → ∞ for α-stable &lt;b&gt;laws&lt;/b&gt;</title>" in feed
    assert "We bound a/b." in feed and "<math" not in feed
    assert paragraph(title) == "Walks as k → ∞ for α-stable <b>laws</b>"  # escaped by the template
    # Hostile LaTeX: nothing but allow-listed MathML survives, text is escaped.
    hostile = "$\\text{<img src=x onerror=alert(1)>}$ $\\href{javascript:alert(1)}{x}$ $<b>$"
    html = str(to_html(hostile))
    import re

    assert "<img" not in html and "<b>" not in html and "&lt;b&gt;" in html
    assert re.search(r"\shref=", html) is None  # \href's link is dropped; its text stays
    assert set(re.findall(r"<(\w+)", html)) <= {"math", "mrow", "mtext", "mi", "mo"}
    assert to_text("Costs $5 and $10") == "Costs $5 and $10"  # prices are not math
    assert to_text("broken ${ math") == "broken ${ math"
