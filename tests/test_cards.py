"""Listing pages built from cached cards: one reader's marks and CSRF token never reach another's
page, counts and order follow every vote, and content changes reach every page."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pytest
from fastapi.testclient import TestClient

from paperfeed import accounts, library, voting
from paperfeed.store import papers
from paperfeed.store import votes as vote_store
from paperfeed.web import create_app
from paperfeed.web.cache import json_response

from .conftest import make_paper
from .test_web_accounts import PASSWORD, log_in

DAY = dt.date(2025, 11, 20)
HOSTILE = "<pf-csrf> \"><script>alert(1)</script><!--pf-card--> {{ 7*7 }} <!-- '&"
PAGE = f"/papers?date={DAY}"


@pytest.fixture
def day(db, settings):
    """12 papers on DAY (one with a hostile title and abstract), two readers and an app."""
    batch = [make_paper(i, upvotes=0, listing_day=DAY) for i in range(1, 12)]
    batch.append(make_paper(12, upvotes=0, listing_day=DAY, title=HOSTILE, abstract=HOSTILE))
    with db.transaction() as conn:
        papers.upsert_many(conn, batch)
    ada = accounts.create_user(db, settings, email="ada@example.org", password=PASSWORD)
    bob = accounts.create_user(db, settings, email="bob@example.org", password=PASSWORD)
    app = create_app(settings, db=db)
    with TestClient(app) as a, TestClient(app) as b, TestClient(app) as anyone:
        assert log_in(a, "ada@example.org").status_code == 303
        assert log_in(b, "bob@example.org").status_code == 303
        yield {"ada": (ada, a), "bob": (bob, b), "anyone": anyone, "db": db}


def cards(page: str) -> dict[str, str]:
    """Each card's HTML by arXiv id, in page order."""
    found = re.findall(r'<article class="card" data-arxiv-id="([^"]+)">(.*?)</article>', page, re.S)
    return dict(found)


def tokens(page: str) -> set[str]:
    return set(re.findall(r'name="csrf_token" value="([^"]*)"', page))


def counts(page: str) -> dict[str, int]:
    """The count on each card's vote button, checked against the count in its meta line."""
    out = {}
    for arxiv_id, card in cards(page).items():
        button = int(re.search(r'<span class="vote-count">(\d+)</span>', card)[1])
        meta = int(re.search(r'<span class="upvote-count">(\d+) upvote', card)[1])
        assert button == meta, arxiv_id
        out[arxiv_id] = button
    return out


def marks(page: str) -> dict[str, tuple[bool, bool, bool]]:
    """(upvoted, saved, dismissed) as each card shows them."""
    return {
        arxiv_id: (
            'class="votes voted"' in card,
            "Saved ✓" in card,
            "Not interested · undo" in card,
        )
        for arxiv_id, card in cards(page).items()
    }


def test_each_reader_sees_only_their_own_marks_and_token(day):
    (ada, a), (bob, b), anyone, db = day["ada"], day["bob"], day["anyone"], day["db"]
    hostile = "2511.00012"
    first = anyone.get(PAGE).text  # the shared cards are made and kept here
    assert len(cards(first)) == 12 and tokens(first) == set()  # no card form for visitors
    voting.set_vote(db, user=ada, arxiv_id=hostile, up=True)
    library.save_paper(db, ada, "2511.00003")
    library.dismiss(db, ada, "2511.00004")
    library.save_paper(db, bob, "2511.00005")
    for _ in range(2):  # the second round comes from the cache
        page_a, page_b = a.get(PAGE).text, b.get(PAGE).text
        seen_a, seen_b = marks(page_a), marks(page_b)
        assert {k for k, v in seen_a.items() if any(v)} == {hostile, "2511.00003", "2511.00004"}
        assert seen_a[hostile] == (True, False, False)
        assert seen_a["2511.00003"] == (False, True, False)
        assert seen_a["2511.00004"] == (False, False, True)
        assert {k for k, v in seen_b.items() if any(v)} == {"2511.00005"}
        assert seen_b["2511.00005"] == (False, True, False)
        # Every form on a page carries that reader's own session token, and only it.
        token_a, token_b = tokens(page_a), tokens(page_b)
        assert len(token_a) == 1 and len(token_b) == 1 and token_a != token_b
        assert "<pf-csrf>" not in page_a and "pf-csrf" not in page_b.replace("&lt;pf-csrf&gt;", "")
        for page in (page_a, page_b):
            assert "<script>alert" not in page and "<!--pf-card-->" not in page
            assert "&lt;pf-csrf&gt;" in cards(page)[hostile]  # the title, escaped, unreplaced
        assert list(cards(page_a)) == list(cards(page_b))
        assert list(cards(page_a))[0] == hostile  # its one upvote puts it first
    # The visitor's page never carries a reader's marks or tokens.
    page = anyone.get(PAGE).text
    assert not any(any(v) for v in marks(page).values())
    assert token_a.isdisjoint(tokens(page)) and token_b.isdisjoint(tokens(page))
    assert 'href="/login?next=/papers/2511.00001"' in page


