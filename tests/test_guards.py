"""Guards declared on routes: every state-changing route has CSRF (or API-token) protection and a
rate limit, and the guards behave: header tokens, 429s, hidden papers, digest previews."""

from __future__ import annotations

import dataclasses
import re

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from paperfeed import accounts
from paperfeed.store import papers, votes
from paperfeed.web import create_app
from paperfeed.web.guards import csrf_guard, guards_of, token_reader

from .conftest import make_paper

PASSWORD = "correct horse battery"
WRITES = {"POST", "PUT", "PATCH", "DELETE"}

# Routes that change state without the usual guard; each says why that is safe.
NO_CSRF = {
    ("POST", "/digest/unsubscribe"): "RFC 8058 one-click: mail providers POST without cookies; "
    "the signed token in the URL authorises it and no session is read",
    ("POST", "/api/digest/subscribe"): "anonymous by design (double opt-in mail); JSON only, so "
    "no cross-site form can send it, and no cookie is read",
    ("PUT", "/api/digest/preferences"): "authorised by the signed link token, not by a cookie",
    ("POST", "/api/digest/unsubscribe"): "authorised by the signed link token, not by a cookie",
}
NO_LIMIT: dict[tuple[str, str], str] = {}


def all_routes(routes):
    """Every endpoint of an app, through included routers."""
    for r in routes:
        inner = getattr(r, "original_router", None)  # an included router, kept whole
        if inner is not None:
            yield from all_routes(inner.routes)
        else:
            yield r


def state_changing(app):
    for route in all_routes(app.routes):
        if isinstance(route, APIRoute):
            for method in sorted(route.methods & WRITES):
                yield method, route


@pytest.fixture
def app(settings, db):
    with db.transaction() as conn:
        papers.upsert_many(conn, [make_paper(1, upvotes=5), make_paper(2)])
        papers.set_hidden(conn, "2511.00002", True)
    return create_app(settings, db=db)


def test_every_state_changing_route_is_guarded(app):
    """A new POST/PUT/PATCH/DELETE route without CSRF (or, under /api/, an API token) and a
    rate limit fails here; the exceptions above are few and give their reason."""
    seen, missing = set(), []
    for method, route in state_changing(app):
        seen.add((method, route.path))
        calls, actions = guards_of(route.dependant)
        protected = csrf_guard in calls or (
            route.path.startswith("/api/") and token_reader in calls
        )
        if not protected and (method, route.path) not in NO_CSRF:
            missing.append(f"{method} {route.path}: no CSRF guard (guards.CSRF) or API token")
        if not actions and (method, route.path) not in NO_LIMIT:
            missing.append(f"{method} {route.path}: no rate limit (guards.limit(...))")
    assert len(seen) >= 20
    assert not missing, "\n".join(missing)
    stale = (set(NO_CSRF) | set(NO_LIMIT)) - seen
    assert not stale, f"allowlisted routes that no longer exist: {stale}"


