"""Server-rendered HTML pages: the daily list (day, week, month views) and the paper page."""

from __future__ import annotations

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paperfeed import accounts, comments, feeds, voting
from paperfeed import search as search_service
from paperfeed.citation import bibtex
from paperfeed.feeds import Period
from paperfeed.papers import get_paper
from paperfeed.web import cards
from paperfeed.web.cache import cached
from paperfeed.web.guards import CSRF, DB, Reader, SignedIn, by_reader, limit
from paperfeed.web.queries import (
    DATE_HELP,
    MONTH_HELP,
    WEEK_HELP,
    resolve_period,
    run_search,
    trending_for,
)
from paperfeed.web.render import render

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
@router.get("/papers", response_class=HTMLResponse)
@cached
def daily_page(
    request: Request,
    reader: Reader,
    date: str | None = Query(None, description=DATE_HELP),
    week: str | None = Query(None, description=WEEK_HELP),
    month: str | None = Query(None, description=MONTH_HELP),
    cursor: str | None = Query(None),
) -> HTMLResponse:
    """The daily papers page; `week` and `month` give the longer views."""
    settings = request.app.state.settings
    period = resolve_period(request, date, week, month)
    limit = settings.day_page_max if period.kind == "day" else settings.period_page_size
    stamp = request.state.catalog_stamp
    page, submitters = cards.lineup(request, stamp, period, limit=limit, cursor=cursor)
    views = {
        "day": Period.day(period.start),
        "week": Period.week_of(period.start),
        "month": Period.month_of(period.start),
    }
    marks = cards.marks_in(request, reader, period)
    html = cards.render_cards(
        request, stamp, page.entries, submitters, signed_in=reader is not None, marks=marks
    )
    context = {"listing": page, "views": views, "cards": cards.CARDS}
    return cards.with_cards(render(request, "daily.html", context), html)  # type: ignore[return-value]


@router.get("/papers/{arxiv_id:path}", response_class=HTMLResponse)
@cached
def paper_page(request: Request, arxiv_id: str, viewer: Reader, db: DB) -> HTMLResponse:
    """One paper: full abstract, all authors, links and a BibTeX entry."""
    paper = get_paper(db, arxiv_id, include_hidden=viewer is not None and viewer.is_admin)
    voted = paper.arxiv_id in voting.voted_among(db, viewer, [paper.arxiv_id])
    return render(
        request,
        "paper.html",
        {
            "paper": paper,
            "bibtex": bibtex(paper),
            "voted": voted,
            "thread": comments.thread(db, paper.arxiv_id, viewer=viewer),
            "similar": search_service.similar(
                db, paper.arxiv_id, settings=request.app.state.settings
            ),
            "submitters": accounts.display_names(db, {paper.submitted_by}),
            "edit_minutes": request.app.state.settings.comment_edit_minutes,
        },
    )


@router.post(
    "/papers/{arxiv_id:path}/vote",
    response_class=HTMLResponse,
    dependencies=[CSRF, limit("vote", key=by_reader)],
)
def vote(
    request: Request,
    arxiv_id: str,
    user: SignedIn,
    db: DB,
    up: str = Form("1"),
    big: str = Form(""),
) -> Response:
    """Upvote or withdraw from a form; htmx gets the new button, a plain form a redirect."""
    state = voting.set_vote(db, user=user, arxiv_id=arxiv_id, up=up == "1")
    if request.headers.get("hx-request") == "true":
        paper = get_paper(db, state.arxiv_id)
        return render(
            request,
            "_vote_fragment.html",
            {"paper": paper, "voted": state.voted, "big": big == "1"},
        )
    return RedirectResponse(f"/papers/{state.arxiv_id}", status_code=303)


@router.get("/trending", response_class=HTMLResponse)
@cached
def trending_page(request: Request, reader: Reader, window: str = Query("week")) -> HTMLResponse:
    """What the community is upvoting, decayed by age, over a day, week, month or all time."""
    trends = trending_for(request, window)
    voted = voting.voted_among(request.app.state.db, reader, [t.paper.arxiv_id for t in trends])
    context = {"trends": trends, "window": window, "windows": list(feeds.WINDOWS), "voted": voted}
    return render(request, "trending.html", context)


@router.get("/search", response_class=HTMLResponse)
def search_page(
    request: Request,
    reader: Reader,
    q: str = Query(""),
    mode: str = Query("hybrid"),
    since: str | None = Query(None),
    until: str | None = Query(None),
    category: list[str] | None = Query(None),
    has_code: bool = Query(False),
    sort: str = Query("relevance"),
) -> Response:
    """Search results as cards with highlighted snippets; an exact arXiv id jumps to its page."""
    if not q.strip():
        return RedirectResponse("/papers", status_code=303)
    results = run_search(
        request, q, mode, since or None, until or None, category, has_code, sort, None, 0
    )
    if results.jump:
        return RedirectResponse(f"/papers/{results.jump}", status_code=303)
    voted = voting.voted_among(
        request.app.state.db, reader, [h.paper.arxiv_id for h in results.hits]
    )
    context = {
        "results": results,
        "q": q,
        "sort": sort,
        "has_code": has_code,
        "voted": voted,
        "since": since or "",
        "until": until or "",
        "category": ",".join(category or []),
    }
    return render(request, "search.html", context)
