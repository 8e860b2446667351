"""Chromium at 390 px: a 300-author paper keeps its abstract on the first screen, LaTeX renders
as MathML, and /api/docs works with every other host blocked."""

from __future__ import annotations

import datetime as dt

import pytest

from paperfeed.store import papers
from paperfeed.web import create_app

from .conftest import make_paper
from .livesite import serve
from .test_browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed"),
]
PHONE = {"width": 390, "height": 844}
MANY = [f"Author Number{i:03d} Longname" for i in range(300)]


@pytest.fixture
def site(db, settings):
    with db.transaction() as conn:
        papers.upsert_many(
            conn,
            [
                make_paper(
                    1,
                    listing_day=dt.date(2025, 11, 20),
                    upvotes=4,
                    title="A collaboration of three hundred physicists measures things",
                    authors=MANY,
                    abstract="We measure the thing. " * 20,
                ),
                make_paper(
                    2,
                    listing_day=dt.date(2025, 11, 20),
                    upvotes=2,
                    title="Convergence of $\\alpha$-stable walks as $k \\to \\infty$",
                    abstract="We prove $\\frac{a}{b} \\le \\sqrt{2}$ and "
                    "$\\text{<img src=x onerror=window.__pwned=1>}$ stays inert; "
                    "$\\href{javascript:window.__pwned=2}{x}$ too.",
                    ai_summary="Walks converge.",
                    ai_keywords=["random walks", "<b>stable</b>"],
                    organization="Acme <i>Lab</i>",
                    hf_submitter="<script>window.__pwned=3</script>",
                    hf_comments=3,
                    github_stars=1234,
                    code_url="https://github.com/org/walks",
                ),
            ],
        )
    with serve(create_app(settings, db=db)) as url:
        yield url


@pytest.fixture
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def test_300_authors_leave_the_abstract_on_the_first_screen(site, browser, tmp_path):
    page = browser.new_page(viewport=PHONE)
    page.goto(f"{site}/papers/2511.00001")
    abstract = page.locator(".abstract").bounding_box()
    assert abstract["y"] + 40 < PHONE["height"], abstract  # its first lines are visible
    more = page.locator(".more-authors-list summary")
    assert more.inner_text() == "+292 more"
    assert not page.locator(".paper-authors").get_by_text(MANY[-1]).is_visible()
    assert page.locator(".paper-stats").inner_text().startswith("300 authors")
    page.screenshot(path=str(tmp_path / "authors-300-closed.png"))
    more.click()  # <details>: no script needed
    assert page.locator(".paper-authors").get_by_text(MANY[-1]).is_visible()
    assert page.locator(".paper-authors .author").count() == 300
    # The card on the daily list: three names, "+297" and "300 authors".
    page.goto(f"{site}/papers?date=2025-11-20")
    card = page.locator(".card", has_text="three hundred")
    assert card.locator(".more-authors").inner_text() == "+297"
    assert card.locator(".author-count").inner_text() == "300 authors"
    assert card.locator(".upvote-count").inner_text() == "4 upvotes"
    assert card.bounding_box()["height"] < 400


def test_math_renders_as_mathml_and_hostile_latex_stays_inert(site, browser, tmp_path):
    page = browser.new_page(viewport=PHONE)
    page.goto(f"{site}/papers/2511.00002")
    title_math = page.locator(".paper-title math")
    assert title_math.count() == 2
    box = title_math.first.bounding_box()
    assert box and box["width"] > 4 and box["height"] > 4  # laid out, not raw source
    assert "∞" in page.locator(".paper-title").inner_text()  # Chromium shows 𝛼 for <mi>α</mi>
    assert "$" not in page.locator(".paper-title").inner_text()
    assert page.locator(".abstract math mfrac").count() == 1
    assert page.locator(".abstract img, .abstract a, math [href]").count() == 0
    assert page.evaluate("window.__pwned") is None
    assert page.title().startswith("Convergence of α-stable walks as k → ∞")  # plain text
    # What Hugging Face's data brings, as text.
    body = page.locator("main").inner_text()
    assert "Walks converge." in body and "<b>stable</b>" in body and "Acme <i>Lab</i>" in body
    assert "Submitted by <script>window.__pwned=3</script>" in body
    assert "3 comments on Hugging Face" in body and "No comments yet." in body
    assert page.locator(".code-link .stars").inner_text() == "★ 1.2k"
    page.screenshot(path=str(tmp_path / "math.png"))
    page.goto(f"{site}/papers?date=2025-11-20")
    assert page.locator(".card-title math").count() == 2
    assert page.evaluate("window.__pwned") is None


def test_api_docs_render_with_every_other_host_blocked(site, browser):
    page = browser.new_page()
    outside = []

    def only_local(route):
        if route.request.url.startswith(site):
            return route.continue_()
        outside.append(route.request.url)
        return route.abort()

    page.route("**/*", only_local)
    page.goto(f"{site}/api/docs")
    page.wait_for_selector(".opblock", timeout=20_000)
    assert page.locator(".opblock").count() >= 10
    assert page.get_by_text("/api/daily_papers").first.is_visible()
    assert outside == []


def test_digest_sign_up_starts_at_the_browsers_time_zone(site, browser):
    context = browser.new_context(timezone_id="Asia/Tokyo")
    page = context.new_page()
    page.goto(f"{site}/digest?email=reader@example.org")
    page.wait_for_function("document.querySelector('input[name=timezone]').value !== 'UTC'")
    assert page.locator("input[name=timezone]").input_value() == "Asia/Tokyo"
    context.close()