def test_counts_and_order_follow_votes_without_new_content(day, settings):
    (ada, a), (bob, b), anyone, db = day["ada"], day["bob"], day["anyone"], day["db"]
    a.get(PAGE), anyone.get(PAGE)  # warm both kinds of cards
    with db.connect() as conn:
        before = papers.catalog_stamp(conn)
    readers = [ada, bob] + [
        accounts.create_user(db, settings, email=f"r{i}@example.org", password=PASSWORD)
        for i in range(3)
    ]
    for n, reader in enumerate(readers):  # 2511.00007 gets 5 votes, 00002 gets 3, 00009 gets 1
        voting.set_vote(db, user=reader, arxiv_id="2511.00007", up=True)
        if n < 3:
            voting.set_vote(db, user=reader, arxiv_id="2511.00002", up=True)
        if n == 4:
            voting.set_vote(db, user=reader, arxiv_id="2511.00009", up=True)
        for client in (a, b, anyone):
            shown = counts(client.get(PAGE).text)
            with db.connect() as conn:
                for arxiv_id, count in shown.items():
                    assert count == vote_store.count_of(conn, arxiv_id), arxiv_id
    voting.set_vote(db, user=bob, arxiv_id="2511.00002", up=False)  # withdrawn: 2 left
    with db.connect() as conn:
        after = papers.catalog_stamp(conn)
    assert after[0] > before[0] and after[1] == before[1]  # votes leave the content version
    for client in (a, b, anyone):
        page = client.get(PAGE).text
        order = list(cards(page))
        assert order[:3] == ["2511.00007", "2511.00002", "2511.00009"]
        assert counts(page)["2511.00007"] == 5 and counts(page)["2511.00002"] == 2
    assert marks(b.get(PAGE).text)["2511.00002"] == (False, False, False)
    assert marks(b.get(PAGE).text)["2511.00007"] == (True, False, False)


def test_votes_through_the_page_and_content_changes_reach_every_card(day):
    a, db, anyone = day["ada"][1], day["db"], day["anyone"]
    page = a.get(PAGE).text
    token = tokens(page).pop()
    r = a.post(
        "/papers/2511.00006/vote",
        data={"csrf_token": token, "up": "1"},
        headers={"hx-request": "true"},
    )
    assert r.status_code == 200 and 'class="votes voted"' in r.text
    page = a.get(PAGE).text
    assert marks(page)["2511.00006"][0] and counts(page)["2511.00006"] == 1
    assert list(cards(page))[0] == "2511.00006"
    assert counts(anyone.get(PAGE).text)["2511.00006"] == 1
    # A new version of a paper (new title) is a content change: every card shows it.
    with db.transaction() as conn:
        old = papers.get(conn, "2511.00008")
        papers.upsert_many(
            conn, [dataclasses.replace(old, version=old.version + 1, title="A brand new title")]
        )
    for client in (a, anyone):
        assert "A brand new title" in cards(client.get(PAGE).text)["2511.00008"]
    # Hidden by an administrator: gone from every page at once.
    with db.transaction() as conn:
        papers.set_hidden(conn, "2511.00008", True)
    for client in (a, anyone):
        assert "2511.00008" not in cards(client.get(PAGE).text)


