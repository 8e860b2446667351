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


# Every CSP violation a page reports, kept on the window (init scripts are not subject to CSP).
WATCH_CSP = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""


def watch_csp(page) -> list[str]:
    """Record CSP violations of every page this tab opens, from the console and the DOM."""
    seen: list[str] = []
    page.add_init_script(WATCH_CSP)
    page.on(
        "console",
        lambda msg: seen.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    return seen


def csp_violations(page, seen: list[str]) -> list[str]:
    return seen + (page.evaluate("window.__csp || []") or [])


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
            csp = watch_csp(page)
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
            page.get_by_role("button", name="Copy BibTeX").click()  # copy.js runs under the CSP
            page.wait_for_function(
                "document.querySelector('[data-copy]').textContent != 'Copy BibTeX'"
            )
            assert not csp_violations(page, csp)
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
            csp = watch_csp(page)
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
            assert not csp_violations(page, csp)  # htmx works without inline styles or eval
            page.screenshot(path=str(tmp_path / "discussion.png"), full_page=True)
        finally:
            browser.close()


def test_api_docs_render_from_local_files_under_the_csp(site):
    """Swagger UI comes from the swagger-ui-bundle package, started by a static script."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            csp = watch_csp(page)
            outside: list[str] = []
            page.on(
                "request",
                lambda r: outside.append(r.url) if not r.url.startswith(site) else None,
            )
            page.goto(f"{site}/api/docs")
            page.wait_for_selector(".opblock-summary-path", timeout=20_000)
            paths = page.locator(".opblock-summary-path").all_inner_texts()
            assert "/api/papers" in [p.replace("\u200b", "") for p in paths]
            assert not outside  # nothing from a CDN
            assert not csp_violations(page, csp)
        finally:
            browser.close()
