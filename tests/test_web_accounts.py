"""Accounts and votes over HTTP: the forms, CSRF, sessions, the htmx vote and the token API."""

from __future__ import annotations

import dataclasses
import re

import pytest
from fastapi.testclient import TestClient

from paperfeed import accounts
from paperfeed.store import papers, votes
from paperfeed.web import create_app

from .conftest import make_paper
from .smtp import smtp_server

PASSWORD = "correct horse battery"


@pytest.fixture
def site(settings, db):
    with smtp_server() as (inbox, port):
        s = dataclasses.replace(settings, mail_backend="smtp", smtp_port=port)
        with db.transaction() as conn:
            papers.upsert_many(conn, [make_paper(1, upvotes=5), make_paper(2, upvotes=1)])
        with TestClient(create_app(s, db=db)) as client:
            yield client, inbox, s, db


def csrf(client, path="/login"):
    page = client.get(path).text
    return re.search(r'name="csrf_token" value="([^"]+)"', page)[1]


def log_in(client, email="ada@example.org", password=PASSWORD):
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf(client)},
        follow_redirects=False,
    )


@pytest.fixture
def member(site):
    client, inbox, settings, db = site
    accounts.create_user(db, settings, email="ada@example.org", password=PASSWORD)
    assert log_in(client).status_code == 303
    return site


def test_signup_confirm_and_land_signed_in(site):
    client, inbox, _settings, _db = site
    r = client.post(
        "/signup",
        data={
            "email": "new@example.org",
            "password": PASSWORD,
            "name": "New <b>Reader</b>",
            "csrf_token": csrf(client, "/signup"),
        },
    )
    assert r.status_code == 200 and "Check your inbox" in r.text
    link = re.search(r"http://testserver(/confirm\?token=\S+)", inbox.text(inbox.messages[-1]))[1]
    landed = client.get(link)
    assert landed.status_code == 200 and "Your address is confirmed" in landed.text
    assert "New &lt;b&gt;Reader&lt;/b&gt;" in landed.text  # the name is escaped


def test_signup_answer_is_the_same_for_known_addresses(member):
    client, inbox, _s, _db = member
    client.cookies.clear()
    answers = []
    for email in ("ada@example.org", "fresh@example.org"):
        r = client.post(
            "/signup",
            data={
                "email": email,
                "password": PASSWORD,
                "name": "x",
                "csrf_token": csrf(client, "/signup"),
            },
        )
        answers.append(r.text.replace(email, "EMAIL"))
    assert answers[0] == answers[1]


def test_reset_answer_is_the_same_for_unknown_addresses(site):
    client, inbox, _s, _db = site
    texts = [
        client.post("/reset", data={"email": e, "csrf_token": csrf(client, "/reset")}).text.replace(
            e, "EMAIL"
        )
        for e in ("ada@example.org", "ghost@example.org")
    ]
    assert texts[0] == texts[1]


def test_login_sets_a_strict_session_cookie_and_rotates_a_planted_one(site):
    """Session fixation: a cookie set before login is never the one that gets signed in."""
    client, _inbox, settings, db = site
    accounts.create_user(db, settings, email="ada@example.org", password=PASSWORD)
    client.cookies.set("pf_session", "planted-by-attacker")
    r = log_in(client)
    header = r.headers["set-cookie"]
    assert "HttpOnly" in header and "SameSite=lax" in header
    new = r.cookies["pf_session"]
    assert new != "planted-by-attacker" and accounts.session_for(db, new) is not None


def test_wrong_password_is_refused_and_backs_off(site):
    client, _inbox, settings, db = site
    accounts.create_user(db, settings, email="ada@example.org", password=PASSWORD)
    for _ in range(5):
        r = log_in(client, password="wrong password")
        assert r.status_code == 400 and "wrong email or password" in r.text
    blocked = log_in(client)  # even the right password waits now
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0


@pytest.mark.parametrize(
    "headers, token",
    [
        ({}, None),
        ({}, "forged-token"),
        ({"Sec-Fetch-Site": "cross-site"}, "ok"),
        ({"Origin": "https://evil.example"}, "ok"),
        ({"Origin": "null"}, "ok"),
    ],
)
def test_state_changing_forms_refuse_missing_tokens_and_cross_site(member, headers, token):
    client, _inbox, _s, db = member
    real = csrf(client, "/papers/2511.00001")
    data = {"up": "1"} | ({"csrf_token": real if token == "ok" else token} if token else {})
    r = client.post("/papers/2511.00001/vote", data=data, headers=headers)
    assert r.status_code == 403
    with db.connect() as conn:
        assert votes.recorded(conn, "2511.00001") == 0


