"""A real browser (Debian's Chromium through Playwright) reads the daily page like a person."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest

from paperfeed.store import papers
from paperfeed.web import create_app

from .conftest import make_paper
from .livesite import serve

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed"),
]
# Chromium's background services would try the (closed) network at every start.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def site(db, settings):
    with db.transaction() as conn:
        papers.upsert_many(
            conn,
            [
                make_paper(
                    1, listing_day=dt.date(2025, 11, 20), upvotes=4, title="Today's top paper"
                ),
                make_paper(
                    2,
                    listing_day=dt.date(2025, 11, 19),
                    upvotes=9,
                    title="Yesterday's <script>window.__pwned = 1</script> paper",
                    code_url="https://github.com/org/repo",
                    authors=["Grace Hopper", "Edsger Dijkstra", "Barbara Liskov", "Leslie Lamport"],
                ),
                make_paper(3, listing_day=dt.date(2025, 11, 19), upvotes=1),
            ],
        )
    with serve(create_app(settings, db=db)) as url:
        yield url


def test_daily_page_previous_day_and_paper(site, tmp_path):
    """Open the daily page, go to the previous day, open its top paper, take a screenshot."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
            page.goto(f"{site}/papers?date=2025-11-20")
            assert page.locator("h1").inner_text() == "Thursday, November 20, 2025"
            assert page.locator(".card").count() == 1

            page.get_by_role("link", name="← Previous").click()
            page.wait_for_url("**/papers?date=2025-11-19")
            titles = page.locator(".card-title").all_inner_texts()
            assert titles[0].startswith("Yesterday's <script>")  # shown as text, ranked first
            assert page.locator(".card").first.locator(".more-authors").inner_text() == "+1"

            page.locator(".card-title a").first.click()
            page.wait_for_url("**/papers/2511.00002")
            assert page.locator(".paper-title").inner_text().startswith("Yesterday's")
            assert page.get_by_role("link", name="Code").get_attribute("href") == (
                "https://github.com/org/repo"
            )
            assert page.evaluate("window.__pwned") is None  # the title's script never ran
            shot = tmp_path / "paper-page.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
        finally:
            browser.close()


def test_stored_xss_stays_inert_and_the_upvote_button_works(db, settings, tmp_path):
    """A hostile display name, comment and title on one page; a reader logs in through the form,
    upvotes with the htmx button (no reload), and no injected script ever runs."""
    from paperfeed import accounts, comments

    sync_api = pytest.importorskip("playwright.sync_api")
    with db.transaction() as conn:
        papers.upsert(conn, make_paper(1, upvotes=7, title="<script>window.__pwned=1</script>T"))
    evil = accounts.create_user(db, settings, email="evil@example.org", password="evil password 1")
    from paperfeed.store import users as user_store

    with db.transaction() as conn:
        user_store.update(conn, evil.id, display_name='<img src=x onerror="window.__pwned=2">')
    for body in (
        "<script>window.__pwned=3</script>",
        "[x](javascript:window.__pwned=4)",
        '<svg onload="window.__pwned=5">',
    ):
        comments.add(db, user=evil, arxiv_id="2511.00001", body=body)
    accounts.create_user(db, settings, email="ada@example.org", password="correct horse battery")

    with serve(create_app(settings, db=db)) as url, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{url}/login?next=/papers/2511.00001")
            page.fill("input[name=email]", "ada@example.org")
            page.fill("input[name=password]", "correct horse battery")
            page.click("button[type=submit].primary")
            page.wait_for_url("**/papers/2511.00001")
            assert page.locator(".comment").count() == 3
            assert page.locator(".comment-author").first.inner_text().startswith("<img")
            for link in page.locator(".comment-body a").all():
                assert not (link.get_attribute("href") or "").startswith("javascript:")

            button = page.locator("form.vote-form button")
            assert button.locator(".vote-count").inner_text() == "7"
            page.evaluate("window.__marker = 'same page'")
            button.click()
            page.wait_for_selector("form.vote-form button[aria-pressed=true]")
            assert page.locator("form.vote-form .vote-count").inner_text() == "8"
            assert page.evaluate("window.__marker") == "same page"  # swapped in place
            assert page.evaluate("window.__pwned") is None
            page.screenshot(path=str(tmp_path / "discussion.png"), full_page=True)
        finally:
            browser.close()