def test_for_you_pages_are_cached_cards_with_each_readers_marks_and_reasons(day, settings):
    """/for-you ranks from the same card cache: each reader's page carries their own marks,
    token and reasons, and nothing of another reader's, the hostile title included."""
    import numpy as np

    from paperfeed.store import vectors as vector_store

    (ada, a), (bob, b), db = day["ada"], day["bob"], day["db"]
    rng = np.random.default_rng(5)
    rows = []
    for n in range(1, 13):
        v = rng.normal(size=384).astype(np.float32)
        rows.append((f"2511.{n:05d}", (v / np.linalg.norm(v)).tobytes()))
    with db.transaction() as conn:
        vector_store.save(conn, settings.embedding_model, rows)
    hostile = "2511.00012"
    library.save_paper(db, ada, hostile)  # ada's library: the hostile paper
    library.save_paper(db, bob, "2511.00001")
    voting.set_vote(db, user=ada, arxiv_id="2511.00002", up=True)
    library.dismiss(db, ada, "2511.00003")
    day["anyone"].get(PAGE)  # visitor cards cached first: they must not leak into readers' pages
    for _ in range(2):  # the second round comes from the card cache
        page_a = a.get(f"/for-you?date={DAY}").text
        page_b = b.get(f"/for-you?date={DAY}").text
        shown_a, shown_b = marks(page_a), marks(page_b)
        # Library and dismissed papers are left out of a ranking; the upvote shows.
        assert hostile not in shown_a and "2511.00003" not in shown_a
        assert shown_a["2511.00002"] == (True, False, False)
        assert not any(any(v) for k, v in shown_a.items() if k != "2511.00002")
        assert "2511.00001" not in shown_b and not any(any(v) for v in shown_b.values())
        assert "2511.00012" in shown_b  # bob's ranking shows the hostile paper, escaped
        token_a, token_b = tokens(page_a), tokens(page_b)
        assert len(token_a) == 1 and len(token_b) == 1 and token_a != token_b
        for page in (page_a, page_b):
            assert "<script>alert" not in page and "<pf-csrf>" not in page
            assert page.count('<p class="reason muted">') == len(cards(page))
        assert "Close to “&lt;pf-csrf&gt;" in page_a  # ada's reason names her hostile paper
        assert "&lt;pf-csrf&gt;" not in page_b.split("<article")[0]  # bob's never does
        assert "Close to “&lt;pf-csrf&gt;" not in page_b


def test_cached_api_answers_encode_as_fastapi_would():
    """Plain answers are encoded directly, byte for byte what JSONResponse makes; anything else
    (a date, a set) goes through FastAPI's encoder as before; NaN is refused either way."""
    from fastapi.encoders import jsonable_encoder
    from fastapi.responses import JSONResponse

    plain = {"title": HOSTILE + " é ∑ \u2028", "n": [1, 2.5, None, True], "nested": {"a": []}}
    assert json_response(plain).body == JSONResponse(plain).body
    odd = {"day": dt.date(2025, 11, 20), "ids": {"x"}}
    assert json_response(odd).body == JSONResponse(jsonable_encoder(odd)).body
    with pytest.raises(ValueError):
        json_response({"score": float("nan")})


def test_daily_api_answer_is_the_same_through_the_cache(day):
    anyone = day["anyone"]
    first = anyone.get(f"/api/daily_papers?date={DAY}")
    again = anyone.get(f"/api/daily_papers?date={DAY}")
    assert first.status_code == 200 and first.headers["content-type"] == "application/json"
    assert first.content == again.content and len(first.json()) == 12
    assert HOSTILE in {p["paper"]["title"] for p in first.json()}