def test_htmx_vote_toggles_and_the_profile_lists_it(member):
    client, _inbox, _s, db = member
    token = csrf(client, "/papers?date=2025-11-20")
    hx = {"HX-Request": "true"}
    up = client.post("/papers/2511.00001/vote", data={"up": "1", "csrf_token": token}, headers=hx)
    assert up.status_code == 200 and 'aria-pressed="true"' in up.text and ">6<" in up.text
    page = client.get("/papers?date=2025-11-20").text  # signed-in pages are not shared caches
    assert 'aria-pressed="true"' in page
    assert "2511.00001" in client.get("/account").text
    down = client.post("/papers/2511.00001/vote", data={"up": "0", "csrf_token": token}, headers=hx)
    assert 'aria-pressed="false"' in down.text and ">5<" in down.text


def test_visitors_get_login_links_not_vote_forms(site):
    client, *_ = site
    page = client.get("/papers?date=2025-11-20").text
    assert "/login?next=/papers/2511.00001" in page and "vote-form" not in page
    r = client.get("/account", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/account"


def test_login_next_cannot_leave_the_site(site):
    client, _inbox, settings, db = site
    accounts.create_user(db, settings, email="ada@example.org", password=PASSWORD)
    for target in ("https://evil.example/", "//evil.example", "/\\evil.example"):
        r = client.post(
            "/login",
            data={
                "email": "ada@example.org",
                "password": PASSWORD,
                "next": target,
                "csrf_token": csrf(client),
            },
            follow_redirects=False,
        )
        assert r.headers["location"] == "/"


def test_logout_needs_csrf_and_ends_the_session(member):
    client, _inbox, _s, db = member
    cookie = client.cookies["pf_session"]
    assert client.post("/logout", data={}).status_code == 403
    client.post("/logout", data={"csrf_token": csrf(client, "/account")})
    assert accounts.session_for(db, cookie) is None


def test_api_vote_needs_a_token(site):
    client, _inbox, settings, db = site
    user = accounts.create_user(db, settings, email="bot@example.org", password=PASSWORD)
    token = accounts.create_api_token(db, user=user, name="bot")
    assert client.post("/api/papers/2511.00002/vote", json={"up": True}).status_code == 401
    bad = {"Authorization": "Bearer pf_forged"}
    assert (
        client.post("/api/papers/2511.00002/vote", json={"up": True}, headers=bad).status_code
        == 401
    )
    ok = {"Authorization": f"Bearer {token}"}
    r = client.post("/api/papers/2511.00002/vote", json={"up": True}, headers=ok)
    assert r.json() == {"arxiv_id": "2511.00002", "voted": True, "upvotes": 2}
    assert client.post("/api/papers/2511.99999/vote", json={}, headers=ok).status_code == 404


def test_token_page_shows_the_secret_once(member):
    client, _inbox, _s, db = member
    r = client.post(
        "/account/tokens", data={"name": "laptop", "csrf_token": csrf(client, "/account")}
    )
    token = re.search(r"(pf_[A-Za-z0-9_\-]+)", r.text)[1]
    assert accounts.user_for_api_token(db, token) is not None
    assert token not in client.get("/account").text


def _all_routes(routes):
    for r in routes:
        inner = getattr(r, "original_router", None)  # an included router, kept whole
        if inner is not None:
            yield from _all_routes(inner.routes)
        else:
            yield r


def test_every_state_changing_form_refuses_a_missing_token(member):
    """Walk every POST route of the HTML site: without the CSRF token each answers 403 and
    changes nothing (the JSON API takes tokens, not cookies, so it is exempt)."""
    client, _inbox, _s, db = member
    routes = [
        r
        for r in _all_routes(client.app.routes)
        if "POST" in getattr(r, "methods", ()) and not r.path.startswith("/api/")
    ]
    assert len(routes) >= 15
    with db.connect() as conn:
        before = conn.exec_driver_sql("SELECT count(*) FROM votes").scalar()
    for route in routes:
        path = route.path.replace("{arxiv_id:path}", "2511.00001").replace("{comment_id}", "1")
        r = client.post(path, data={"up": "1", "body": "x", "email": "ada@example.org"})
        assert r.status_code == 403, (route.path, r.status_code)
    with db.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM votes").scalar() == before
    assert client.get("/account").status_code == 200  # still signed in: logout was refused too
