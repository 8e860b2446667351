"""Queries: what a request asks of the catalogue, checked (the period it names, its page size,
its search, its trending window); one service call each, shared by the JSON API, the pages and
the feeds, which differ only in how they render the answer."""

from __future__ import annotations

import time

from fastapi import Request

from paperfeed import feeds, metrics
from paperfeed import search as search_service
from paperfeed.errors import InvalidInput

DATE_HELP = "A listing day, YYYY-MM-DD."
WEEK_HELP = "An ISO week, YYYY-Www (e.g. 2025-W47)."
MONTH_HELP = "A month, YYYY-MM."


def page_size(request: Request, limit: int | None) -> int:
    """The requested page size, checked against the configured maximum."""
    settings = request.app.state.settings
    if limit is None:
        return settings.page_size_default
    if not 1 <= limit <= settings.page_size_max:
        raise InvalidInput(f"limit must be between 1 and {settings.page_size_max}")
    return limit


def resolve_period(request: Request, date: str | None, week: str | None, month: str | None):
    """The period the query names, else the latest day with papers."""
    period = feeds.parse_period(date=date, week=week, month=month)
    return period or feeds.default_period(request.app.state.db)


def trending_for(request: Request, window: str, limit: int | None = None):
    """The trending list for a request, with the configured formula."""
    settings = request.app.state.settings
    return feeds.trending(
        request.app.state.db,
        window,
        limit=page_size(request, limit),
        gravity=settings.trending_gravity,
        offset=settings.trending_offset_hours,
    )


def run_search(
    request: Request,
    q: str,
    mode: str,
    since: str | None,
    until: str | None,
    category: list[str] | None,
    has_code: bool,
    sort: str,
    limit: int | None,
    offset: int,
    exact_limit: int | None = None,
):
    """The search a request asks for, with its dates checked (`exact_limit` skips the page
    size check, for Hugging Face's own limit)."""
    settings = request.app.state.settings
    started = time.perf_counter()
    results = search_service.search(
        request.app.state.db,
        q,
        mode=mode,
        since=feeds.parse_day(since) if since else None,
        until=feeds.parse_day(until) if until else None,
        categories=[c for value in category or () for c in value.split(",")],
        has_code=has_code,
        sort=sort,
        limit=exact_limit or page_size(request, limit),
        offset=offset,
        settings=settings,
    )
    metrics.search_seconds.labels(mode=results.mode).observe(time.perf_counter() - started)
    return results