def test_no_handler_calls_a_guard_by_hand():
    """Guards are declared on routes; a handler calling one would hide it from the walk above.
    (A failed login is counted after the fact, which no dependency can know in advance.)"""
    from pathlib import Path

    web = Path(__file__).parents[1] / "src" / "paperfeed" / "web"
    pattern = re.compile(
        r"auth\.(check_csrf|require_user|api_user)\(|limits\.hit\((?!.*\"login_failure\")"
    )
    offenders = [
        f"{path.name}:{n}"
        for path in web.glob("*.py")
        if path.name not in ("auth.py", "guards.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert not offenders, offenders


def _csrf(client, path="/login"):
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)[1]


@pytest.fixture
def member(settings, db):
    s = dataclasses.replace(settings, limit_vote="3/60", limit_preview="2/60")
    with db.transaction() as conn:
        papers.upsert_many(conn, [make_paper(1, upvotes=5), make_paper(2)])
        papers.set_hidden(conn, "2511.00002", True)
    user = accounts.create_user(db, s, email="ada@example.org", password=PASSWORD)
    with TestClient(create_app(s, db=db)) as client:
        r = client.post(
            "/login",
            data={"email": "ada@example.org", "password": PASSWORD, "csrf_token": _csrf(client)},
            follow_redirects=False,
        )
        assert r.status_code == 303
        yield client, db, user


def test_csrf_header_counts_like_the_form_field(member):
    client, db, _user = member
    token = _csrf(client, "/papers/2511.00001")
    assert client.post("/papers/2511.00001/vote", data={"up": "1"}).status_code == 403
    r = client.post(
        "/papers/2511.00001/vote",
        data={"up": "1"},
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )
    assert r.status_code == 200 and 'aria-pressed="true"' in r.text
    forged = {"X-CSRF-Token": ("y" if token[0] == "x" else "x") + token[1:]}
    assert client.post("/papers/2511.00001/vote", data={"up": "0"}, headers=forged).status_code == (
        403
    )
    with db.connect() as conn:
        assert votes.recorded(conn, "2511.00001") == 1


def test_vote_limit_answers_429_with_retry_after(member):
    client, _db, _user = member
    token = _csrf(client, "/papers/2511.00001")
    codes = [
        client.post(
            "/papers/2511.00001/vote", data={"up": "1", "csrf_token": token}, follow_redirects=False
        ).status_code
        for _ in range(4)
    ]
    assert codes == [303, 303, 303, 429]
    r = client.post("/papers/2511.00001/vote", data={"up": "0", "csrf_token": token})
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1


def test_a_visitor_is_refused_before_anything_is_counted(settings, db):
    with db.transaction() as conn:
        papers.upsert(conn, make_paper(1))
    with TestClient(create_app(settings, db=db)) as client:
        token = _csrf(client, "/login")  # a visitor's token, from the visitor cookie
        r = client.post("/papers/2511.00001/vote", data={"up": "1", "csrf_token": token})
        assert r.status_code == 401
    with db.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM rate_limits").scalar() == 0


def test_hidden_papers_refuse_votes(member, settings):
    """Finding 12: a hidden paper took votes from the form and the API."""
    client, db, user = member
    token = _csrf(client, "/papers/2511.00001")
    r = client.post("/papers/2511.00002/vote", data={"up": "1", "csrf_token": token})
    assert r.status_code == 404
    api = accounts.create_api_token(db, user=user, name="bot")
    r = client.post(
        "/api/papers/2511.00002/vote", json={"up": True}, headers={"Authorization": f"Bearer {api}"}
    )
    assert r.status_code == 404
    with db.connect() as conn:
        assert votes.recorded(conn, "2511.00002") == 0
        assert papers.get(conn, "2511.00002").upvotes == 0


@pytest.mark.parametrize("path", ["/digest/preview?topics=x", "/api/digest/preview?topics=x"])
def test_digest_preview_is_rate_limited(settings, db, path):
    """Finding 12: each anonymous preview runs up to 10 searches, without a limit."""
    s = dataclasses.replace(settings, limit_preview="2/60")
    with TestClient(create_app(s, db=db)) as client:
        codes = [client.get(path).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_api_vote_limit_is_per_token_owner(member):
    client, db, user = member
    api = accounts.create_api_token(db, user=user, name="bot")
    auth = {"Authorization": f"Bearer {api}"}
    codes = [
        client.post("/api/papers/2511.00001/vote", json={"up": True}, headers=auth).status_code
        for _ in range(4)
    ]
    assert codes == [200, 200, 200, 429]
    r = client.post("/api/papers/2511.00001/vote", json={"up": True}, headers=auth)
    assert r.json()["error"]["code"] == "rate_limited"


def test_web_modules_keep_their_nouns():
    """Issue 16: pages borrowed helpers from the API module, and the app factory caught
    SQLAlchemy's errors itself; the store now raises errors.DatabaseUnavailable."""
    from pathlib import Path

    web = Path(__file__).parents[1] / "src" / "paperfeed" / "web"
    for path in web.glob("*.py"):
        text = path.read_text()
        assert "sqlalchemy" not in text, f"{path.name} reaches past the store"
        if path.name not in ("api.py", "digest_pages.py", "code_pages.py"):  # JSON renderings
            assert "paperfeed.web.api import" not in text, path.name
    assert "CSRF_FIELD" not in (web / "auth.py").read_text()
