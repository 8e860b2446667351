"""Server-rendered HTML pages: the daily list (day, week, month views) and the paper page."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from paperfeed import feeds
from paperfeed.citation import bibtex
from paperfeed.feeds import Period
from paperfeed.papers import get_paper
from paperfeed.web.api import DATE_HELP, MONTH_HELP, WEEK_HELP, resolve_period
from paperfeed.web.cache import cached

router = APIRouter(include_in_schema=False)


def _render(request: Request, template: str, context: dict) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(request, template, context)


@router.get("/", response_class=HTMLResponse)
@router.get("/papers", response_class=HTMLResponse)
@cached
def daily_page(
    request: Request,
    date: str | None = Query(None, description=DATE_HELP),
    week: str | None = Query(None, description=WEEK_HELP),
    month: str | None = Query(None, description=MONTH_HELP),
    cursor: str | None = Query(None),
) -> HTMLResponse:
    """The daily papers page; `week` and `month` give the longer views."""
    settings = request.app.state.settings
    period = resolve_period(request, date, week, month)
    limit = settings.day_page_max if period.kind == "day" else settings.period_page_size
    page = feeds.listing(request.app.state.db, period, limit=limit, cursor=cursor)
    views = {
        "day": Period.day(period.start),
        "week": Period.week_of(period.start),
        "month": Period.month_of(period.start),
    }
    return _render(request, "daily.html", {"listing": page, "views": views})


@router.get("/papers/{arxiv_id:path}", response_class=HTMLResponse)
@cached
def paper_page(request: Request, arxiv_id: str) -> HTMLResponse:
    """One paper: full abstract, all authors, links and a BibTeX entry."""
    paper = get_paper(request.app.state.db, arxiv_id)
    return _render(request, "paper.html", {"paper": paper, "bibtex": bibtex(paper)})
