"""Syndication: Atom and RSS 2.0 renderings of the daily list, trending, any search and a
subscriber's digest topics, for feed readers."""

from __future__ import annotations

import datetime as dt
import email.utils
import html
import zlib
from urllib.parse import quote_plus

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from paperfeed import digests, feeds, latex, subscriptions
from paperfeed import search as search_service
from paperfeed.errors import InvalidInput
from paperfeed.models import Paper
from paperfeed.sources.fields import strip_xml_illegal
from paperfeed.sources.links import safe_url
from paperfeed.web.cache import cached, not_modified
from paperfeed.web.queries import DATE_HELP, MONTH_HELP, WEEK_HELP, resolve_period, trending_for

router = APIRouter(include_in_schema=False)
FORMATS = {"atom": "application/atom+xml", "rss": "application/rss+xml"}


def _entry_html(paper: Paper) -> str:
    # Plain str on purpose: the template escapes it once more for XML, as type="html" requires.
    url = safe_url(paper.code_url)
    code = f' · <a href="{html.escape(url)}">code</a>' if url else ""
    abstract = html.escape(latex.to_text(paper.abstract))
    return f"<p>{abstract}</p><p>{paper.upvotes} upvotes{code}</p>"


def _render(
    request: Request,
    fmt: str,
    *,
    title: str,
    page: str,
    papers: list[Paper],
    updated: dt.datetime | None = None,
) -> Response:
    settings = request.app.state.settings
    base = settings.base_url.rstrip("/")
    changed = updated or feeds.catalog_state(request.app.state.db)[1]
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
    # Stored text is cleaned at ingest, but a query, a topic or a row stored before that is not:
    # one character XML forbids makes the whole feed unreadable, so none ever leaves.
    return Response(strip_xml_illegal(body), media_type=f"{FORMATS[fmt]}; charset=utf-8")


def _daily(request: Request, fmt: str, date, week, month) -> Response:
    period = resolve_period(request, date, week, month)
    limit = request.app.state.settings.day_page_max
    listing = feeds.listing(request.app.state.db, period, limit=limit)
    page = f"/papers?{period.param}={period.value}"
    return _render(
        request, fmt, title=f"Papers of {period.label}", page=page, papers=listing.papers
    )


def _trending(request: Request, fmt: str, window: str) -> Response:
    trends = trending_for(request, window)
    return _render(
        request,
        fmt,
        title=f"Trending ({window})",
        page=f"/trending?window={window}",
        papers=[t.paper for t in trends],
    )


@router.get("/papers.atom")
@cached
def daily_atom(
    request: Request,
    date: str | None = Query(None, description=DATE_HELP),
    week: str | None = Query(None, description=WEEK_HELP),
    month: str | None = Query(None, description=MONTH_HELP),
) -> Response:
    """The daily list (or a week or month) as Atom."""
    return _daily(request, "atom", date, week, month)


@router.get("/papers.rss")
@cached
def daily_rss(
    request: Request,
    date: str | None = Query(None, description=DATE_HELP),
    week: str | None = Query(None, description=WEEK_HELP),
    month: str | None = Query(None, description=MONTH_HELP),
) -> Response:
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


# --- search and a subscriber's topics --------------------------------------------------------

FEED_SIZE = 50


def _search(request: Request, fmt: str, q: str, mode: str) -> Response:
    """The relevant matches of a search, newest first, as a feed reader wants them."""
    if not q.strip():
        raise InvalidInput("a search feed needs a query: /search.atom?q=...")
    settings = request.app.state.settings
    results = search_service.relevant(
        request.app.state.db, q, mode=mode, limit=FEED_SIZE, settings=settings
    )
    return _render(
        request,
        fmt,
        title=f"Search: {results.query.text}",
        page=f"/search?q={quote_plus(results.query.text)}",
        papers=[h.paper for h in results.hits],
    )


@router.get("/search.atom")
@cached
def search_atom(request: Request, q: str = Query(""), mode: str = Query("hybrid")) -> Response:
    """The newest matches of a search as Atom."""
    return _search(request, "atom", q, mode)


@router.get("/search.rss")
@cached
def search_rss(request: Request, q: str = Query(""), mode: str = Query("hybrid")) -> Response:
    """The newest matches of a search as RSS 2.0."""
    return _search(request, "rss", q, mode)


def _topics(request: Request, fmt: str, token: str) -> Response:
    settings, db = request.app.state.settings, request.app.state.db
    sub = subscriptions.from_token(db, settings, token)
    version, changed = feeds.catalog_state(db)
    changed = max(changed, sub.changed_at)
    # The answer depends on the catalogue and on this subscriber's topics: both are in the tag.
    tag = f"{version}-{sub.id}-{zlib.crc32(repr((sub.prefs, sub.changed_at)).encode()):08x}-{fmt}"
    headers = {
        "ETag": f'W/"{tag}"',
        "Cache-Control": "private, no-cache",
        "Last-Modified": email.utils.format_datetime(changed.replace(microsecond=0), usegmt=True),
    }
    if not_modified(request, headers["ETag"], changed):
        return Response(status_code=304, headers=headers)
    papers = digests.topic_papers(db, settings, sub.prefs, limit=FEED_SIZE)
    response = _render(
        request,
        fmt,
        title="Your digest topics",
        page="/digest/preview?token=" + token,
        papers=papers,
        updated=changed,
    )
    response.headers.update(headers)
    return response


@router.get("/digest/topics.atom")
def topics_atom(request: Request, token: str = Query("")) -> Response:
    """A subscriber's saved searches as one Atom feed (the link is in every digest)."""
    return _topics(request, "atom", token)


@router.get("/digest/topics.rss")
def topics_rss(request: Request, token: str = Query("")) -> Response:
    """A subscriber's saved searches as one RSS 2.0 feed."""
    return _topics(request, "rss", token)
