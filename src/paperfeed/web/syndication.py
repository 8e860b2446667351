"""Syndication: Atom and RSS 2.0 renderings of the daily list and of trending, for feed readers."""

from __future__ import annotations

import datetime as dt
import email.utils
import html

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from paperfeed import feeds
from paperfeed.models import Paper
from paperfeed.web.api import DATE_HELP, MONTH_HELP, WEEK_HELP, resolve_period, trending_for
from paperfeed.web.cache import cached

router = APIRouter(include_in_schema=False)
FORMATS = {"atom": "application/atom+xml", "rss": "application/rss+xml"}


def _entry_html(paper: Paper) -> str:
    # Plain str on purpose: the template escapes it once more for XML, as type="html" requires.
    code = f' · <a href="{html.escape(paper.code_url)}">code</a>' if paper.code_url else ""
    return f"<p>{html.escape(paper.abstract)}</p><p>{paper.upvotes} upvotes{code}</p>"


def _render(request: Request, fmt: str, *, title: str, page: str, papers: list[Paper]) -> Response:
    settings = request.app.state.settings
    base = settings.base_url.rstrip("/")
    _version, changed = feeds.catalog_state(request.app.state.db)
    body = request.app.state.templates.get_template(f"feed.{fmt}.xml").render(
        title=f"{title} · {settings.site_name}",
        site_name=settings.site_name,
        base=base,
        self_url=base + request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        page_url=base + page,
        updated=changed,
        papers=papers,
        iso=lambda d: d.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        rfc822=lambda d: email.utils.format_datetime(d.astimezone(dt.UTC), usegmt=True),
        entry_html=_entry_html,
    )
    return Response(body, media_type=f"{FORMATS[fmt]}; charset=utf-8")


def _daily(request: Request, fmt: str, date, week, month) -> Response:
    period = resolve_period(request, date, week, month)
    limit = request.app.state.settings.day_page_max
    listing = feeds.listing(request.app.state.db, period, limit=limit)
    page = f"/papers?{period.param}={period.value}"
    return _render(request, fmt, title=f"Papers of {period.label}", page=page,
                   papers=listing.papers)  # fmt: skip


def _trending(request: Request, fmt: str, window: str) -> Response:
    trends = trending_for(request, window)
    return _render(request, fmt, title=f"Trending ({window})", page=f"/trending?window={window}",
                   papers=[t.paper for t in trends])  # fmt: skip


@router.get("/papers.atom")
@cached
def daily_atom(request: Request, date: str | None = Query(None, description=DATE_HELP),
               week: str | None = Query(None, description=WEEK_HELP),
               month: str | None = Query(None, description=MONTH_HELP)) -> Response:  # fmt: skip
    """The daily list (or a week or month) as Atom."""
    return _daily(request, "atom", date, week, month)


@router.get("/papers.rss")
@cached
def daily_rss(request: Request, date: str | None = Query(None, description=DATE_HELP),
              week: str | None = Query(None, description=WEEK_HELP),
              month: str | None = Query(None, description=MONTH_HELP)) -> Response:  # fmt: skip
    """The daily list (or a week or month) as RSS 2.0."""
    return _daily(request, "rss", date, week, month)


@router.get("/trending.atom")
@cached
def trending_atom(request: Request, window: str = Query("week")) -> Response:
    """Trending papers as Atom."""
    return _trending(request, "atom", window)


@router.get("/trending.rss")
@cached
def trending_rss(request: Request, window: str = Query("week")) -> Response:
    """Trending papers as RSS 2.0."""
    return _trending(request, "rss", window)
