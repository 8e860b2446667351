"""Security headers on every response, and templates the CSP can hold: no inline script or
handler attribute anywhere, no asset from another site."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from paperfeed.store import papers
from paperfeed.web import create_app

from .conftest import make_paper

TEMPLATES = Path(__file__).parents[1] / "src" / "paperfeed" / "web" / "templates"
PAGES = [
    "/",
    "/papers?date=2025-11-20",
    "/papers/2511.00001",
    "/trending",
    "/search?q=experts",
    "/login",
    "/signup",
    "/reset",
    "/digest",
    "/digest/preview",
    "/api/docs",
    "/papers/9999.99999",  # 404 page
    "/papers?date=nope",  # 400 page
    "/no/such/page",
]
OTHER = ["/api/papers", "/api/openapi.json", "/papers.atom", "/search.rss?q=x", "/healthz"]


@pytest.fixture
def client(settings, db):
    with db.transaction() as conn:
        papers.upsert(conn, make_paper(1, listing_day=__import__("datetime").date(2025, 11, 20)))
    with TestClient(create_app(settings, db=db)) as c:
        yield c


def _directives(policy: str) -> dict[str, list[str]]:
    return {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}


def test_every_html_page_sends_the_headers(client):
    for path in PAGES:
        r = client.get(path, follow_redirects=False)
        assert r.headers["content-type"].startswith("text/html"), path
        csp = _directives(r.headers["content-security-policy"])
        assert csp["script-src"] == ["'self'"], path
        assert csp["frame-ancestors"] == ["'none'"] and csp["object-src"] == ["'none'"]
        assert "'unsafe-inline'" not in r.headers["content-security-policy"]
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "same-origin"


def test_cached_and_revalidated_answers_keep_them(client):
    first = client.get("/papers?date=2025-11-20")
    again = client.get("/papers?date=2025-11-20", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.headers["x-frame-options"] == "DENY"


def test_json_feeds_and_errors_are_nosniff(client):
    for path in OTHER:
        r = client.get(path)
        assert r.headers["x-content-type-options"] == "nosniff", path
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    r = client.post("/login", data={})  # refused form: 403 page
    assert r.status_code == 403 and r.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize("template", sorted(p.name for p in TEMPLATES.glob("*.html")))
def test_templates_have_no_inline_script_or_handler(template):
    text = (TEMPLATES / template).read_text()
    for tag in re.findall(r"<script\b[^>]*>", text):
        assert "src=" in tag, f"inline script in {template}: move it to static/"
    assert not re.search(r"<script\b[^>]*>\s*[^<\s]", text), f"script with a body in {template}"
    assert not re.search(r"\son[a-z]+\s*=", text), f"event handler attribute in {template}"
    assert not re.search(r"\bstyle\s*=", text), f"style attribute in {template} (style-src)"
    remote = re.search(r"<(script|img|link|iframe)\b[^>]*(src|href)=\"(https?:)?//", text)
    assert not remote, f"asset from another site in {template}"
    assert "javascript:" not in text
